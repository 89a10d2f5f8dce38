// edge::InferenceRuntime: init over a caller pool, the layer loop, post-processing.
#include "edge_runtime/inference_runtime.h"

#include "../reference/int8_kernels.h"
#include "edge_runtime/pool.h"
#include "model_access.h"

namespace edge {

int32_t CrcOnlyVerifier(const uint8_t* blob, size_t len, void* ctx) {
  (void)ctx;
  // The parser already checked the CRC at init; re-check here so that a blob modified in
  // place after init is caught by the next verify_bundle_integrity().
  return ValidateModel(blob, len, nullptr);
}

int32_t InferenceRuntime::required_pool_bytes(const uint8_t* blob, size_t len,
                                              size_t* out_bytes) {
  if (out_bytes == nullptr) return FB_MODEL_ERR_NULL;
  ModelInfo info;
  const int32_t st = ValidateModel(blob, len, &info);
  if (st != FB_MODEL_OK) return st;
  Pool measure;
  measure.TakeBytes(info.arena_bytes);
  measure.TakeBytes(info.scratch_bytes);
  *out_bytes = Pool::RequiredFor(measure.used());
  return FB_MODEL_OK;
}

int32_t InferenceRuntime::init(const uint8_t* blob, size_t len, void* pool, size_t pool_bytes) {
  ready_ = false;
  verified_ = false;
  blob_ = nullptr;
  blob_len_ = 0;
  arena_ = nullptr;
  scratch_ = nullptr;
  info_ = ModelInfo();
  score_ = 0.0f;
  calibration_offset_ = 0;
  size_t need = 0;
  const int32_t st = required_pool_bytes(blob, len, &need);
  if (st != FB_MODEL_OK) return Fail(st);
  if (pool == nullptr) return Fail(FB_MODEL_ERR_NULL);
  if (pool_bytes < need) return Fail(FB_MODEL_ERR_POOL_TOO_SMALL);
  (void)ValidateModel(blob, len, &info_);
  Pool carve(pool, pool_bytes);
  arena_ = static_cast<int8_t*>(carve.TakeBytes(info_.arena_bytes));
  scratch_ = static_cast<uint8_t*>(carve.TakeBytes(info_.scratch_bytes));
  if (carve.overflowed()) return Fail(FB_MODEL_ERR_POOL_TOO_SMALL);  // unreachable
  blob_ = blob;
  blob_len_ = len;
  threshold_ = info_.default_threshold;
  ready_ = true;
  status_ = FB_MODEL_OK;
  return FB_MODEL_OK;
}

int32_t InferenceRuntime::set_threshold(float threshold) {
  if (!model::IsFinite(threshold)) return FB_MODEL_ERR_BAD_ARG;
  threshold_ = threshold;
  return FB_MODEL_OK;
}

void InferenceRuntime::set_integrity_verifier(IntegrityVerifier fn, void* ctx) {
  verifier_ = fn;
  verifier_ctx_ = ctx;
  verified_ = false;  // a replaced verifier must be run again
}

int32_t InferenceRuntime::verify_bundle_integrity() {
  verified_ = false;
  if (!ready_) return Fail(FB_MODEL_ERR_NOT_READY);
  if (verifier_ == nullptr) return Fail(FB_MODEL_ERR_NO_VERIFIER);
  if (verifier_(blob_, blob_len_, verifier_ctx_) != FB_MODEL_OK)
    return Fail(FB_MODEL_ERR_VERIFY_FAILED);
  verified_ = true;
  status_ = FB_MODEL_OK;
  return FB_MODEL_OK;
}

const int8_t* InferenceRuntime::output() const {
  if (!ready_) return nullptr;
  return arena_ + model::LoadTensor(blob_, info_.output_tensor).arena_offset;
}

void InferenceRuntime::QuantizeInput(const int16_t* window) {
  const fb_model_tensor t = model::LoadTensor(blob_, info_.input_tensor);
  int8_t* y = arena_ + t.arena_offset;
  kernels::QuantizeFeaturesS8(window, info_.input_len, calibration_offset_, info_.input_scale,
                              t.scale, t.zero_point, y);
  if (observer_ != nullptr) observer_(observer_ctx_, -1, info_.input_tensor, y, info_.input_len);
}

void InferenceRuntime::RunLayer(uint32_t index) {
  const fb_model_layer l = model::LoadLayer(blob_, info_.n_tensors, index);
  const fb_model_tensor x = model::LoadTensor(blob_, l.input[0]);
  const fb_model_tensor y = model::LoadTensor(blob_, l.output);
  const fb_model_header h = model::LoadHeader(blob_);
  const uint8_t* p = blob_ + h.params_offset + l.params_offset;
  const int8_t* xd = arena_ + x.arena_offset;
  int8_t* yd = arena_ + y.arena_offset;
  const kernels::OutQuant oq{y.zero_point, l.out_qmin, l.out_qmax};
  const uint32_t ny = static_cast<uint32_t>(model::Numel(y));
  switch (l.op) {
    case FB_MODEL_OP_CONV: {
      kernels::ConvArgs a;
      a.x = xd;
      a.y = yd;
      a.ci = x.dims[1];
      a.h = x.dims[2];
      a.w = x.dims[3];
      a.co = y.dims[1];
      a.ho = y.dims[2];
      a.wo = y.dims[3];
      a.kh = l.attr[0];
      a.kw = l.attr[1];
      a.sh = l.attr[2];
      a.sw = l.attr[3];
      a.dh = l.attr[4];
      a.dw = l.attr[5];
      a.pad_t = l.attr[6];
      a.pad_l = l.attr[7];
      a.group = l.attr[10];
      a.zp_x = x.zero_point;
      a.out = oq;
      a.m = p;
      a.bias = p + 4u * a.co;
      a.wts = reinterpret_cast<const int8_t*>(p + 8u * a.co);
      kernels::ConvS8(a);
      break;
    }
    case FB_MODEL_OP_GEMM: {
      kernels::GemmArgs a;
      a.x = xd;
      a.y = yd;
      a.k = static_cast<uint32_t>(model::Numel(x));
      a.n = ny;
      a.zp_x = x.zero_point;
      a.out = oq;
      a.m = p;
      a.bias = p + 4u * a.n;
      a.wts = reinterpret_cast<const int8_t*>(p + 8u * a.n);
      kernels::GemmS8(a);
      break;
    }
    case FB_MODEL_OP_ADD: {
      const fb_model_tensor b = model::LoadTensor(blob_, l.input[1]);
      kernels::AddS8(xd, arena_ + b.arena_offset, yd, ny, model::LoadF32(p),
                     model::LoadF32(p + 4), model::LoadF32(p + 8), l.out_qmin, l.out_qmax);
      break;
    }
    case FB_MODEL_OP_MAXPOOL:
    case FB_MODEL_OP_AVGPOOL: {
      kernels::PoolArgs a;
      a.x = xd;
      a.y = yd;
      a.c = x.dims[1];
      a.h = x.dims[2];
      a.w = x.dims[3];
      a.ho = y.dims[2];
      a.wo = y.dims[3];
      a.kh = l.attr[0];
      a.kw = l.attr[1];
      a.sh = l.attr[2];
      a.sw = l.attr[3];
      a.dh = l.attr[4];
      a.dw = l.attr[5];
      a.pad_t = l.attr[6];
      a.pad_l = l.attr[7];
      if (l.op == FB_MODEL_OP_MAXPOOL) {
        kernels::MaxPoolS8(a);
      } else if (a.kh == a.h && a.kw == a.w && l.attr[6] == 0 && l.attr[7] == 0 &&
                 l.attr[8] == 0 && l.attr[9] == 0) {
        // ORT falls back to the global average pool arithmetic for this case.
        const uint32_t n = a.h * a.w;
        const float m = x.scale / (y.scale * static_cast<float>(n));
        kernels::GlobalAvgPoolS8(xd, yd, a.c, n, x.zero_point, m, oq);
      } else {
        kernels::AvgPoolS8(a, l.attr[10] != 0, x.scale, x.zero_point, y.scale, oq);
      }
      break;
    }
    case FB_MODEL_OP_GAP:
      kernels::GlobalAvgPoolS8(xd, yd, x.dims[1], static_cast<uint32_t>(x.dims[2]) * x.dims[3],
                               x.zero_point, model::LoadF32(p), oq);
      break;
    case FB_MODEL_OP_SIGMOID:
      kernels::LookupS8(xd, yd, ny, reinterpret_cast<const int8_t*>(p));
      break;
    case FB_MODEL_OP_RESHAPE:
      if (yd != xd) memcpy(yd, xd, ny);
      break;
    default:
      break;  // unreachable: the parser rejects unknown ops
  }
  if (observer_ != nullptr) observer_(observer_ctx_, static_cast<int32_t>(index), l.output, yd, ny);
}

void InferenceRuntime::PostProcess(int8_t* decision) {
  const fb_model_tensor to = model::LoadTensor(blob_, info_.output_tensor);
  const int8_t* out = arena_ + to.arena_offset;
  const uint32_t n = info_.output_len;
  if (info_.postprocess == FB_MODEL_POST_ARGMAX) {
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; ++i)
      if (out[i] > out[best]) best = i;
    score_ = static_cast<float>(out[best] - to.zero_point) * to.scale;
    *decision = static_cast<int8_t>(best);
  } else {
    const fb_model_tensor ti = model::LoadTensor(blob_, info_.input_tensor);
    score_ = kernels::ReconMse(out, to.scale, to.zero_point, arena_ + ti.arena_offset, ti.scale,
                               ti.zero_point, n);
    *decision = score_ > threshold_ ? 1 : 0;
  }
}

int32_t InferenceRuntime::run(const int16_t* feature_window, size_t window_len,
                              int8_t* decision) {
  if (decision == nullptr) return Fail(FB_MODEL_ERR_NULL);
  *decision = -1;
  if (!ready_) return Fail(FB_MODEL_ERR_NOT_READY);
  if (!verified_) return Fail(FB_MODEL_ERR_NOT_VERIFIED);
  if (feature_window == nullptr) return Fail(FB_MODEL_ERR_NULL);
  if (window_len != info_.input_len) return Fail(FB_MODEL_ERR_WINDOW_LEN);
  QuantizeInput(feature_window);
  for (uint32_t i = 0; i < info_.n_layers; ++i) RunLayer(i);
  PostProcess(decision);
  status_ = FB_MODEL_OK;
  return FB_MODEL_OK;
}

int8_t InferenceRuntime::run_inference(const int16_t* feature_window, size_t window_len) {
  int8_t decision = -1;
  if (run(feature_window, window_len, &decision) != FB_MODEL_OK) return -1;
  return decision;
}

}  // namespace edge
