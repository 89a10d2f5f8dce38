// The float32 requantization of ORT's MLAS (MlasRequantizeOutput / MlasQuantizeLinear), exactly:
// one IEEE single multiply (or divide), clamp BEFORE rounding, round-half-to-even, + zero point.
// Every file including this must be compiled with -ffp-contract=off and without fast-math
// (set in the component CMakeLists): contracting the multiply with the magic-number add into an
// FMA, or turning x / s into x * (1/s), breaks bit-exactness with onnxruntime.
#ifndef EDGE_RUNTIME_SRC_REFERENCE_REQUANT_H_
#define EDGE_RUNTIME_SRC_REFERENCE_REQUANT_H_

#include <stdint.h>
#include <string.h>

#if defined(__FAST_MATH__)
#error "the INT8 requantization must not be compiled with -ffast-math"
#endif

namespace edge {
namespace kernels {

// Round half to even for |f| < 2^22 (the magic-number trick of MLAS's scalar path:
// 12582912 = 1.5 * 2^23). Valid in the default rounding mode.
inline int32_t RoundHalfEven(float f) {
  const float t = f + 12582912.0f;
  uint32_t bits;
  memcpy(&bits, &t, sizeof bits);
  return static_cast<int32_t>(bits) - 0x4B400000;
}

// Clamp bounds in the float domain for an int8 output with zero point zp and clamp [qmin, qmax].
struct RequantRange {
  float lo;  // qmin - zp
  float hi;  // qmax - zp
  int32_t zp;
};

inline RequantRange MakeRange(int32_t qmin, int32_t qmax, int32_t zp) {
  return RequantRange{static_cast<float>(qmin - zp), static_cast<float>(qmax - zp), zp};
}

// y = RNE(clamp(float(acc) * m, lo, hi)) + zp.
inline int8_t Requantize(int32_t acc, float m, const RequantRange& r) {
  float f = static_cast<float>(acc) * m;
  f = f < r.lo ? r.lo : f;
  f = f > r.hi ? r.hi : f;
  return static_cast<int8_t>(RoundHalfEven(f) + r.zp);
}

}  // namespace kernels
}  // namespace edge

#endif  // EDGE_RUNTIME_SRC_REFERENCE_REQUANT_H_
