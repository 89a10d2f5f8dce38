// edge::InferenceRuntime: the INT8 model runtime (docs/model-format.md), after the seed's
// InferenceRuntime. No heap, no exceptions, no RTTI, no recursion, no VLAs; every loop is
// bounded by a validated blob field or an FB_MODEL_MAX_* limit.
//
//   static uint8_t pool[N];                      // N >= required_pool_bytes(blob)
//   edge::InferenceRuntime rt;
//   rt.init(blob, blob_len, pool, sizeof pool);  // validates EVERY field of the blob
//   rt.set_integrity_verifier(bundle_verify_fn, ctx);
//   rt.verify_bundle_integrity();                // required before the first run
//   int8_t decision = rt.run_inference(window, window_len);  // < 0: error, see status()
//
// The blob is NOT copied: it must stay mapped and unchanged while the runtime uses it (flash).
// The pool holds the activation arena and the kernel scratch; nothing else is allocated.
#ifndef EDGE_RUNTIME_INFERENCE_RUNTIME_H_
#define EDGE_RUNTIME_INFERENCE_RUNTIME_H_

#include <stddef.h>
#include <stdint.h>

#include "edge_runtime/model_format.h"

namespace edge {

// Bundle integrity hook (filled in by the bundle verifier): returns FB_MODEL_OK when the blob
// (already structurally validated) is authentic, any other value to refuse it.
using IntegrityVerifier = int32_t (*)(const uint8_t* blob, size_t len, void* ctx);

// Accepts every blob that passed the parser (CRC included). Installing it is an explicit opt-in
// to running UNSIGNED models (host tools, tests); it is never installed by default.
int32_t CrcOnlyVerifier(const uint8_t* blob, size_t len, void* ctx);

// Called after the input quantize step (layer == -1) and after every layer with the int8 tensor
// just written. Debug/parity only (the dump C ABI uses it).
using TensorObserver = void (*)(void* ctx, int32_t layer, uint16_t tensor, const int8_t* data,
                                size_t n);

// Summary of a validated blob.
struct ModelInfo {
  uint16_t n_tensors = 0;
  uint16_t n_layers = 0;
  uint16_t input_tensor = 0;
  uint16_t output_tensor = 0;
  uint32_t arena_bytes = 0;
  uint32_t scratch_bytes = 0;
  uint32_t input_len = 0;   // int16 features per window = numel(input tensor)
  uint32_t output_len = 0;  // numel(output tensor)
  uint32_t macs = 0;        // multiply-accumulates per inference (CONV + GEMM), saturating
  uint8_t postprocess = 0;
  float input_scale = 0.0f;
  float default_threshold = 0.0f;
};

// Parses and validates a blob completely (see model_format.h); fills *info when non-null.
// Pure: no state, no allocation. Returns FB_MODEL_OK or one FB_MODEL_ERR_* code.
int32_t ValidateModel(const uint8_t* blob, size_t len, ModelInfo* info);

class InferenceRuntime {
 public:
  // Pool bytes init() needs for this blob (validates it): arena + scratch + alignment slack.
  static int32_t required_pool_bytes(const uint8_t* blob, size_t len, size_t* out_bytes);

  // Validates the blob, checks pool_bytes >= required_pool_bytes and places the arena and the
  // scratch in the pool. Resets calibration offset (0), threshold (blob default) and the
  // verified flag. On failure the runtime stays unusable (status() tells why).
  int32_t init(const uint8_t* blob, size_t len, void* pool, size_t pool_bytes);

  // Quantizes the window and runs every layer, then post-processes. Returns the decision
  // (ARGMAX: class index; RECON_MSE: 1 anomaly / 0 normal) or -1 on error (see status()).
  int8_t run_inference(const int16_t* feature_window, size_t window_len);
  // Same, returning the status and storing the decision in *decision.
  int32_t run(const int16_t* feature_window, size_t window_len, int8_t* decision);

  // Added (saturating int16) to every feature before the input quantize step. Default 0.
  void apply_calibration_offset(int16_t offset) { calibration_offset_ = offset; }
  int16_t calibration_offset() const { return calibration_offset_; }
  // RECON_MSE threshold (decision = score > threshold). FB_MODEL_ERR_BAD_ARG if not finite.
  int32_t set_threshold(float threshold);
  float threshold() const { return threshold_; }

  // Integrity: runs are REFUSED (FB_MODEL_ERR_NOT_VERIFIED) until verify_bundle_integrity()
  // has returned FB_MODEL_OK. With no verifier installed it returns FB_MODEL_ERR_NO_VERIFIER.
  void set_integrity_verifier(IntegrityVerifier fn, void* ctx);
  int32_t verify_bundle_integrity();
  bool verified() const { return verified_; }

  void set_observer(TensorObserver fn, void* ctx) {
    observer_ = fn;
    observer_ctx_ = ctx;
  }

  bool ready() const { return ready_; }
  int32_t status() const { return status_; }
  const ModelInfo& info() const { return info_; }
  // Results of the last successful run.
  float score() const { return score_; }
  const int8_t* output() const;  // raw int8 output tensor (output_len values), null if not ready
  size_t output_len() const { return info_.output_len; }

 private:
  int32_t Fail(int32_t st) {
    status_ = st;
    return st;
  }
  void QuantizeInput(const int16_t* window);
  void RunLayer(uint32_t index);
  void PostProcess(int8_t* decision);

  const uint8_t* blob_ = nullptr;
  size_t blob_len_ = 0;
  int8_t* arena_ = nullptr;
  uint8_t* scratch_ = nullptr;
  ModelInfo info_;
  IntegrityVerifier verifier_ = nullptr;
  void* verifier_ctx_ = nullptr;
  TensorObserver observer_ = nullptr;
  void* observer_ctx_ = nullptr;
  float threshold_ = 0.0f;
  float score_ = 0.0f;
  int32_t status_ = FB_MODEL_ERR_NOT_READY;
  int16_t calibration_offset_ = 0;
  bool ready_ = false;
  bool verified_ = false;
};

}  // namespace edge

#endif  // EDGE_RUNTIME_INFERENCE_RUNTIME_H_
