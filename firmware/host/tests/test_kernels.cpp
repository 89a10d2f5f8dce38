// log2_q8 (spec 4.8) and quantize_sample (spec 2).
#include <cfenv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "edge_runtime/feature_capi.h"
#include "test_util.h"

namespace {

void TestLog2Table() {
  // The spec lists T; check it is what the formula says and that L hits it at the knots.
  for (int i = 0; i <= 32; ++i) {
    const long double t = std::nearbyint(65536.0L * std::log2(1.0L + i / 32.0L));
    // x = 2^30 + i * 2^25 (i < 32) gives n = 30, f = i * 2^25, r = 0, v = T[i].
    if (i < 32) {
      const uint64_t x = (static_cast<uint64_t>(1) << 30) + static_cast<uint64_t>(i) * (1u << 25);
      const int32_t l = fb_fe_log2_q8(x);
      FB_CHECK_EQ(l, (30 * 65536 + static_cast<int64_t>(t) + 128) >> 8);
    }
  }
  FB_CHECK_EQ(fb_fe_log2_q8(1), 0);
  FB_CHECK_EQ(fb_fe_log2_q8(2), 256);
  FB_CHECK_EQ(fb_fe_log2_q8(static_cast<uint64_t>(1) << 63), 63 * 256);
  FB_CHECK_EQ(fb_fe_log2_q8(0), std::numeric_limits<int32_t>::min());
}

void CheckLog2(uint64_t x) {
  const long double ref = 256.0L * std::log2(static_cast<long double>(x));
  const long double err = std::fabs(static_cast<long double>(fb_fe_log2_q8(x)) - ref);
  if (err > 1.0L) {
    std::fprintf(stderr, "log2_q8(%llu) = %d, ref %.4Lf\n", static_cast<unsigned long long>(x),
                 fb_fe_log2_q8(x), ref);
  }
  FB_CHECK(err <= 1.0L);
}

void TestLog2Accuracy() {
  for (uint64_t x = 1; x <= 100000; ++x) CheckLog2(x);
  for (int n = 0; n < 64; ++n) {
    const uint64_t p = static_cast<uint64_t>(1) << n;
    CheckLog2(p);
    if (p > 1) CheckLog2(p - 1);
    if (n < 63) CheckLog2(p + 1);
  }
  CheckLog2(~static_cast<uint64_t>(0));
  std::mt19937_64 rng(12345);
  for (int i = 0; i < 200000; ++i) {
    const int bits = static_cast<int>(rng() % 64) + 1;
    uint64_t x = rng() >> (64 - bits);
    if (x == 0) x = 1;
    CheckLog2(x);
  }
}

void TestQuantize() {
  FB_CHECK_EQ(fb_quantize_sample(0.5, 1.0), 0);
  FB_CHECK_EQ(fb_quantize_sample(1.5, 1.0), 2);
  FB_CHECK_EQ(fb_quantize_sample(2.5, 1.0), 2);
  FB_CHECK_EQ(fb_quantize_sample(3.5, 1.0), 4);
  FB_CHECK_EQ(fb_quantize_sample(-0.5, 1.0), 0);
  FB_CHECK_EQ(fb_quantize_sample(-1.5, 1.0), -2);
  FB_CHECK_EQ(fb_quantize_sample(-2.5, 1.0), -2);
  FB_CHECK_EQ(fb_quantize_sample(-3.5, 1.0), -4);
  FB_CHECK_EQ(fb_quantize_sample(0.49999999999999994, 1.0), 0);
  FB_CHECK_EQ(fb_quantize_sample(2.5000000000000004, 1.0), 3);
  FB_CHECK_EQ(fb_quantize_sample(1.25, 2.0), 2);  // 2.5 -> 2
  FB_CHECK_EQ(fb_quantize_sample(0.75, 2.0), 2);  // 1.5 -> 2
  FB_CHECK_EQ(fb_quantize_sample(32766.5, 1.0), 32766);
  FB_CHECK_EQ(fb_quantize_sample(32767.4, 1.0), 32767);
  FB_CHECK_EQ(fb_quantize_sample(32767.5, 1.0), 32767);  // rint -> 32768, saturates
  FB_CHECK_EQ(fb_quantize_sample(1e300, 1e300), 32767);
  FB_CHECK_EQ(fb_quantize_sample(-32768.5, 1.0), -32768);
  FB_CHECK_EQ(fb_quantize_sample(-32767.5, 1.0), -32768);
  FB_CHECK_EQ(fb_quantize_sample(-1e9, 1.0), -32768);
  FB_CHECK_EQ(fb_quantize_sample(std::numeric_limits<double>::quiet_NaN(), 1.0), 0);
  FB_CHECK_EQ(fb_quantize_sample(1.0, std::numeric_limits<double>::quiet_NaN()), 0);
  FB_CHECK_EQ(fb_quantize_sample(std::numeric_limits<double>::infinity(), 1.0), 32767);
  FB_CHECK_EQ(fb_quantize_sample(-std::numeric_limits<double>::infinity(), 1.0), -32768);
  // Against nearbyint in the default (to-nearest-even) mode, over random and tie values.
  FB_CHECK(std::fegetround() == FE_TONEAREST);
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-40000.0, 40000.0);
  for (int i = 0; i < 200000; ++i) {
    const double raw = (i % 2 == 0) ? u(rng) : std::floor(u(rng)) + 0.5;
    const double scale = (i % 3 == 0) ? 1.0 : 0.37;
    double ref = std::nearbyint(raw * scale);
    ref = std::fmin(32767.0, std::fmax(-32768.0, ref));
    FB_CHECK_EQ(fb_quantize_sample(raw, scale), static_cast<int>(ref));
  }
}

}  // namespace

int main() {
  TestLog2Table();
  TestLog2Accuracy();
  TestQuantize();
  FB_TEST_MAIN_END();
}
