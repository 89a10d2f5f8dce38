// The static mbedTLS arena (static_alloc.h) on ESP-IDF's own multi_heap allocator (TLSF, the one
// behind heap_caps), registered over one static buffer: no second allocator to trust.
#include "static_alloc.h"

#include <cstring>

#include "mbedtls/platform.h"
#include "multi_heap.h"

namespace espport {

namespace {

alignas(8) uint8_t g_arena[kMbedtlsArenaBytes];
multi_heap_handle_t g_heap = nullptr;
uint32_t g_failures = 0;

void* Calloc(size_t n, size_t size) {
  if (g_heap == nullptr || (n != 0 && size > kMbedtlsArenaBytes / n)) {
    ++g_failures;
    return nullptr;
  }
  void* p = multi_heap_malloc(g_heap, n * size);
  if (p == nullptr) {
    ++g_failures;
    return nullptr;
  }
  std::memset(p, 0, n * size);
  return p;
}

void Free(void* p) {
  if (p != nullptr && g_heap != nullptr) multi_heap_free(g_heap, p);
}

}  // namespace

bool InstallMbedtlsStaticAllocator() {
  if (g_heap == nullptr) g_heap = multi_heap_register(g_arena, sizeof g_arena);
  if (g_heap == nullptr) return false;
  return mbedtls_platform_set_calloc_free(&Calloc, &Free) == 0;
}

size_t MbedtlsArenaPeak() {
  return g_heap == nullptr ? 0 : sizeof g_arena - multi_heap_minimum_free_size(g_heap);
}

uint32_t MbedtlsArenaFailures() { return g_failures; }

}  // namespace espport
