// Integer DSP kernels; see kernels.h and docs/dsp.md section 4 for the arithmetic.
//
// Notes that apply throughout:
// * `>>` on a negative signed value is relied upon to be an arithmetic (flooring) shift, as the
//   spec requires. C++20 guarantees it; GCC/Clang (the only compilers for this code: host GCC
//   and Xtensa/RISC-V GCC) have always implemented it that way for C++17.
// * A left shift of a negative value is undefined before C++20, so scaling by 2^e is written as
//   a multiplication (same result, no UB).
#include "edge_runtime/kernels.h"

namespace edge {
namespace kernels {
namespace {

// T[i] = rint(65536 * log2(1 + i/32)), i = 0..32 (spec section 4.8, fixed).
constexpr int32_t kLog2Table[33] = {0,     2909,  5732,  8473,  11136, 13727, 16248, 18704, 21098,
                                    23433, 25711, 27936, 30109, 32234, 34312, 36346, 38336, 40286,
                                    42196, 44068, 45904, 47705, 49472, 51207, 52911, 54584, 56229,
                                    57845, 59434, 60997, 62534, 64047, 65536};

inline int32_t Abs32(int32_t v) { return v < 0 ? -v : v; }

}  // namespace

int FloorLog2(uint64_t x) {
  int n = 0;
  // Halve the search range each step: 32, 16, 8, 4, 2, 1 bits.
  for (int shift = 32; shift > 0; shift >>= 1) {
    if (x >= (static_cast<uint64_t>(1) << shift)) {
      x >>= shift;
      n += shift;
    }
  }
  return n;
}

uint32_t Isqrt64(uint64_t x) {
  uint64_t res = 0;
  uint64_t bit = static_cast<uint64_t>(1) << 62;
  while (bit > x) bit >>= 2;
  while (bit != 0) {
    if (x >= res + bit) {
      x -= res + bit;
      res = (res >> 1) + bit;
    } else {
      res >>= 1;
    }
    bit >>= 2;
  }
  return static_cast<uint32_t>(res);
}

void RemoveDc(int16_t* s, size_t n) {
  // int32 sum as specified: n <= 8192 samples of |s| <= 32768 stays below 2^28.
  int32_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum += s[i];
  const int32_t len = static_cast<int32_t>(n);
  // Round half away from zero; integer division only on non-negative operands.
  const int32_t dc = sum >= 0 ? (sum + len / 2) / len : -((-sum + len / 2) / len);
  for (size_t i = 0; i < n; ++i) s[i] = Sat16(static_cast<int32_t>(s[i]) - dc);
}

void BiquadQ14(int16_t* x, size_t n, const int16_t coeffs[5]) {
  const int64_t b0 = coeffs[0], b1 = coeffs[1], b2 = coeffs[2], a1 = coeffs[3], a2 = coeffs[4];
  int64_t x1 = 0, x2 = 0, y1 = 0, y2 = 0;  // zero state at n = 0 (every segment restarts)
  for (size_t i = 0; i < n; ++i) {
    const int64_t x0 = x[i];
    const int64_t acc = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
    const int16_t y0 = Sat16((acc + (1 << 13)) >> 14);
    x2 = x1;
    x1 = x0;
    y2 = y1;
    y1 = y0;
    x[i] = y0;
  }
}

void TimeStats(const int16_t* y, size_t w, uint32_t* rms, uint32_t* peak) {
  uint64_t ss = 0;
  int32_t p = 0;
  for (size_t i = 0; i < w; ++i) {
    const int32_t v = y[i];
    ss += static_cast<uint64_t>(v * v);  // v*v <= 2^30 fits int32
    const int32_t a = Abs32(v);
    if (a > p) p = a;
  }
  *rms = Isqrt64(ss / w);
  *peak = static_cast<uint32_t>(p);
}

int16_t CrestQ8(uint32_t peak, uint32_t rms) {
  if (rms == 0) return 0;
  const uint32_t c = (peak << 8) / rms;  // peak <= 32768, so peak << 8 <= 2^23
  return static_cast<int16_t>(c > 32767u ? 32767u : c);
}

void ApplyWindow(const int16_t* y, size_t w, const int16_t* win, int16_t* z, size_t n) {
  if (win == nullptr) {
    for (size_t i = 0; i < w; ++i) z[i] = y[i];
  } else {
    for (size_t i = 0; i < w; ++i) {
      // int32: |y * win| <= 2^30. The result fits int16 because win != -32768 (validated).
      z[i] = static_cast<int16_t>((static_cast<int32_t>(y[i]) * win[i] + (1 << 14)) >> 15);
    }
  }
  for (size_t i = w; i < n; ++i) z[i] = 0;  // zero padding up to the FFT size
}

int BlockNormalise(int16_t* z, size_t n) {
  int32_t m = 0;
  for (size_t i = 0; i < n; ++i) {
    const int32_t a = Abs32(z[i]);
    if (a > m) m = a;
  }
  if (m == 0) return 0;
  int e = 14 - FloorLog2(static_cast<uint64_t>(m));
  if (e <= 0) return 0;
  // m < 2^(15 - e) so every shifted value stays inside int16.
  const int32_t scale = static_cast<int32_t>(1) << e;
  for (size_t i = 0; i < n; ++i) z[i] = static_cast<int16_t>(z[i] * scale);
  return e;
}

void RfftPower(int16_t* z, size_t n, const int32_t* tw, uint32_t* pw) {
  const size_t m = n / 2;  // complex points; c[k] = (z[2k], z[2k+1]) is already the packing

  // 1. Bit-reversal permutation of the m complex values (incremental reversed counter).
  for (size_t i = 0, j = 0; i < m; ++i) {
    if (i < j) {
      const int16_t re = z[2 * i], im = z[2 * i + 1];
      z[2 * i] = z[2 * j];
      z[2 * i + 1] = z[2 * j + 1];
      z[2 * j] = re;
      z[2 * j + 1] = im;
    }
    size_t bit = m >> 1;
    while (bit != 0 && (j & bit) != 0) {
      j ^= bit;
      bit >>= 1;
    }
    j |= bit;
  }

  // 2. Radix-2 DIT stages, each scaled by 1/2. The twiddle product is int32: the plan check
  //    guarantees |tw_re| + |tw_im| <= 65535, so 32768 * that + 2^14 < 2^31.
  for (size_t h = 1; h < m; h <<= 1) {
    const size_t stride = n / (2 * h);  // q = j * N / (2h)
    for (size_t j = 0; j < h; ++j) {
      const int32_t wr = tw[2 * (j * stride)];
      const int32_t wi = tw[2 * (j * stride) + 1];
      for (size_t g = 0; g < m; g += 2 * h) {
        int16_t* a = z + 2 * (g + j);
        int16_t* b = z + 2 * (g + j + h);
        const int32_t br = b[0], bi = b[1];
        const int32_t tr = (br * wr - bi * wi + (1 << 14)) >> 15;
        const int32_t ti = (br * wi + bi * wr + (1 << 14)) >> 15;
        const int32_t ar = a[0], ai = a[1];
        a[0] = Sat16((ar + tr) >> 1);
        a[1] = Sat16((ai + ti) >> 1);
        b[0] = Sat16((ar - tr) >> 1);
        b[1] = Sat16((ai - ti) >> 1);
      }
    }
  }

  // 3. Split the m-point result into the n-point real spectrum (int64 twiddle product), and
  // 4. its power. X_re^2 + X_im^2 <= 2 * 2^30 fits uint32.
  for (size_t k = 0; k <= m; ++k) {
    const size_t ka = k % m;
    const size_t kb = (m - k) % m;
    const int32_t ar = z[2 * ka], ai = z[2 * ka + 1];
    const int32_t br = z[2 * kb], bi = -static_cast<int32_t>(z[2 * kb + 1]);  // conj
    const int32_t er = ar + br, ei = ai + bi;
    const int64_t dr = ar - br, di = ai - bi;
    const int64_t wr = tw[2 * k], wi = tw[2 * k + 1];
    const int64_t tr = (dr * wr - di * wi + (1 << 14)) >> 15;
    const int64_t ti = (dr * wi + di * wr + (1 << 14)) >> 15;
    const int32_t xr = Sat16((er + ti) >> 2);
    const int32_t xi = Sat16((ei - tr) >> 2);
    pw[k] = static_cast<uint32_t>(xr * xr) + static_cast<uint32_t>(xi * xi);
  }
}

uint64_t BandEnergy(const uint32_t* pw, const uint16_t* w, size_t len) {
  uint64_t e = 0;
  for (size_t i = 0; i < len; ++i) e += static_cast<uint64_t>(w[i]) * pw[i];
  return e;
}

int32_t Log2Q8(uint64_t x) {
  if (x == 0) return INT32_MIN;  // log2(0) = -inf: outside the spec's domain (x >= 1)
  const int n = FloorLog2(x);
  const uint64_t m = n >= 30 ? x >> (n - 30) : x << (30 - n);  // 2^30 <= m < 2^31
  const int64_t f = static_cast<int64_t>(m) - (static_cast<int64_t>(1) << 30);
  const int64_t i = f >> 25;
  const int64_t r = f & ((static_cast<int64_t>(1) << 25) - 1);
  // (T[i+1] - T[i]) * r reaches 2909 * 2^25 ~ 2^36.5, so this product needs int64.
  const int64_t v = kLog2Table[i] + (((kLog2Table[i + 1] - kLog2Table[i]) * r) >> 25);
  return static_cast<int32_t>((static_cast<int64_t>(n) * 65536 + v + 128) >> 8);
}

int16_t Compress(uint64_t energy, int e, bool log2) {
  if (log2) {
    // E < 2^58, so E + 1 cannot wrap.
    return Sat16(static_cast<int64_t>(Log2Q8(energy + 1)) - 256 * (2 * e + 15));
  }
  const uint64_t v = energy >> (15 + 2 * e);
  return static_cast<int16_t>(v > 32767u ? 32767u : v);
}

int16_t QuantizeSample(double raw, double scale) {
  const double p = raw * scale;
  if (p != p) return 0;  // NaN
  // Clamping before rounding gives the same result as sat16(rint(p)): rint is monotonic and
  // both bounds are integers. This also disposes of +-inf and huge values before the cast.
  if (p >= 32767.0) return 32767;
  if (p <= -32768.0) return -32768;
  int32_t t = static_cast<int32_t>(p);                   // truncates toward zero
  if (static_cast<double>(t) > p) --t;                   // floor
  const double frac = p - static_cast<double>(t);        // exact: |p| < 2^15
  if (frac > 0.5 || (frac == 0.5 && (t & 1) != 0)) ++t;  // half to even
  return static_cast<int16_t>(t);
}

}  // namespace kernels
}  // namespace edge
