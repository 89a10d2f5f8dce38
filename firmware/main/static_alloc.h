// mbedTLS on a static arena: with CONFIG_MBEDTLS_CUSTOM_MEM_ALLOC (sdkconfig.defaults) ESP-IDF
// lets the application set mbedTLS's calloc/free (mbedtls_platform_set_calloc_free). The
// signature check of a bundle (ECDSA P-256 over SHA-256, the only mbedTLS user in the node)
// then allocates its big-number limbs from one static buffer instead of the heap, so
// verification never touches the heap after init and cannot fail because the heap fragmented.
//
// The arena is managed by ESP-IDF's multi_heap (TLSF) registered over a static buffer. Only the
// node task calls mbedTLS.
#pragma once

#include <cstddef>
#include <cstdint>

namespace espport {

constexpr size_t kMbedtlsArenaBytes = 16 * 1024;

// Points mbedTLS at the static arena. Call once at init, before the first verification.
bool InstallMbedtlsStaticAllocator();

// Peak bytes in use (blocks + headers) since boot: logged once after boot for sizing.
size_t MbedtlsArenaPeak();
// Allocations refused because the arena was full (verification then fails cleanly).
uint32_t MbedtlsArenaFailures();

}  // namespace espport
