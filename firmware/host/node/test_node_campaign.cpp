// Power-cut campaigns over the slot manager on the host port (MCUboot's simulator method, plus
// the torn-write and nested-cut modes it lacks).
//
// Scenarios, each starting from a confirmed bundle:
//   update        A -> B (B healthy): staging, commit, trial boot, confirm
//   health_fail   A -> B, B fails its health check: ... trial boot, INVALID, revert to A
//   crash         A -> B, B crashes before confirming: ... trial boot, ABORTED, revert to A
//   rollback      B running, A previous: manual rollback, trial boot, confirm
// Exhaustive: a cut before every mutating flash operation of the clean run (clean cut; and the
// torn variant matching that operation), then recovery boots, then the same operation retried
// without cuts. Random: seeds with 1..5 nested cuts (cuts during recovery boots and retries).
// After every recovery: the device boots exactly one complete, verifying bundle (old or new);
// once the new bundle's confirmation completed it is never left (no spurious rollback); no
// sector outside the target slot and otadata was written (old slot byte-identical).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "node_sim.h"

using namespace nodetest;
using hostport::CutKind;
using hostport::OpKind;
using node::Status;

namespace {

enum class Kind { kUpdate, kHealthFail, kCrash, kRollback };
const char* const kKindNames[] = {"update", "health_fail", "crash", "rollback"};

struct Range {
  uint32_t begin, end;
};

struct Scenario {
  Kind kind;
  Sim sim;
  std::vector<uint8_t> baseline;
  Bundle a, b;
  std::string old_v, new_v, final_v;
  std::vector<Range> allowed;
  uint64_t clean_ops = 0;
  std::vector<OpKind> op_kinds;
  std::vector<std::pair<uint64_t, std::string>> marks;
};

struct Tally {
  uint64_t cuts = 0, old_outcomes = 0, new_outcomes = 0, violations = 0;
};

uint64_t g_violations = 0;

void Violation(const Scenario& s, const char* what, uint64_t at, int kind) {
  ++g_violations;
  if (g_violations <= 20) {
    std::fprintf(stderr, "VIOLATION %s: %s (cut at op %llu, kind %d)\n", kKindNames[int(s.kind)],
                 what, static_cast<unsigned long long>(at), kind);
  }
}

void Restore(Scenario& s) {
  hostport::HostFlash& f = s.sim.flash();
  for (uint32_t sec = 0; sec < hostport::HostFlash::kMaxSectors; ++sec) {
    if (f.Dirty(sec)) std::memcpy(s.sim.mem() + sec * 4096, s.baseline.data() + sec * 4096, 4096);
  }
  f.ClearDirty();
  f.Disarm();
  f.PowerOn();
  s.sim.efuse().ResetForTest(0);
}

// Boots the baseline (no writes happen: it is a confirmed state).
void BootBaseline(Scenario& s) {
  s.sim.confirmed_version.clear();
  const BootResult r = s.sim.BootUntilStable();
  NT_CHECK(r.kind == BootResult::kStable && r.version == s.old_v);
}

Status RunOp(Scenario& s, BootResult* end) {
  if (s.kind == Kind::kRollback) {
    node::Reason why;
    return s.sim.Rollback(end, &why);
  }
  return s.sim.Update(s.b, end);
}

void Setup(Scenario& s, Kind kind) {
  s.kind = kind;
  s.a = MakeBundle("A", 1, 28000, 6000, 11);
  s.b = MakeBundle("B", 1, 30000, 9000, 22);
  Provision(s.sim.mem(), s.a, 0, 1, 0);
  if (kind == Kind::kRollback) {
    Provision(s.sim.mem(), s.b, 1, 2, 1);
    s.old_v = "B";
    s.new_v = s.final_v = "A";
    s.allowed = {{0xD000, 0xF000}};
  } else {
    s.old_v = "A";
    s.new_v = "B";
    s.final_v = kind == Kind::kUpdate ? "B" : "A";
    s.allowed = {{0xD000, 0xF000}, {0x290000, 0x510000}, {0x688000, 0x800000}};
  }
  s.sim.bad_version = "B";
  s.sim.bad_behaviour = kind == Kind::kHealthFail ? Behaviour::kFailsHealth
                        : kind == Kind::kCrash    ? Behaviour::kCrashesAtBoot
                                                  : Behaviour::kHealthy;
  s.sim.LoadLayout();
  s.baseline.assign(s.sim.mem(), s.sim.mem() + hostport::HostFlash::kDefaultSize);
  s.sim.flash().ClearDirty();
  // The clean run: count and classify operations, record phases, check the final state.
  BootBaseline(s);
  s.op_kinds.assign(4096, OpKind::kErase);
  const uint64_t start = s.sim.flash().ops();
  s.sim.flash().SetOpLog(s.op_kinds.data(), s.op_kinds.size());
  s.sim.marks = &s.marks;
  BootResult end{};
  NT_CHECK(RunOp(s, &end) == Status::kOk);
  s.sim.marks = nullptr;
  s.sim.flash().SetOpLog(nullptr, 0);
  s.clean_ops = s.sim.flash().ops() - start;
  for (auto& m : s.marks) m.first -= start;
  NT_CHECK(end.kind == BootResult::kStable && end.version == s.final_v);
  NT_CHECK(s.clean_ops > 0 && s.clean_ops < s.op_kinds.size());
}

std::string PhaseOf(const Scenario& s, uint64_t op) {  // op is 1-based
  std::string name = "?";
  for (const auto& m : s.marks) {
    if (m.first < op) name = m.second;
  }
  return name;
}

bool Allowed(const Scenario& s, uint32_t addr) {
  for (const Range& r : s.allowed) {
    if (addr >= r.begin && addr < r.end) return true;
  }
  return false;
}

// Checks a recovered device. Returns the version it runs ("" on violation).
std::string CheckRecovered(Scenario& s, const BootResult& r, uint64_t at, int kind) {
  if (r.kind != BootResult::kStable) {
    Violation(s, "device did not reach a running, confirmed bundle", at, kind);
    return "";
  }
  if (r.version != s.old_v && r.version != s.new_v) {
    Violation(s, "running bundle is neither the old nor the new one", at, kind);
    return "";
  }
  if (s.sim.board().boot().RunningState() != node::OtaState::kValid) {
    Violation(s, "running bundle is not confirmed", at, kind);
  }
  if (s.sim.confirmed_version == s.new_v && r.version != s.new_v) {
    Violation(s, "spurious rollback after the new bundle was confirmed", at, kind);
  }
  for (uint32_t sec = 0; sec < hostport::HostFlash::kMaxSectors; ++sec) {
    if (s.sim.flash().Dirty(sec) && !Allowed(s, sec * 4096)) {
      Violation(s, "a sector outside the target slot and otadata was written", at, kind);
      break;
    }
  }
  // The old bundle's slot is byte-identical (it is outside `allowed` for updates; for the
  // rollback scenario both slots are).
  return r.version;
}

struct Rng {
  uint64_t x;
  uint64_t Next() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
};

// Recovers after a cut, with up to `nested` further cuts during the recovery boots.
BootResult Recover(Scenario& s, Rng* rng, int* nested, uint64_t* cuts) {
  for (;;) {
    s.sim.flash().PowerOn();
    if (rng != nullptr && *nested > 0 && rng->Below(2) == 0) {
      --*nested;
      ++*cuts;
      s.sim.flash().ArmCut(1 + rng->Below(4), static_cast<CutKind>(rng->Below(3)), rng->Next());
    }
    const BootResult r = s.sim.BootUntilStable();
    s.sim.flash().Disarm();
    if (r.kind != BootResult::kPowerLost) return r;
  }
}

void Exhaustive(Scenario& s, std::map<std::string, Tally>* tallies) {
  for (uint64_t i = 1; i <= s.clean_ops; ++i) {
    const OpKind op = s.op_kinds[i - 1];
    const CutKind variants[2] = {CutKind::kClean,
                                 op == OpKind::kProgram ? CutKind::kTornProgram : CutKind::kTornErase};
    for (CutKind ck : variants) {
      Restore(s);
      BootBaseline(s);
      s.sim.flash().ArmCut(i, ck, i * 7919 + static_cast<uint64_t>(ck));
      BootResult end{};
      const Status st = RunOp(s, &end);
      s.sim.flash().Disarm();
      const char* kname = ck == CutKind::kClean ? "clean" : ck == CutKind::kTornProgram ? "torn_program" : "torn_erase";
      Tally& t = (*tallies)[std::string(kKindNames[int(s.kind)]) + " " + PhaseOf(s, i) + " " + kname];
      ++t.cuts;
      const uint64_t before = g_violations;
      if (st != Status::kPowerLost) {
        Violation(s, "the armed cut did not interrupt the operation", i, int(ck));
      } else {
        const BootResult r = Recover(s, nullptr, nullptr, nullptr);
        const std::string v = CheckRecovered(s, r, i, int(ck));
        if (v == s.old_v) ++t.old_outcomes;
        if (v == s.new_v) ++t.new_outcomes;
        if (v != s.final_v) {  // retry the operation without cuts
          BootResult again{};
          if (RunOp(s, &again) != Status::kOk) {
            Violation(s, "retry after recovery failed", i, int(ck));
          } else if (CheckRecovered(s, again, i, int(ck)) != s.final_v) {
            Violation(s, "retry did not reach the expected bundle", i, int(ck));
          }
        }
      }
      t.violations += g_violations - before;
    }
  }
}

void RandomSeeds(Scenario* scenarios, uint64_t seeds, Tally* total, uint64_t* nested_runs) {
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ull;  // splitmix64 of the seed: decorrelated streams
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    Rng rng{(z ^ (z >> 31)) | 1};
    Scenario& s = scenarios[rng.Below(4)];
    Restore(s);
    BootBaseline(s);
    int budget = 1 + static_cast<int>(rng.Below(5));  // cuts in this run
    if (budget > 1) ++*nested_runs;
    const uint64_t before = g_violations;
    std::string running = s.old_v;
    while (budget > 0 && running != s.final_v) {
      --budget;
      ++total->cuts;
      const uint64_t at = 1 + rng.Below(s.clean_ops);
      s.sim.flash().ArmCut(at, static_cast<CutKind>(rng.Below(3)), rng.Next());
      BootResult end{};
      const Status st = RunOp(s, &end);
      s.sim.flash().Disarm();
      BootResult r = end;
      if (st == Status::kPowerLost) {
        r = Recover(s, &rng, &budget, &total->cuts);
      } else if (st != Status::kOk) {
        Violation(s, "operation refused after recovery (random)", seed, -1);
        break;
      }
      running = CheckRecovered(s, r, at, -1);
      if (running.empty()) break;
    }
    if (!running.empty() && running != s.final_v) {
      BootResult end{};
      if (RunOp(s, &end) != Status::kOk) {
        Violation(s, "clean retry failed (random)", seed, -1);
      } else {
        running = CheckRecovered(s, end, seed, -1);
      }
    }
    if (running == s.old_v) ++total->old_outcomes;
    if (running == s.new_v) ++total->new_outcomes;
    if (!running.empty() && running != s.final_v) Violation(s, "random run ended on the wrong bundle", seed, -1);
    total->violations += g_violations - before;
  }
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t seeds = 1000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--seeds") == 0) seeds = std::strtoull(argv[i + 1], nullptr, 10);
  }
  static Scenario scenarios[4];
  std::map<std::string, Tally> tallies;
  uint64_t exhaustive = 0;
  for (int k = 0; k < 4; ++k) {
    Setup(scenarios[k], static_cast<Kind>(k));
    std::printf("scenario %-11s clean run: %llu mutating flash operations\n", kKindNames[k],
                static_cast<unsigned long long>(scenarios[k].clean_ops));
    Exhaustive(scenarios[k], &tallies);
  }
  std::printf("\nexhaustive cuts (cut before op i; outcome after recovery boots):\n");
  std::printf("  %-44s %7s %7s %7s %5s\n", "scenario phase variant", "cuts", "old", "new", "viol");
  for (const auto& kv : tallies) {
    exhaustive += kv.second.cuts;
    std::printf("  %-44s %7llu %7llu %7llu %5llu\n", kv.first.c_str(),
                static_cast<unsigned long long>(kv.second.cuts),
                static_cast<unsigned long long>(kv.second.old_outcomes),
                static_cast<unsigned long long>(kv.second.new_outcomes),
                static_cast<unsigned long long>(kv.second.violations));
  }
  Tally random;
  uint64_t nested_runs = 0;
  RandomSeeds(scenarios, seeds, &random, &nested_runs);
  std::printf("\nexhaustive: %llu cut points tried\n", static_cast<unsigned long long>(exhaustive));
  std::printf("random: %llu seeds, %llu with nested cuts, %llu cuts in total; final old %llu, new %llu\n",
              static_cast<unsigned long long>(seeds), static_cast<unsigned long long>(nested_runs),
              static_cast<unsigned long long>(random.cuts),
              static_cast<unsigned long long>(random.old_outcomes),
              static_cast<unsigned long long>(random.new_outcomes));
  std::printf("violations: %llu\n", static_cast<unsigned long long>(g_violations));
  return g_violations == 0 ? 0 : 1;
}
