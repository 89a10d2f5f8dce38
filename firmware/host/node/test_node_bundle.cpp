// Signed bundles on the simulated board, through the real link endpoint and boot flow:
// OTA_BEGIN's prefix check (signature, key, target, ABI, epoch, battery), OTA_END's whole-bundle
// check (mix-and-match, corrupted components), commit → trial → health check → confirm →
// anti-rollback counter, boot-time verification of the slot the bootloader picked (corruption at
// rest of every component, the app image included: never run, switch or safe mode), manual
// rollback, and the calibration offset persisted per bundle and applied at boot.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "test_node_bundle_support.h"

using namespace bt;

namespace {

constexpr uint32_t kSlot0Model = 0x510000, kSlot1Model = 0x688000;
constexpr uint32_t kSlot1App = 0x290000;

uint16_t BundleErr(eb::Reason r) { return static_cast<uint16_t>(lk::kErrBundleBase + static_cast<uint16_t>(r)); }

void Setup(Board& board, const BuiltBundle& a) {
  ProvisionBundle(board.mem(), a, 0, 1, 0);
  board.LoadLayout();
}

void TestBootAndCalibration(const Signer& signer) {
  Board board(signer);
  BundleSpec sa;
  sa.offset = 3;
  const BuiltBundle a = BuildBundle(signer, sa);
  Setup(board, a);
  Boot b = board.BootUntilStable();
  NT_CHECK(b.kind == Boot::kStable && b.slot == 0 && b.version == "bundle-A");
  NT_CHECK(board.node()->app().loaded());
  NT_CHECK(board.node()->app().runtime().calibration_offset() == 3);  // the bundle's default
  // The running pipeline infers on live samples.
  int16_t samples[3 * 400];
  NT_CHECK(board.sensor().Read(samples, 400) == 400);
  int8_t d = -1;
  int32_t st = 0;
  NT_CHECK(board.node()->app().Process(samples, 400, &d, &st) == 1 && (d == 0 || d == 1));
  {
    Host h(board);
    Reply r = h.Request(lk::kSetCalibrationOffset, {0xFF, 0, 0xF9, 0xFF});  // -7
    NT_CHECK(r.error() == 0);
  }
  b = board.BootUntilStable();
  NT_CHECK(b.kind == Boot::kStable && board.node()->app().runtime().calibration_offset() == -7);
  // An update starts at the new bundle's default; a rollback brings back A's persisted -7.
  BundleSpec sb;
  sb.id = "bundle-B";
  sb.epoch = 1;
  sb.seed = 2;
  sb.offset = -2;
  const BuiltBundle bb = BuildBundle(signer, sb);
  {
    Host h(board);
    NT_CHECK(h.Ota(bb) == 0);
  }
  b = board.BootUntilStable();
  NT_CHECK(b.kind == Boot::kStable && b.slot == 1 && b.version == "bundle-B" &&
           b.outcome == node::BootOutcome::kConfirmed);
  NT_CHECK(board.node()->app().runtime().calibration_offset() == -2);
  NT_CHECK(board.node()->health().passed == 6 && board.node()->health().vectors == 6);
  {
    Host h(board);
    Reply r = h.Request(lk::kRollback, {});
    NT_CHECK(r.error() == 0);
  }
  b = board.BootUntilStable();
  NT_CHECK(b.kind == Boot::kStable && b.slot == 0 && b.version == "bundle-A" &&
           b.outcome == node::BootOutcome::kConfirmed);
  NT_CHECK(board.node()->app().runtime().calibration_offset() == -7);
  std::printf("boot+calibration: default 3, persisted -7 across reboot, update -> -2, rollback -> -7\n");
}

void TestOtaChecks(const Signer& signer) {
  Board board(signer);
  const BuiltBundle a = BuildBundle(signer, BundleSpec{});
  Setup(board, a);
  NT_CHECK(board.BootUntilStable().kind == Boot::kStable);
  const Signer stranger(9);
  int refusals = 0;
  auto refused = [&](const BuiltBundle& b, uint16_t code) {
    Host h(board);
    board.flash().ClearDirty();
    const Reply r = h.Request(lk::kOtaBegin, Host::Begin(b));
    if (r.error() != code) std::fprintf(stderr, "expected 0x%x, got 0x%x\n", code, r.error());
    NT_CHECK(r.error() == code);
    for (uint32_t s = 0; s < 2048; ++s) NT_CHECK(!board.flash().Dirty(s));  // nothing written
    ++refusals;
  };
  BundleSpec s;
  s.id = "bundle-B";
  s.epoch = 2;
  s.seed = 2;
  {
    BundleSpec w = s;
    w.chip = "esp32c3";
    refused(BuildBundle(signer, w), BundleErr(eb::Reason::kWrongTarget));
    w = s;
    w.board = "other-board";
    refused(BuildBundle(signer, w), BundleErr(eb::Reason::kWrongTarget));
    w = s;
    w.abi_min = 3;
    w.abi_max = 4;
    refused(BuildBundle(signer, w), BundleErr(eb::Reason::kIncompatibleFirmware));
    refused(BuildBundle(stranger, s), BundleErr(eb::Reason::kUnknownKey));
    BuiltBundle forged = BuildBundle(signer, s);
    forged.file[eb::kHeaderSize + 6] ^= 0x01;  // a manifest byte (bundle id): signature breaks
    refused(forged, BundleErr(eb::Reason::kBadSignature));
  }
  // Battery below minBatteryLevel.
  board.battery().Set(10);
  refused(BuildBundle(signer, s), static_cast<uint16_t>(lk::kErrOtaBase + lk::kOtaBatteryLow));
  board.battery().Set(100);
  // Mix-and-match: B's manifest with a component of another release → OTA_END refuses.
  {
    BuiltBundle mixed = BuildBundle(signer, s);
    BundleSpec other = s;
    other.id = "bundle-C";  // same sizes, other firmware contents
    other.seed = 3;
    const BuiltBundle c = BuildBundle(signer, other);
    NT_CHECK(c.comps[0].size() == mixed.comps[0].size());
    std::copy(c.comps[0].begin(), c.comps[0].end(), mixed.file.begin() + mixed.prefix);
    Host h(board);
    NT_CHECK(h.Ota(mixed) == BundleErr(eb::Reason::kHashMismatch));
    ++refusals;
  }
  // Then the real B installs, confirms and raises the counter; A is now below it.
  {
    Host h(board);
    NT_CHECK(h.Ota(BuildBundle(signer, s)) == 0);
  }
  Boot b = board.BootUntilStable();
  NT_CHECK(b.kind == Boot::kStable && b.version == "bundle-B" && board.efuse().Read() == 2);
  {
    Host h(board);
    board.flash().ClearDirty();
    NT_CHECK(h.Request(lk::kRollback, {}).error() == lk::kErrSlotBase + static_cast<uint16_t>(node::Reason::kEpochTooLow));
    refused(a, BundleErr(eb::Reason::kEpochTooLow));  // downgrade over the link: refused too
  }
  std::printf("ota checks: %d refusals with their typed codes, nothing written before the check\n", refusals);
}

// Corruption at rest of each component of a confirmed bundle: the next boot never runs it.
void TestAtRest(const Signer& signer) {
  BundleSpec sa, sb;
  sb.id = "bundle-B";
  sb.seed = 2;
  const BuiltBundle a = BuildBundle(signer, sa), bb = BuildBundle(signer, sb);
  int cases = 0;
  for (int comp = 0; comp < eb::kComponentCount; ++comp) {
    Board board(signer);
    ProvisionBundle(board.mem(), a, 0, 1, 0);
    ProvisionBundle(board.mem(), bb, 1, 2, 1);  // B running (higher seq), A previous
    board.LoadLayout();
    NT_CHECK(board.BootUntilStable().version == "bundle-B");
    // Flip one byte in the middle of component `comp` of B in flash.
    uint32_t addr;
    if (comp == 0) {
      addr = kSlot1App + static_cast<uint32_t>(bb.comps[0].size()) / 2;
    } else {
      uint32_t off = bb.prefix;  // offset within model_1 + 0x1000 (firmware excluded)
      for (int c = 1; c < comp; ++c) off += static_cast<uint32_t>(bb.comps[c].size());
      addr = kSlot1Model + 0x1000 + off + static_cast<uint32_t>(bb.comps[comp].size()) / 2;
    }
    board.mem()[addr] ^= 0x10;
    const Boot b = board.BootUntilStable();
    NT_CHECK(b.kind == Boot::kStable && b.slot == 0 && b.version == "bundle-A");
    ++cases;
  }
  // Nothing verifies: safe mode (link only, no inference).
  Board board(signer);
  ProvisionBundle(board.mem(), a, 0, 1, 0);
  board.LoadLayout();
  board.mem()[kSlot0Model + 0x1000 + a.prefix + 7] ^= 1;
  const Boot b = board.BootUntilStable();
  NT_CHECK(b.kind == Boot::kBrick && b.outcome == node::BootOutcome::kNoValidBundle);
  NT_CHECK(!board.node()->app().loaded());
  std::printf("at rest: %d corrupted components (app image included) never run, safe mode when none verifies\n",
              cases);
}

}  // namespace

int main() {
  const Signer signer(1);
  TestBootAndCalibration(signer);
  TestOtaChecks(signer);
  TestAtRest(signer);
  std::printf("test_node_bundle: ok\n");
  return 0;
}
