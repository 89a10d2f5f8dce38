// The twin's vibration simulator (sim_sensor.h). Host only: float math and libm are fine here.
#include "host_port/sim_sensor.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hostport {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr float kDeg = static_cast<float>(kPi / 180.0);

struct Named {
  const char* name;
  uint8_t value;
};
const Named kMachines[] = {{"motor", 0}, {"pump", 1}, {"fan", 2}};
const Named kNoises[] = {{"white", 0}, {"pink", 1}, {"impulsive", 2}};
const Named kFaults[] = {{"none", 0},       {"bearing", 1}, {"looseness", 2}, {"misalignment", 3},
                         {"stuck", 4},      {"dropout", 5}, {"saturation", 6}, {"spikes", 7}};

template <size_t N>
bool Lookup(const Named (&table)[N], const char* v, uint8_t* out) {
  for (const Named& n : table) {
    if (std::strcmp(n.name, v) == 0) {
      *out = n.value;
      return true;
    }
  }
  return false;
}

bool ParseFloat(const char* v, float* out) {
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  if (end == v || *end != '\0' || !std::isfinite(d)) return false;
  *out = static_cast<float>(d);
  return true;
}

bool ApplyOne(const char* key, const char* v, SimSensorParams* p) {
  struct FloatKey {
    const char* name;
    float* field;
  } floats[] = {
      {"scale", &p->scale},
      {"shaft_hz", &p->shaft_hz},
      {"imbalance_g", &p->imbalance_g},
      {"harmonic2_g", &p->harmonic2_g},
      {"harmonic3_g", &p->harmonic3_g},
      {"pass_g", &p->pass_g},
      {"roll_deg", &p->roll_deg},
      {"pitch_deg", &p->pitch_deg},
      {"yaw_deg", &p->yaw_deg},
      {"temp_c", &p->temp_c},
      {"temp_drift_c_per_h", &p->temp_drift_c_per_h},
      {"temp_swing_c", &p->temp_swing_c},
      {"temp_period_s", &p->temp_period_s},
      {"temp_bias_g_per_c", &p->temp_bias_g_per_c},
      {"temp_sens_pct_per_c", &p->temp_sens_pct_per_c},
      {"noise_g", &p->noise_g},
      {"age_h", &p->age_h},
      {"aging_sens_pct_per_kh", &p->aging_sens_pct_per_kh},
      {"aging_bias_g_per_kh", &p->aging_bias_g_per_kh},
      {"fault_severity", &p->fault_severity},
  };
  for (const FloatKey& k : floats) {
    if (std::strcmp(k.name, key) == 0) return ParseFloat(v, k.field);
  }
  uint8_t e = 0;
  if (std::strcmp(key, "machine") == 0) {
    if (!Lookup(kMachines, v, &e)) return false;
    p->machine = static_cast<Machine>(e);
    return true;
  }
  if (std::strcmp(key, "noise") == 0) {
    if (!Lookup(kNoises, v, &e)) return false;
    p->noise = static_cast<NoiseProfile>(e);
    return true;
  }
  if (std::strcmp(key, "fault") == 0) {
    if (!Lookup(kFaults, v, &e)) return false;
    p->fault = static_cast<SensorFault>(e);
    return true;
  }
  if (std::strcmp(key, "rate_hz") == 0 || std::strcmp(key, "vanes") == 0 ||
      std::strcmp(key, "seed") == 0) {
    char* end = nullptr;
    const unsigned long long n = std::strtoull(v, &end, 10);
    if (end == v || *end != '\0') return false;
    if (key[0] == 'r') {
      if (n < 1 || n > 100000) return false;
      p->rate_hz = static_cast<uint32_t>(n);
    } else if (key[0] == 'v') {
      if (n < 1 || n > 64) return false;
      p->vanes = static_cast<uint32_t>(n);
    } else {
      p->seed = n;
    }
    return true;
  }
  return false;
}

}  // namespace

bool ApplySensorParams(const char* text, SimSensorParams* p, char* bad, uint32_t bad_cap) {
  char buf[1024];
  std::snprintf(buf, sizeof buf, "%s", text == nullptr ? "" : text);
  char* save = nullptr;
  for (char* item = strtok_r(buf, ", ", &save); item != nullptr; item = strtok_r(nullptr, ", ", &save)) {
    char* eq = std::strchr(item, '=');
    bool ok = eq != nullptr;
    if (ok) {
      *eq = '\0';
      ok = ApplyOne(item, eq + 1, p);
    }
    if (!ok) {
      if (bad != nullptr && bad_cap > 0) std::snprintf(bad, bad_cap, "%s", item);
      return false;
    }
  }
  return true;
}

void SimSensor::Configure(const SimSensorParams& p) {
  const bool reseed = p.seed != p_.seed || n_ == 0;
  p_ = p;
  if (p_.scale <= 0.0f) p_.scale = 8000.0f;
  if (reseed) rng_ = p_.seed * 0x9E3779B97F4A7C15ull + 1;
  // R = Rz(yaw) * Ry(pitch) * Rx(roll): machine frame -> sensor frame.
  const float cr = std::cos(p_.roll_deg * kDeg), sr = std::sin(p_.roll_deg * kDeg);
  const float cp = std::cos(p_.pitch_deg * kDeg), sp = std::sin(p_.pitch_deg * kDeg);
  const float cy = std::cos(p_.yaw_deg * kDeg), sy = std::sin(p_.yaw_deg * kDeg);
  const float r[3][3] = {{cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr},
                         {sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr},
                         {-sp, cp * sr, cp * cr}};
  std::memcpy(rot_, r, sizeof rot_);
  // Gravity points down the world Z axis; the sensor sees it through the mounting tilt
  // (yaw about the vertical does not change it).
  gravity_[0] = -sp;
  gravity_[1] = cp * sr;
  gravity_[2] = cp * cr;
}

double SimSensor::Gauss() {
  // xorshift64* uniforms, Box-Muller (one value per call; simple and deterministic).
  auto next = [this]() {
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return static_cast<double>((rng_ * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
  };
  double u1 = next();
  if (u1 < 1e-300) u1 = 1e-300;
  const double u2 = next();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}

float SimSensor::Noise(int axis) {
  const float w = static_cast<float>(Gauss());
  switch (p_.noise) {
    case NoiseProfile::kPink: {
      // Paul Kellet's economy pink filter; the gain keeps the RMS near noise_g.
      float* b = pink_[axis];
      b[0] = 0.99765f * b[0] + w * 0.0990460f;
      b[1] = 0.96300f * b[1] + w * 0.2965164f;
      b[2] = 0.57000f * b[2] + w * 1.0526913f;
      return (b[0] + b[1] + b[2] + w * 0.1848f) * 0.32f;
    }
    case NoiseProfile::kImpulsive: {
      const double u = Gauss();
      return std::fabs(u) > 3.3 ? w * 20.0f : w;
    }
    case NoiseProfile::kWhite:
    default:
      return w;
  }
}

float SimSensor::temperature_c() const {
  const double t = static_cast<double>(n_) / p_.rate_hz;
  return static_cast<float>(p_.temp_c + p_.temp_drift_c_per_h * t / 3600.0 +
                            p_.temp_swing_c * std::sin(2.0 * kPi * t / (p_.temp_period_s > 0 ? p_.temp_period_s : 600.0)));
}

int32_t SimSensor::Read(int16_t* dst, uint32_t frames) {
  const double rate = p_.rate_hz;
  const float sev = p_.fault_severity < 0 ? 0 : (p_.fault_severity > 1 ? 1 : p_.fault_severity);
  for (uint32_t i = 0; i < frames; ++i, ++n_) {
    const double t = static_cast<double>(n_) / rate;
    const double shaft = 2.0 * kPi * p_.shaft_hz * t;
    float h1 = p_.imbalance_g, h2 = p_.harmonic2_g, h3 = p_.harmonic3_g;
    if (p_.fault == SensorFault::kMisalignment) h2 += 0.6f * sev;
    // Machine frame: X axial, Y/Z radial (a rotating imbalance traces a circle in Y/Z).
    float m[3] = {0.3f * h2 * static_cast<float>(std::sin(2 * shaft + 0.4)),
                  static_cast<float>(h1 * std::cos(shaft) + h2 * std::cos(2 * shaft + 0.7) +
                                     h3 * std::cos(3 * shaft + 1.1)),
                  static_cast<float>(h1 * std::sin(shaft) + h2 * std::sin(2 * shaft + 0.7) +
                                     h3 * std::sin(3 * shaft + 1.1))};
    if (p_.machine != Machine::kMotor) {
      const double pass = p_.vanes * shaft;
      const float a = p_.pass_g * (p_.machine == Machine::kPump ? 1.0f : 0.6f);
      m[0] += a * static_cast<float>(std::sin(pass));
      m[1] += 0.5f * a * static_cast<float>(std::cos(pass + 0.3));
    }
    if (p_.fault == SensorFault::kLooseness) {
      for (int k = 4; k <= 10; ++k) m[1] += 0.08f * sev / (k - 3) * static_cast<float>(std::cos(k * shaft + k));
    }
    if (p_.fault == SensorFault::kBearing) {
      // Impacts at the outer-race defect frequency, each ringing a resonance that decays.
      const double bpfo = 3.58 * p_.shaft_hz;
      const double since = std::fmod(t * bpfo, 1.0) / bpfo;
      const double ring = std::exp(-since * 400.0) * std::sin(2.0 * kPi * 0.3 * rate * since);
      m[2] += static_cast<float>(1.2 * sev * ring);
      m[1] += static_cast<float>(0.5 * sev * ring);
    }
    const float temp = temperature_c();
    const float dt = temp - 25.0f;
    float gain = 1.0f + p_.temp_sens_pct_per_c * 0.01f * dt - p_.aging_sens_pct_per_kh * 0.01f * p_.age_h / 1000.0f;
    if (p_.fault == SensorFault::kSaturation) gain *= 1.0f + 7.0f * sev;
    const float bias = p_.temp_bias_g_per_c * dt + p_.aging_bias_g_per_kh * p_.age_h / 1000.0f;
    for (int a = 0; a < 3; ++a) {
      float g = gravity_[a];
      for (int k = 0; k < 3; ++k) g += rot_[a][k] * m[k];
      g = g * gain + bias * (a == 2 ? 1.0f : 0.6f) + p_.noise_g * Noise(a);
      if (p_.fault == SensorFault::kSpikes && Gauss() > 3.7) g += (Gauss() > 0 ? 3.0f : -3.0f) * sev;
      if (p_.fault == SensorFault::kDropout) g = 0.0f;
      if (p_.fault == SensorFault::kStuck && a == 0) {
        g = stuck_;
      } else if (a == 0) {
        stuck_ = g;
      }
      const double q = std::nearbyint(static_cast<double>(g) * p_.scale);
      dst[i * 3 + a] = static_cast<int16_t>(q > 32767 ? 32767 : (q < -32768 ? -32768 : q));
    }
  }
  return static_cast<int32_t>(frames);
}

}  // namespace hostport
