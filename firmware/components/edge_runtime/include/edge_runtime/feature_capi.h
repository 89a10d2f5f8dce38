/* Fieldbench fixed-point feature front-end: the C ABI (docs/dsp.md section 6).
 *
 * Every function is callable from C and from Python through ctypes. None of them allocates,
 * throws or blocks: the handle and all of its buffers live in one caller-provided pool.
 * All functions returning int32_t return one of the FB_* status codes below unless stated.
 */
#ifndef EDGE_RUNTIME_FEATURE_CAPI_H_
#define EDGE_RUNTIME_FEATURE_CAPI_H_

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define FB_FE_API __attribute__((visibility("default")))
#else
#define FB_FE_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define FB_FE_ABI_VERSION 1

/* Status codes. */
#define FB_OK 0
#define FB_ERR_NULL 1             /* a required pointer argument (or plan table) is NULL */
#define FB_ERR_CONFIG 2           /* a plan field is outside its allowed range */
#define FB_ERR_POOL_TOO_SMALL 3   /* pool_bytes < fb_fe_pool_bytes(plan) */
#define FB_ERR_OUTPUT_TOO_SMALL 4 /* fb_fe_push would emit more frames than out can hold */
#define FB_ERR_ABI 5              /* plan->abi_version != FB_FE_ABI_VERSION */

/* Stats mask bits (feature order inside a channel: bands, then rms, peak, crest). */
#define FB_FE_STAT_RMS 1
#define FB_FE_STAT_PEAK 2
#define FB_FE_STAT_CREST 4

typedef struct fb_fe_plan {
  uint32_t abi_version; /* FB_FE_ABI_VERSION (1) */
  uint16_t channels, window_size, hop_length, fft_size, warmup, buffer_size;
  uint8_t dc_removal, filter_enabled, compression /* 0 none, 1 log2 */,
      stats_mask /* 1 rms, 2 peak, 4 crest */;
  int16_t biquad_q14[5]; /* b0 b1 b2 a1 a2 */
  uint16_t n_bands;      /* 0: no spectral step (fft_size ignored) */
  uint32_t n_band_weights;
  const int16_t* window_q15; /* window_size entries, NULL = rectangular */
  const int32_t* twiddle;    /* fft_size/2 + 1 pairs, interleaved re, im */
  const uint16_t *band_start, *band_len, *band_weights;
} fb_fe_plan;

/* Opaque; lives inside the caller's pool. */
typedef struct fb_fe_handle fb_fe_handle;

/* Validates `plan` and reports the pool size fb_fe_init needs for it (any pool alignment). */
FB_FE_API int32_t fb_fe_pool_bytes(const fb_fe_plan* plan, size_t* out_bytes);

/* Validates `plan`, places the handle, ring buffer, table copies and scratch in `pool` and
 * returns the handle in *out. The plan's tables are copied: they may be freed afterwards.
 * The pool must stay alive and untouched for the life of the handle. */
FB_FE_API int32_t fb_fe_init(const fb_fe_plan* plan, void* pool, size_t pool_bytes,
                             fb_fe_handle** out);

/* int16 values per feature frame: channels * (n_bands + popcount(stats_mask)). */
FB_FE_API int32_t fb_fe_frame_len(const fb_fe_handle* h, size_t* out);

/* Samples per channel in one segment: L = warmup + window_size. */
FB_FE_API int32_t fb_fe_segment_len(const fb_fe_handle* h, size_t* out);

/* Streams n_frames interleaved sample frames (n_frames * channels int16) into the ring buffer.
 * A feature frame is emitted after the n-th sample of the stream when n >= L and
 * (n - L) % hop == 0; frames are written to `out` back to back (frame_len int16 each) and
 * their number stored in *out_frames.
 * If the call would emit more than out_capacity_frames frames, it consumes NOTHING, leaves the
 * stream state unchanged, stores the number of frames it would have emitted in *out_frames and
 * returns FB_ERR_OUTPUT_TOO_SMALL. `out` may be NULL when no frame is emitted. */
FB_FE_API int32_t fb_fe_push(fb_fe_handle* h, const int16_t* interleaved, size_t n_frames,
                             int16_t* out, size_t out_capacity_frames, size_t* out_frames);

/* Computes one feature frame per segment. Each segment is L samples x channels, interleaved
 * sample-major (s[n * channels + c]); segments are back to back. `out` receives
 * n_segments * frame_len int16. The streaming state (ring buffer, counters) is not touched. */
FB_FE_API int32_t fb_fe_extract_batch(fb_fe_handle* h, const int16_t* segments, size_t n_segments,
                                      int16_t* out);

/* Clears the ring buffer and the stream counters (as right after fb_fe_init). NULL: no-op. */
FB_FE_API void fb_fe_reset(fb_fe_handle* h);

/* L(x) of docs/dsp.md section 4.8: Q8 log2 of x for x >= 1. Returns INT32_MIN for x == 0. */
FB_FE_API int32_t fb_fe_log2_q8(uint64_t x);

/* sat16(round-half-to-even(raw * scale)), product in double; NaN -> 0, +-inf saturate. */
FB_FE_API int16_t fb_quantize_sample(double raw, double scale);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* EDGE_RUNTIME_FEATURE_CAPI_H_ */
