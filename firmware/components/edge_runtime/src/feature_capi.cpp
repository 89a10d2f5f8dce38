// The C ABI (docs/dsp.md section 6) over edge::FeatureExtractor. Nothing here allocates or
// throws; the handle is placed in the caller's pool by aligned pointer arithmetic.
#include "edge_runtime/feature_capi.h"

#include <new>
#include <type_traits>

#include "edge_runtime/feature_extractor.h"
#include "edge_runtime/kernels.h"
#include "edge_runtime/pool.h"

struct fb_fe_handle {
  edge::FeatureExtractor fx;
};

static_assert(alignof(fb_fe_handle) <= edge::Pool::kAlign, "handle alignment exceeds the pool's");
static_assert(std::is_trivially_destructible<fb_fe_handle>::value,
              "the pool is simply dropped: the handle must not need a destructor");

namespace {

// Runs the same layout code as fb_fe_init on a measuring pool.
size_t PoolBytesFor(const fb_fe_plan& plan) {
  edge::Pool measure;
  measure.TakeBytes(sizeof(fb_fe_handle));
  edge::FeatureExtractor layout;
  layout.Layout(plan, measure);
  return edge::Pool::RequiredFor(measure.used());
}

}  // namespace

extern "C" {

int32_t fb_fe_pool_bytes(const fb_fe_plan* plan, size_t* out_bytes) {
  if (out_bytes == nullptr) return FB_ERR_NULL;
  const int32_t st = edge::ValidatePlan(plan);
  if (st != FB_OK) return st;
  *out_bytes = PoolBytesFor(*plan);
  return FB_OK;
}

int32_t fb_fe_init(const fb_fe_plan* plan, void* pool, size_t pool_bytes, fb_fe_handle** out) {
  if (out == nullptr) return FB_ERR_NULL;
  *out = nullptr;
  const int32_t st = edge::ValidatePlan(plan);
  if (st != FB_OK) return st;
  if (pool == nullptr) return FB_ERR_NULL;
  if (pool_bytes < PoolBytesFor(*plan)) return FB_ERR_POOL_TOO_SMALL;

  edge::Pool carve(pool, pool_bytes);
  void* mem = carve.TakeBytes(sizeof(fb_fe_handle));
  if (mem == nullptr) return FB_ERR_POOL_TOO_SMALL;  // unreachable after the size check
  fb_fe_handle* h = new (mem) fb_fe_handle();        // placement: no allocation
  h->fx.Layout(*plan, carve);
  if (carve.overflowed()) return FB_ERR_POOL_TOO_SMALL;  // unreachable after the size check
  *out = h;
  return FB_OK;
}

int32_t fb_fe_frame_len(const fb_fe_handle* h, size_t* out) {
  if (h == nullptr || out == nullptr) return FB_ERR_NULL;
  *out = h->fx.frame_len();
  return FB_OK;
}

int32_t fb_fe_segment_len(const fb_fe_handle* h, size_t* out) {
  if (h == nullptr || out == nullptr) return FB_ERR_NULL;
  *out = h->fx.segment_len();
  return FB_OK;
}

int32_t fb_fe_push(fb_fe_handle* h, const int16_t* interleaved, size_t n_frames, int16_t* out,
                   size_t out_capacity_frames, size_t* out_frames) {
  if (h == nullptr || out_frames == nullptr) return FB_ERR_NULL;
  *out_frames = 0;
  if (n_frames == 0) return FB_OK;
  if (interleaved == nullptr) return FB_ERR_NULL;
  // Decide up front so that a refused call consumes nothing.
  const size_t frames = h->fx.FramesForPush(n_frames);
  if (frames > out_capacity_frames) {
    *out_frames = frames;
    return FB_ERR_OUTPUT_TOO_SMALL;
  }
  if (frames > 0 && out == nullptr) return FB_ERR_NULL;
  *out_frames = h->fx.Push(interleaved, n_frames, out);
  return FB_OK;
}

int32_t fb_fe_extract_batch(fb_fe_handle* h, const int16_t* segments, size_t n_segments,
                            int16_t* out) {
  if (h == nullptr) return FB_ERR_NULL;
  if (n_segments == 0) return FB_OK;
  if (segments == nullptr || out == nullptr) return FB_ERR_NULL;
  h->fx.ExtractBatch(segments, n_segments, out);
  return FB_OK;
}

void fb_fe_reset(fb_fe_handle* h) {
  if (h != nullptr) h->fx.Reset();
}

int32_t fb_fe_log2_q8(uint64_t x) { return edge::kernels::Log2Q8(x); }

int16_t fb_quantize_sample(double raw, double scale) {
  return edge::kernels::QuantizeSample(raw, scale);
}

}  // extern "C"
