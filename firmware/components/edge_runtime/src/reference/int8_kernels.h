// Reference INT8 kernels (portable C++). An optimised target folder (e.g. src/esp32s3/) may
// provide a same-named int8_kernels.cpp implementing these exact signatures and semantics; the
// component CMakeLists picks it instead of this folder's file.
//
// Preconditions (guaranteed by ValidateModel, NOT re-checked here): shapes consistent, every
// pointer valid for the extents given, batch 1, params blocks of the documented size.
// Multipliers and biases are read from the blob with memcpy (no alignment assumption).
#ifndef EDGE_RUNTIME_SRC_REFERENCE_INT8_KERNELS_H_
#define EDGE_RUNTIME_SRC_REFERENCE_INT8_KERNELS_H_

#include <stddef.h>
#include <stdint.h>

namespace edge {
namespace kernels {

struct OutQuant {
  int32_t zp;
  int8_t qmin, qmax;
};

struct ConvArgs {
  const int8_t* x;  // [ci][h][w]
  int8_t* y;        // [co][ho][wo]
  uint32_t ci, h, w, co, ho, wo;
  uint32_t kh, kw, sh, sw, dh, dw, pad_t, pad_l, group;
  int32_t zp_x;
  OutQuant out;
  const uint8_t* m;     // float32[co]
  const uint8_t* bias;  // int32[co]
  const int8_t* wts;    // int8[co][ci/group][kh][kw]
};
void ConvS8(const ConvArgs& a);

struct GemmArgs {
  const int8_t* x;  // [k]
  int8_t* y;        // [n]
  uint32_t k, n;
  int32_t zp_x;
  OutQuant out;
  const uint8_t* m;     // float32[n]
  const uint8_t* bias;  // int32[n]
  const int8_t* wts;    // int8[n][k]
};
void GemmS8(const GemmArgs& a);

// y[c] = requant(sum(x[c]) - zp_x * hw, m).
void GlobalAvgPoolS8(const int8_t* x, int8_t* y, uint32_t c, uint32_t hw, int32_t zp_x, float m,
                     const OutQuant& out);

struct PoolArgs {
  const int8_t* x;  // [c][h][w]
  int8_t* y;        // [c][ho][wo]
  uint32_t c, h, w, ho, wo;
  uint32_t kh, kw, sh, sw, dh, dw, pad_t, pad_l;
};
// Max over the valid window positions; a window without any is -128 (ORT's lowest()).
void MaxPoolS8(const PoolArgs& a);
// ORT QLinearAveragePool (qlinear_pool.cc): float sum of dequantized values / count.
void AvgPoolS8(const PoolArgs& a, bool count_include_pad, float s_x, int32_t zp_x, float s_y,
               const OutQuant& out);

// ORT QLinearAdd, AVX2 MLAS formula: RNE(fma(a, ra, fma(b, rb, fixed))), saturated, clamped.
void AddS8(const int8_t* a, const int8_t* b, int8_t* y, size_t n, float ratio_a, float ratio_b,
           float fixed, int8_t qmin, int8_t qmax);

// y[i] = lut[(uint8_t)x[i]].
void LookupS8(const int8_t* x, int8_t* y, size_t n, const int8_t* lut);

// Input QuantizeLinear: f = sat16(window[i] + offset); v = f32(f) * input_scale;
// q = RNE(clamp(v / s, -128 - zp, 127 - zp)) + zp (a true division, as MLAS).
void QuantizeFeaturesS8(const int16_t* window, size_t n, int16_t offset, float input_scale,
                        float s, int32_t zp, int8_t* y);

// RECON_MSE score (model_format.h): sequential float32 sum in element order, / f32(n).
float ReconMse(const int8_t* out, float s_out, int32_t zp_out, const int8_t* in, float s_in,
               int32_t zp_in, size_t n);

}  // namespace kernels
}  // namespace edge

#endif  // EDGE_RUNTIME_SRC_REFERENCE_INT8_KERNELS_H_
