// A simulated board for the host tests and the campaign: HostFlash over a heap buffer, virtual
// eFuse, HostBoard, plus the boot cycle the firmware runs (bootloader -> SlotManager::OnBoot).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "host_port/host_flash.h"
#include "host_port/host_port.h"
#include "node/slot_manager.h"
#include "node_test_support.h"

namespace nodetest {

enum class Behaviour { kHealthy, kFailsHealth, kCrashesAtBoot };

struct BootResult {
  enum Kind { kStable, kReboot, kPowerLost, kBrick } kind;
  int slot;
  node::BootOutcome outcome;
  std::string version;
};

class Sim {
 public:
  Sim() : mem_(hostport::HostFlash::kDefaultSize, 0xFF), board_(flash_, efuse_) {
    flash_.UseBuffer(mem_.data(), static_cast<uint32_t>(mem_.size()));
  }
  uint8_t* mem() { return mem_.data(); }
  hostport::HostFlash& flash() { return flash_; }
  hostport::HostBoard& board() { return board_; }
  hostport::VirtualEfuse& efuse() { return efuse_; }
  void LoadLayout() { NT_CHECK(board_.LoadLayout() == node::Status::kOk); }

  // Behaviour of the bundle with this version string when it runs a trial.
  std::string bad_version;
  Behaviour bad_behaviour = Behaviour::kHealthy;
  std::string confirmed_version;  // last bundle whose confirmation completed
  // Phase marks: (ops() at the start of the phase, name); recorded when non-null.
  std::vector<std::pair<uint64_t, std::string>>* marks = nullptr;
  int boot_count = 0;
  void Mark(const std::string& name) {
    if (marks != nullptr) marks->emplace_back(flash_.ops(), name);
  }

  static bool Health(const node::SlotReport& r, void* ctx) {
    Sim* s = static_cast<Sim*>(ctx);
    return !(s->bad_behaviour == Behaviour::kFailsHealth && s->bad_version == r.manifest.bundle_version);
  }

  BootResult BootOnce() {
    int slot = -1;
    ++boot_count;
    Mark("boot" + std::to_string(boot_count) + ":bootloader");
    const node::Status st = board_.PowerOn(&slot);
    if (st == node::Status::kPowerLost) return {BootResult::kPowerLost, -1, node::BootOutcome::kPowerLost, ""};
    if (st != node::Status::kOk) return {BootResult::kBrick, -1, node::BootOutcome::kNoValidBundle, ""};
    node::SlotReport report;
    node::Status io;
    node::SlotManager mgr(flash_, board_.boot(), board_.layout());
    const node::Reason r = mgr.Verify(slot, &report, &io);
    if (io == node::Status::kPowerLost) return {BootResult::kPowerLost, slot, node::BootOutcome::kPowerLost, ""};
    const node::OtaState state = board_.boot().RunningState();
    if (r == node::Reason::kNone && bad_behaviour == Behaviour::kCrashesAtBoot &&
        bad_version == report.manifest.bundle_version && state != node::OtaState::kValid) {
      return {BootResult::kReboot, slot, node::BootOutcome::kRevertRequested, "crash"};
    }
    node::Reason why;
    Mark("boot" + std::to_string(boot_count) + ":app");
    const node::BootOutcome o = mgr.OnBoot(&Sim::Health, this, &report, &why);
    if (o == node::BootOutcome::kPowerLost) return {BootResult::kPowerLost, slot, o, ""};
    if (o == node::BootOutcome::kConfirmed) confirmed_version = report.manifest.bundle_version;
    if (board_.boot().reboot_requested()) return {BootResult::kReboot, slot, o, ""};
    if (o != node::BootOutcome::kRunning && o != node::BootOutcome::kConfirmed) {
      return {BootResult::kBrick, slot, o, ""};
    }
    return {BootResult::kStable, slot, o, report.manifest.bundle_version};
  }

  // Boots until stable; stops at a power loss (returns it) or after too many boots (brick).
  BootResult BootUntilStable(int max_boots = 8) {
    for (int i = 0; i < max_boots; ++i) {
      const BootResult r = BootOnce();
      if (r.kind == BootResult::kReboot) continue;
      return r;
    }
    return {BootResult::kBrick, -1, node::BootOutcome::kNoValidBundle, "boot loop"};
  }

  // Update to `b` over the running bundle, then boot until stable. kPowerLost on a cut.
  node::Status Update(const Bundle& b, BootResult* end) {
    node::SlotManager mgr(flash_, board_.boot(), board_.layout());
    node::Reason why;
    boot_count = 0;
    Mark("staging");
    node::Status s = mgr.BeginStaging(b.manifest.app_size, b.manifest.data_size, &why);
    for (uint32_t off = 0; s == node::Status::kOk && off < b.app.size(); off += 4096) {
      const uint32_t n = std::min<uint32_t>(4096, static_cast<uint32_t>(b.app.size()) - off);
      s = mgr.StageWrite(node::StageRegion::kApp, off, b.app.data() + off, n, &why);
    }
    for (uint32_t off = 0; s == node::Status::kOk && off < b.data.size(); off += 4096) {
      const uint32_t n = std::min<uint32_t>(4096, static_cast<uint32_t>(b.data.size()) - off);
      s = mgr.StageWrite(node::StageRegion::kData, off, b.data.data() + off, n, &why);
    }
    if (s == node::Status::kOk) s = mgr.FinishStaging(b.manifest, &why);
    Mark("commit");
    if (s == node::Status::kOk) s = mgr.Commit(&why);
    if (s != node::Status::kOk) return s;
    *end = BootUntilStable();
    return end->kind == BootResult::kPowerLost ? node::Status::kPowerLost : node::Status::kOk;
  }

  node::Status Rollback(BootResult* end, node::Reason* why) {
    node::SlotManager mgr(flash_, board_.boot(), board_.layout());
    boot_count = 0;
    Mark("manual_rollback");
    const node::Status s = mgr.Rollback(why);
    if (s != node::Status::kOk) return s;
    *end = BootUntilStable();
    return end->kind == BootResult::kPowerLost ? node::Status::kPowerLost : node::Status::kOk;
  }

 private:
  std::vector<uint8_t> mem_;
  hostport::HostFlash flash_;
  hostport::VirtualEfuse efuse_;
  hostport::HostBoard board_;
};

}  // namespace nodetest
