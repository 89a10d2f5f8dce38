// The C ABI over edge::InferenceRuntime (runtime_capi.h). The handle is placed in the caller's
// pool; nothing allocates or throws.
#include "edge_runtime/runtime_capi.h"

#include <new>
#include <type_traits>

#include "edge_runtime/inference_runtime.h"
#include "edge_runtime/pool.h"
#include "model_access.h"

struct fb_rt_handle {
  edge::InferenceRuntime rt;
  uint32_t dump_offsets[FB_MODEL_MAX_TENSORS];
  uint32_t dump_bytes;
  int8_t* dump;  // during fb_rt_run_dump only
};

static_assert(alignof(fb_rt_handle) <= edge::Pool::kAlign, "handle alignment exceeds the pool's");
static_assert(std::is_trivially_destructible<fb_rt_handle>::value,
              "the pool is simply dropped: the handle must not need a destructor");

namespace {

void FillInfo(const edge::ModelInfo& mi, const uint8_t* blob, fb_rt_info* out,
              uint32_t* offsets) {
  out->abi_version = FB_RT_ABI_VERSION;
  out->n_tensors = mi.n_tensors;
  out->n_layers = mi.n_layers;
  out->input_tensor = mi.input_tensor;
  out->output_tensor = mi.output_tensor;
  out->arena_bytes = mi.arena_bytes;
  out->scratch_bytes = mi.scratch_bytes;
  out->input_len = mi.input_len;
  out->output_len = mi.output_len;
  out->macs = mi.macs;
  out->postprocess = mi.postprocess;
  out->reserved[0] = out->reserved[1] = out->reserved[2] = 0;
  out->input_scale = mi.input_scale;
  out->default_threshold = mi.default_threshold;
  uint32_t total = 0;
  for (uint32_t t = 0; t < mi.n_tensors; ++t) {
    if (offsets != nullptr) offsets[t] = total;
    total += static_cast<uint32_t>(edge::model::Numel(edge::model::LoadTensor(blob, t)));
  }
  out->dump_bytes = total;
}

void DumpObserver(void* ctx, int32_t, uint16_t tensor, const int8_t* data, size_t n) {
  fb_rt_handle* h = static_cast<fb_rt_handle*>(ctx);
  if (h->dump == nullptr) return;
  memcpy(h->dump + h->dump_offsets[tensor], data, n);
}

}  // namespace

extern "C" {

int32_t fb_rt_abi_version(void) { return FB_RT_ABI_VERSION; }

int32_t fb_rt_validate(const uint8_t* blob, size_t len, fb_rt_info* info) {
  edge::ModelInfo mi;
  const int32_t st = edge::ValidateModel(blob, len, &mi);
  if (st != FB_MODEL_OK) return st;
  if (info != nullptr) FillInfo(mi, blob, info, nullptr);
  return FB_MODEL_OK;
}

int32_t fb_rt_pool_bytes(const uint8_t* blob, size_t len, size_t* out_bytes) {
  if (out_bytes == nullptr) return FB_MODEL_ERR_NULL;
  size_t rt_bytes = 0;
  const int32_t st = edge::InferenceRuntime::required_pool_bytes(blob, len, &rt_bytes);
  if (st != FB_MODEL_OK) return st;
  // The handle first (aligned by the pool), then the runtime's own region (which carries its
  // own alignment slack).
  edge::Pool measure;
  measure.TakeBytes(sizeof(fb_rt_handle));
  *out_bytes = edge::Pool::RequiredFor(measure.used()) + rt_bytes;
  return FB_MODEL_OK;
}

int32_t fb_rt_init(const uint8_t* blob, size_t len, void* pool, size_t pool_bytes,
                   fb_rt_handle** out) {
  if (out == nullptr) return FB_MODEL_ERR_NULL;
  *out = nullptr;
  size_t need = 0;
  const int32_t st = fb_rt_pool_bytes(blob, len, &need);
  if (st != FB_MODEL_OK) return st;
  if (pool == nullptr) return FB_MODEL_ERR_NULL;
  if (pool_bytes < need) return FB_MODEL_ERR_POOL_TOO_SMALL;
  edge::Pool carve(pool, pool_bytes);
  void* mem = carve.TakeBytes(sizeof(fb_rt_handle));
  if (mem == nullptr) return FB_MODEL_ERR_POOL_TOO_SMALL;  // unreachable after the size check
  fb_rt_handle* h = new (mem) fb_rt_handle();            // placement: no allocation
  const size_t rest = pool_bytes - static_cast<size_t>(static_cast<unsigned char*>(mem) -
                                                       static_cast<unsigned char*>(pool)) -
                      sizeof(fb_rt_handle);
  const int32_t ist = h->rt.init(blob, len, static_cast<unsigned char*>(mem) + sizeof(fb_rt_handle),
                                 rest);
  if (ist != FB_MODEL_OK) return ist;
  fb_rt_info info;
  FillInfo(h->rt.info(), blob, &info, h->dump_offsets);
  h->dump_bytes = info.dump_bytes;
  h->dump = nullptr;
  *out = h;
  return FB_MODEL_OK;
}

int32_t fb_rt_set_verifier(fb_rt_handle* h, fb_rt_verify_fn fn, void* ctx) {
  if (h == nullptr) return FB_MODEL_ERR_NULL;
  h->rt.set_integrity_verifier(fn, ctx);
  return FB_MODEL_OK;
}

int32_t fb_rt_allow_unsigned(fb_rt_handle* h) {
  return fb_rt_set_verifier(h, &edge::CrcOnlyVerifier, nullptr);
}

int32_t fb_rt_verify(fb_rt_handle* h) {
  if (h == nullptr) return FB_MODEL_ERR_NULL;
  return h->rt.verify_bundle_integrity();
}

int32_t fb_rt_set_threshold(fb_rt_handle* h, float threshold) {
  if (h == nullptr) return FB_MODEL_ERR_NULL;
  return h->rt.set_threshold(threshold);
}

int32_t fb_rt_set_calibration_offset(fb_rt_handle* h, int16_t offset) {
  if (h == nullptr) return FB_MODEL_ERR_NULL;
  h->rt.apply_calibration_offset(offset);
  return FB_MODEL_OK;
}

int32_t fb_rt_run(fb_rt_handle* h, const int16_t* window, size_t window_len, int8_t* decision,
                  float* score) {
  if (h == nullptr) return FB_MODEL_ERR_NULL;
  int8_t d = -1;
  const int32_t st = h->rt.run(window, window_len, &d);
  if (decision != nullptr) *decision = d;
  if (st == FB_MODEL_OK && score != nullptr) *score = h->rt.score();
  return st;
}

int32_t fb_rt_run_batch(fb_rt_handle* h, const int16_t* windows, size_t n_windows,
                        size_t window_len, int8_t* decisions, float* scores, int8_t* outputs) {
  if (h == nullptr) return FB_MODEL_ERR_NULL;
  if (n_windows == 0) return FB_MODEL_OK;
  if (windows == nullptr) return FB_MODEL_ERR_NULL;
  const size_t olen = h->rt.output_len();
  for (size_t i = 0; i < n_windows; ++i) {
    int8_t d = -1;
    const int32_t st = h->rt.run(windows + i * window_len, window_len, &d);
    if (st != FB_MODEL_OK) return st;
    if (decisions != nullptr) decisions[i] = d;
    if (scores != nullptr) scores[i] = h->rt.score();
    if (outputs != nullptr) memcpy(outputs + i * olen, h->rt.output(), olen);
  }
  return FB_MODEL_OK;
}

int32_t fb_rt_run_dump(fb_rt_handle* h, const int16_t* window, size_t window_len, int8_t* dump,
                       size_t dump_cap, int8_t* decision) {
  if (h == nullptr || dump == nullptr) return FB_MODEL_ERR_NULL;
  if (dump_cap < h->dump_bytes) return FB_MODEL_ERR_BAD_ARG;
  h->dump = dump;
  h->rt.set_observer(&DumpObserver, h);
  int8_t d = -1;
  const int32_t st = h->rt.run(window, window_len, &d);
  h->rt.set_observer(nullptr, nullptr);
  h->dump = nullptr;
  if (decision != nullptr) *decision = d;
  return st;
}

int32_t fb_rt_output(const fb_rt_handle* h, int8_t* out, size_t cap) {
  if (h == nullptr || out == nullptr) return FB_MODEL_ERR_NULL;
  if (!h->rt.ready()) return FB_MODEL_ERR_NOT_READY;
  if (cap < h->rt.output_len()) return FB_MODEL_ERR_BAD_ARG;
  memcpy(out, h->rt.output(), h->rt.output_len());
  return FB_MODEL_OK;
}

}  // extern "C"
