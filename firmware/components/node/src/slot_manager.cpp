#include "node/slot_manager.h"

#include "node/flash_io.h"

namespace node {

namespace {
bool Confirmed(OtaState s) { return s == OtaState::kValid || s == OtaState::kUndefined; }
// INVALID is a verdict (the bundle failed its health check or verification). ABORTED only says
// the trial boot never confirmed (crash, hang, or a power cut during the trial); such a bundle may
// be selected again, and gets a fresh trial.
bool Rejected(OtaState s) { return s == OtaState::kInvalid; }
}  // namespace

const char* BootOutcomeName(BootOutcome o) {
  switch (o) {
    case BootOutcome::kRunning: return "running";
    case BootOutcome::kConfirmed: return "confirmed";
    case BootOutcome::kRevertRequested: return "revert_requested";
    case BootOutcome::kSwitchRequested: return "switch_requested";
    case BootOutcome::kNoValidBundle: return "no_valid_bundle";
    case BootOutcome::kTrialUnrevertable: return "trial_unrevertable";
    case BootOutcome::kPowerLost: return "power_lost";
  }
  return "unknown";
}

Status SlotManager::BeginStaging(uint32_t app_size, uint32_t data_size, Reason* why) {
  *why = Reason::kNone;
  staging_ = staged_ = false;
  const int running = boot_.RunningSlot();
  if (running < 0 || running >= kSlotCount) return Fail(Status::kInvalidState, Reason::kNoSuchSlot, why);
  if (!Confirmed(boot_.RunningState())) {
    return Fail(Status::kInvalidState, Reason::kTrialInProgress, why);
  }
  const int target = 1 - running;
  if (app_size == 0 || app_size > layout_.app[target].size ||
      data_size > layout_.model[target].size - kSlotDataOffset) {
    return Fail(Status::kRefused, Reason::kTooLarge, why);
  }
  // Invalidate the slot first: from here until FinishStaging it reads as empty.
  const Status s = flash_.EraseSector(layout_.model[target].offset);
  if (s != Status::kOk) return Fail(s, Reason::kFlashError, why);
  target_ = target;
  app_size_ = app_size;
  data_size_ = data_size;
  app_written_ = data_written_ = 0;
  staging_ = true;
  return Status::kOk;
}

Status SlotManager::ResumeStaging(uint32_t app_size, uint32_t data_size, uint32_t app_written,
                                  uint32_t data_written, Reason* why) {
  *why = Reason::kNone;
  staging_ = staged_ = false;
  const int running = boot_.RunningSlot();
  if (running < 0 || running >= kSlotCount) return Fail(Status::kInvalidState, Reason::kNoSuchSlot, why);
  if (!Confirmed(boot_.RunningState())) {
    return Fail(Status::kInvalidState, Reason::kTrialInProgress, why);
  }
  const int target = 1 - running;
  if (app_size == 0 || app_size > layout_.app[target].size ||
      data_size > layout_.model[target].size - kSlotDataOffset || app_written > app_size ||
      data_written > data_size) {
    return Fail(Status::kRefused, Reason::kTooLarge, why);
  }
  target_ = target;
  app_size_ = app_size;
  data_size_ = data_size;
  app_written_ = app_written;
  data_written_ = data_written;
  staging_ = true;
  return Status::kOk;
}

Status SlotManager::StageWrite(StageRegion region, uint32_t offset, const uint8_t* data,
                               uint32_t len, Reason* why) {
  *why = Reason::kNone;
  if (!staging_) return Fail(Status::kInvalidState, Reason::kNotStaging, why);
  const bool app = region == StageRegion::kApp;
  uint32_t& written = app ? app_written_ : data_written_;
  const uint32_t size = app ? app_size_ : data_size_;
  const uint32_t base = app ? layout_.app[target_].offset : layout_.model[target_].offset + kSlotDataOffset;
  if (offset != written) return Fail(Status::kRefused, Reason::kOutOfOrder, why);
  if (len > size - written) return Fail(Status::kRefused, Reason::kTooLarge, why);
  while (len > 0) {
    const uint32_t addr = base + written;
    if (addr % FlashPort::kSectorSize == 0) {
      const Status s = flash_.EraseSector(addr);
      if (s != Status::kOk) return Fail(s, Reason::kFlashError, why);
    }
    const uint32_t room = FlashPort::kSectorSize - addr % FlashPort::kSectorSize;
    const uint32_t n = len < room ? len : room;
    const Status s = ProgramRange(flash_, addr, data, n);
    if (s != Status::kOk) return Fail(s, Reason::kFlashError, why);
    written += n;
    data += n;
    len -= n;
  }
  return Status::kOk;
}

Status SlotManager::FinishStaging(const SlotManifest& manifest, Reason* why) {
  *why = Reason::kNone;
  if (!staging_) return Fail(Status::kInvalidState, Reason::kNotStaging, why);
  if (app_written_ != app_size_ || data_written_ != data_size_ ||
      manifest.app_size != app_size_ || manifest.data_size != data_size_) {
    return Fail(Status::kRefused, Reason::kIncomplete, why);
  }
  uint8_t raw[kSlotManifestSize];
  EncodeSlotManifest(manifest, raw);
  Status s = ProgramRange(flash_, layout_.model[target_].offset, raw, sizeof(raw));
  if (s != Status::kOk) return Fail(s, Reason::kFlashError, why);
  staging_ = false;
  SlotReport report;
  const Reason r = Verify(target_, &report, &s);
  if (s != Status::kOk) return Fail(s, Reason::kFlashError, why);
  if (r != Reason::kNone) return Fail(Status::kVerifyFailed, r, why);
  if (report.manifest.epoch < boot_.SecureVersion()) {
    return Fail(Status::kRefused, Reason::kEpochTooLow, why);
  }
  staged_ = true;
  return Status::kOk;
}

Status SlotManager::Commit(Reason* why) {
  *why = Reason::kNone;
  if (!staged_) return Fail(Status::kInvalidState, Reason::kNotStaging, why);
  if (!Confirmed(boot_.RunningState())) {
    return Fail(Status::kInvalidState, Reason::kTrialInProgress, why);
  }
  // Verified again right before the switch: nothing unverified is ever selected.
  SlotReport report;
  Status s;
  const Reason r = Verify(target_, &report, &s);
  if (s != Status::kOk) return Fail(s, Reason::kFlashError, why);
  if (r != Reason::kNone) return Fail(Status::kVerifyFailed, r, why);
  if (report.manifest.epoch < boot_.SecureVersion()) {
    return Fail(Status::kRefused, Reason::kEpochTooLow, why);
  }
  s = boot_.SetBootSlot(target_);
  if (s != Status::kOk) return Fail(s, Reason::kFlashError, why);
  staged_ = false;
  boot_.RequestReboot();
  return Status::kOk;
}

Status SlotManager::Rollback(Reason* why) {
  *why = Reason::kNone;
  const int running = boot_.RunningSlot();
  if (running < 0 || running >= kSlotCount) return Fail(Status::kInvalidState, Reason::kNoSuchSlot, why);
  if (!Confirmed(boot_.RunningState())) {
    return Fail(Status::kInvalidState, Reason::kTrialInProgress, why);
  }
  const int previous = 1 - running;
  if (Rejected(boot_.SlotState(previous))) {
    return Fail(Status::kRefused, Reason::kSlotInvalidated, why);
  }
  SlotReport report;
  Status s;
  const Reason r = Verify(previous, &report, &s);
  if (s != Status::kOk) return Fail(s, Reason::kFlashError, why);
  if (r != Reason::kNone) return Fail(Status::kRefused, r, why);
  if (report.manifest.epoch < boot_.SecureVersion()) {
    return Fail(Status::kRefused, Reason::kEpochTooLow, why);
  }
  staging_ = staged_ = false;
  s = boot_.SetBootSlot(previous);
  if (s != Status::kOk) return Fail(s, Reason::kFlashError, why);
  boot_.RequestReboot();
  return Status::kOk;
}

BootOutcome SlotManager::OnBoot(HealthCheck health, void* health_ctx, SlotReport* running,
                                Reason* why) {
  *why = Reason::kNone;
  const int slot = boot_.RunningSlot();
  const OtaState state = boot_.RunningState();
  Status s;
  Reason r = Verify(slot, running, &s);
  if (s != Status::kOk) return BootOutcome::kPowerLost;
  if (r == Reason::kNone && running->manifest.epoch < boot_.SecureVersion()) {
    r = Reason::kEpochTooLow;
  }
  const int other = 1 - slot;
  SlotReport other_report;
  if (r != Reason::kNone) {
    *why = r;
    const Reason ro = Verify(other, &other_report, &s);
    if (s != Status::kOk) return BootOutcome::kPowerLost;
    const bool other_ok = ro == Reason::kNone && !Rejected(boot_.SlotState(other)) &&
                          other_report.manifest.epoch >= boot_.SecureVersion();
    if (!other_ok) return BootOutcome::kNoValidBundle;
    if (!Confirmed(state)) {
      s = boot_.MarkRunningInvalid();
      if (s != Status::kOk) return BootOutcome::kPowerLost;
      boot_.RequestReboot();
      return BootOutcome::kRevertRequested;
    }
    s = boot_.SetBootSlot(other);
    if (s != Status::kOk) return BootOutcome::kPowerLost;
    boot_.RequestReboot();
    return BootOutcome::kSwitchRequested;
  }
  if (state == OtaState::kValid) return BootOutcome::kRunning;
  if (state == OtaState::kUndefined && boot_.SlotState(other) == OtaState::kUndefined) {
    return BootOutcome::kRunning;  // blank otadata: first boot of a provisioned device
  }
  // A trial (PENDING_VERIFY, or a state ESP-IDF would not restrict): health check, then decide.
  if (health(*running, health_ctx)) {
    s = boot_.MarkRunningValid();
    if (s != Status::kOk) return BootOutcome::kPowerLost;
    s = boot_.RaiseSecureVersion(running->manifest.epoch);
    if (s != Status::kOk) return BootOutcome::kPowerLost;
    return BootOutcome::kConfirmed;
  }
  const Reason ro = Verify(other, &other_report, &s);
  if (s != Status::kOk) return BootOutcome::kPowerLost;
  if (ro != Reason::kNone || Rejected(boot_.SlotState(other))) {
    *why = ro == Reason::kNone ? Reason::kSlotInvalidated : ro;
    return BootOutcome::kTrialUnrevertable;
  }
  s = boot_.MarkRunningInvalid();
  if (s != Status::kOk) return BootOutcome::kPowerLost;
  boot_.RequestReboot();
  return BootOutcome::kRevertRequested;
}

}  // namespace node
