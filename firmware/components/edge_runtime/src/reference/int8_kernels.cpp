// Reference INT8 kernels: plain loops, int32 accumulation, MLAS float32 requantization.
// Compiled with -ffp-contract=off (see requant.h). No heap, no recursion, bounded loops.
#include "int8_kernels.h"

#include <string.h>

#include "requant.h"

namespace edge {
namespace kernels {
namespace {

inline float LoadF32(const uint8_t* p) {
  float f;
  memcpy(&f, p, sizeof f);
  return f;
}

inline int32_t LoadI32(const uint8_t* p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

// Taps t in [0, k) of a window starting at `start` with dilation d whose position
// start + t * d lies in [0, n): returns [*t0, *t1) (empty when t0 == t1).
inline void ValidTaps(int32_t start, uint32_t d, uint32_t k, uint32_t n, uint32_t* t0,
                      uint32_t* t1) {
  if (d == 1) {
    const int32_t lo1 = start < 0 ? -start : 0;
    int32_t hi1 = static_cast<int32_t>(n) - start;
    if (hi1 > static_cast<int32_t>(k)) hi1 = static_cast<int32_t>(k);
    if (hi1 < lo1) hi1 = lo1;
    *t0 = static_cast<uint32_t>(lo1);
    *t1 = static_cast<uint32_t>(hi1);
    return;
  }
  const int32_t di = static_cast<int32_t>(d);
  uint32_t lo = 0;
  if (start < 0) lo = static_cast<uint32_t>((-start + di - 1) / di);
  const int32_t room = static_cast<int32_t>(n) - 1 - start;
  uint32_t hi = 0;
  if (room >= 0) {
    hi = static_cast<uint32_t>(room / di) + 1u;
    if (hi > k) hi = k;
  }
  if (lo > hi) lo = hi;
  *t0 = lo;
  *t1 = hi;
}

// Round-half-even of v + zp saturated to [qmin, qmax]; robust to huge or NaN inputs
// (pathological scales in a valid blob): no undefined behaviour, deterministic result.
inline int8_t SatRound(float v, int8_t qmin, int8_t qmax) {
  if (!(v <= 4194304.0f && v >= -4194304.0f)) v = v > 0.0f ? 4194304.0f : -4194304.0f;
  int32_t r = RoundHalfEven(v);
  if (r < qmin) r = qmin;
  if (r > qmax) r = qmax;
  return static_cast<int8_t>(r);
}

inline int32_t Dot(const int8_t* x, const int8_t* w, uint32_t k, int32_t zp, int32_t acc) {
  uint32_t i = 0;
  // Unrolled by 4: independent partial sums keep the loop overhead per MAC low.
  int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (; i + 4 <= k; i += 4) {
    a0 += (x[i] - zp) * w[i];
    a1 += (x[i + 1] - zp) * w[i + 1];
    a2 += (x[i + 2] - zp) * w[i + 2];
    a3 += (x[i + 3] - zp) * w[i + 3];
  }
  for (; i < k; ++i) a0 += (x[i] - zp) * w[i];
  return acc + ((a0 + a1) + (a2 + a3));
}

}  // namespace

// Output positions are processed in chunks of kChunk with the accumulators in a fixed-size
// local array; for every kernel tap the valid positions of the chunk form one contiguous run,
// so the innermost loop is branch-free whatever the padding.
constexpr uint32_t kChunk = 32;

void ConvS8(const ConvArgs& a) {
  const uint32_t cig = a.ci / a.group;
  const uint32_t cog = a.co / a.group;
  const uint32_t kk = a.kh * a.kw;
  const size_t hw = static_cast<size_t>(a.h) * a.w;
  const size_t ohw = static_cast<size_t>(a.ho) * a.wo;
  const int32_t zp = a.zp_x;
  const RequantRange range = MakeRange(a.out.qmin, a.out.qmax, a.out.zp);
  int32_t acc[kChunk];
  for (uint32_t co = 0; co < a.co; ++co) {
    const uint32_t g = co / cog;
    const float m = LoadF32(a.m + 4u * co);
    const int32_t bias = LoadI32(a.bias + 4u * co);
    const int8_t* wc = a.wts + static_cast<size_t>(co) * cig * kk;
    const int8_t* xg = a.x + static_cast<size_t>(g) * cig * hw;
    int8_t* yc = a.y + static_cast<size_t>(co) * ohw;
    for (uint32_t oh = 0; oh < a.ho; ++oh) {
      const int32_t ih0 = static_cast<int32_t>(oh * a.sh) - static_cast<int32_t>(a.pad_t);
      uint32_t ky0, ky1;
      ValidTaps(ih0, a.dh, a.kh, a.h, &ky0, &ky1);
      for (uint32_t ow0 = 0; ow0 < a.wo; ow0 += kChunk) {
        const uint32_t n = a.wo - ow0 < kChunk ? a.wo - ow0 : kChunk;
        for (uint32_t j = 0; j < n; ++j) acc[j] = bias;
        const int32_t col0 = static_cast<int32_t>(ow0 * a.sw) - static_cast<int32_t>(a.pad_l);
        for (uint32_t kx = 0; kx < a.kw; ++kx) {
          // Chunk positions j whose input column col0 + j*sw + kx*dw lies inside [0, w).
          const int32_t start = col0 + static_cast<int32_t>(kx * a.dw);
          uint32_t j0, j1;
          ValidTaps(start, a.sw, n, a.w, &j0, &j1);
          if (j0 == j1) continue;
          const size_t c0 = static_cast<size_t>(start + static_cast<int32_t>(j0 * a.sw));
          int32_t* accj = acc + j0;
          const uint32_t cnt = j1 - j0;
          for (uint32_t ci = 0; ci < cig; ++ci) {
            const int8_t* xc = xg + ci * hw + c0;
            const int8_t* wr = wc + ci * kk + kx;
            for (uint32_t ky = ky0; ky < ky1; ++ky) {
              const size_t row = static_cast<size_t>(ih0 + static_cast<int32_t>(ky * a.dh));
              const int8_t* xr = xc + row * a.w;
              const int32_t w = wr[ky * a.kw];
              if (a.sw == 1) {
                for (uint32_t j = 0; j < cnt; ++j) accj[j] += (xr[j] - zp) * w;
              } else {
                for (uint32_t j = 0; j < cnt; ++j) accj[j] += (xr[j * a.sw] - zp) * w;
              }
            }
          }
        }
        int8_t* yr = yc + static_cast<size_t>(oh) * a.wo + ow0;
        for (uint32_t j = 0; j < n; ++j) yr[j] = Requantize(acc[j], m, range);
      }
    }
  }
}

void GemmS8(const GemmArgs& a) {
  const RequantRange range = MakeRange(a.out.qmin, a.out.qmax, a.out.zp);
  for (uint32_t n = 0; n < a.n; ++n) {
    const float m = LoadF32(a.m + 4u * n);
    const int32_t acc = Dot(a.x, a.wts + static_cast<size_t>(n) * a.k, a.k, a.zp_x,
                            LoadI32(a.bias + 4u * n));
    a.y[n] = Requantize(acc, m, range);
  }
}

void GlobalAvgPoolS8(const int8_t* x, int8_t* y, uint32_t c, uint32_t hw, int32_t zp_x, float m,
                     const OutQuant& out) {
  const RequantRange range = MakeRange(out.qmin, out.qmax, out.zp);
  for (uint32_t ch = 0; ch < c; ++ch) {
    const int8_t* xc = x + static_cast<size_t>(ch) * hw;
    int32_t acc = 0;
    for (uint32_t i = 0; i < hw; ++i) acc += xc[i];
    acc -= zp_x * static_cast<int32_t>(hw);
    y[ch] = Requantize(acc, m, range);
  }
}

void MaxPoolS8(const PoolArgs& a) {
  const size_t hw = static_cast<size_t>(a.h) * a.w;
  for (uint32_t ch = 0; ch < a.c; ++ch) {
    const int8_t* xc = a.x + ch * hw;
    int8_t* yc = a.y + static_cast<size_t>(ch) * a.ho * a.wo;
    for (uint32_t oh = 0; oh < a.ho; ++oh) {
      const int32_t ih0 = static_cast<int32_t>(oh * a.sh) - static_cast<int32_t>(a.pad_t);
      uint32_t ky0, ky1;
      ValidTaps(ih0, a.dh, a.kh, a.h, &ky0, &ky1);
      for (uint32_t ow = 0; ow < a.wo; ++ow) {
        const int32_t iw0 = static_cast<int32_t>(ow * a.sw) - static_cast<int32_t>(a.pad_l);
        uint32_t kx0, kx1;
        ValidTaps(iw0, a.dw, a.kw, a.w, &kx0, &kx1);
        int8_t best = -128;
        for (uint32_t ky = ky0; ky < ky1; ++ky) {
          const size_t row = static_cast<size_t>(ih0 + static_cast<int32_t>(ky * a.dh));
          for (uint32_t kx = kx0; kx < kx1; ++kx) {
            const size_t col = static_cast<size_t>(iw0 + static_cast<int32_t>(kx * a.dw));
            const int8_t v = xc[row * a.w + col];
            best = v > best ? v : best;
          }
        }
        yc[static_cast<size_t>(oh) * a.wo + ow] = best;
      }
    }
  }
}

void AvgPoolS8(const PoolArgs& a, bool count_include_pad, float s_x, int32_t zp_x, float s_y,
               const OutQuant& out) {
  const size_t hw = static_cast<size_t>(a.h) * a.w;
  const float zp_y = static_cast<float>(out.zp);
  const float kernel_count = static_cast<float>(static_cast<int64_t>(a.kh) * a.kw);
  for (uint32_t ch = 0; ch < a.c; ++ch) {
    const int8_t* xc = a.x + ch * hw;
    int8_t* yc = a.y + static_cast<size_t>(ch) * a.ho * a.wo;
    for (uint32_t oh = 0; oh < a.ho; ++oh) {
      int32_t hs = static_cast<int32_t>(oh * a.sh) - static_cast<int32_t>(a.pad_t);
      int32_t he = hs + static_cast<int32_t>(a.kh);
      if (he > static_cast<int32_t>(a.h)) he = static_cast<int32_t>(a.h);
      if (hs < 0) hs = 0;
      for (uint32_t ow = 0; ow < a.wo; ++ow) {
        int32_t ws = static_cast<int32_t>(ow * a.sw) - static_cast<int32_t>(a.pad_l);
        int32_t we = ws + static_cast<int32_t>(a.kw);
        if (we > static_cast<int32_t>(a.w)) we = static_cast<int32_t>(a.w);
        if (ws < 0) ws = 0;
        float sum = 0.0f;
        for (int32_t ih = hs; ih < he; ++ih) {
          for (int32_t iw = ws; iw < we; ++iw) {
            const float xf =
                s_x * static_cast<float>(xc[static_cast<size_t>(ih) * a.w + static_cast<size_t>(iw)] - zp_x);
            sum += xf;
          }
        }
        const float count =
            count_include_pad ? kernel_count
                              : static_cast<float>(static_cast<int64_t>(he - hs) * (we - ws));
        const float avg = sum / count;
        yc[static_cast<size_t>(oh) * a.wo + ow] = SatRound(avg / s_y + zp_y, out.qmin, out.qmax);
      }
    }
  }
}

void AddS8(const int8_t* a, const int8_t* b, int8_t* y, size_t n, float ratio_a, float ratio_b,
           float fixed, int8_t qmin, int8_t qmax) {
  for (size_t i = 0; i < n; ++i) {
    const float vb = __builtin_fmaf(static_cast<float>(b[i]), ratio_b, fixed);
    const float v = __builtin_fmaf(static_cast<float>(a[i]), ratio_a, vb);
    y[i] = SatRound(v, qmin, qmax);
  }
}

void LookupS8(const int8_t* x, int8_t* y, size_t n, const int8_t* lut) {
  for (size_t i = 0; i < n; ++i) y[i] = lut[static_cast<uint8_t>(x[i])];
}

void QuantizeFeaturesS8(const int16_t* window, size_t n, int16_t offset, float input_scale,
                        float s, int32_t zp, int8_t* y) {
  const float lo = static_cast<float>(-128 - zp);
  const float hi = static_cast<float>(127 - zp);
  for (size_t i = 0; i < n; ++i) {
    int32_t f = static_cast<int32_t>(window[i]) + offset;
    f = f < -32768 ? -32768 : (f > 32767 ? 32767 : f);
    const float x = static_cast<float>(f) * input_scale;
    float v = x / s;
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    y[i] = static_cast<int8_t>(RoundHalfEven(v) + zp);
  }
}

float ReconMse(const int8_t* out, float s_out, int32_t zp_out, const int8_t* in, float s_in,
               int32_t zp_in, size_t n) {
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    const float ro = static_cast<float>(out[i] - zp_out) * s_out;
    const float ri = static_cast<float>(in[i] - zp_in) * s_in;
    const float d = ro - ri;
    const float sq = d * d;
    sum += sq;
  }
  return sum / static_cast<float>(n);
}

}  // namespace kernels
}  // namespace edge
