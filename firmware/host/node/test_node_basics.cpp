// Unit tests of the node component on the host port: checksums, NOR rules and fault injection,
// partition table, otadata, app images, and the slot manager's flows and refusals.
#include <cstdio>
#include <cstring>
#include <vector>

#include "node_sim.h"

using namespace nodetest;
using node::Reason;
using node::Status;

static void TestChecksums() {
  NT_CHECK(node::OtaSeqCrc(1) == 0x4743989Au);
  NT_CHECK(node::OtaSeqCrc(2) == 0x55F63774u);
  NT_CHECK(node::OtaSeqCrc(3) == 0xED4A5011u);
  uint8_t d[32];
  node::Sha256 sha;
  sha.Update("abc", 3);
  sha.Final(d);
  static const uint8_t kAbc[4] = {0xba, 0x78, 0x16, 0xbf};
  NT_CHECK(std::memcmp(d, kAbc, 4) == 0 && d[31] == 0xad);
  std::vector<uint8_t> big(1000, 'a');
  sha.Update(big.data(), 1);
  sha.Update(big.data() + 1, 999);
  uint8_t d2[32];
  sha.Final(d2);
  sha.Update(big.data(), 1000);
  sha.Final(d);
  NT_CHECK(std::memcmp(d, d2, 32) == 0);
  NT_CHECK(node::Crc32("123456789", 9) == 0xCBF43926u);
}

static void TestNorRules() {
  std::vector<uint8_t> mem(64 * 1024, 0xFF);
  hostport::HostFlash f;
  NT_CHECK(f.UseBuffer(mem.data(), static_cast<uint32_t>(mem.size())) == Status::kOk);
  const uint8_t a = 0xF0, b = 0x0F;
  NT_CHECK(f.ProgramPage(0x100, &a, 1) == Status::kOk);
  NT_CHECK(f.ProgramPage(0x100, &b, 1) == Status::kOk);
  NT_CHECK(mem[0x100] == 0x00);  // programming only clears bits
  uint8_t page[256];
  std::memset(page, 0, sizeof(page));
  NT_CHECK(f.ProgramPage(0x180, page, 256) == Status::kAlignment);  // crosses a page boundary
  NT_CHECK(f.EraseSector(0x100) == Status::kAlignment);
  NT_CHECK(f.EraseSector(0x0) == Status::kOk);
  NT_CHECK(mem[0x100] == 0xFF);
  NT_CHECK(f.Read(64 * 1024 - 1, page, 2) == Status::kOutOfRange);
  // A cut before the 2nd operation: the first happens, the second and all later ones do not.
  f.ArmCut(2, hostport::CutKind::kClean, 1);
  NT_CHECK(f.ProgramPage(0x0, &a, 1) == Status::kOk);
  NT_CHECK(f.ProgramPage(0x1, &a, 1) == Status::kPowerLost);
  NT_CHECK(f.EraseSector(0x0) == Status::kPowerLost);
  NT_CHECK(f.Read(0, page, 1) == Status::kPowerLost);
  NT_CHECK(mem[0] == 0xF0 && mem[1] == 0xFF);
  f.PowerOn();
  NT_CHECK(f.Read(0, page, 2) == Status::kOk);
  // Torn program: only some of the bits to clear are cleared; never a bit set.
  std::memset(page, 0x00, sizeof(page));
  f.ArmCut(1, hostport::CutKind::kTornProgram, 42);
  NT_CHECK(f.ProgramPage(0x1000, page, 256) == Status::kPowerLost);
  int zeros = 0;
  for (int i = 0; i < 256; ++i) zeros += mem[0x1000 + i] != 0xFF;
  NT_CHECK(zeros > 0 && zeros < 256);
  f.PowerOn();
  // Torn erase: some bits go to 1, not all.
  NT_CHECK(f.ProgramPage(0x2000, page, 256) == Status::kOk);
  f.ArmCut(1, hostport::CutKind::kTornErase, 7);
  NT_CHECK(f.EraseSector(0x2000) == Status::kPowerLost);
  int ff = 0;
  for (int i = 0; i < 4096; ++i) ff += mem[0x2000 + i] == 0xFF;
  NT_CHECK(ff > 0 && ff < 4096);
}

static void TestTableAndImage() {
  Sim sim;
  const Bundle a = MakeBundle("1.0.0", 1, 20000, 5000, 1);
  Provision(sim.mem(), a, 0, 1, 0);
  node::PartitionTable t;
  NT_CHECK(node::ReadPartitionTable(sim.flash(), &t) == Status::kOk);
  NT_CHECK(t.count == 7 && t.has_md5_row);
  NT_CHECK(t.Find("model_1") != nullptr && t.Find("model_1")->offset == 0x688000);
  sim.LoadLayout();
  const node::FlashLayout& l = sim.board().layout();
  NT_CHECK(l.app_count == 2 && l.otadata.offset == 0xD000 && l.app[1].offset == 0x290000);
  node::AppImageInfo info;
  NT_CHECK(node::CheckAppImage(sim.flash(), l.app[0], &info) == Status::kOk);
  NT_CHECK(info.length == a.app.size() && std::strcmp(info.version, "1.0.0") == 0);
  NT_CHECK(info.chip_id == 9 && info.secure_version == 1 && info.segment_count == 2);
  sim.mem()[0x10000 + 400] ^= 0x04;  // one bit in the first segment
  NT_CHECK(node::CheckAppImage(sim.flash(), l.app[0], &info) == Status::kVerifyFailed);
}

static void TestUpdateConfirmRollback() {
  Sim sim;
  const Bundle a = MakeBundle("A", 1, 20000, 5000, 1);
  const Bundle b = MakeBundle("B", 2, 24000, 7000, 2);
  Provision(sim.mem(), a, 0, 1, 0);
  sim.LoadLayout();
  BootResult r = sim.BootUntilStable();
  NT_CHECK(r.kind == BootResult::kStable && r.slot == 0 && r.version == "A");
  NT_CHECK(sim.Update(b, &r) == Status::kOk);
  NT_CHECK(r.kind == BootResult::kStable && r.slot == 1 && r.version == "B");
  NT_CHECK(r.outcome == node::BootOutcome::kConfirmed);
  NT_CHECK(sim.board().boot().RunningState() == node::OtaState::kValid);
  NT_CHECK(sim.efuse().Read() == 2);  // counter raised after confirm
  r = sim.BootUntilStable();
  NT_CHECK(r.version == "B" && r.outcome == node::BootOutcome::kRunning);
  // Manual rollback refused: A's epoch 1 is below the counter 2; flash untouched.
  std::vector<uint8_t> before(sim.mem(), sim.mem() + hostport::HostFlash::kDefaultSize);
  Reason why;
  NT_CHECK(sim.Rollback(&r, &why) == Status::kRefused && why == Reason::kEpochTooLow);
  NT_CHECK(std::memcmp(before.data(), sim.mem(), before.size()) == 0);
}

static void TestRollbackSucceedsAndRefusals() {
  Sim sim;
  const Bundle a = MakeBundle("A", 1, 20000, 5000, 1);
  const Bundle b = MakeBundle("B", 1, 24000, 7000, 2);
  Provision(sim.mem(), a, 0, 1, 0);
  sim.LoadLayout();
  BootResult r = sim.BootUntilStable();
  NT_CHECK(sim.Update(b, &r) == Status::kOk && r.version == "B");
  Reason why;
  NT_CHECK(sim.Rollback(&r, &why) == Status::kOk);
  NT_CHECK(r.kind == BootResult::kStable && r.version == "A" && r.slot == 0);
  NT_CHECK(r.outcome == node::BootOutcome::kConfirmed);
  // Now B is the previous bundle. Corrupt one byte of its data: refused, named reason.
  const uint32_t data_b = 0x688000 + node::kSlotDataOffset + 100;
  sim.mem()[data_b] ^= 0x01;
  NT_CHECK(sim.Rollback(&r, &why) == Status::kRefused && why == Reason::kDataHashMismatch);
  sim.mem()[data_b] ^= 0x01;
  sim.mem()[0x290000 + 1000] ^= 0x80;
  NT_CHECK(sim.Rollback(&r, &why) == Status::kRefused && why == Reason::kAppImageInvalid);
  sim.mem()[0x290000 + 1000] ^= 0x80;
  // Erased previous slot.
  node::EraseRange(sim.flash(), 0x688000, 0x1000);
  NT_CHECK(sim.Rollback(&r, &why) == Status::kRefused && why == Reason::kSlotEmpty);
}

static void TestAutomaticRevert(Behaviour behaviour) {
  Sim sim;
  const Bundle a = MakeBundle("A", 1, 20000, 5000, 1);
  const Bundle b = MakeBundle("B", 1, 24000, 7000, 2);
  Provision(sim.mem(), a, 0, 1, 0);
  sim.LoadLayout();
  sim.bad_version = "B";
  sim.bad_behaviour = behaviour;
  BootResult r = sim.BootUntilStable();
  NT_CHECK(sim.Update(b, &r) == Status::kOk);
  NT_CHECK(r.kind == BootResult::kStable && r.version == "A" && r.slot == 0);
  NT_CHECK(sim.board().boot().SlotState(1) == (behaviour == Behaviour::kCrashesAtBoot
                                                   ? node::OtaState::kAborted
                                                   : node::OtaState::kInvalid));
  Reason why;
  if (behaviour == Behaviour::kFailsHealth) {
    // INVALID: the health check's verdict stands; a manual rollback to B is refused.
    NT_CHECK(sim.Rollback(&r, &why) == Status::kRefused && why == Reason::kSlotInvalidated);
  } else {
    // ABORTED: B may be tried again; it crashes again and the device is back on A.
    NT_CHECK(sim.Rollback(&r, &why) == Status::kOk);
    NT_CHECK(r.kind == BootResult::kStable && r.version == "A");
  }
}

static void TestStagingRefusals() {
  Sim sim;
  const Bundle a = MakeBundle("A", 1, 20000, 5000, 1);
  Provision(sim.mem(), a, 0, 1, 0);
  sim.LoadLayout();
  BootResult r = sim.BootUntilStable();
  node::SlotManager mgr(sim.flash(), sim.board().boot(), sim.board().layout());
  Reason why;
  NT_CHECK(mgr.BeginStaging(0x280001, 0, &why) == Status::kRefused && why == Reason::kTooLarge);
  NT_CHECK(mgr.StageWrite(node::StageRegion::kApp, 0, a.app.data(), 16, &why) ==
               Status::kInvalidState && why == Reason::kNotStaging);
  NT_CHECK(mgr.BeginStaging(8192, 0, &why) == Status::kOk);
  NT_CHECK(mgr.StageWrite(node::StageRegion::kApp, 4096, a.app.data(), 16, &why) ==
               Status::kRefused && why == Reason::kOutOfOrder);
  NT_CHECK(mgr.StageWrite(node::StageRegion::kApp, 0, a.app.data(), 8193, &why) ==
               Status::kRefused && why == Reason::kTooLarge);
  NT_CHECK(mgr.FinishStaging(a.manifest, &why) == Status::kRefused && why == Reason::kIncomplete);
  NT_CHECK(mgr.Commit(&why) == Status::kInvalidState);
  // Nothing but the target slot was written.
  NT_CHECK(sim.board().boot().RunningSlot() == 0);
}

int main() {
  TestChecksums();
  TestNorRules();
  TestTableAndImage();
  TestUpdateConfirmRollback();
  TestRollbackSucceedsAndRefusals();
  TestAutomaticRevert(Behaviour::kFailsHealth);
  TestAutomaticRevert(Behaviour::kCrashesAtBoot);
  TestStagingRefusals();
  std::printf("test_node_basics: all passed\n");
  return 0;
}
