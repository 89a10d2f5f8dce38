// The twin's sensor: a 3-axis accelerometer bolted to a rotating machine (motor, pump or fan),
// deterministic from a seed. What it models, in the order the signal is built:
//
//   machine      shaft rotation at `shaft_hz` with 1x/2x/3x harmonics (imbalance, misalignment),
//                a pump's vane pass (`vanes` x shaft) or a fan's blade pass; radial vibration in
//                the machine's Y/Z plane, axial along X
//   orientation  `roll_deg`, `pitch_deg`, `yaw_deg` rotate the machine frame into the sensor
//                frame; gravity (1 g) appears on the axes the mounting tilts towards
//   temperature  T(t) = `temp_c` + `temp_drift_c_per_h` * hours + `temp_swing_c` * sin(2 pi t /
//                `temp_period_s`); bias `temp_bias_g_per_c` and sensitivity
//                `temp_sens_pct_per_c` relative to 25 °C
//   noise        `noise_g` RMS: white, pink (1/f, Paul Kellet's filter) or impulsive (white plus
//                rare spikes of 20x), per axis independent
//   aging        `age_h` hours in service: sensitivity falls by `aging_sens_pct_per_kh` and the
//                bias walks by `aging_bias_g_per_kh` per 1000 h
//   faults       none, bearing (outer-race defect at 3.58 x shaft; each impact rings a
//                structural resonance at 0.3 x the sample rate), looseness (harmonics up to
//                10x), misalignment (2x raised), stuck (X axis frozen), dropout (all axes read
//                0), saturation (gain x8), spikes
//
// Output: int16 counts = round(g * `scale`) saturated, interleaved X, Y, Z. Parameters are
// set from "key=value,key=value" text (the twin's --sensor option and its stdin control line),
// documented in docs/device.md.
#pragma once

#include <cstdint>

#include "node/port.h"

namespace hostport {

enum class Machine : uint8_t { kMotor = 0, kPump = 1, kFan = 2 };
enum class NoiseProfile : uint8_t { kWhite = 0, kPink = 1, kImpulsive = 2 };
enum class SensorFault : uint8_t {
  kNone = 0,
  kBearing,
  kLooseness,
  kMisalignment,
  kStuck,
  kDropout,
  kSaturation,
  kSpikes,
};

struct SimSensorParams {
  uint32_t rate_hz = 1600;
  float scale = 8000.0f;  // counts per g (the sample workspace's fixedPointScale)
  Machine machine = Machine::kMotor;
  float shaft_hz = 29.5f;       // 1770 rpm
  float imbalance_g = 0.35f;    // 1x radial amplitude
  float harmonic2_g = 0.08f;    // 2x
  float harmonic3_g = 0.03f;    // 3x
  uint32_t vanes = 5;           // pump vanes / fan blades
  float pass_g = 0.12f;         // vane / blade pass amplitude
  float roll_deg = 0.0f, pitch_deg = 0.0f, yaw_deg = 0.0f;
  float temp_c = 25.0f;
  float temp_drift_c_per_h = 0.0f;
  float temp_swing_c = 0.0f;
  float temp_period_s = 600.0f;
  float temp_bias_g_per_c = 0.0008f;
  float temp_sens_pct_per_c = 0.02f;
  NoiseProfile noise = NoiseProfile::kWhite;
  float noise_g = 0.02f;
  float age_h = 0.0f;
  float aging_sens_pct_per_kh = 0.5f;
  float aging_bias_g_per_kh = 0.01f;
  SensorFault fault = SensorFault::kNone;
  float fault_severity = 1.0f;  // 0..1 scales the fault's signature
  uint64_t seed = 1;
};

// Applies "key=value,key=value" to `p`. Returns false (and names the first bad key in `bad`,
// capacity `bad_cap`) when a key or value is unknown; keys before it are applied.
bool ApplySensorParams(const char* text, SimSensorParams* p, char* bad, uint32_t bad_cap);

class SimSensor final : public node::SensorPort {
 public:
  explicit SimSensor(const SimSensorParams& p = SimSensorParams()) { Configure(p); }
  // New parameters take effect from the next sample; time and phase continue.
  void Configure(const SimSensorParams& p);
  const SimSensorParams& params() const { return p_; }

  uint32_t Channels() override { return 3; }
  uint32_t RateHz() override { return p_.rate_hz; }
  int32_t Read(int16_t* dst, uint32_t frames) override;

  uint64_t samples() const { return n_; }
  float temperature_c() const;

 private:
  double Gauss();
  float Noise(int axis);

  SimSensorParams p_;
  float rot_[3][3] = {};  // machine frame -> sensor frame
  float gravity_[3] = {};
  uint64_t n_ = 0;
  uint64_t rng_ = 1;
  float pink_[3][3] = {};
  float stuck_ = 0.0f;
};

}  // namespace hostport
