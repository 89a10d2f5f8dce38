/* Fieldbench INT8 model runtime: the C ABI (docs/model-format.md section "C ABI").
 *
 * Callable from C and from Python through ctypes (core/model/native.py). Nothing allocates,
 * throws or blocks: the handle, the activation arena and the scratch live in one caller pool.
 * Every function returns FB_MODEL_OK (0) or an FB_MODEL_ERR_* code of model_format.h.
 * The blob is not copied: keep it alive and unchanged for the life of the handle.
 */
#ifndef EDGE_RUNTIME_RUNTIME_CAPI_H_
#define EDGE_RUNTIME_RUNTIME_CAPI_H_

#include <stddef.h>
#include <stdint.h>

#include "edge_runtime/model_format.h"

#if defined(__GNUC__) || defined(__clang__)
#define FB_RT_API __attribute__((visibility("default")))
#else
#define FB_RT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define FB_RT_ABI_VERSION 1

typedef struct fb_rt_info {
  uint32_t abi_version; /* FB_RT_ABI_VERSION */
  uint16_t n_tensors, n_layers, input_tensor, output_tensor;
  uint32_t arena_bytes, scratch_bytes;
  uint32_t input_len;  /* int16 features per window */
  uint32_t output_len; /* int8 values of the output tensor */
  uint32_t macs;       /* multiply-accumulates per inference */
  uint32_t dump_bytes; /* sum of every tensor's element count (fb_rt_run_dump) */
  uint8_t postprocess; /* FB_MODEL_POST_* */
  uint8_t reserved[3];
  float input_scale, default_threshold;
} fb_rt_info;

/* Bundle integrity verifier: FB_MODEL_OK if the blob is authentic. */
typedef int32_t (*fb_rt_verify_fn)(const uint8_t* blob, size_t len, void* ctx);

typedef struct fb_rt_handle fb_rt_handle;

FB_RT_API int32_t fb_rt_abi_version(void);

/* Full validation of an untrusted blob; *info (may be NULL) receives its summary. */
FB_RT_API int32_t fb_rt_validate(const uint8_t* blob, size_t len, fb_rt_info* info);

/* Pool bytes fb_rt_init needs (handle + arena + scratch + alignment slack). */
FB_RT_API int32_t fb_rt_pool_bytes(const uint8_t* blob, size_t len, size_t* out_bytes);

/* Validates the blob and places the runtime in `pool`. The handle starts UNVERIFIED: runs are
 * refused (FB_MODEL_ERR_NOT_VERIFIED) until fb_rt_verify() succeeds. */
FB_RT_API int32_t fb_rt_init(const uint8_t* blob, size_t len, void* pool, size_t pool_bytes,
                             fb_rt_handle** out);

/* Installs the bundle verifier (clears the verified flag). */
FB_RT_API int32_t fb_rt_set_verifier(fb_rt_handle* h, fb_rt_verify_fn fn, void* ctx);
/* Explicit opt-in to unsigned models: installs the CRC-only verifier (host tools, tests). */
FB_RT_API int32_t fb_rt_allow_unsigned(fb_rt_handle* h);
/* Runs the installed verifier: FB_MODEL_OK, FB_MODEL_ERR_NO_VERIFIER or _VERIFY_FAILED. */
FB_RT_API int32_t fb_rt_verify(fb_rt_handle* h);

FB_RT_API int32_t fb_rt_set_threshold(fb_rt_handle* h, float threshold);
FB_RT_API int32_t fb_rt_set_calibration_offset(fb_rt_handle* h, int16_t offset);

/* One inference. decision and score may be NULL. */
FB_RT_API int32_t fb_rt_run(fb_rt_handle* h, const int16_t* window, size_t window_len,
                            int8_t* decision, float* score);

/* n_windows back-to-back windows of window_len int16. decisions[n], scores[n] and
 * outputs[n * output_len] (raw int8 output tensors) may each be NULL. Stops at the first error. */
FB_RT_API int32_t fb_rt_run_batch(fb_rt_handle* h, const int16_t* windows, size_t n_windows,
                                  size_t window_len, int8_t* decisions, float* scores,
                                  int8_t* outputs);

/* One inference that also copies every tensor, as written, into dump: tensor t at offset
 * sum(numel(0..t-1)); dump_cap >= info.dump_bytes. Debug / per-layer parity only. */
FB_RT_API int32_t fb_rt_run_dump(fb_rt_handle* h, const int16_t* window, size_t window_len,
                                 int8_t* dump, size_t dump_cap, int8_t* decision);

/* Raw int8 output of the last run (output_len values) into out[cap]. */
FB_RT_API int32_t fb_rt_output(const fb_rt_handle* h, int8_t* out, size_t cap);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* EDGE_RUNTIME_RUNTIME_CAPI_H_ */
