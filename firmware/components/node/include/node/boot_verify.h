// The node's boot flow after the bootloader picked a slot: verify it as a signed bundle (the
// bundle verifier in the SlotManager's seam), run the health check on a trial (self-test vectors
// + liveness under a watchdog), confirm and raise the anti-rollback counter — or revert — and
// finally load the running bundle's pipeline with its persisted calibration offset.
//
//   static node::NodeBoot boot(port, layout, config);   // one static object, no heap
//   node::BootSummary summary = boot.Run();
//   if reboot requested: reboot (the device never runs a slot that did not verify)
//   else if boot.app().loaded(): serve the link, stream features, infer
//
// A slot that does not verify is never run: a trial is marked INVALID and the device reboots
// into the previous bundle; a confirmed slot that stopped verifying switches to the other slot
// when that one verifies; with nothing verifying the node stays in safe mode (link only).
#pragma once

#include <cstdint>

#include "node/bundle_slot.h"
#include "node/health_check.h"
#include "node/link_endpoint.h"
#include "node/port.h"
#include "node/slot_manager.h"

namespace node {

struct NodeBootConfig {
  BundleTrust trust;
  HealthBuffers buffers;
  uint64_t health_budget_us;            // watchdog budget of the health check
  void (*watchdog_expire)(void* ctx);   // the reset (device) / power cut (host twin)
  void* watchdog_ctx;
};

class NodeBoot {
 public:
  NodeBoot(const Port& port, const FlashLayout& layout, const NodeBootConfig& config)
      : port_(port),
        config_(config),
        verifier_(*port.flash, *port.boot, port.battery, layout, config_.trust),
        slots_(*port.flash, *port.boot, layout, &BundleVerifier::VerifySlot, &verifier_),
        layout_(layout) {}

  // The boot flow; summary.outcome kPowerLost when a flash operation lost power.
  BootSummary Run();

  // Applies the calibration offset persisted for the running bundle (its default when none).
  int16_t ApplyPersistedCalibration();

  // CONFIRM of the link (docs/protocol.md §10.2): on a running bundle still on trial, runs the
  // health check and confirms it (counter raised, pipeline loaded) or marks it INVALID and
  // requests the reboot into the previous bundle; on a confirmed bundle returns kRunning.
  // Updates summary(). The LinkEndpoint calls it through ConfirmHook (ctx = this).
  BootOutcome ConfirmTrial(Reason* why);
  static BootOutcome ConfirmHook(void* ctx, Reason* why) {
    return static_cast<NodeBoot*>(ctx)->ConfirmTrial(why);
  }
  // What the last Run / ConfirmTrial found (the LinkEndpoint reports it in INFO and status).
  const BootSummary& summary() const { return summary_; }

  SlotManager& slots() { return slots_; }
  BundleVerifier& verifier() { return verifier_; }
  BundleApp& app() { return app_; }
  const HealthReport& health() const { return health_; }
  bool health_ran() const { return health_ran_; }
  const Watchdog& watchdog() const { return wd_; }

 private:
  static bool Health(const SlotReport& running, void* ctx);

  const Port& port_;
  const NodeBootConfig& config_;
  BundleVerifier verifier_;
  SlotManager slots_;
  const FlashLayout& layout_;
  BundleApp app_;
  HealthReport health_ = {};
  bool health_ran_ = false;
  Watchdog wd_ = {};
  BootSummary summary_;
};

}  // namespace node
