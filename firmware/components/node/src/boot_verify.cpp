// The node's boot flow (boot_verify.h). No heap, no exceptions.
#include "node/boot_verify.h"

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
    self->port_.log->Write(LogLevel::kError, HealthFailureName(f));
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

BootSummary NodeBoot::Run() {
  BootSummary summary;
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
