// The slot manager: staging into the inactive slot, commit (otadata switch, state NEW), the
// trial boot and its confirmation, automatic revert and manual rollback. Portable: it talks to
// the platform through FlashPort and BootPort only, and holds no heap.
//
// Update sequence and the flash operations each step performs:
//   BeginStaging   erase the target's manifest sector (the slot reads "empty" from here on)
//   StageWrite     sequential; erases each sector on first touch, then programs page by page
//   FinishStaging  programs the manifest, then verifies the slot (read back)
//   Commit         verifies again, SetBootSlot(target) = erase + program one otadata sector,
//                  then asks for a reboot
//   (bootloader)   NEW -> PENDING_VERIFY (erase + program), or PENDING_VERIFY -> ABORTED
//   OnBoot         verifies the running slot; on a trial runs the health check, then confirms
//                  (erase + program) and raises the anti-rollback counter, or marks the slot
//                  INVALID (erase + program) and asks for a reboot into the previous slot
#pragma once

#include <cstdint>

#include "node/partition_table.h"
#include "node/port.h"
#include "node/slot.h"

namespace node {

enum class StageRegion : uint8_t { kApp = 0, kData = 1 };

enum class BootOutcome : uint8_t {
  kRunning = 0,            // confirmed bundle, nothing to do
  kConfirmed = 1,          // trial passed: marked VALID, counter raised
  kRevertRequested = 2,    // trial failed (health or verification): INVALID, reboot requested
  kSwitchRequested = 3,    // confirmed slot no longer verifies, the other does: reboot into it
  kNoValidBundle = 4,      // nothing verifies: safe mode (link only, no inference)
  kTrialUnrevertable = 5,  // trial failed but no other slot verifies: stays unconfirmed
  kPowerLost = 6,
};
const char* BootOutcomeName(BootOutcome o);

typedef bool (*HealthCheck)(const SlotReport& running, void* ctx);

class SlotManager {
 public:
  SlotManager(FlashPort& flash, BootPort& boot, const FlashLayout& layout,
              SlotVerifier verifier = DefaultVerifySlot, void* verifier_ctx = nullptr)
      : flash_(flash), boot_(boot), layout_(layout), verifier_(verifier), ctx_(verifier_ctx) {}

  // The slot an update writes into: the one not running.
  int InactiveSlot() { return 1 - boot_.RunningSlot(); }
  Reason Verify(int slot, SlotReport* report, Status* io) {
    return verifier_(flash_, layout_, slot, report, io, ctx_);
  }

  Status BeginStaging(uint32_t app_size, uint32_t data_size, Reason* why);
  // Continues a staging interrupted by a reboot (OTA resume): same checks as BeginStaging, no
  // erase; the caller vouches that `*_written` bytes of each region are stored (its journal).
  Status ResumeStaging(uint32_t app_size, uint32_t data_size, uint32_t app_written,
                       uint32_t data_written, Reason* why);
  Status StageWrite(StageRegion region, uint32_t offset, const uint8_t* data, uint32_t len,
                    Reason* why);
  Status FinishStaging(const SlotManifest& manifest, Reason* why);
  Status Commit(Reason* why);
  Status Rollback(Reason* why);
  BootOutcome OnBoot(HealthCheck health, void* health_ctx, SlotReport* running, Reason* why);

  bool staging() const { return staging_; }
  int staging_slot() const { return target_; }
  uint32_t written(StageRegion r) const { return r == StageRegion::kApp ? app_written_ : data_written_; }

 private:
  Status Fail(Status s, Reason r, Reason* why) {
    *why = r;
    return s;
  }
  FlashPort& flash_;
  BootPort& boot_;
  const FlashLayout& layout_;
  SlotVerifier verifier_;
  void* ctx_;
  bool staging_ = false;
  bool staged_ = false;
  int target_ = -1;
  uint32_t app_size_ = 0, data_size_ = 0, app_written_ = 0, data_written_ = 0;
};

}  // namespace node
