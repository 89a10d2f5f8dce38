// Link corruption through OTAs (issue 7, goal L1): a host drives repeated OTA transfers of signed
// bundles into the firmware's LinkEndpoint (real bundle verifier, real slot manager, the file-less
// 8 MB flash) over a faulty serial line. Every host → device frame may get bit errors, be
// dropped, duplicated or truncated; every device → host answer may get bit errors, be dropped or
// truncated; rarely the host is made to send a chunk whose data is wrong but whose CRCs are
// right (a fault no framing can see). The host behaves like core/device/ota.py: it resends when
// no answer comes, asks OTA_STATUS after an out-of-order refusal, resumes at the device's durable
// offset and restarts a transfer OTA_END refused.
//
// Checked: whenever the device reports a transfer verified (OTA_END), the staged slot holds the
// bundle byte for byte; a transfer with a forged chunk is never verified; only the target slot's
// partitions and nothing else was written; every few transfers the bundle is committed, the board
// boots it (trial, health check with self-test vectors, confirm) and the running slot holds
// exactly that bundle. Prints the frame and fault counts. --frames N sets the host → device
// frames (default 1,000,000).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "test_node_bundle_support.h"

using namespace bt;

namespace {

struct Rng {
  uint64_t x;
  uint64_t Next() {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return x * 2685821657736338717ull;
  }
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(Next() % n); }
  bool Chance(uint32_t per_million) { return Below(1000000) < per_million; }
};

// Fault rates per frame (per million).
constexpr uint32_t kBitErrorPpm = 40000;
constexpr uint32_t kDropPpm = 30000;
constexpr uint32_t kDuplicatePpm = 30000;
constexpr uint32_t kTruncatePpm = 30000;
constexpr uint32_t kAnswerFaultPpm = 40000;  // each of bit error / drop / truncation
constexpr uint32_t kForgePpm = 1500;          // chunks with wrong data and right CRCs
constexpr uint32_t kReconnectPpm = 10000;     // the host reopens the transfer (resume)
constexpr uint32_t kReorderPpm = 5000;        // a chunk sent ahead of its turn

struct Counts {
  uint64_t sent = 0, intact = 0, bit_errors = 0, drops = 0, duplicates = 0, truncations = 0;
  uint64_t answers = 0, answer_faults = 0, no_answer = 0, forged = 0, small = 0, chunks = 0;
  uint64_t transfers = 0, verified = 0, digest_refusals = 0, commits = 0, boots = 0;
  uint64_t resumes = 0, out_of_order = 0, reconnects = 0, bytes_checked = 0, violations = 0;
};

Counts g;

void Violation(const char* what, uint64_t transfer) {
  ++g.violations;
  if (g.violations <= 20) std::fprintf(stderr, "VIOLATION: %s (transfer %llu)\n", what,
                                       static_cast<unsigned long long>(transfer));
}

struct Bundle {
  BuiltBundle b;
  std::vector<uint8_t> sha;
  std::vector<uint32_t> chunk_crc;  // CRC-32 of each 4 KiB chunk (the host computes them once)
};

// The desktop side of the line: encodes requests, passes them (and the answers) through the
// faulty line, and parses what survives.
class LossyHost {
 public:
  LossyHost(Board& board, Rng& rng) : board_(board), rng_(rng) { Attach(); }

  // After every boot: the running firmware's endpoint (new object, like the device's restart).
  void Attach() {
    port_ = board_.port();
    port_.link = &out_;
    ep_.reset(new node::LinkEndpoint(port_, board_.board().layout(), board_.node()->slots(), id_,
                                     board_.node()->verifier().hooks(), board_.node()->summary()));
    ep_->set_confirm(&node::NodeBoot::ConfirmHook, board_.node());
    out_.out.clear();
  }

  uint32_t device_durable() const { return ep_->durable_offset(); }

  // Sends one request through the line; true with *r set when a valid answer to it came back.
  bool Request(uint8_t type, const uint8_t* payload, uint32_t len, Reply* r) {
    const uint32_t seq = seq_++;
    const uint32_t n = lk::EncodeFrame(type, 0, seq, payload, len, raw_, wire_);
    NT_CHECK(n > 0);
    out_.out.clear();
    ++g.sent;
    bool faulted = false;
    if (rng_.Chance(kDropPpm)) {
      ++g.drops;
      faulted = true;
    } else if (rng_.Chance(kTruncatePpm)) {
      ++g.truncations;
      faulted = true;
      const uint32_t keep = 1 + rng_.Below(n - 1);  // at least the delimiter is lost
      ep_->Feed(wire_, keep);
      const uint8_t zero = 0;
      ep_->Feed(&zero, 1);
    } else {
      if (rng_.Chance(kBitErrorPpm)) {
        ++g.bit_errors;
        faulted = true;
        const uint32_t flips = 1 + rng_.Below(3);
        for (uint32_t i = 0; i < flips; ++i) wire_[rng_.Below(n)] ^= static_cast<uint8_t>(1u << rng_.Below(8));
      }
      ep_->Feed(wire_, n);
      if (rng_.Chance(kDuplicatePpm)) {
        ++g.duplicates;
        ep_->Feed(wire_, n);
      }
    }
    if (!faulted) ++g.intact;
    // The answers back through the line.
    std::vector<uint8_t>& back = out_.out;
    if (!back.empty()) {
      if (rng_.Chance(kAnswerFaultPpm)) {
        ++g.answer_faults;
        back.clear();
      } else if (rng_.Chance(kAnswerFaultPpm)) {
        ++g.answer_faults;
        back.resize(rng_.Below(static_cast<uint32_t>(back.size())));
      } else if (rng_.Chance(kAnswerFaultPpm)) {
        ++g.answer_faults;
        back[rng_.Below(static_cast<uint32_t>(back.size()))] ^= static_cast<uint8_t>(1u << rng_.Below(8));
      }
    }
    bool got = false;
    lk::Frame f;
    for (uint8_t byte : back) {
      if (!rx_.Push(byte, &f)) continue;
      ++g.answers;
      if (f.length < 4 || lk::Get32(f.payload) != seq) continue;  // stale or unrelated
      r->type = f.type;
      r->flags = f.flags;
      r->seq = f.seq;
      r->payload.assign(f.payload, f.payload + f.length);
      got = true;
    }
    const uint8_t zero = 0;
    lk::Frame dummy;
    rx_.Push(zero, &dummy);  // a truncated answer does not swallow the next one
    if (!got) ++g.no_answer;
    return got;
  }

 private:
  Board& board_;
  Rng& rng_;
  node::Port port_{};
  LinkVec out_;
  const char* names_[3] = {"accX", "accY", "accZ"};
  node::DeviceIdentity id_{2, {0x02, 0xfb, 0, 0, 0, 1}, "twin-0.2", 1, "g", names_, 64, 8000.0f};
  std::unique_ptr<node::LinkEndpoint> ep_;
  lk::FrameReceiver rx_;
  uint32_t seq_ = 0;
  uint8_t raw_[lk::kMaxRawFrame];
  uint8_t wire_[lk::kMaxEncoded + 1];
};

std::vector<uint8_t> BeginPayload(const Bundle& b, bool restart) {
  std::vector<uint8_t> p(40, 0);
  lk::Put32(p.data(), static_cast<uint32_t>(b.b.file.size()));
  std::memcpy(p.data() + 4, b.sha.data(), 32);
  p[36] = 0xFF;
  p[37] = restart ? 1 : 0;
  lk::Put16(p.data() + 38, static_cast<uint16_t>(b.b.prefix));
  p.insert(p.end(), b.b.file.begin(), b.b.file.begin() + b.b.prefix);
  return p;
}

uint32_t ChunkPayload(const Bundle& b, uint32_t off, bool forge, Rng& rng, uint8_t* p) {
  const uint32_t size = static_cast<uint32_t>(b.b.file.size());
  const uint32_t n = std::min<uint32_t>(4096, size - off);
  std::memset(p, 0, 32);
  std::memcpy(p + 32, b.b.file.data() + off, n);
  if (forge) p[32 + rng.Below(n)] ^= static_cast<uint8_t>(1u << rng.Below(8));
  lk::Put32(p, off);
  lk::Put16(p + 4, static_cast<uint16_t>(n));
  // The CRC of what is sent: the forgery passes it.
  lk::Put32(p + 8, forge ? node::Crc32(p + 32, n) : b.chunk_crc[off / 4096]);
  lk::Put32(p + 12, size);
  std::memcpy(p + 16, b.sha.data(), 8);
  return 32 + n;
}

uint32_t Durable(const Reply& r) { return lk::Get32(r.payload.data() + 4 + 8); }
uint8_t OtaPhaseOf(const Reply& r) { return r.payload[4]; }

// The staged slot against the bundle file: ota_k ← firmware, model_k + 0x1000 ← the rest.
bool SlotHolds(Board& board, int slot, const Bundle& b) {
  const node::FlashLayout& L = board.board().layout();
  const uint8_t* mem = board.mem();
  const std::vector<uint8_t>& file = b.b.file;
  const size_t fw = b.b.comps[0].size();
  const uint8_t* app = mem + L.app[slot].offset;
  const uint8_t* data = mem + L.model[slot].offset + node::kSlotDataOffset;
  const bool ok = std::memcmp(app, file.data() + b.b.prefix, fw) == 0 &&
                  std::memcmp(data, file.data(), b.b.prefix) == 0 &&
                  std::memcmp(data + b.b.prefix, file.data() + b.b.prefix + fw,
                              file.size() - b.b.prefix - fw) == 0;
  g.bytes_checked += file.size();
  return ok;
}

// Nothing outside the target slot (and otadata on a commit) was written.
bool OnlyTouched(Board& board, int slot, bool otadata) {
  const node::FlashLayout& L = board.board().layout();
  hostport::HostFlash& f = board.flash();
  for (uint32_t sec = 0; sec < hostport::HostFlash::kMaxSectors; ++sec) {
    if (!f.Dirty(sec)) continue;
    const uint32_t a = sec * 4096;
    const bool in_app = a >= L.app[slot].offset && a < L.app[slot].offset + L.app[slot].size;
    const bool in_model = a >= L.model[slot].offset && a < L.model[slot].offset + L.model[slot].size;
    const bool in_ota = a >= L.otadata.offset && a < L.otadata.offset + L.otadata.size;
    if (!in_app && !in_model && !(otadata && in_ota)) return false;
  }
  return true;
}

// CONFIRM on a bundle still on trial runs the health check (docs/protocol.md §10.2): a trial
// that failed its health check with no bundle to revert to (slot 0 lost) stays on trial; CONFIRM
// refuses while the sensor is stuck, and confirms (VALID, counter raised) once it is live again.
void ConfirmOnTrial(const Signer& signer) {
  Board board(signer);
  BundleSpec sa;
  sa.fw_payload = 6000;
  sa.vectors = 2;
  const BuiltBundle a = BuildBundle(signer, sa);
  BundleSpec sb = sa;
  sb.id = "bundle-B";
  sb.epoch = 2;
  sb.seed = 2;
  const BuiltBundle b = BuildBundle(signer, sb);
  ProvisionBundle(board.mem(), a, 0, 1, 0);
  board.LoadLayout();
  NT_CHECK(board.BootUntilStable().version == a.id);
  {
    Host h(board);
    NT_CHECK(h.Ota(b) == 0);
  }
  NT_CHECK(board.flash().EraseSector(board.board().layout().model[0].offset) == node::Status::kOk);
  board.sensor().stuck = true;
  const Boot trial = board.BootUntilStable();
  NT_CHECK(trial.slot == 1 && trial.outcome == node::BootOutcome::kTrialUnrevertable);
  NT_CHECK(board.board().boot().RunningState() == node::OtaState::kPendingVerify);
  Host h(board);
  h.ep().set_confirm(&node::NodeBoot::ConfirmHook, board.node());
  Reply r = h.Request(lk::kConfirm, {});
  NT_CHECK(r.type == lk::kError && r.error() >= lk::kErrSlotBase && r.error() < lk::kErrOtaBase);
  NT_CHECK(board.board().boot().RunningState() == node::OtaState::kPendingVerify);
  NT_CHECK(board.node()->health().failure == node::HealthFailure::kSensor);
  board.sensor().stuck = false;
  r = h.Request(lk::kConfirm, {});
  NT_CHECK(r.type == lk::kConfirm + 1 && r.error() == 0);
  NT_CHECK(board.board().boot().RunningState() == node::OtaState::kValid);
  NT_CHECK(board.efuse().Read() == 2 && board.node()->app().loaded());
  NT_CHECK(board.node()->summary().outcome == node::BootOutcome::kConfirmed);
  std::printf("CONFIRM on a trial: refused while the health check fails (sensor), confirmed "
              "after it passes (counter %u)\n", board.efuse().Read());
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t frames = 1000000;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--frames") == 0) frames = std::strtoull(argv[i + 1], nullptr, 10);
  }
  const Signer signer(1);
  ConfirmOnTrial(signer);
  Board board(signer);
  // Three bundles of different sizes (same epoch: any of them may follow any other).
  std::vector<Bundle> bundles;
  const uint32_t payloads[3] = {400000, 700000, 1000000};
  for (int k = 0; k < 3; ++k) {
    BundleSpec sp;
    sp.id = "bundle-" + std::string(1, static_cast<char>('A' + k));
    sp.seed = static_cast<uint32_t>(k + 1);
    sp.fw_payload = payloads[k];
    sp.vectors = 2;
    Bundle b;
    b.b = BuildBundle(signer, sp);
    b.sha = Sha(b.b.file);
    for (size_t off = 0; off < b.b.file.size(); off += 4096) {
      b.chunk_crc.push_back(node::Crc32(b.b.file.data() + off, std::min<size_t>(4096, b.b.file.size() - off)));
    }
    bundles.push_back(std::move(b));
  }
  ProvisionBundle(board.mem(), bundles[0].b, 0, 1, 0);
  board.LoadLayout();
  NT_CHECK(board.BootUntilStable().kind == Boot::kStable);
  ++g.boots;
  Rng rng{0x5EEDF00Dull};
  LossyHost host(board, rng);
  std::vector<uint8_t> chunk(32 + 4096);
  int running = 0;
  std::string running_id = bundles[0].b.id;
  Reply r;
  while (g.sent < frames) {
    const uint64_t t = ++g.transfers;
    const Bundle& b = bundles[t % 3];
    const uint32_t size = static_cast<uint32_t>(b.b.file.size());
    const int target = 1 - running;
    board.flash().ClearDirty();
    bool maybe_forged = false;   // a forged chunk went out unanswered: it may be stored
    bool forged_stored = false;  // the device acknowledged a forged chunk as stored
    bool restart = true;
    uint32_t next = 0;
    bool done = false;
    for (int round = 0; round < 100000 && !done; ++round) {
      // (Re)open the transfer; the first OTA_BEGIN discards whatever the slot held.
      const std::vector<uint8_t> begin = BeginPayload(b, restart);
      if (!host.Request(lk::kOtaBegin, begin.data(), static_cast<uint32_t>(begin.size()), &r)) continue;
      if (r.error() != 0) {
        Violation("OTA_BEGIN refused", t);
        break;
      }
      if (restart) maybe_forged = forged_stored = false;
      restart = false;
      if (Durable(r) > 0) ++g.resumes;
      next = Durable(r);
      // Chunks until the device holds the whole file.
      int silent = 0;
      while (next < size && silent < 50) {
        // The rest of the desktop's traffic between two chunks: keep-alives, progress polls,
        // stream toggles, a request type this firmware does not know, a stray device type.
        for (uint32_t k = rng.Below(15); k > 0; --k) {
          static const uint8_t kTypes[] = {lk::kPing, lk::kOtaStatus, lk::kStreamStart,
                                           lk::kStreamStop, 0x3E, lk::kInfo};
          const uint8_t type = kTypes[rng.Below(sizeof kTypes)];
          ++g.small;
          if (!host.Request(type, nullptr, 0, &r) || type != lk::kOtaStatus) continue;
          const uint32_t d = r.error() == 0 ? Durable(r) : 0;
          if (r.error() != 0 || d > size || (d % 4096 != 0 && d != size)) {
            Violation("OTA_STATUS reports a durable offset off the 4 KiB grid", t);
          }
        }
        if (rng.Chance(kReconnectPpm)) {
          ++g.reconnects;
          break;  // the cable was pulled: the host reopens with OTA_BEGIN and resumes
        }
        if (rng.Chance(kReorderPpm) && next + 4096 < size) {
          // A chunk overtakes its predecessor: refused, the device's offset unchanged.
          const uint32_t n = ChunkPayload(b, next + 4096, false, rng, chunk.data());
          ++g.chunks;
          const uint32_t before = host.device_durable();  // the device's truth, not the host's
          const bool answered = host.Request(lk::kOtaChunk, chunk.data(), n, &r);
          if (answered && r.error() == lk::kErrOtaBase + lk::kOtaOutOfOrder) ++g.out_of_order;
          if (before < next + 4096 && host.device_durable() != before) {
            Violation("a chunk beyond the durable offset was accepted", t);
          }
        }
        const bool forge = rng.Chance(kForgePpm);
        const uint32_t n = ChunkPayload(b, next, forge, rng, chunk.data());
        ++g.chunks;
        if (!host.Request(lk::kOtaChunk, chunk.data(), n, &r)) {
          // No answer: the chunk may or may not be stored (a forged one too).
          if (forge) maybe_forged = true;
          ++silent;
          continue;
        }
        silent = 0;
        if (r.error() == lk::kErrOtaBase + lk::kOtaOutOfOrder) {
          ++g.out_of_order;
          if (host.Request(lk::kOtaStatus, nullptr, 0, &r) && r.error() == 0) next = Durable(r);
          continue;
        }
        if (r.error() != 0) {
          Violation("chunk refused", t);
          next = size + 1;
          break;
        }
        if (forge) {
          forged_stored = true;  // sent and answered: stored unless it was a duplicate
          ++g.forged;
        }
        next = Durable(r);
      }
      if (next != size) continue;  // lost the thread: OTA_BEGIN resumes at the durable offset
      Reply end;
      bool answered = false;
      for (int k = 0; k < 50 && !answered; ++k) answered = host.Request(lk::kOtaEnd, nullptr, 0, &end);
      if (!answered) continue;
      if (end.error() == lk::kErrOtaBase + lk::kOtaDigestMismatch) {
        ++g.digest_refusals;
        if (!forged_stored && !maybe_forged) Violation("digest mismatch without a forged chunk", t);
        restart = true;  // the host starts the transfer over
        continue;
      }
      if (end.error() != 0 || OtaPhaseOf(end) != 2) {
        Violation("OTA_END refused a clean transfer", t);
        break;
      }
      ++g.verified;
      if (!SlotHolds(board, target, b)) Violation("verified slot differs from the bundle", t);
      done = true;
    }
    if (!done) {
      Violation("transfer did not complete", t);
      break;
    }
    const bool commit = t % 16 == 0;
    if (!OnlyTouched(board, target, false)) Violation("flash written outside the target slot", t);
    if (!commit) continue;
    // Commit over the same line (resent until an answer arrives), then boot the new bundle.
    bool committed = false;
    for (int k = 0; k < 50 && !committed; ++k) {
      if (!host.Request(lk::kOtaCommit, nullptr, 0, &r)) {
        committed = board.board().boot().reboot_requested();  // the answer was lost on the way
        continue;
      }
      committed = r.error() == 0 || board.board().boot().reboot_requested();
      if (!committed) {
        std::fprintf(stderr, "OTA_COMMIT: error 0x%x\n", r.error());
        Violation("OTA_COMMIT refused", t);
      }
    }
    if (!committed) break;
    ++g.commits;
    const Boot bt = board.BootUntilStable();
    ++g.boots;
    if (bt.kind != Boot::kStable || bt.slot != target || bt.version != b.b.id ||
        bt.outcome != node::BootOutcome::kConfirmed) {
      Violation("the committed bundle did not boot and confirm", t);
      break;
    }
    if (!SlotHolds(board, target, b)) Violation("running slot differs from the bundle", t);
    if (!OnlyTouched(board, target, true)) Violation("flash written outside the slot and otadata", t);
    running = target;
    running_id = b.b.id;
    host.Attach();
  }
  std::printf("link corruption campaign: %llu host->device frames (%llu intact), faults: %llu bit "
              "errors, %llu drops, %llu duplicates, %llu truncations, %llu forged chunks\n",
              static_cast<unsigned long long>(g.sent), static_cast<unsigned long long>(g.intact),
              static_cast<unsigned long long>(g.bit_errors), static_cast<unsigned long long>(g.drops),
              static_cast<unsigned long long>(g.duplicates), static_cast<unsigned long long>(g.truncations),
              static_cast<unsigned long long>(g.forged));
  std::printf("  of which %llu OTA_CHUNK (4 KiB), %llu other requests between chunks\n",
              static_cast<unsigned long long>(g.chunks), static_cast<unsigned long long>(g.small));
  std::printf("  answers: %llu parsed, %llu faulted on the way back, %llu requests without an answer\n",
              static_cast<unsigned long long>(g.answers), static_cast<unsigned long long>(g.answer_faults),
              static_cast<unsigned long long>(g.no_answer));
  std::printf("  transfers: %llu, verified %llu (every one byte-identical, %llu bytes compared), "
              "digest refusals %llu, reconnects %llu, resumes %llu, out-of-order refusals %llu; commits %llu, boots %llu\n",
              static_cast<unsigned long long>(g.transfers), static_cast<unsigned long long>(g.verified),
              static_cast<unsigned long long>(g.bytes_checked), static_cast<unsigned long long>(g.digest_refusals),
              static_cast<unsigned long long>(g.reconnects), static_cast<unsigned long long>(g.resumes), static_cast<unsigned long long>(g.out_of_order),
              static_cast<unsigned long long>(g.commits), static_cast<unsigned long long>(g.boots));
  std::printf("test_node_link_campaign: %llu violations (wrong bytes committed: %s)\n",
              static_cast<unsigned long long>(g.violations), g.violations == 0 ? "none" : "SEE ABOVE");
  (void)running_id;
  return g.violations == 0 ? 0 : 1;
}
