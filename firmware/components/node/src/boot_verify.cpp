// The node's boot flow (boot_verify.h). No heap, no exceptions.
#include "node/boot_verify.h"

namespace {

// A log line without printf (no locale, no heap, a bounded stack).
struct LineBuilder {
  char* buf;
  uint32_t cap;
  uint32_t len;
  void Add(const char* s) {
    while (*s != '\0' && len + 1 < cap) buf[len++] = *s++;
    buf[len] = '\0';
  }
  void Num(int32_t v) {
    char digits[12];
    int n = 0;
    uint32_t u = v < 0 ? 0u - static_cast<uint32_t>(v) : static_cast<uint32_t>(v);
    do {
      digits[n++] = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u != 0 && n < 11);
    if (v < 0 && len + 1 < cap) buf[len++] = '-';
    while (n > 0 && len + 1 < cap) buf[len++] = digits[--n];
    buf[len] = '\0';
  }
};

}  // namespace

namespace node {

bool NodeBoot::Health(const SlotReport& /*running*/, void* ctx) {
  NodeBoot* self = static_cast<NodeBoot*>(ctx);
  const int slot = self->port_.boot->RunningSlot();
  self->health_ran_ = true;
  // OnBoot verified the running slot just before: components(slot) is that verification.
  const HealthFailure f =
      self->app_.Check(*self->port_.flash, self->verifier_.components(slot), self->config_.buffers,
                       self->port_.sensor, &self->wd_, &self->health_);
  if (f == HealthFailure::kNone) return true;
  if (self->port_.log != nullptr) {
    const HealthReport& h = self->health_;
    char line[160];
    LineBuilder b{line, sizeof line, 0};
    b.Add("trial health check failed: ");
    if (f == HealthFailure::kSelfTestFormat && h.detail == -1) {
      b.Add("the bundle carries no FBSV self-test vectors");
    } else {
      b.Add(HealthFailureName(f));
      b.Add(" (vectors ");
      b.Num(h.passed);
      b.Add("/");
      b.Num(h.vectors);
      b.Add(" passed, detail ");
      b.Num(h.detail);
      b.Add(")");
    }
    self->port_.log->Write(LogLevel::kError, line);
  }
  return false;
}

int16_t NodeBoot::ApplyPersistedCalibration() {
  const int slot = port_.boot->RunningSlot();
  int16_t value = app_.default_offset();
  int16_t persisted = 0;
  uint32_t used = 0;
  if (slot >= 0 && ReadCalibrationLog(*port_.flash, layout_, slot, &persisted, &used)) {
    value = persisted;
  }
  app_.runtime().apply_calibration_offset(value);
  return value;
}

BootOutcome NodeBoot::ConfirmTrial(Reason* why) {
  *why = Reason::kNone;
  if (port_.boot->RunningState() == OtaState::kValid) return BootOutcome::kRunning;
  health_ran_ = false;
  health_ = {};
  SlotReport running;
  const BootOutcome o = slots_.OnBoot(&NodeBoot::Health, this, &running, why);
  summary_.outcome = o;
  summary_.reason = *why;
  if (health_ran_) summary_.health = health_.failure == HealthFailure::kNone ? 1 : 2;
  if ((o == BootOutcome::kConfirmed || o == BootOutcome::kRunning) && app_.loaded()) {
    ApplyPersistedCalibration();
  }
  return o;
}

BootSummary NodeBoot::Run() {
  BootSummary& summary = summary_;
  summary = BootSummary();
  health_ran_ = false;
  health_ = {};
  wd_ = Watchdog{port_.clock, config_.health_budget_us, config_.watchdog_expire,
                 config_.watchdog_ctx, 0, false};
  if (verifier_.Init() != Status::kOk) {
    summary.outcome = BootOutcome::kPowerLost;
    return summary;
  }
  SlotReport running;
  Reason why = Reason::kNone;
  summary.outcome = slots_.OnBoot(&NodeBoot::Health, this, &running, &why);
  summary.reason = why;
  summary.health = health_ran_ ? (health_.failure == HealthFailure::kNone ? 1 : 2) : 0;
  if (summary.outcome != BootOutcome::kRunning && summary.outcome != BootOutcome::kConfirmed) {
    return summary;  // reboot requested, power lost, or safe mode: nothing runs
  }
  if (!app_.loaded()) {
    // A confirmed bundle: no health check on this boot, but the same loading checks.
    const int slot = port_.boot->RunningSlot();
    int32_t detail = 0;
    const HealthFailure f =
        app_.Load(*port_.flash, verifier_.components(slot), config_.buffers, &detail);
    if (f != HealthFailure::kNone) {
      if (port_.log != nullptr) port_.log->Write(LogLevel::kError, HealthFailureName(f));
      return summary;  // app not loaded: link only
    }
  }
  ApplyPersistedCalibration();
  return summary;
}

}  // namespace node
