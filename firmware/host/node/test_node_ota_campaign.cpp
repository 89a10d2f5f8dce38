// Power cuts through a full OTA of a signed bundle over the link endpoint, with the real bundle
// verifier, boot flow and health check: staging through the journal (OTA_BEGIN + chunks),
// OTA_END (slot manifest), OTA_COMMIT (otadata), the trial boot (bootloader NEW → PENDING) and
// the confirm (VALID + counter) — or, in the health_fail scenario, the INVALID marking and revert.
//
// Exhaustive: a clean cut before every mutating flash operation of the clean run, and the torn
// variant matching that operation (torn program / torn erase). Random: seeds with 1..3 nested
// cuts at random points (also during the recovery boots and the resumed transfer). After each
// cut the power comes back, the device boots until stable and the host resumes the transfer
// (OTA_BEGIN of the same bundle continues at the durable offset). Checked at every stable boot:
// exactly one complete bundle runs and verifies (A or B); once B's confirmation completed it is
// never left; nothing outside slot 1 and otadata was written; the anti-rollback counter is 0 or
// B's epoch, the latter only once B confirmed. At the end: B confirmed (update) or A running
// with B INVALID (health_fail).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "test_node_bundle_support.h"

using namespace bt;
using hostport::CutKind;
using hostport::OpKind;

namespace {

enum class Kind { kUpdate, kHealthFail };
const char* const kKindNames[] = {"update", "health_fail"};

struct Range {
  uint32_t begin, end;
};
const Range kAllowed[] = {{0xD000, 0xF000}, {0x290000, 0x510000}, {0x688000, 0x800000}};

struct Scenario {
  Kind kind;
  std::unique_ptr<Board> board;
  std::vector<uint8_t> baseline;
  BuiltBundle a, b;
  uint64_t clean_ops = 0;
  std::vector<OpKind> op_kinds;
  std::vector<std::pair<uint64_t, const char*>> marks;  // (first op of the phase, name)
};

struct Tally {
  uint64_t runs = 0, cuts = 0, old_first = 0, new_first = 0, violations = 0, restarts = 0;
};

uint64_t g_violations = 0;

void Violation(const Scenario& s, const char* what, uint64_t at, int kind) {
  ++g_violations;
  if (g_violations <= 20) {
    std::fprintf(stderr, "VIOLATION %s: %s (first cut at op %llu, kind %d)\n", kKindNames[int(s.kind)],
                 what, static_cast<unsigned long long>(at), kind);
  }
}

void Restore(Scenario& s) {
  hostport::HostFlash& f = s.board->flash();
  for (uint32_t sec = 0; sec < hostport::HostFlash::kMaxSectors; ++sec) {
    if (f.Dirty(sec)) std::memcpy(s.board->mem() + sec * 4096, s.baseline.data() + sec * 4096, 4096);
  }
  f.ClearDirty();
  f.Disarm();
  f.PowerOn();
  s.board->efuse().ResetForTest(0);
  s.board->confirmed_id.clear();
}

struct Cuts {
  std::vector<std::pair<uint64_t, CutKind>> list;  // (ops from arming, kind); first one from flow start
  size_t next = 0;
  void ArmNext(hostport::HostFlash& f, uint64_t seed) {
    if (next < list.size()) {
      f.ArmCut(list[next].first, list[next].second, seed + next);
      ++next;
    }
  }
};

bool Done(Scenario& s, const Boot& b) {
  if (s.kind == Kind::kUpdate) {
    return b.version == s.b.id && s.board->board().boot().RunningState() == node::OtaState::kValid;
  }
  return b.version == s.a.id && s.board->board().boot().SlotState(1) == node::OtaState::kInvalid;
}

// Runs the OTA flow from the baseline with `cuts`; returns true when it converged to the expected
// end state without a violation. *first_outcome: 1 old, 2 new at the first stable recovery boot.
bool Drive(Scenario& s, Cuts& cuts, uint64_t seed, uint64_t first_at, int first_kind, Tally* t,
           int* first_outcome) {
  Board& board = *s.board;
  hostport::HostFlash& flash = board.flash();
  bool cut_seen = false;
  *first_outcome = 0;
  cuts.ArmNext(flash, seed);
  bool need_boot = true;  // the baseline is running: boot it once (no writes: confirmed)
  for (int iter = 0; iter < 40; ++iter) {
    if (need_boot) {
      const Boot b = board.BootOnce();
      if (b.kind == Boot::kPowerLost || flash.power_lost()) {
        cut_seen = true;
        flash.PowerOn();
        cuts.ArmNext(flash, seed);
        continue;
      }
      if (b.kind == Boot::kReboot) continue;
      if (b.kind == Boot::kBrick) {
        Violation(s, "no stable bundle after a cut", first_at, first_kind);
        return false;
      }
      // Stable: invariants.
      if (b.version != s.a.id && b.version != s.b.id) Violation(s, "unknown bundle runs", first_at, first_kind);
      if (board.confirmed_id == s.b.id && b.version != s.b.id) {
        Violation(s, "spurious rollback after confirm", first_at, first_kind);
      }
      for (uint32_t sec = 0; sec < hostport::HostFlash::kMaxSectors; ++sec) {
        if (!flash.Dirty(sec)) continue;
        bool ok = false;
        for (const Range& r : kAllowed) ok = ok || (sec * 4096 >= r.begin && sec * 4096 < r.end);
        if (!ok) {
          Violation(s, "write outside the target slot and otadata", first_at, first_kind);
          break;
        }
      }
      const uint32_t counter = board.efuse().Read();
      if (counter != 0 && !(counter == s.b.epoch && board.confirmed_id == s.b.id)) {
        Violation(s, "anti-rollback counter raised without a confirm", first_at, first_kind);
      }
      if (cut_seen && *first_outcome == 0) *first_outcome = b.version == s.a.id ? 1 : 2;
      if (Done(s, b)) return true;
      need_boot = false;
    }
    // The device runs A (or B confirmed, handled by Done): the host (re)starts the transfer.
    Host h(board);
    const uint16_t err = h.Ota(s.b);
    if (flash.power_lost()) {
      cut_seen = true;
      flash.PowerOn();
      cuts.ArmNext(flash, seed);
      need_boot = true;
      continue;
    }
    if (err != 0) {
      // A refusal without a power loss: the host restarts the transfer from scratch.
      ++t->restarts;
      Host h2(board);
      const Reply r = h2.Request(lk::kOtaBegin, Host::Begin(s.b, true));
      if (r.error() != 0 && !flash.power_lost()) {
        Violation(s, "transfer refused after a cut", first_at, first_kind);
        return false;
      }
      if (flash.power_lost()) {
        flash.PowerOn();
        cuts.ArmNext(flash, seed);
      }
    }
    need_boot = true;  // committed (reboot requested), or after a restart/power loss
  }
  Violation(s, "did not converge", first_at, first_kind);
  return false;
}

void Setup(Scenario& s, Kind kind, const Signer& signer) {
  s.kind = kind;
  s.board.reset(new Board(signer));
  BundleSpec sa;
  sa.fw_payload = 6000;
  sa.vectors = 2;
  s.a = BuildBundle(signer, sa);
  BundleSpec sb;
  sb.id = "bundle-B";
  sb.epoch = 2;
  sb.seed = 2;
  sb.fw_payload = 7000;
  sb.vectors = 2;
  if (kind == Kind::kHealthFail) sb.fault = Fault::kSelfTestExpectation;
  s.b = BuildBundle(signer, sb);
  ProvisionBundle(s.board->mem(), s.a, 0, 1, 0);
  s.board->LoadLayout();
  s.baseline.assign(s.board->mem(), s.board->mem() + hostport::HostFlash::kDefaultSize);
  s.board->flash().ClearDirty();
  // The clean run: count and classify the operations.
  s.op_kinds.assign(8192, OpKind::kErase);
  hostport::HostFlash& f = s.board->flash();
  NT_CHECK(s.board->BootOnce().kind == Boot::kStable);
  const uint64_t start = f.ops();
  f.SetOpLog(s.op_kinds.data(), s.op_kinds.size());
  {
    Host h(*s.board);
    s.marks.push_back({f.ops() - start, "staging (OTA_BEGIN + chunks + journal)"});
    Reply r = h.Request(lk::kOtaBegin, Host::Begin(s.b));
    NT_CHECK(r.error() == 0);
    for (uint32_t off = 0; off < s.b.file.size(); off += 4096) NT_CHECK(h.Request(lk::kOtaChunk, Host::Chunk(s.b, off)).error() == 0);
    s.marks.push_back({f.ops() - start, "OTA_END (slot manifest)"});
    NT_CHECK(h.Request(lk::kOtaEnd, {}).error() == 0);
    s.marks.push_back({f.ops() - start, "OTA_COMMIT (otadata)"});
    NT_CHECK(h.Request(lk::kOtaCommit, {}).error() == 0);
  }
  s.marks.push_back({f.ops() - start, "trial boot (bootloader NEW->PENDING)"});
  int slot = -1;
  NT_CHECK(s.board->board().PowerOn(&slot) == node::Status::kOk && slot == 1);
  s.marks.push_back({f.ops() - start, kind == Kind::kUpdate ? "confirm (VALID)" : "revert (INVALID)"});
  // Finish the clean run with the board's own boot loop (from the bootloader again: no writes,
  // the entry is already PENDING → the app runs the trial).
  node::NodeBoot nb(s.board->port(), s.board->board().layout(), s.board->config());
  nb.Run();
  if (kind == Kind::kHealthFail) {
    NT_CHECK(s.board->board().boot().reboot_requested());
    s.marks.push_back({f.ops() - start, "boot into A"});
    const Boot b = s.board->BootUntilStable();
    NT_CHECK(b.version == s.a.id);
  } else {
    const Boot b = s.board->BootUntilStable();
    NT_CHECK(b.version == s.b.id && s.board->efuse().Read() == 2);
  }
  f.SetOpLog(nullptr, 0);
  s.clean_ops = f.ops() - start;
  NT_CHECK(s.clean_ops > 0 && s.clean_ops < s.op_kinds.size());
}

const char* PhaseOf(const Scenario& s, uint64_t op) {  // op is 1-based
  const char* name = "?";
  for (const auto& m : s.marks) {
    if (m.first < op) name = m.second;
  }
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seeds = 500;  // per scenario: 1,000 seeds in all
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--seeds") == 0) seeds = std::strtoull(argv[i + 1], nullptr, 10);
  }
  const Signer signer(1);
  uint64_t total_cuts = 0, total_runs = 0;
  for (Kind kind : {Kind::kUpdate, Kind::kHealthFail}) {
    Scenario s;
    Setup(s, kind, signer);
    Tally ex, rnd;
    std::vector<std::pair<const char*, uint64_t>> per_phase;
    for (uint64_t i = 1; i <= s.clean_ops; ++i) {
      const OpKind ok = s.op_kinds[i - 1];
      for (CutKind ck : {CutKind::kClean, ok == OpKind::kProgram ? CutKind::kTornProgram : CutKind::kTornErase}) {
        Restore(s);
        Cuts cuts;
        cuts.list.push_back({i, ck});
        int first = 0;
        Drive(s, cuts, i * 31 + static_cast<uint64_t>(ck), i, static_cast<int>(ck), &ex, &first);
        ++ex.runs;
        ++ex.cuts;
        ex.old_first += first == 1;
        ex.new_first += first == 2;
        const char* ph = PhaseOf(s, i);
        if (per_phase.empty() || per_phase.back().first != ph) per_phase.push_back({ph, 0});
        ++per_phase.back().second;
      }
    }
    uint64_t nested = 0;
    for (uint64_t seed = 1; seed <= seeds; ++seed) {
      uint64_t x = seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(kind);
      auto next = [&x]() {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        return x * 2685821657736338717ull;
      };
      Restore(s);
      Cuts cuts;
      const int n = 1 + static_cast<int>(next() % 3);
      for (int k = 0; k < n; ++k) {
        const uint64_t at = k == 0 ? 1 + next() % s.clean_ops : 1 + next() % 120;
        cuts.list.push_back({at, static_cast<CutKind>(next() % 3)});
      }
      int first = 0;
      Drive(s, cuts, seed, cuts.list[0].first, static_cast<int>(cuts.list[0].second), &rnd, &first);
      ++rnd.runs;
      rnd.cuts += cuts.next;  // cuts actually armed
      nested += cuts.next > 1;
      rnd.old_first += first == 1;
      rnd.new_first += first == 2;
    }
    std::printf("%s: clean run %llu mutating ops (bundle %zu B: prefix %u, firmware %zu)\n", kKindNames[int(kind)],
                static_cast<unsigned long long>(s.clean_ops), s.b.file.size(), s.b.prefix, s.b.comps[0].size());
    for (const auto& p : per_phase) {
      std::printf("  %-40s %llu cut points (clean + torn)\n", p.first, static_cast<unsigned long long>(p.second));
    }
    std::printf("  exhaustive: %llu cuts; first recovery ran old %llu / new %llu; transfer restarts %llu\n",
                static_cast<unsigned long long>(ex.cuts), static_cast<unsigned long long>(ex.old_first),
                static_cast<unsigned long long>(ex.new_first), static_cast<unsigned long long>(ex.restarts));
    std::printf("  random: %llu seeds (%llu nested), %llu cuts armed; first recovery old %llu / new %llu\n",
                static_cast<unsigned long long>(rnd.runs), static_cast<unsigned long long>(nested),
                static_cast<unsigned long long>(rnd.cuts), static_cast<unsigned long long>(rnd.old_first),
                static_cast<unsigned long long>(rnd.new_first));
    total_cuts += ex.cuts + rnd.cuts;
    total_runs += ex.runs + rnd.runs;
  }
  std::printf("test_node_ota_campaign: %llu runs, %llu cuts, %llu violations\n",
              static_cast<unsigned long long>(total_runs), static_cast<unsigned long long>(total_cuts),
              static_cast<unsigned long long>(g_violations));
  return g_violations == 0 ? 0 : 1;
}
