// Feature values: sines at exact bins, silence floors, full-scale saturation (spec section 4).
#include <cmath>
#include <cstdint>
#include <vector>

#include "edge_runtime/feature_capi.h"
#include "fe_session.h"
#include "plan_builder.h"
#include "test_util.h"

namespace {

using fbtest::OwnedPlan;
using fbtest::Recipe;
using fbtest::Session;

constexpr double kPi = 3.14159265358979323846;
constexpr int kLog2Floor = -256 * 15;  // L(0 + 1) - 256 * (2 * 0 + 15): silence, log2
// An empty band of a non-silent block reads L(1) - 256 * (2e + 15), lowest at e = 14.
constexpr int kLog2Min = -256 * (2 * 14 + 15);

std::vector<int16_t> OneFrame(Session& s, const std::vector<int16_t>& seg) {
  std::vector<int16_t> out(s.frame_len);
  FB_CHECK_EQ(fb_fe_extract_batch(s.h, seg.data(), 1, out.data()), FB_OK);
  return out;
}

size_t ArgMax(const std::vector<double>& v) {
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i) {
    if (v[i] > v[best]) best = i;
  }
  return best;
}

// Float reference of bands 4.4-4.8 (log2) for one channel segment without filter, to check the
// fixed-point output within a tolerance (not bit-exact by design).
std::vector<double> FloatBands(const OwnedPlan& op, const std::vector<double>& y) {
  const fb_fe_plan p = op.plan();
  const size_t w = p.window_size, n = p.fft_size;
  double mean = 0.0;
  for (double v : y) mean += v;
  mean = p.dc_removal ? mean / static_cast<double>(y.size()) : 0.0;
  std::vector<double> z(n, 0.0);
  for (size_t i = 0; i < w; ++i) {
    const double win = p.window_q15 ? p.window_q15[i] / 32768.0 : 1.0;
    z[i] = (y[i] - mean) * win;
  }
  std::vector<double> pw(n / 2 + 1);
  for (size_t k = 0; k <= n / 2; ++k) {
    double re = 0.0, im = 0.0;
    for (size_t i = 0; i < n; ++i) {
      const double a = -2.0 * kPi * static_cast<double>(k * i % n) / static_cast<double>(n);
      re += z[i] * std::cos(a);
      im += z[i] * std::sin(a);
    }
    re /= static_cast<double>(n);
    im /= static_cast<double>(n);
    pw[k] = re * re + im * im;
  }
  std::vector<double> f(p.n_bands);
  size_t off = 0;
  for (size_t b = 0; b < p.n_bands; ++b) {
    double e = 0.0;
    for (size_t i = 0; i < p.band_len[b]; ++i)
      e += p.band_weights[off + i] * pw[p.band_start[b] + i];
    off += p.band_len[b];
    f[b] = 256.0 * std::log2(e + 1.0) - 256.0 * 15.0;
  }
  return f;
}

void TestSineSingleBinBands() {
  // fs = 128 Hz, N = 128: 64 linear bands of 1 Hz, so band b holds bin b (band 63: bins 63, 64).
  Recipe r;
  r.sample_rate = 128.0;
  r.window = 128;
  r.hop = 64;
  r.fft = 128;
  r.hann = false;
  r.dc_removal = true;
  r.band_scale = "linear";
  r.band_count = 64;
  OwnedPlan op(r);
  FB_CHECK(!op.band_error);
  Session s(op.plan());
  FB_CHECK_EQ(s.status, FB_OK);
  const int bins[] = {1, 10, 33, 62};
  const double amps[] = {16384.0, 10000.0, 1000.0, 100.0};
  for (int k0 : bins) {
    for (double a : amps) {
      std::vector<int16_t> seg(128);
      for (int i = 0; i < 128; ++i) {
        seg[static_cast<size_t>(i)] =
            fb_quantize_sample(a * std::sin(2.0 * kPi * k0 * i / 128.0 + 0.3), 1.0);
      }
      const std::vector<int16_t> f = OneFrame(s, seg);
      size_t peak = 0;
      for (size_t b = 1; b < f.size(); ++b) {
        if (f[b] > f[peak]) peak = b;
      }
      FB_CHECK_EQ(peak, k0);
      // Rectangular window, exact bin: |X[k0]| = a / 2 and F = 256 * log2(32768 (a/2)^2) - 3840
      // = 512 * log2(a / 2), whatever the block exponent e was.
      const double want = 512.0 * std::log2(a / 2.0);
      if (std::fabs(f[peak] - want) > 8.0) {
        std::fprintf(stderr, "bin %d amp %.0f: F = %d, want %.1f\n", k0, a, f[peak], want);
      }
      FB_CHECK(std::fabs(f[peak] - want) <= 8.0);
    }
  }
}

void TestSineMelAgainstFloat() {
  const OwnedPlan op(fbtest::AudioRecipe());
  Session s(op.plan());
  FB_CHECK_EQ(s.status, FB_OK);
  // Bins 32 (1000 Hz), 10 (312.5 Hz) and 200 (6250 Hz) of a 512-point FFT at 16 kHz.
  for (int k0 : {10, 32, 200}) {
    for (double a : {20000.0, 300.0}) {
      std::vector<int16_t> seg(512);
      std::vector<double> y(512);
      for (int i = 0; i < 512; ++i) {
        seg[static_cast<size_t>(i)] =
            fb_quantize_sample(a * std::cos(2.0 * kPi * k0 * i / 512.0), 1.0);
        y[static_cast<size_t>(i)] = seg[static_cast<size_t>(i)];
      }
      const std::vector<int16_t> f = OneFrame(s, seg);
      const std::vector<double> ref = FloatBands(op, y);
      std::vector<double> fd(f.begin(), f.end());
      FB_CHECK_EQ(ArgMax(fd), ArgMax(ref));
      const double top = ref[ArgMax(ref)];
      for (size_t b = 0; b < ref.size(); ++b) {
        if (ref[b] < top - 1536.0) continue;  // within 6 octaves of power of the peak
        if (std::fabs(f[b] - ref[b]) > 16.0) {
          std::fprintf(stderr, "mel k0=%d a=%.0f band %zu: %d vs %.1f\n", k0, a, b, f[b], ref[b]);
        }
        FB_CHECK(std::fabs(f[b] - ref[b]) <= 16.0);
      }
    }
  }
}

void TestSilence() {
  for (int recipe = 0; recipe < 2; ++recipe) {
    const OwnedPlan op(recipe == 0 ? fbtest::AudioRecipe() : fbtest::VibrationRecipe());
    Session s(op.plan());
    FB_CHECK_EQ(s.status, FB_OK);
    const size_t ch = op.base.channels;
    for (int16_t level : {static_cast<int16_t>(0), static_cast<int16_t>(-1234)}) {
      // Zeros, or a constant that DC removal turns into zeros.
      std::vector<int16_t> seg(s.seg_len * ch, level);
      const std::vector<int16_t> f = OneFrame(s, seg);
      const size_t per = s.frame_len / ch;
      for (size_t c = 0; c < ch; ++c) {
        for (size_t b = 0; b < op.base.n_bands; ++b) FB_CHECK_EQ(f[c * per + b], kLog2Floor);
        for (size_t k = op.base.n_bands; k < per; ++k) FB_CHECK_EQ(f[c * per + k], 0);
      }
    }
  }
  // compression none: silence is 0.
  Recipe r = fbtest::VibrationRecipe();
  r.log2 = false;
  const OwnedPlan op(r);
  Session s(op.plan());
  std::vector<int16_t> seg(s.seg_len * 3, 0);
  for (int16_t v : OneFrame(s, seg)) FB_CHECK_EQ(v, 0);
}

Recipe FullScaleRecipe(bool log2, bool dc) {
  Recipe r;
  r.sample_rate = 1000.0;
  r.window = 64;
  r.hop = 32;
  r.fft = 64;
  r.hann = false;
  r.dc_removal = dc;
  r.band_scale = "linear";
  r.band_count = 4;  // bins 0-7, 8-15, 16-23, 24-32
  r.log2 = log2;
  r.stats_mask = FB_FE_STAT_RMS | FB_FE_STAT_PEAK | FB_FE_STAT_CREST;
  return r;
}

void TestFullScale() {
  // Alternating 32767 / -32768, no DC removal: all energy at Nyquist, |X[N/2]| = 32767.
  {
    const OwnedPlan lg(FullScaleRecipe(true, false)), none(FullScaleRecipe(false, false));
    Session sl(lg.plan()), sn(none.plan());
    FB_CHECK_EQ(sl.status, FB_OK);
    FB_CHECK_EQ(sn.status, FB_OK);
    std::vector<int16_t> seg(64);
    for (size_t i = 0; i < seg.size(); ++i) seg[i] = (i % 2 == 0) ? 32767 : -32768;
    const std::vector<int16_t> fl = OneFrame(sl, seg), fn = OneFrame(sn, seg);
    // rms: floor(sqrt(floor((32767^2 + 32768^2) / 2))) = 32767; peak 32768 -> 32767;
    // crest from the unclamped values: (32768 << 8) / 32767 = 256.
    FB_CHECK_EQ(fl[4], 32767);
    FB_CHECK_EQ(fl[5], 32767);
    FB_CHECK_EQ(fl[6], 256);
    // Last band: Pw[N/2] = 32767^2 (the only non-zero bin there), E = 32768 * 32767^2.
    const uint64_t e_last = 32768ull * 32767ull * 32767ull;
    FB_CHECK_EQ(fl[3], fb_fe_log2_q8(e_last + 1) - 3840);
    FB_CHECK_EQ(fl[3], 7680);
    FB_CHECK_EQ(fn[3], 32767);  // E >> 15 = 32767^2, saturated to int16
    FB_CHECK_EQ(fn[1], 0);
    FB_CHECK_EQ(fn[2], 0);
  }
  // Constant -32768, no DC removal: exact full-scale DC bin, Pw[0] = 2^30.
  {
    const OwnedPlan lg(FullScaleRecipe(true, false)), none(FullScaleRecipe(false, false));
    Session sl(lg.plan()), sn(none.plan());
    std::vector<int16_t> seg(64, -32768);
    const std::vector<int16_t> fl = OneFrame(sl, seg), fn = OneFrame(sn, seg);
    FB_CHECK_EQ(fl[0], 7680);   // L(2^45 + 1) - 3840 = 45 * 256 - 3840
    FB_CHECK_EQ(fn[0], 32767);  // 2^45 >> 15 = 2^30 saturates
    FB_CHECK_EQ(fl[1], kLog2Floor);
    FB_CHECK_EQ(fl[4], 32767);  // rms 32768 clamped
    FB_CHECK_EQ(fl[5], 32767);  // peak 32768 clamped
    FB_CHECK_EQ(fl[6], 256);    // crest (32768 << 8) / 32768
  }
  // Alternating with DC removal: dc = -1, 32767 + 1 saturates, -32768 + 1 = -32767.
  {
    const OwnedPlan lg(FullScaleRecipe(true, true));
    Session sl(lg.plan());
    std::vector<int16_t> seg(64);
    for (size_t i = 0; i < seg.size(); ++i) seg[i] = (i % 2 == 0) ? 32767 : -32768;
    const std::vector<int16_t> fl = OneFrame(sl, seg);
    FB_CHECK_EQ(fl[4], 32767);
    FB_CHECK_EQ(fl[5], 32767);
    FB_CHECK_EQ(fl[6], 256);
  }
  // Full-scale square waves through every recipe shape, including resonant filters that
  // saturate the biquad output: must run clean (the sanitizer build checks for UB) and give
  // in-range stats.
  const char* filters[] = {"none", "lowpass", "highpass", "bandpass"};
  for (const char* filt : filters) {
    for (int period : {2, 16, 50}) {
      for (bool hann : {false, true}) {
        Recipe r = fbtest::VibrationRecipe();
        r.filter = filt;
        r.cutoff_hz = 200.0;
        r.q = 4.0;
        r.hann = hann;
        r.warmup = std::string(filt) == "none" ? 0 : 128;
        OwnedPlan op(r);
        Session s(op.plan());
        FB_CHECK_EQ(s.status, FB_OK);
        std::vector<int16_t> seg(s.seg_len * 3);
        for (size_t i = 0; i < s.seg_len; ++i) {
          const bool hi = (i / static_cast<size_t>(period / 2 > 0 ? period / 2 : 1)) % 2 == 0;
          seg[3 * i] = hi ? 32767 : -32768;
          seg[3 * i + 1] = hi ? -32768 : 32767;
          seg[3 * i + 2] = (i % 2 == 0) ? 32767 : -32768;
        }
        const std::vector<int16_t> f = OneFrame(s, seg);
        for (size_t c = 0; c < 3; ++c) {
          const int16_t* v = f.data() + c * 19;
          for (int b = 0; b < 16; ++b) {
            if (v[b] < kLog2Min || v[b] > 7680) {
              std::fprintf(stderr, "%s period %d hann %d ch %zu band %d: %d\n", filt, period, hann,
                           c, b, v[b]);
            }
            FB_CHECK(v[b] >= kLog2Min && v[b] <= 7680);
          }
          FB_CHECK(v[16] >= 0);
          FB_CHECK(v[17] >= v[16]);  // peak >= rms
          FB_CHECK(v[18] >= 256 || v[16] == 0);
        }
        if (std::string(filt) == "none") FB_CHECK_EQ(f[17], 32767);
      }
    }
  }
}

}  // namespace

int main() {
  TestSineSingleBinBands();
  TestSineMelAgainstFloat();
  TestSilence();
  TestFullScale();
  FB_TEST_MAIN_END();
}
