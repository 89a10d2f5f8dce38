// Integer DSP kernels of the feature front-end, one function per step of docs/dsp.md section 4.
//
// Each kernel is a direct transcription of the spec's arithmetic (same widths, same shifts, same
// rounding, same saturation points) because the numpy implementation must match it bit for bit.
// None of them allocates; buffers are passed in by FeatureExtractor from the pool.
#ifndef EDGE_RUNTIME_KERNELS_H_
#define EDGE_RUNTIME_KERNELS_H_

#include <cstddef>
#include <cstdint>

namespace edge {
namespace kernels {

// Clamp to the int16 range; the single saturation primitive used everywhere ("sat16").
inline int16_t Sat16(int64_t v) {
  return static_cast<int16_t>(v > 32767 ? 32767 : (v < -32768 ? -32768 : v));
}

// floor(log2(x)) for x >= 1 (returns 0 for x == 0). Binary search: no builtins, so the result
// does not depend on the compiler or target.
int FloorLog2(uint64_t x);

// floor(sqrt(x)), exact for every uint64 (bit-by-bit restoring square root, no floating point).
uint32_t Isqrt64(uint64_t x);

// Section 4.1: subtract the rounded (half away from zero) mean of the n samples, saturating.
void RemoveDc(int16_t* s, size_t n);

// Section 4.2: direct form I biquad in place, Q14 coefficients b0 b1 b2 a1 a2, int64 accumulator,
// zero initial state. Direct form I keeps the state as past int16 inputs/outputs, which is what
// makes the result independent of the implementation's internal precision.
void BiquadQ14(int16_t* x, size_t n, const int16_t coeffs[5]);

// Section 4.3: unclamped rms = isqrt(sum(y^2) / w) and peak = max |y| (up to 32768).
void TimeStats(const int16_t* y, size_t w, uint32_t* rms, uint32_t* peak);

// Section 4.3 outputs (clamped to 32767; crest is Q8 from the unclamped values).
inline int16_t RmsOut(uint32_t r) { return static_cast<int16_t>(r > 32767u ? 32767u : r); }
inline int16_t PeakOut(uint32_t p) { return static_cast<int16_t>(p > 32767u ? 32767u : p); }
int16_t CrestQ8(uint32_t peak, uint32_t rms);

// Section 4.4: z[i] = (y[i] * win[i] + 2^14) >> 15 for i < w (or z = y when win is null),
// z[i] = 0 for w <= i < n. The result always fits int16 for window values > -32768.
void ApplyWindow(const int16_t* y, size_t w, const int16_t* win, int16_t* z, size_t n);

// Section 4.5: shifts z left by e so that max |z| lands in [16384, 32767]; returns e (0..14).
int BlockNormalise(int16_t* z, size_t n);

// Section 4.6: real FFT of the n int16 values in `z` (n a power of two >= 4) through an n/2
// point complex FFT computed in place in `z` (re, im interleaved), then the power spectrum
// pw[k] = X_re^2 + X_im^2 for k = 0..n/2. `tw` holds n/2 + 1 (re, im) pairs.
void RfftPower(int16_t* z, size_t n, const int32_t* tw, uint32_t* pw);

// Section 4.7: E = sum_i w[i] * pw[start + i] in uint64.
uint64_t BandEnergy(const uint32_t* pw, const uint16_t* w, size_t len);

// Section 4.8: L(x), the Q8 log2 of x >= 1 by table interpolation.
int32_t Log2Q8(uint64_t x);

// Section 4.8: one band value from its energy and the block exponent e.
int16_t Compress(uint64_t energy, int e, bool log2);

// Section 2: sat16(rint(raw * scale)), ties to even, without touching the FP environment.
int16_t QuantizeSample(double raw, double scale);

}  // namespace kernels
}  // namespace edge

#endif  // EDGE_RUNTIME_KERNELS_H_
