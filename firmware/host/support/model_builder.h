// Host-only builder of INT8 model blobs (model_format.h) for unit tests, the fuzz seeds and
// rt_probe. Uses std::vector freely: NOT part of the device library.
#ifndef FIELDBENCH_HOST_MODEL_BUILDER_H_
#define FIELDBENCH_HOST_MODEL_BUILDER_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "edge_runtime/model_format.h"

namespace fbtest {

inline uint32_t Crc32(const uint8_t* d, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= d[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

// Recomputes the CRC of a (possibly edited) blob in place.
inline void FixCrc(std::vector<uint8_t>& b) {
  if (b.size() < FB_MODEL_HEADER_BYTES) return;
  uint32_t total;
  std::memcpy(&total, b.data() + 12, 4);
  if (total > b.size() || total < FB_MODEL_CRC_START) return;
  const uint32_t crc = Crc32(b.data() + FB_MODEL_CRC_START, total - FB_MODEL_CRC_START);
  std::memcpy(b.data() + 8, &crc, 4);
}

template <typename T>
void Append(std::vector<uint8_t>& out, const T& v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  out.insert(out.end(), p, p + sizeof(T));
}

// CONV / GEMM params: float32 M[n], int32 bias[n], int8 W, zero padding to 4.
inline std::vector<uint8_t> MacParams(const std::vector<float>& m, const std::vector<int32_t>& bias,
                                      const std::vector<int8_t>& w) {
  std::vector<uint8_t> p;
  for (float f : m) Append(p, f);
  for (int32_t b : bias) Append(p, b);
  for (int8_t v : w) p.push_back(static_cast<uint8_t>(v));
  while (p.size() % 4 != 0) p.push_back(0);
  return p;
}

inline std::vector<uint8_t> FloatParams(std::initializer_list<float> fs) {
  std::vector<uint8_t> p;
  for (float f : fs) Append(p, f);
  return p;
}

struct LayerSpec {
  uint8_t op = 0;
  uint8_t n_inputs = 1;
  int8_t qmin = -128, qmax = 127;
  uint16_t in0 = 0, in1 = FB_MODEL_NO_TENSOR, out = 0;
  std::array<uint16_t, 12> attr{};
  std::vector<uint8_t> params;
};

class ModelBuilder {
 public:
  uint16_t Tensor(std::initializer_list<uint16_t> dims, float scale, int32_t zp, uint32_t offset) {
    fb_model_tensor t{};
    t.dtype = FB_MODEL_DTYPE_INT8;
    t.rank = static_cast<uint8_t>(dims.size());
    uint32_t n = 1, i = 0;
    for (uint16_t d : dims) {
      t.dims[i++] = d;
      n *= d;
    }
    t.scale = scale;
    t.zero_point = zp;
    t.arena_offset = offset;
    t.size_bytes = n;
    tensors.push_back(t);
    return static_cast<uint16_t>(tensors.size() - 1);
  }

  void Layer(const LayerSpec& l) { layers.push_back(l); }

  // Conv helper: attr = kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group.
  static std::array<uint16_t, 12> ConvAttr(uint16_t kh, uint16_t kw, uint16_t sh, uint16_t sw,
                                           uint16_t pt, uint16_t pl, uint16_t pb, uint16_t pr,
                                           uint16_t group, uint16_t dh = 1, uint16_t dw = 1) {
    return {kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, group, 0};
  }

  std::vector<uint8_t> Build() const {
    std::vector<uint8_t> params;
    std::vector<fb_model_layer> recs;
    for (const LayerSpec& l : layers) {
      fb_model_layer r{};
      r.op = l.op;
      r.n_inputs = l.n_inputs;
      r.out_qmin = l.qmin;
      r.out_qmax = l.qmax;
      r.input[0] = l.in0;
      r.input[1] = l.in1;
      r.output = l.out;
      r.params_offset = l.params.empty() ? 0u : static_cast<uint32_t>(params.size());
      r.params_bytes = static_cast<uint32_t>(l.params.size());
      for (int i = 0; i < 12; ++i) r.attr[i] = l.attr[i];
      params.insert(params.end(), l.params.begin(), l.params.end());
      while (params.size() % 4 != 0) params.push_back(0);
      recs.push_back(r);
    }
    uint32_t arena = arena_bytes;
    if (arena == 0) {
      for (const fb_model_tensor& t : tensors)
        if (t.arena_offset + t.size_bytes > arena) arena = t.arena_offset + t.size_bytes;
    }
    fb_model_header h{};
    h.magic = FB_MODEL_MAGIC;
    h.format_version = FB_MODEL_FORMAT_VERSION;
    h.header_bytes = FB_MODEL_HEADER_BYTES;
    h.n_tensors = static_cast<uint16_t>(tensors.size());
    h.n_layers = static_cast<uint16_t>(recs.size());
    h.tensor_table_offset = FB_MODEL_HEADER_BYTES;
    h.layer_table_offset = FB_MODEL_HEADER_BYTES + FB_MODEL_TENSOR_BYTES * h.n_tensors;
    h.params_offset = h.layer_table_offset + FB_MODEL_LAYER_BYTES * h.n_layers;
    h.params_bytes = static_cast<uint32_t>(params.size());
    h.total_bytes = h.params_offset + h.params_bytes;
    h.arena_bytes = arena;
    h.scratch_bytes = scratch_bytes;
    h.input_tensor = input;
    h.output_tensor = output;
    h.input_scale = input_scale;
    h.postprocess = postprocess;
    h.default_threshold = threshold;
    std::vector<uint8_t> out;
    Append(out, h);
    for (const fb_model_tensor& t : tensors) Append(out, t);
    for (const fb_model_layer& r : recs) Append(out, r);
    out.insert(out.end(), params.begin(), params.end());
    FixCrc(out);
    return out;
  }

  std::vector<fb_model_tensor> tensors;
  std::vector<LayerSpec> layers;
  uint16_t input = 0, output = 1;
  float input_scale = 1.0f;
  uint8_t postprocess = FB_MODEL_POST_ARGMAX;
  float threshold = 0.0f;
  uint32_t arena_bytes = 0;  // 0: the end of the last tensor
  uint32_t scratch_bytes = 0;
};

// ---- sample models (deterministic pseudo-random weights) ------------------------------------
struct Lcg {
  uint32_t s;
  explicit Lcg(uint32_t seed) : s(seed) {}
  uint32_t Next() { return s = s * 1664525u + 1013904223u; }
  int Int(int lo, int hi) { return lo + static_cast<int>((Next() >> 8) % static_cast<uint32_t>(hi - lo + 1)); }
  float Scale(float base) { return base * (0.5f + static_cast<float>(Next() >> 8) / 16777216.0f); }
};

inline std::vector<int8_t> RandWeights(Lcg& r, size_t n) {
  std::vector<int8_t> w(n);
  for (auto& v : w) v = static_cast<int8_t>(r.Int(-127, 127));
  return w;
}

inline std::vector<uint8_t> RandMacParams(Lcg& r, size_t n_out, size_t k, float m_base) {
  std::vector<float> m(n_out);
  std::vector<int32_t> b(n_out);
  for (auto& v : m) v = r.Scale(m_base);
  for (auto& v : b) v = r.Int(-2000, 2000);
  return MacParams(m, b, RandWeights(r, n_out * k));
}

// Dense autoencoder [1,16] -> Gemm 8 (Relu folded: zp -128) -> Gemm 16, RECON_MSE.
inline ModelBuilder SampleAutoencoder() {
  Lcg r(7);
  ModelBuilder b;
  const uint16_t x = b.Tensor({1, 16}, 0.05f, 3, 0);
  const uint16_t h = b.Tensor({1, 8}, 0.04f, -128, 16);
  const uint16_t y = b.Tensor({1, 16}, 0.05f, 2, 24);
  LayerSpec l1;
  l1.op = FB_MODEL_OP_GEMM;
  l1.in0 = x;
  l1.out = h;
  l1.params = RandMacParams(r, 8, 16, 0.002f);
  b.Layer(l1);
  LayerSpec l2;
  l2.op = FB_MODEL_OP_GEMM;
  l2.in0 = h;
  l2.out = y;
  l2.params = RandMacParams(r, 16, 8, 0.004f);
  b.Layer(l2);
  b.input = x;
  b.output = y;
  b.input_scale = 1.0f / 256.0f;
  b.postprocess = FB_MODEL_POST_RECON_MSE;
  b.threshold = 0.05f;
  return b;
}

// Conv1D classifier [1,4,1,16] -> Conv 8 (1x3, pad 1) -> MaxPool 1x2/2 -> depthwise Conv
// (group 8, 1x3, pad 1) -> GAP -> Reshape [1,8] (alias) -> Gemm 3, ARGMAX. Arena reused.
inline ModelBuilder SampleConvClassifier() {
  Lcg r(11);
  ModelBuilder b;
  const uint16_t x = b.Tensor({1, 4, 1, 16}, 0.02f, -5, 0);
  const uint16_t c1 = b.Tensor({1, 8, 1, 16}, 0.03f, -128, 64);
  const uint16_t p1 = b.Tensor({1, 8, 1, 8}, 0.03f, -128, 0);
  const uint16_t c2 = b.Tensor({1, 8, 1, 8}, 0.025f, -128, 64);
  const uint16_t g = b.Tensor({1, 8, 1, 1}, 0.01f, -100, 0);
  const uint16_t f = b.Tensor({1, 8}, 0.01f, -100, 0);
  const uint16_t o = b.Tensor({1, 3}, 0.1f, 4, 8);
  LayerSpec l;
  l.op = FB_MODEL_OP_CONV;
  l.in0 = x;
  l.out = c1;
  l.attr = ModelBuilder::ConvAttr(1, 3, 1, 1, 0, 1, 0, 1, 1);
  l.params = RandMacParams(r, 8, 4 * 3, 0.003f);
  b.Layer(l);
  l = LayerSpec();
  l.op = FB_MODEL_OP_MAXPOOL;
  l.in0 = c1;
  l.out = p1;
  l.attr = {1, 2, 1, 2, 1, 1, 0, 0, 0, 0, 0, 0};
  b.Layer(l);
  l = LayerSpec();
  l.op = FB_MODEL_OP_CONV;
  l.in0 = p1;
  l.out = c2;
  l.attr = ModelBuilder::ConvAttr(1, 3, 1, 1, 0, 1, 0, 1, 8);
  l.params = RandMacParams(r, 8, 3, 0.01f);
  b.Layer(l);
  l = LayerSpec();
  l.op = FB_MODEL_OP_GAP;
  l.in0 = c2;
  l.out = g;
  l.params = FloatParams({0.025f / (0.01f * 8.0f)});
  b.Layer(l);
  l = LayerSpec();
  l.op = FB_MODEL_OP_RESHAPE;
  l.in0 = g;
  l.out = f;
  b.Layer(l);
  l = LayerSpec();
  l.op = FB_MODEL_OP_GEMM;
  l.in0 = f;
  l.out = o;
  l.params = RandMacParams(r, 3, 8, 0.002f);
  b.Layer(l);
  b.input = x;
  b.output = o;
  b.input_scale = 1.0f / 256.0f;
  return b;
}

// The remaining ops: [1,2,4,4] -> AvgPool 2x2/1 pad 1 (count_include_pad 0) -> Sigmoid LUT;
// Add(avg, sigmoid) -> Reshape (copy) [1,50] -> Gemm 5, ARGMAX.
inline ModelBuilder SampleMixedOps() {
  Lcg r(23);
  ModelBuilder b;
  const uint16_t x = b.Tensor({1, 2, 4, 4}, 0.03f, 1, 0);
  const uint16_t a = b.Tensor({1, 2, 5, 5}, 0.02f, -2, 32);
  const uint16_t s = b.Tensor({1, 2, 5, 5}, 1.0f / 256.0f, -128, 82);
  const uint16_t sum = b.Tensor({1, 2, 5, 5}, 0.025f, 0, 132);
  const uint16_t flat = b.Tensor({1, 50}, 0.025f, 0, 0);
  const uint16_t o = b.Tensor({1, 5}, 0.2f, 0, 50);
  LayerSpec l;
  l.op = FB_MODEL_OP_AVGPOOL;
  l.in0 = x;
  l.out = a;
  l.attr = {2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
  b.Layer(l);
  l = LayerSpec();
  l.op = FB_MODEL_OP_SIGMOID;
  l.in0 = a;
  l.out = s;
  for (int i = 0; i < 256; ++i) l.params.push_back(static_cast<uint8_t>(r.Int(-128, 127)));
  b.Layer(l);
  l = LayerSpec();
  l.op = FB_MODEL_OP_ADD;
  l.n_inputs = 2;
  l.in0 = a;
  l.in1 = s;
  l.out = sum;
  const float ra = 0.02f / 0.025f, rb = (1.0f / 256.0f) / 0.025f;
  l.params = FloatParams({ra, rb, 0.0f - (ra * -2.0f + rb * -128.0f)});
  b.Layer(l);
  l = LayerSpec();
  l.op = FB_MODEL_OP_RESHAPE;
  l.in0 = sum;
  l.out = flat;
  b.Layer(l);
  l = LayerSpec();
  l.op = FB_MODEL_OP_GEMM;
  l.in0 = flat;
  l.out = o;
  l.params = RandMacParams(r, 5, 50, 0.001f);
  b.Layer(l);
  b.input = x;
  b.output = o;
  b.input_scale = 1.0f / 256.0f;
  return b;
}

}  // namespace fbtest

#endif  // FIELDBENCH_HOST_MODEL_BUILDER_H_
