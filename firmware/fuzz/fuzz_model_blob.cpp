// libFuzzer target: the INT8 model blob parser (and, for blobs it accepts, init + one run).
// Odd first byte: the CRC of the rest is recomputed first, so mutations reach the structural
// checks behind the CRC. Built by `make fuzz` (clang -fsanitize=fuzzer,address,undefined) and,
// without libFuzzer, by the host ctest replay of firmware/fuzz/regressions and seeds.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edge_runtime/inference_runtime.h"

namespace {

constexpr size_t kMaxBlob = 1u << 16;
constexpr size_t kPoolBytes = 1u << 18;
alignas(8) uint8_t g_blob[kMaxBlob];
alignas(8) uint8_t g_pool[kPoolBytes];
int16_t g_window[1u << 15];

uint32_t Crc32(const uint8_t* d, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= d[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size - 1 > kMaxBlob) return 0;
  const bool fix_crc = (data[0] & 1u) != 0;
  const size_t len = size - 1;
  memcpy(g_blob, data + 1, len);
  if (fix_crc && len >= FB_MODEL_HEADER_BYTES) {
    uint32_t total;
    memcpy(&total, g_blob + 12, 4);
    if (total <= len && total >= FB_MODEL_CRC_START) {
      const uint32_t crc = Crc32(g_blob + FB_MODEL_CRC_START, total - FB_MODEL_CRC_START);
      memcpy(g_blob + 8, &crc, 4);
    }
  }
  edge::ModelInfo info;
  if (edge::ValidateModel(g_blob, len, &info) != FB_MODEL_OK) return 0;
  size_t need = 0;
  if (edge::InferenceRuntime::required_pool_bytes(g_blob, len, &need) != FB_MODEL_OK) return 0;
  if (need > kPoolBytes || info.input_len > sizeof(g_window) / sizeof(g_window[0])) return 0;
  static edge::InferenceRuntime rt;
  if (rt.init(g_blob, len, g_pool, need) != FB_MODEL_OK) __builtin_trap();  // must agree
  rt.set_integrity_verifier(&edge::CrcOnlyVerifier, nullptr);
  if (rt.verify_bundle_integrity() != FB_MODEL_OK) __builtin_trap();
  for (uint32_t i = 0; i < info.input_len; ++i)
    g_window[i] = static_cast<int16_t>((i * 7919u + len) & 0xFFFFu);
  int8_t decision = -1;
  if (rt.run(g_window, info.input_len, &decision) != FB_MODEL_OK) __builtin_trap();
  return 0;
}
