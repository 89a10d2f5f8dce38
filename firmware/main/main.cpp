// Fieldbench node: the feature front-end on a synthetic 3-axis vibration signal (RunFeatureDemo).
//
// The plan tables are normally compiled on the host (core.dsp.plan.compile_plan) and shipped in
// a bundle. To keep this skeleton self-contained they are computed here by the COMPILER
// (constexpr), so the device still never evaluates a transcendental function. The recipe is the
// standard "vibration" one: 1600 Hz, 3 channels, window 256, hop 128, FFT 256, highpass biquad
// 10 Hz Q 0.7071 with 128 warm-up samples, 16 linear bands 0..800 Hz, rms/peak/crest, log2.
#include <cstddef>
#include <cstdint>

#include "edge_runtime/feature_capi.h"
#include "esp_log.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "feature_demo.h"

namespace {

constexpr const char* kTag = "fieldbench";

constexpr int kRate = 1600;
constexpr int kChannels = 3;
constexpr int kWindow = 256;
constexpr int kHop = 128;
constexpr int kFft = 256;
constexpr int kWarmup = 128;
constexpr int kBands = 16;
constexpr int kBins = kFft / 2 + 1;
constexpr double kPi = 3.14159265358979323846;

// ---- compile-time math (constexpr only: evaluated by the compiler, never on the device) ----
constexpr double Rint(double v) {  // round half to even
  double f = static_cast<double>(static_cast<long long>(v));
  if (f > v) f -= 1.0;
  const double frac = v - f;
  if (frac > 0.5) return f + 1.0;
  if (frac < 0.5) return f;
  return (static_cast<long long>(f) % 2 == 0) ? f : f + 1.0;
}
constexpr double Sin(double x) {  // range-reduced Taylor series, ~1e-16 on [-pi, pi]
  while (x > kPi) x -= 2.0 * kPi;
  while (x < -kPi) x += 2.0 * kPi;
  double term = x, sum = x;
  for (int n = 1; n < 30; ++n) {
    term *= -x * x / ((2.0 * n) * (2.0 * n + 1.0));
    sum += term;
  }
  return sum;
}
constexpr double Cos(double x) { return Sin(x + kPi / 2.0); }

struct Tables {
  int16_t window[kWindow];
  int32_t twiddle[2 * kBins];
  uint16_t band_start[kBands];
  uint16_t band_len[kBands];
  uint16_t band_weights[kBins];
  int16_t biquad[5];
};

constexpr Tables MakeTables() {
  Tables t{};
  for (int i = 0; i < kWindow; ++i) {
    const double w = Rint(32768.0 * (0.5 - 0.5 * Cos(2.0 * kPi * i / kWindow)));
    t.window[i] = static_cast<int16_t>(w > 32767.0 ? 32767.0 : w);
  }
  for (int q = 0; q < kBins; ++q) {
    t.twiddle[2 * q] = static_cast<int32_t>(Rint(32768.0 * Cos(2.0 * kPi * q / kFft)));
    t.twiddle[2 * q + 1] = static_cast<int32_t>(Rint(-32768.0 * Sin(2.0 * kPi * q / kFft)));
  }
  // Linear bands over 0..800 Hz: 50 Hz = 8 bins each; the last also takes the Nyquist bin.
  constexpr int kPerBand = (kBins - 1) / kBands;
  for (int b = 0; b < kBands; ++b) {
    t.band_start[b] = static_cast<uint16_t>(b * kPerBand);
    t.band_len[b] = static_cast<uint16_t>(b == kBands - 1 ? kPerBand + 1 : kPerBand);
  }
  for (int k = 0; k < kBins; ++k) t.band_weights[k] = 32768;
  // RBJ highpass, 10 Hz, Q 0.7071, normalised by a0, Q14.
  const double w0 = 2.0 * kPi * 10.0 / kRate;
  const double cw = Cos(w0), alpha = Sin(w0) / (2.0 * 0.7071);
  const double a0 = 1.0 + alpha;
  const double c[5] = {(1.0 + cw) / 2.0 / a0, -(1.0 + cw) / a0, (1.0 + cw) / 2.0 / a0,
                       -2.0 * cw / a0, (1.0 - alpha) / a0};
  for (int i = 0; i < 5; ++i) t.biquad[i] = static_cast<int16_t>(Rint(c[i] * 16384.0));
  return t;
}

constexpr Tables kTables = MakeTables();

fb_fe_plan MakePlan() {
  fb_fe_plan p{};
  p.abi_version = FB_FE_ABI_VERSION;
  p.channels = kChannels;
  p.window_size = kWindow;
  p.hop_length = kHop;
  p.fft_size = kFft;
  p.warmup = kWarmup;
  p.buffer_size = kWindow + kWarmup;
  p.dc_removal = 1;
  p.filter_enabled = 1;
  p.compression = 1;
  p.stats_mask = FB_FE_STAT_RMS | FB_FE_STAT_PEAK | FB_FE_STAT_CREST;
  for (int i = 0; i < 5; ++i) p.biquad_q14[i] = kTables.biquad[i];
  p.n_bands = kBands;
  p.n_band_weights = kBins;
  p.window_q15 = kTables.window;
  p.twiddle = kTables.twiddle;
  p.band_start = kTables.band_start;
  p.band_len = kTables.band_len;
  p.band_weights = kTables.band_weights;
  return p;
}

constexpr size_t kFrameLen = kChannels * (kBands + 3);

// Everything the extractor needs, statically: no heap anywhere.
alignas(8) uint8_t g_pool[8 * 1024];
int16_t g_hop[kHop * kChannels];
int16_t g_features[kFrameLen];

// Synthetic input: a different square wave per axis plus LCG noise.
void FillHop(uint32_t* lcg, uint32_t* t) {
  for (int n = 0; n < kHop; ++n, ++*t) {
    for (int c = 0; c < kChannels; ++c) {
      *lcg = *lcg * 1664525u + 1013904223u;
      const int noise = static_cast<int>(*lcg >> 22) - 512;
      const int period = 8 << c;  // 200, 100, 50 Hz
      const int square = ((*t / (period / 2)) % 2 == 0) ? 4000 : -4000;
      g_hop[n * kChannels + c] = static_cast<int16_t>(square + noise);
    }
  }
}

}  // namespace

// The feature demo loop: a self-contained plan, no bundle needed (bring-up of a new board; the
// node itself runs the bundle pipeline from app_main.cpp).
void RunFeatureDemo() {
  const fb_fe_plan plan = MakePlan();
  size_t need = 0;
  int32_t st = fb_fe_pool_bytes(&plan, &need);
  if (st != FB_OK || need > sizeof(g_pool)) {
    ESP_LOGE(kTag, "plan rejected (status %d) or pool too small (%u > %u)", static_cast<int>(st),
             static_cast<unsigned>(need), static_cast<unsigned>(sizeof(g_pool)));
    return;
  }
  fb_fe_handle* h = nullptr;
  st = fb_fe_init(&plan, g_pool, sizeof(g_pool), &h);
  if (st != FB_OK) {
    ESP_LOGE(kTag, "fb_fe_init failed: %d", static_cast<int>(st));
    return;
  }
  ESP_LOGI(kTag, "feature front-end ready: pool %u bytes, frame %u values",
           static_cast<unsigned>(need), static_cast<unsigned>(kFrameLen));

  uint32_t lcg = 1u, t = 0, frames = 0;
  for (;;) {
    FillHop(&lcg, &t);
    size_t got = 0;
    const int64_t t0 = esp_timer_get_time();
    st = fb_fe_push(h, g_hop, kHop, g_features, 1, &got);
    const int64_t us = esp_timer_get_time() - t0;
    if (st != FB_OK) {
      ESP_LOGE(kTag, "fb_fe_push failed: %d", static_cast<int>(st));
      return;
    }
    if (got == 1 && (++frames % 12) == 0) {  // about once a second at 1600 Hz / hop 128
      const int16_t* x = g_features;         // channel 0: 16 bands then rms, peak, crest (Q8)
      ESP_LOGI(kTag, "frame %u (%lld us): band0 %d band4 %d rms %d peak %d crest %d.%02d",
               static_cast<unsigned>(frames), static_cast<long long>(us), x[0], x[4], x[16], x[17],
               x[18] / 256, (x[18] % 256) * 100 / 256);
    }
    vTaskDelay(pdMS_TO_TICKS(kHop * 1000 / kRate));  // pace like a real 1600 Hz sensor
  }
}
