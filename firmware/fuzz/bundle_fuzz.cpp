// libFuzzer target: the bundle container and manifest parsers (edge_runtime/bundle_verify.h).
// Input byte 0 selects the entry point; for the container, an odd byte 1 recomputes the header
// CRC first so mutations reach the size checks and the manifest parser behind it.
// Built by `make fuzz` (clang -fsanitize=fuzzer,address,undefined) and replayed without
// libFuzzer by the host ctest `bundle_fuzz_regressions` over firmware/fuzz/bundle_seeds.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edge_runtime/bundle_format.h"
#include "edge_runtime/bundle_verify.h"

namespace {

constexpr size_t kMaxInput = 1u << 18;
uint8_t g_bundle[kMaxInput];
edge::bundle::VerifyScratch g_scratch;
edge::bundle::VerifyResult g_result;

struct Memory {
  const uint8_t* data;
  size_t size;
};

bool Read(void* ctx, uint32_t offset, uint8_t* dst, uint32_t len) {
  const auto* m = static_cast<const Memory*>(ctx);
  if (uint64_t{offset} + len > m->size) return false;
  memcpy(dst, m->data + offset, len);
  return true;
}

// A key id no manifest will carry by chance; the ECDSA maths is mbedTLS's, not fuzzed here.
const uint8_t kSpki[] = {0x30, 0x00};
edge::bundle::TrustedKey g_key = {{0}, kSpki, sizeof(kSpki)};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size - 2 > kMaxInput) return 0;
  const uint8_t mode = data[0] % 3;
  const bool reseal = data[1] & 1;
  data += 2;
  size -= 2;
  if (mode == 0) {
    edge::bundle::ManifestView view;
    edge::bundle::ParseManifest(data, static_cast<uint32_t>(size), &view);
  } else if (mode == 1) {
    edge::bundle::CheckSignatureEncoding(data, static_cast<uint32_t>(size));
  } else {
    memcpy(g_bundle, data, size);
    if (reseal && size >= edge::bundle::kHeaderSize) {
      const uint32_t crc = edge::bundle::Crc32(g_bundle, edge::bundle::kHeaderCrcOffset);
      for (int i = 0; i < 4; ++i) {
        g_bundle[edge::bundle::kHeaderCrcOffset + i] = static_cast<uint8_t>(crc >> (8 * i));
      }
    }
    Memory mem{g_bundle, size};
    edge::bundle::DeviceContext device{};
    device.chip = "esp32s3";
    device.keys = &g_key;
    device.key_count = 1;
    device.max_bundle_size = kMaxInput;
    const edge::bundle::BundleSource src{Read, &mem, static_cast<uint32_t>(size)};
    edge::bundle::VerifyBundle(src, device, &g_scratch, &g_result);
  }
  return 0;
}
