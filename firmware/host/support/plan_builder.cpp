#include "plan_builder.h"

#include <algorithm>
#include <cmath>

namespace fbtest {
namespace {

constexpr double kPi = 3.14159265358979323846;

double Rint(double v) { return std::nearbyint(v); }  // default mode: ties to even

// numpy.linspace(lo, hi, n): step multiply, exact end point.
std::vector<double> Linspace(double lo, double hi, int n) {
  std::vector<double> v(static_cast<size_t>(n));
  const double step = (hi - lo) / (n - 1);
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = lo + i * step;
  if (n > 1) v.back() = hi;
  return v;
}

}  // namespace

double HzToMel(double f) {
  if (f >= 1000.0) return 15.0 + 27.0 * std::log(std::max(f, 1e-12) / 1000.0) / std::log(6.4);
  return f * 3.0 / 200.0;
}

double MelToHz(double m) {
  if (m >= 15.0) return 1000.0 * std::exp(std::log(6.4) * (m - 15.0) / 27.0);
  return m * 200.0 / 3.0;
}

Recipe AudioRecipe() {
  Recipe r;
  r.sample_rate = 16000.0;
  r.channels = 1;
  r.window = 512;
  r.hop = 256;
  r.fft = 512;
  r.dc_removal = true;
  r.hann = true;
  r.band_scale = "mel";
  r.band_count = 40;
  r.f_min = 0.0;
  r.f_max = 8000.0;
  r.log2 = true;
  r.stats_mask = 0;
  return r;
}

Recipe VibrationRecipe() {
  Recipe r;
  r.sample_rate = 1600.0;
  r.channels = 3;
  r.window = 256;
  r.hop = 128;
  r.fft = 256;
  r.dc_removal = true;
  r.hann = true;
  r.filter = "highpass";
  r.cutoff_hz = 10.0;
  r.q = 0.7071;
  r.warmup = 128;
  r.band_scale = "linear";
  r.band_count = 16;
  r.f_min = 0.0;
  r.f_max = 800.0;
  r.log2 = true;
  r.stats_mask = FB_FE_STAT_RMS | FB_FE_STAT_PEAK | FB_FE_STAT_CREST;
  return r;
}

OwnedPlan::OwnedPlan(const Recipe& r) : base() {
  const bool filt = r.filter != "none";
  const int warmup = filt ? r.warmup : 0;
  const bool bands = r.band_scale != "none" && r.band_count > 0;
  base.abi_version = FB_FE_ABI_VERSION;
  base.channels = static_cast<uint16_t>(r.channels);
  base.window_size = static_cast<uint16_t>(r.window);
  base.hop_length = static_cast<uint16_t>(r.hop);
  base.fft_size = static_cast<uint16_t>(r.fft);
  base.warmup = static_cast<uint16_t>(warmup);
  base.buffer_size = static_cast<uint16_t>(r.buffer > 0 ? r.buffer : r.window + warmup);
  base.dc_removal = r.dc_removal ? 1 : 0;
  base.filter_enabled = filt ? 1 : 0;
  base.compression = r.log2 ? 1 : 0;
  base.stats_mask = r.stats_mask;

  // 4.2: RBJ cookbook biquad, normalised by a0, Q14.
  double c[5] = {1.0, 0.0, 0.0, 0.0, 0.0};
  if (filt) {
    const double w0 = 2.0 * kPi * r.cutoff_hz / r.sample_rate;
    const double cw = std::cos(w0), alpha = std::sin(w0) / (2.0 * r.q);
    double b[3];
    if (r.filter == "lowpass") {
      b[0] = (1 - cw) / 2;
      b[1] = 1 - cw;
      b[2] = (1 - cw) / 2;
    } else if (r.filter == "highpass") {
      b[0] = (1 + cw) / 2;
      b[1] = -(1 + cw);
      b[2] = (1 + cw) / 2;
    } else {  // bandpass, 0 dB peak
      b[0] = alpha;
      b[1] = 0.0;
      b[2] = -alpha;
    }
    const double a0 = 1 + alpha, a1 = -2 * cw, a2 = 1 - alpha;
    c[0] = b[0] / a0;
    c[1] = b[1] / a0;
    c[2] = b[2] / a0;
    c[3] = a1 / a0;
    c[4] = a2 / a0;
  }
  for (int i = 0; i < 5; ++i) {
    double q = Rint(c[i] * 16384.0);
    q = std::min(32767.0, std::max(-32768.0, q));
    base.biquad_q14[i] = static_cast<int16_t>(q);
  }

  if (!bands) return;
  base.n_bands = static_cast<uint16_t>(r.band_count);

  // 4.4: periodic Hann, clamped to 32767.
  if (r.hann) {
    window.resize(static_cast<size_t>(r.window));
    for (int i = 0; i < r.window; ++i) {
      const double w = Rint(32768.0 * (0.5 - 0.5 * std::cos(2.0 * kPi * i / r.window)));
      window[static_cast<size_t>(i)] = static_cast<int16_t>(std::min(w, 32767.0));
    }
  }
  // 4.6: twiddles W_N^q, q = 0..N/2.
  const int n = r.fft;
  for (int q = 0; q <= n / 2; ++q) {
    twiddle.push_back(static_cast<int32_t>(Rint(32768.0 * std::cos(2.0 * kPi * q / n))));
    twiddle.push_back(static_cast<int32_t>(Rint(-32768.0 * std::sin(2.0 * kPi * q / n))));
  }
  // 4.7: band weights.
  const int bins = n / 2 + 1;
  const double f_max = r.f_max < 0 ? r.sample_rate / 2 : r.f_max;
  std::vector<double> freqs(static_cast<size_t>(bins));
  for (int k = 0; k < bins; ++k) freqs[static_cast<size_t>(k)] = k * r.sample_rate / n;
  std::vector<double> pts;
  if (r.band_scale == "mel") {
    pts = Linspace(HzToMel(r.f_min), HzToMel(f_max), r.band_count + 2);
    for (double& p : pts) p = MelToHz(p);
  } else {
    pts = Linspace(r.f_min, f_max, r.band_count + 1);
  }
  for (int b = 0; b < r.band_count; ++b) {
    std::vector<int64_t> q(static_cast<size_t>(bins), 0);
    for (int k = 0; k < bins; ++k) {
      const double f = freqs[static_cast<size_t>(k)];
      double w = 0.0;
      if (r.band_scale == "mel") {
        const double left = pts[static_cast<size_t>(b)], centre = pts[static_cast<size_t>(b) + 1],
                     right = pts[static_cast<size_t>(b) + 2];
        const double up = (f - left) / (centre - left), down = (right - f) / (right - centre);
        w = std::max(0.0, std::min(up, down));
      } else {
        const bool inside =
            (f >= pts[static_cast<size_t>(b)] && f < pts[static_cast<size_t>(b) + 1]) ||
            (b == r.band_count - 1 && f == f_max);
        w = inside ? 1.0 : 0.0;
      }
      q[static_cast<size_t>(k)] = static_cast<int64_t>(Rint(w * 32768.0));
    }
    int first = -1, last = -1;
    for (int k = 0; k < bins; ++k) {
      if (q[static_cast<size_t>(k)] != 0) {
        if (first < 0) first = k;
        last = k;
      }
    }
    if (first < 0) {
      band_error = true;
      first = last = 0;
    }
    band_start.push_back(static_cast<uint16_t>(first));
    band_len.push_back(static_cast<uint16_t>(last - first + 1));
    for (int k = first; k <= last; ++k) {
      band_weights.push_back(static_cast<uint16_t>(q[static_cast<size_t>(k)]));
    }
  }
  base.n_band_weights = static_cast<uint32_t>(band_weights.size());
}

fb_fe_plan OwnedPlan::plan() const {
  fb_fe_plan p = base;
  if (p.n_bands > 0) {
    p.window_q15 = window.empty() ? nullptr : window.data();
    p.twiddle = twiddle.data();
    p.band_start = band_start.data();
    p.band_len = band_len.data();
    p.band_weights = band_weights.data();
  }
  return p;
}

}  // namespace fbtest
