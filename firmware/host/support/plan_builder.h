// Host-side plan builder for tests and fe_probe (NOT part of the device library).
//
// Mirrors core/dsp/plan.py (docs/dsp.md sections 4.2, 4.4, 4.6, 4.7): every table is computed in
// double and rounded half-to-even with std::nearbyint under the default rounding mode. Owns its
// tables in std::vector; plan() returns a fb_fe_plan pointing into them.
#ifndef FIELDBENCH_HOST_PLAN_BUILDER_H_
#define FIELDBENCH_HOST_PLAN_BUILDER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "edge_runtime/feature_capi.h"

namespace fbtest {

struct Recipe {
  double sample_rate = 16000.0;
  int channels = 1;
  int window = 512;
  int hop = 256;
  int fft = 512;
  int buffer = 0;  // 0: window + warmup
  bool dc_removal = true;
  bool hann = true;
  std::string filter = "none";  // none | lowpass | highpass | bandpass
  double cutoff_hz = 0.0;
  double q = 0.7071;
  int warmup = 0;                  // used only when filter != none
  std::string band_scale = "mel";  // mel | linear | none
  int band_count = 40;
  double f_min = 0.0;
  double f_max = -1.0;  // < 0: sample_rate / 2
  bool log2 = true;
  uint8_t stats_mask = 0;
};

// The two standard recipes of fe_probe: "audio" and "vibration".
Recipe AudioRecipe();
Recipe VibrationRecipe();

class OwnedPlan {
 public:
  explicit OwnedPlan(const Recipe& r);
  // A plan pointing into this object's tables (valid while the object lives, unmodified).
  fb_fe_plan plan() const;
  // Direct access for tests that corrupt fields.
  fb_fe_plan base;
  std::vector<int16_t> window;
  std::vector<int32_t> twiddle;
  std::vector<uint16_t> band_start, band_len, band_weights;
  // Set when the recipe leaves a band without bins (mirrors ConfigError of compile_plan).
  bool band_error = false;
};

double HzToMel(double f);
double MelToHz(double m);

}  // namespace fbtest

#endif  // FIELDBENCH_HOST_PLAN_BUILDER_H_
