// Bundle verification on the device (and the host build of the same code).
//
// Streams the bundle through a caller-supplied read function (a flash partition, a file, a RAM
// buffer) in fixed-size chunks: no heap in this code, every buffer is in the caller-provided
// VerifyScratch (about 3.4 KiB; static or on a task stack). The ECDSA check itself runs in
// mbedTLS (pk API), whose bignum arithmetic allocates through mbedtls_calloc; point that at a
// static buffer (MBEDTLS_MEMORY_BUFFER_ALLOC_C) on the board if the heap must stay untouched.
//
// The verdict and reason are identical to core/bundle/verify.py for every input (tests/bundle).
#ifndef EDGE_RUNTIME_BUNDLE_VERIFY_H_
#define EDGE_RUNTIME_BUNDLE_VERIFY_H_

#include <cstddef>
#include <cstdint>

#include "edge_runtime/bundle_format.h"

namespace edge {
namespace bundle {

// Reads `len` bytes at `offset` of the bundle into `dst`; false on an I/O error.
using ReadFn = bool (*)(void* ctx, uint32_t offset, uint8_t* dst, uint32_t len);

struct BundleSource {
  ReadFn read;
  void* ctx;
  uint32_t size;  // bytes available (a file's size, the written length of a partition)
};

// A public key the device trusts: its id (SHA-256 of the DER SubjectPublicKeyInfo) and the DER
// itself. `fieldbench keys export --c-header` writes these tables.
struct TrustedKey {
  uint8_t key_id[32];
  const uint8_t* spki_der;
  uint16_t spki_len;
};

// What the verifying device is and accepts. Zero / nullptr fields are not checked.
struct DeviceContext {
  const char* chip;               // "esp32s3"
  const char* board_id;           // nullptr: any board
  uint32_t flash_size;            // 0: any
  const uint8_t* partition_hash;  // 32 bytes, nullptr: any layout
  uint16_t firmware_abi;          // ABI of the running firmware (boot check); 0: skip
  uint32_t min_epoch;             // the anti-rollback counter
  uint64_t now_unix;              // trusted time; 0 when the device has no clock
  uint32_t max_bundle_size;       // 0: no limit
  uint32_t max_app_size;          // largest firmware component (app partition); 0: any
  uint32_t max_data_size;         // largest sum of the other components; 0: any
  const TrustedKey* keys;
  size_t key_count;
};

// The signed facts a caller needs after a successful verify (the manifest stays in scratch).
struct ComponentInfo {
  uint32_t offset;  // from the start of the bundle
  uint32_t size;
  uint8_t sha256[32];
};

struct ManifestView {
  uint16_t versions[4];  // fw, model, threshold, calibration
  uint32_t epoch;
  uint64_t expires;  // 0: none
  uint8_t key_id[32];
  uint16_t abi_min, abi_max, firmware_abi;
  uint32_t flash_size;
  uint8_t partition_hash[32];
  uint8_t min_battery_level;
  uint32_t max_latency_ms;
  uint32_t peak_ram_budget;
  uint32_t model_pool_bytes;
  uint32_t model_latency_us;
  uint8_t threshold_policy, calibration_policy, rollback_policy;
  bool gate_overridden;
  ComponentInfo components[kComponentCount];
  // Strings point into VerifyScratch::manifest (not NUL-terminated): offset and length.
  struct Str {
    uint16_t offset, length;
  } bundle_id, chip, board_id;
};

struct VerifyResult {
  Reason reason;
  uint8_t component;      // for kHashMismatch: the Component whose hash differs
  ManifestView manifest;  // filled once the manifest parses
};

constexpr uint32_t kChunkSize = 1024;

struct VerifyScratch {
  uint8_t header[kHeaderSize];
  uint8_t manifest[kMaxManifestSize];
  uint8_t signature[kMaxSignatureSize];
  uint8_t chunk[kChunkSize];
};

// Runs every check in the documented order; returns result->reason.
Reason VerifyBundle(const BundleSource& source, const DeviceContext& device, VerifyScratch* scratch,
                    VerifyResult* result);

// Parses a manifest (structure, order, types, required tags) into `view`; used by VerifyBundle
// and by the fuzz target. Returns kOk or kMalformedManifest. Offsets in `view` are relative to
// the payload start (header + manifest + signature sizes added by VerifyBundle).
Reason ParseManifest(const uint8_t* manifest, uint32_t size, ManifestView* view);

// Strict DER ECDSA P-256 signature check: SEQUENCE{INTEGER r, INTEGER s}, minimal encodings,
// 1 <= r < n, 1 <= s <= n/2. Returns kOk or kMalformedSignature.
Reason CheckSignatureEncoding(const uint8_t* der, uint32_t size);

// ---- the INT8 runtime's integrity hook (inference_runtime.h: edge::IntegrityVerifier) ---------
//
// After VerifyBundle accepted a bundle, keep its model digest and install the hook:
//   edge::bundle::ModelDigest digest;
//   edge::bundle::ModelDigestFromResult(result, &digest);
//   runtime.set_integrity_verifier(edge::bundle::VerifyModelBlob, &digest);
// The hook re-hashes the mapped model blob and accepts it only if it is exactly the signed one.
struct ModelDigest {
  uint8_t sha256[32];
  uint32_t size;
  bool valid;
};
bool ModelDigestFromResult(const VerifyResult& result, ModelDigest* digest);
// Returns FB_MODEL_OK (0) or FB_MODEL_ERR_VERIFY_FAILED; `ctx` is a const ModelDigest*.
int32_t VerifyModelBlob(const uint8_t* blob, size_t len, void* ctx);

// "HASH_MISMATCH:model" style text of a result, for logs and the host tool.
void FormatReason(const VerifyResult& result, char* out, size_t out_size);

}  // namespace bundle
}  // namespace edge

#endif  // EDGE_RUNTIME_BUNDLE_VERIFY_H_
