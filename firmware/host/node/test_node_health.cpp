// Health-check failure modes after an OTA, each repeated over several rounds (different bundles
// each round) and required to revert EVERY time: crash at boot, hang (the watchdog on the
// simulated clock fires), self-test mismatch, corrupted model / thresholds / calibration (signed
// but wrong, malformed, and corrupted at rest after the commit), power loss before the confirm,
// and a stuck sensor (liveness). After each revert: bundle A runs and is confirmed, its slot is
// byte-identical, the anti-rollback counter did not move, and the failed bundle is never run
// again by the bootloader. A healthy control confirms and raises the counter each round.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "test_node_bundle_support.h"

using namespace bt;

namespace {

enum class Mode {
  kHealthy,
  kCrash,
  kHang,
  kSelfTestMismatch,
  kModelWeights,
  kModelFormat,
  kModelAtRest,
  kThresholdValue,
  kThresholdFormat,
  kThresholdsAtRest,
  kCalibrationValue,
  kCalibrationFormat,
  kCalibrationAtRest,
  kPowerLossBeforeConfirm,
  kStuckSensor,
  kCount,
};
const char* const kNames[] = {"healthy (control)", "crash at boot", "hang (watchdog)",
                              "self-test mismatch", "model: signed other weights",
                              "model: malformed blob", "model: corrupted at rest",
                              "thresholds: signed wrong value", "thresholds: malformed",
                              "thresholds: corrupted at rest", "calibration: signed wrong offset",
                              "calibration: malformed plan", "calibration: corrupted at rest",
                              "power loss before confirm", "stuck sensor (liveness)"};

constexpr uint32_t kSlot0Begin = 0x10000, kSlot0AppEnd = 0x290000;
constexpr uint32_t kModel0 = 0x510000, kModel1 = 0x688000;

struct Outcome {
  bool reverted;
  node::HealthFailure failure;
};

Outcome RunRound(const Signer& signer, Mode mode, uint32_t round) {
  Board board(signer);
  BundleSpec sa;
  sa.seed = 100 + round;
  sa.fw_payload = 12000 + 512 * round;
  const BuiltBundle a = BuildBundle(signer, sa);
  ProvisionBundle(board.mem(), a, 0, 1, 0);
  board.LoadLayout();
  NT_CHECK(board.BootUntilStable().version == "bundle-A");
  const std::vector<uint8_t> before(board.mem(), board.mem() + 0x800000);
  const uint32_t counter = board.efuse().Read();

  BundleSpec sb;
  sb.id = "bundle-B" + std::to_string(round);
  sb.epoch = 2;
  sb.seed = 200 + round;
  sb.fw_payload = 14000 + 700 * round;
  sb.vectors = 3 + round % 4;
  switch (mode) {
    case Mode::kSelfTestMismatch: sb.fault = Fault::kSelfTestExpectation; break;
    case Mode::kModelWeights: sb.fault = Fault::kModelWeights; break;
    case Mode::kModelFormat: sb.fault = Fault::kModelFormat; break;
    case Mode::kThresholdValue: sb.fault = Fault::kThresholdValue; break;
    case Mode::kThresholdFormat: sb.fault = Fault::kThresholdFormat; break;
    case Mode::kCalibrationValue: sb.fault = Fault::kCalibrationValue; break;
    case Mode::kCalibrationFormat: sb.fault = Fault::kCalibrationFormat; break;
    default: break;
  }
  const BuiltBundle b = BuildBundle(signer, sb);
  if (mode == Mode::kCrash) board.crash_id = sb.id;
  if (mode == Mode::kHang) board.hang_id = sb.id;
  board.map_flash = round % 2 == 1;  // half the rounds map the model, half copy it
  {
    Host h(board);
    NT_CHECK(h.Ota(b) == 0);
  }
  // Corruption at rest between the commit and the trial boot.
  const int at_rest = mode == Mode::kModelAtRest         ? eb::kComponentModel
                      : mode == Mode::kThresholdsAtRest  ? eb::kComponentThresholds
                      : mode == Mode::kCalibrationAtRest ? eb::kComponentCalibration
                                                         : -1;
  if (at_rest > 0) {
    uint32_t off = b.prefix;
    for (int c = 1; c < at_rest; ++c) off += static_cast<uint32_t>(b.comps[c].size());
    board.mem()[kModel1 + 0x1000 + off + (round * 37) % b.comps[at_rest].size()] ^= static_cast<uint8_t>(1u << (round % 8));
  }
  board.cut_before_confirm = mode == Mode::kPowerLossBeforeConfirm;
  board.sensor().stuck = mode == Mode::kStuckSensor;
  // The trial boot alone first (its health verdict), then boots until stable.
  Boot trial = board.BootOnce();
  const node::HealthFailure failure = trial.health;
  board.cut_before_confirm = false;
  board.sensor().stuck = false;
  board.flash().Disarm();
  board.flash().PowerOn();
  Boot end = trial.kind == Boot::kStable ? trial : board.BootUntilStable();
  NT_CHECK(end.kind == Boot::kStable);
  if (mode == Mode::kHang) NT_CHECK(board.watchdog_resets == 1 && failure == node::HealthFailure::kHang);
  if (mode == Mode::kHealthy) {
    NT_CHECK(end.slot == 1 && end.version == sb.id && board.efuse().Read() == 2 && failure == node::HealthFailure::kNone);
    return {false, failure};
  }
  // Reverted: A runs, confirmed; its slot and everything outside slot 1 + otadata unchanged.
  NT_CHECK(end.slot == 0 && end.version == "bundle-A");
  NT_CHECK(board.board().boot().RunningState() == node::OtaState::kValid);
  NT_CHECK(board.efuse().Read() == counter);
  NT_CHECK(std::memcmp(board.mem() + kSlot0Begin, before.data() + kSlot0Begin, kSlot0AppEnd - kSlot0Begin) == 0);
  NT_CHECK(std::memcmp(board.mem() + kModel0, before.data() + kModel0, kModel1 - kModel0) == 0);
  NT_CHECK(std::memcmp(board.mem(), before.data(), 0xD000) == 0);
  const node::OtaState bs = board.board().boot().SlotState(1);
  NT_CHECK(bs == node::OtaState::kInvalid || bs == node::OtaState::kAborted);
  // The bootloader does not pick B again on the next power cycles.
  for (int i = 0; i < 2; ++i) NT_CHECK(board.BootUntilStable().version == "bundle-A");
  return {true, failure};
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t rounds = 6;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = static_cast<uint32_t>(std::atoi(argv[i + 1]));
  }
  const Signer signer(1);
  uint32_t total = 0, reverted = 0;
  for (int m = 0; m < static_cast<int>(Mode::kCount); ++m) {
    uint32_t ok = 0;
    node::HealthFailure seen = node::HealthFailure::kNone;
    for (uint32_t r = 0; r < rounds; ++r) {
      const Outcome o = RunRound(signer, static_cast<Mode>(m), r);
      ok += o.reverted ? 1 : 0;
      seen = o.failure;
      ++total;
    }
    reverted += ok;
    const bool control = m == static_cast<int>(Mode::kHealthy);
    const bool not_reached = seen == node::HealthFailure::kNone && !control;
    std::printf("  %-34s %u/%u %s (health verdict: %s)\n", kNames[m], control ? rounds - ok : ok, rounds,
                control ? "confirmed" : "reverted",
                not_reached ? "not reached: refused by boot verification, crash or power loss"
                            : node::HealthFailureName(seen));
    if (!control) NT_CHECK(ok == rounds);
  }
  std::printf("test_node_health: %u rounds, %u reverts, %u controls confirmed: ok\n", total, reverted,
              rounds);
  return 0;
}
