// ValidateModel: the complete structural validation of an untrusted model blob
// (model_format.h). Every field, offset and bound is checked before the runtime touches the
// blob; the kernels then rely on these checks and do no bounds checking of their own.
#include <stddef.h>
#include <stdint.h>

#include "edge_runtime/inference_runtime.h"
#include "model_access.h"

namespace edge {
namespace model {

uint32_t Crc32(const uint8_t* data, size_t len) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xFFFFFFFFu;
}

}  // namespace model

namespace {

using model::IsFinite;
using model::IsPositiveNormal;
using model::LoadF32;
using model::LoadI32;
using model::Numel;

constexpr uint64_t Round4(uint64_t v) { return (v + 3u) & ~static_cast<uint64_t>(3u); }

// Pool/conv output extent along one axis; returns -1 when the (dilated) kernel does not fit.
int64_t OutExtent(int64_t in, int64_t pad_total, int64_t k, int64_t stride, int64_t dil,
                  bool ceil_mode) {
  const int64_t span = in + pad_total - dil * (k - 1) - 1;
  if (span < 0) return -1;
  return (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
}

struct LayerCheck {
  int32_t status = FB_MODEL_OK;
  uint64_t macs = 0;
};

bool AttrsZeroFrom(const fb_model_layer& l, uint32_t first) {
  for (uint32_t i = first; i < 12; ++i)
    if (l.attr[i] != 0) return false;
  return true;
}

bool IsRank4Batch1(const fb_model_tensor& t) { return t.rank == 4 && t.dims[0] == 1; }

// Spatial attributes shared by CONV / MAXPOOL / AVGPOOL (attr 0..9).
bool SpatialAttrsValid(const fb_model_layer& l) {
  for (uint32_t i = 0; i < 6; ++i)
    if (l.attr[i] == 0) return false;  // kernel, stride, dilation >= 1
  return true;
}

// Checks op-specific shapes, attributes and params of one layer.
LayerCheck CheckLayer(const uint8_t* params, const fb_model_layer& l, const fb_model_tensor* in,
                      const fb_model_tensor& out) {
  LayerCheck r;
  const uint8_t* p = params + l.params_offset;
  const fb_model_tensor& x = in[0];
  switch (l.op) {
    case FB_MODEL_OP_CONV: {
      if (!IsRank4Batch1(x) || !IsRank4Batch1(out)) return {FB_MODEL_ERR_BAD_SHAPE, 0};
      if (!SpatialAttrsValid(l) || l.attr[10] == 0 || !AttrsZeroFrom(l, 11))
        return {FB_MODEL_ERR_BAD_LAYER, 0};
      const uint64_t ci = x.dims[1], co = out.dims[1], g = l.attr[10];
      if (ci % g != 0 || co % g != 0) return {FB_MODEL_ERR_BAD_SHAPE, 0};
      const int64_t ho = OutExtent(x.dims[2], int64_t{l.attr[6]} + l.attr[8], l.attr[0],
                                   l.attr[2], l.attr[4], false);
      const int64_t wo = OutExtent(x.dims[3], int64_t{l.attr[7]} + l.attr[9], l.attr[1],
                                   l.attr[3], l.attr[5], false);
      if (ho != out.dims[2] || wo != out.dims[3]) return {FB_MODEL_ERR_BAD_SHAPE, 0};
      const uint64_t red = (ci / g) * l.attr[0] * l.attr[1];
      if (red > FB_MODEL_MAX_REDUCTION) return {FB_MODEL_ERR_BAD_PARAMS, 0};
      if (l.params_bytes != 8u * co + Round4(co * red)) return {FB_MODEL_ERR_BAD_PARAMS, 0};
      for (uint64_t c = 0; c < co; ++c) {
        const float m = LoadF32(p + 4u * c);
        const int32_t b = LoadI32(p + 4u * co + 4u * c);
        if (!IsFinite(m) || !(m > 0.0f)) return {FB_MODEL_ERR_BAD_PARAMS, 0};
        if (b > FB_MODEL_MAX_ABS_BIAS || b < -FB_MODEL_MAX_ABS_BIAS)
          return {FB_MODEL_ERR_BAD_PARAMS, 0};
      }
      r.macs = Numel(out) * red;
      return r;
    }
    case FB_MODEL_OP_GEMM: {
      if (!AttrsZeroFrom(l, 0)) return {FB_MODEL_ERR_BAD_LAYER, 0};
      const uint64_t k = Numel(x), n = Numel(out);
      if (k > FB_MODEL_MAX_REDUCTION) return {FB_MODEL_ERR_BAD_PARAMS, 0};
      if (l.params_bytes != 8u * n + Round4(n * k)) return {FB_MODEL_ERR_BAD_PARAMS, 0};
      for (uint64_t c = 0; c < n; ++c) {
        const float m = LoadF32(p + 4u * c);
        const int32_t b = LoadI32(p + 4u * n + 4u * c);
        if (!IsFinite(m) || !(m > 0.0f)) return {FB_MODEL_ERR_BAD_PARAMS, 0};
        if (b > FB_MODEL_MAX_ABS_BIAS || b < -FB_MODEL_MAX_ABS_BIAS)
          return {FB_MODEL_ERR_BAD_PARAMS, 0};
      }
      r.macs = n * k;
      return r;
    }
    case FB_MODEL_OP_ADD: {
      if (!AttrsZeroFrom(l, 0)) return {FB_MODEL_ERR_BAD_LAYER, 0};
      if (Numel(x) != Numel(out) || Numel(in[1]) != Numel(out)) return {FB_MODEL_ERR_BAD_SHAPE, 0};
      if (l.params_bytes != 12u) return {FB_MODEL_ERR_BAD_PARAMS, 0};
      const float ra = LoadF32(p), rb = LoadF32(p + 4), fixed = LoadF32(p + 8);
      if (!IsFinite(ra) || !IsFinite(rb) || !IsFinite(fixed)) return {FB_MODEL_ERR_BAD_PARAMS, 0};
      if (!(ra > 0.0f) || !(rb > 0.0f) || ra > 4096.0f || rb > 4096.0f)
        return {FB_MODEL_ERR_BAD_PARAMS, 0};
      if (fixed > 1048576.0f || fixed < -1048576.0f) return {FB_MODEL_ERR_BAD_PARAMS, 0};
      return r;
    }
    case FB_MODEL_OP_MAXPOOL:
    case FB_MODEL_OP_AVGPOOL: {
      if (!IsRank4Batch1(x) || !IsRank4Batch1(out) || x.dims[1] != out.dims[1])
        return {FB_MODEL_ERR_BAD_SHAPE, 0};
      const bool avg = l.op == FB_MODEL_OP_AVGPOOL;
      if (!SpatialAttrsValid(l) || l.attr[11] > 1 || (avg ? l.attr[10] > 1 : l.attr[10] != 0))
        return {FB_MODEL_ERR_BAD_LAYER, 0};
      if (avg && (l.attr[4] != 1 || l.attr[5] != 1)) return {FB_MODEL_ERR_BAD_LAYER, 0};
      if (l.params_bytes != 0) return {FB_MODEL_ERR_BAD_PARAMS, 0};
      const bool ceil_mode = l.attr[11] != 0;
      for (int axis = 0; axis < 2; ++axis) {
        const int64_t in_ext = x.dims[2 + axis], got = out.dims[2 + axis];
        const int64_t pad_b = l.attr[6 + axis], pad_e = l.attr[8 + axis];
        const int64_t k = l.attr[axis], s = l.attr[2 + axis], d = l.attr[4 + axis];
        const int64_t fl = OutExtent(in_ext, pad_b + pad_e, k, s, d, false);
        const int64_t ce = OutExtent(in_ext, pad_b + pad_e, k, s, d, ceil_mode);
        if (fl < 1 || (got != fl && got != ce)) return {FB_MODEL_ERR_BAD_SHAPE, 0};
        // AVGPOOL divides by the valid count: every window must hold an input element.
        if (avg && (k <= pad_b || (got - 1) * s - pad_b >= in_ext))
          return {FB_MODEL_ERR_BAD_SHAPE, 0};
      }
      if (!avg && (x.scale != out.scale || x.zero_point != out.zero_point))
        return {FB_MODEL_ERR_BAD_LAYER, 0};
      if (avg && uint64_t{l.attr[0]} * l.attr[1] > FB_MODEL_MAX_REDUCTION)
        return {FB_MODEL_ERR_BAD_PARAMS, 0};
      return r;
    }
    case FB_MODEL_OP_GAP: {
      if (!AttrsZeroFrom(l, 0)) return {FB_MODEL_ERR_BAD_LAYER, 0};
      if (!IsRank4Batch1(x) || !IsRank4Batch1(out) || out.dims[1] != x.dims[1] ||
          out.dims[2] != 1 || out.dims[3] != 1)
        return {FB_MODEL_ERR_BAD_SHAPE, 0};
      if (uint64_t{x.dims[2]} * x.dims[3] > FB_MODEL_MAX_REDUCTION)
        return {FB_MODEL_ERR_BAD_PARAMS, 0};
      if (l.params_bytes != 4u) return {FB_MODEL_ERR_BAD_PARAMS, 0};
      const float m = LoadF32(p);
      // MLAS refuses multipliers outside [2^-32, 256).
      if (!IsFinite(m) || !(m >= 2.3283064365386963e-10f) || !(m < 256.0f))
        return {FB_MODEL_ERR_BAD_PARAMS, 0};
      return r;
    }
    case FB_MODEL_OP_SIGMOID:
      if (!AttrsZeroFrom(l, 0)) return {FB_MODEL_ERR_BAD_LAYER, 0};
      if (Numel(x) != Numel(out)) return {FB_MODEL_ERR_BAD_SHAPE, 0};
      if (l.params_bytes != 256u) return {FB_MODEL_ERR_BAD_PARAMS, 0};
      return r;
    case FB_MODEL_OP_RESHAPE:
      if (!AttrsZeroFrom(l, 0)) return {FB_MODEL_ERR_BAD_LAYER, 0};
      if (Numel(x) != Numel(out)) return {FB_MODEL_ERR_BAD_SHAPE, 0};
      if (x.scale != out.scale || x.zero_point != out.zero_point)
        return {FB_MODEL_ERR_BAD_LAYER, 0};
      if (l.params_bytes != 0) return {FB_MODEL_ERR_BAD_PARAMS, 0};
      return r;
    default:
      return {FB_MODEL_ERR_BAD_OP, 0};
  }
}

int32_t ValidateTensor(const fb_model_tensor& t, uint32_t arena_bytes) {
  if (t.dtype != FB_MODEL_DTYPE_INT8 || t.rank < 1 || t.rank > FB_MODEL_MAX_RANK || t.flags != 0 ||
      t.reserved != 0)
    return FB_MODEL_ERR_BAD_TENSOR;
  for (uint32_t i = 0; i < FB_MODEL_MAX_RANK; ++i) {
    if (i < t.rank ? t.dims[i] == 0 : t.dims[i] != 0) return FB_MODEL_ERR_BAD_TENSOR;
  }
  if (!IsPositiveNormal(t.scale)) return FB_MODEL_ERR_BAD_TENSOR;
  if (t.zero_point < -128 || t.zero_point > 127) return FB_MODEL_ERR_BAD_TENSOR;
  if (Numel(t) != t.size_bytes) return FB_MODEL_ERR_BAD_TENSOR;
  if (uint64_t{t.arena_offset} + t.size_bytes > arena_bytes) return FB_MODEL_ERR_ARENA_BOUNDS;
  return FB_MODEL_OK;
}

bool RangesOverlap(const fb_model_tensor& a, const fb_model_tensor& b) {
  const uint64_t a0 = a.arena_offset, a1 = a0 + a.size_bytes;
  const uint64_t b0 = b.arena_offset, b1 = b0 + b.size_bytes;
  return a0 < b1 && b0 < a1;
}

}  // namespace

int32_t ValidateModel(const uint8_t* blob, size_t len, ModelInfo* info) {
  if (blob == nullptr) return FB_MODEL_ERR_NULL;
  if (len < FB_MODEL_HEADER_BYTES) return FB_MODEL_ERR_TRUNCATED;
  const fb_model_header h = model::LoadHeader(blob);
  if (h.magic != FB_MODEL_MAGIC) return FB_MODEL_ERR_BAD_MAGIC;
  if (h.format_version != FB_MODEL_FORMAT_VERSION) return FB_MODEL_ERR_BAD_VERSION;
  if (h.header_bytes != FB_MODEL_HEADER_BYTES) return FB_MODEL_ERR_BAD_HEADER;
  if (h.total_bytes < FB_MODEL_HEADER_BYTES || h.total_bytes > FB_MODEL_MAX_BLOB_BYTES)
    return FB_MODEL_ERR_BAD_HEADER;
  if (len < h.total_bytes) return FB_MODEL_ERR_TRUNCATED;
  if (len > h.total_bytes) return FB_MODEL_ERR_BAD_HEADER;
  if (model::Crc32(blob + FB_MODEL_CRC_START, h.total_bytes - FB_MODEL_CRC_START) != h.crc32)
    return FB_MODEL_ERR_BAD_CRC;
  if (h.n_tensors < 1 || h.n_tensors > FB_MODEL_MAX_TENSORS || h.n_layers < 1 ||
      h.n_layers > FB_MODEL_MAX_LAYERS)
    return FB_MODEL_ERR_LIMITS;
  const uint32_t layer_off = FB_MODEL_HEADER_BYTES + FB_MODEL_TENSOR_BYTES * h.n_tensors;
  const uint32_t params_off = layer_off + FB_MODEL_LAYER_BYTES * h.n_layers;
  if (h.tensor_table_offset != FB_MODEL_HEADER_BYTES || h.layer_table_offset != layer_off ||
      h.params_offset != params_off || h.params_bytes % 4u != 0 ||
      uint64_t{h.params_offset} + h.params_bytes != h.total_bytes)
    return FB_MODEL_ERR_BAD_OFFSET;
  if (h.flags != 0 || h.reserved0 != 0 || h.reserved1 != 0 || !IsPositiveNormal(h.input_scale))
    return FB_MODEL_ERR_BAD_HEADER;
  if (h.input_tensor >= h.n_tensors || h.output_tensor >= h.n_tensors ||
      h.input_tensor == h.output_tensor)
    return FB_MODEL_ERR_BAD_HEADER;
  if (h.arena_bytes > FB_MODEL_MAX_ARENA_BYTES || h.scratch_bytes > FB_MODEL_MAX_SCRATCH_BYTES)
    return FB_MODEL_ERR_ARENA_BOUNDS;

  // Tensor table.
  fb_model_tensor tensors[FB_MODEL_MAX_TENSORS];
  for (uint32_t i = 0; i < h.n_tensors; ++i) {
    tensors[i] = model::LoadTensor(blob, i);
    const int32_t st = ValidateTensor(tensors[i], h.arena_bytes);
    if (st != FB_MODEL_OK) return st;
  }
  const fb_model_tensor& tin = tensors[h.input_tensor];
  const fb_model_tensor& tout = tensors[h.output_tensor];

  // Post-processing.
  if (!IsFinite(h.default_threshold)) return FB_MODEL_ERR_BAD_POSTPROCESS;
  if (h.postprocess == FB_MODEL_POST_ARGMAX) {
    if (Numel(tout) > 127) return FB_MODEL_ERR_BAD_POSTPROCESS;
  } else if (h.postprocess == FB_MODEL_POST_RECON_MSE) {
    if (Numel(tout) != Numel(tin)) return FB_MODEL_ERR_BAD_POSTPROCESS;
  } else {
    return FB_MODEL_ERR_BAD_POSTPROCESS;
  }

  // Layer table: ids, dataflow order, params ranges, per-op checks. Steps: 0 = input quantize,
  // layer i = step i + 1, end = n_layers + 1.
  const uint32_t kUnset = 0xFFFFFFFFu;
  uint32_t def_step[FB_MODEL_MAX_TENSORS];
  uint32_t last_step[FB_MODEL_MAX_TENSORS];
  uint8_t root[FB_MODEL_MAX_TENSORS];
  for (uint32_t i = 0; i < FB_MODEL_MAX_TENSORS; ++i) {
    def_step[i] = kUnset;
    last_step[i] = 0;
    root[i] = static_cast<uint8_t>(i);
  }
  def_step[h.input_tensor] = 0;
  last_step[h.input_tensor] = 0;
  uint64_t macs = 0;
  const uint8_t* params = blob + h.params_offset;
  for (uint32_t li = 0; li < h.n_layers; ++li) {
    const fb_model_layer l = model::LoadLayer(blob, h.n_tensors, li);
    const uint32_t step = li + 1;
    if (l.op < FB_MODEL_OP_CONV || l.op > FB_MODEL_OP_RESHAPE) return FB_MODEL_ERR_BAD_OP;
    const uint32_t want_inputs = l.op == FB_MODEL_OP_ADD ? 2u : 1u;
    if (l.n_inputs != want_inputs || l.reserved0 != 0 || l.reserved1 != 0 ||
        l.out_qmin > l.out_qmax)
      return FB_MODEL_ERR_BAD_LAYER;
    if (want_inputs == 1 && l.input[1] != FB_MODEL_NO_TENSOR) return FB_MODEL_ERR_BAD_LAYER;
    if ((l.op == FB_MODEL_OP_MAXPOOL || l.op == FB_MODEL_OP_RESHAPE) &&
        (l.out_qmin != -128 || l.out_qmax != 127))
      return FB_MODEL_ERR_BAD_LAYER;
    if (l.output >= h.n_tensors || def_step[l.output] != kUnset) return FB_MODEL_ERR_BAD_LAYER;
    fb_model_tensor ins[2];
    for (uint32_t k = 0; k < want_inputs; ++k) {
      const uint16_t t = l.input[k];
      if (t >= h.n_tensors || def_step[t] == kUnset || t == l.output)
        return FB_MODEL_ERR_BAD_LAYER;
      last_step[t] = step;
      ins[k] = tensors[t];
    }
    if (want_inputs == 1) ins[1] = ins[0];
    if (l.params_offset % 4u != 0 || (l.params_bytes == 0 && l.params_offset != 0) ||
        uint64_t{l.params_offset} + l.params_bytes > h.params_bytes)
      return FB_MODEL_ERR_BAD_OFFSET;
    const LayerCheck c = CheckLayer(params, l, ins, tensors[l.output]);
    if (c.status != FB_MODEL_OK) return c.status;
    macs += c.macs;
    def_step[l.output] = step;
    last_step[l.output] = step;
    if (l.op == FB_MODEL_OP_RESHAPE &&
        tensors[l.output].arena_offset == tensors[l.input[0]].arena_offset)
      root[l.output] = root[l.input[0]];  // in-place alias: one storage
  }
  for (uint32_t i = 0; i < h.n_tensors; ++i) {
    if (def_step[i] == kUnset) return FB_MODEL_ERR_BAD_LAYER;  // never written
  }
  last_step[h.output_tensor] = h.n_layers + 1;
  if (h.postprocess == FB_MODEL_POST_RECON_MSE) last_step[h.input_tensor] = h.n_layers + 1;

  // Liveness per storage (alias sets merged), then pairwise byte overlap of live storages.
  uint32_t live_from[FB_MODEL_MAX_TENSORS];
  uint32_t live_to[FB_MODEL_MAX_TENSORS];
  for (uint32_t i = 0; i < h.n_tensors; ++i) {
    live_from[i] = kUnset;
    live_to[i] = 0;
  }
  for (uint32_t i = 0; i < h.n_tensors; ++i) {
    const uint32_t r = root[i];
    if (def_step[i] < live_from[r]) live_from[r] = def_step[i];
    if (last_step[i] > live_to[r]) live_to[r] = last_step[i];
  }
  for (uint32_t a = 0; a < h.n_tensors; ++a) {
    if (root[a] != a) continue;
    for (uint32_t b = a + 1; b < h.n_tensors; ++b) {
      if (root[b] != b) continue;
      const bool live_together = live_from[a] <= live_to[b] && live_from[b] <= live_to[a];
      if (live_together && RangesOverlap(tensors[a], tensors[b]))
        return FB_MODEL_ERR_ARENA_OVERLAP;
    }
  }

  if (info != nullptr) {
    info->n_tensors = h.n_tensors;
    info->n_layers = h.n_layers;
    info->input_tensor = h.input_tensor;
    info->output_tensor = h.output_tensor;
    info->arena_bytes = h.arena_bytes;
    info->scratch_bytes = h.scratch_bytes;
    info->input_len = static_cast<uint32_t>(Numel(tin));
    info->output_len = static_cast<uint32_t>(Numel(tout));
    info->macs = macs > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<uint32_t>(macs);
    info->postprocess = h.postprocess;
    info->input_scale = h.input_scale;
    info->default_threshold = h.default_threshold;
  }
  return FB_MODEL_OK;
}

}  // namespace edge
