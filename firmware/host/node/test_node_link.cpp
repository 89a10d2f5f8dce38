// The link endpoint on the simulated board: COBS/CRC framing, HELLO/INFO, status, OTA with
// resume across a reboot, typed errors (out of order, CRC, wrong transfer, battery, state),
// commit → trial boot → confirm, manual rollback. Uses a test bundle format behind OtaHooks
// (the real bundle verifier plugs into the same seam).
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "host_port/host_port.h"
#include "node/link_endpoint.h"
#include "node/link_protocol.h"
#include "node_sim.h"

using namespace nodetest;
namespace lk = node::link;

namespace {

class VecLink final : public node::LinkPort {
 public:
  std::vector<uint8_t> out;
  int32_t Read(uint8_t*, uint32_t) override { return 0; }
  int32_t Write(const uint8_t* src, uint32_t len) override {
    out.insert(out.end(), src, src + len);
    return static_cast<int32_t>(len);
  }
};

// Test prefix: "TPFX", u32 firmware size, u32 epoch, u8 min battery, char id[32] (45 bytes).
constexpr uint32_t kPrefix = 45;
std::vector<uint8_t> Prefix(uint32_t fw, uint32_t epoch, uint8_t battery, const char* id) {
  std::vector<uint8_t> p(kPrefix, 0);
  std::memcpy(p.data(), "TPFX", 4);
  lk::Put32(p.data() + 4, fw);
  lk::Put32(p.data() + 8, epoch);
  p[12] = battery;
  std::memcpy(p.data() + 13, id, std::strlen(id));
  return p;
}

uint16_t CheckPrefix(const uint8_t* p, uint32_t len, uint32_t, uint32_t min_epoch, node::OtaPlan* plan,
                     void*) {
  if (len != kPrefix || std::memcmp(p, "TPFX", 4) != 0) return lk::kErrOtaBase + lk::kOtaBadPrefix;
  plan->firmware_size = lk::Get32(p + 4);
  plan->epoch = lk::Get32(p + 8);
  if (plan->epoch < min_epoch) return lk::kErrBundleBase + 15;
  plan->min_battery = p[12];
  std::memcpy(plan->bundle_id, p + 13, 32);
  plan->bundle_id[32] = 0;
  return 0;
}
uint16_t VerifyBundle(node::BundleReadFn read, void* rctx, uint32_t size, uint32_t, void*) {
  uint8_t head[4];
  if (size < kPrefix || !read(rctx, 0, head, 4)) return lk::kErrBundleBase + 18;
  return std::memcmp(head, "TPFX", 4) == 0 ? 0 : lk::kErrBundleBase + 2;
}

struct Reply {
  uint8_t type, flags;
  uint32_t seq;
  std::vector<uint8_t> payload;
};

struct Host {
  Sim& sim;
  VecLink link;
  hostport::SimClock clock;
  hostport::SimBattery battery;
  hostport::StubSensor sensor;
  hostport::StderrLog log{false};
  node::Port port{};
  node::BootSummary boot;
  const char* names[3] = {"accX", "accY", "accZ"};
  node::DeviceIdentity id{2, {0x02, 0xfb, 0, 0, 0, 1}, "twin-0.1", 1, "g", names, 64, 8000.0f};
  node::OtaHooks hooks{&CheckPrefix, &VerifyBundle, nullptr};
  node::SlotManager mgr;
  node::LinkEndpoint ep;
  uint32_t seq = 0;
  lk::FrameReceiver rx;
  uint8_t raw[lk::kMaxRawFrame], wire[lk::kMaxEncoded + 1];

  explicit Host(Sim& s)
      : sim(s),
        port{&s.flash(), &s.board().boot(), &link, &clock, &battery, &sensor, &log},
        mgr(s.flash(), s.board().boot(), s.board().layout()),
        ep(port, s.board().layout(), mgr, id, hooks, boot) {}

  Reply Request(uint8_t type, const std::vector<uint8_t>& payload) {
    link.out.clear();
    const uint32_t n = lk::EncodeFrame(type, 0, seq++, payload.data(),
                                       static_cast<uint32_t>(payload.size()), raw, wire);
    NT_CHECK(n > 0);
    NT_CHECK(ep.Feed(wire, n) == 1);
    lk::Frame f;
    std::vector<Reply> got;
    for (uint8_t b : link.out) {
      if (rx.Push(b, &f)) got.push_back({f.type, f.flags, f.seq, {f.payload, f.payload + f.length}});
    }
    NT_CHECK(got.size() == 1);
    NT_CHECK(got[0].flags & lk::kFlagResponse);
    return got[0];
  }
};

uint16_t ErrorCode(const Reply& r) {
  NT_CHECK(r.type == lk::kError);
  return lk::Get16(r.payload.data() + 4);
}

std::vector<uint8_t> Begin(const std::vector<uint8_t>& bundle, bool restart = false) {
  std::vector<uint8_t> p(40, 0);
  lk::Put32(p.data(), static_cast<uint32_t>(bundle.size()));
  node::Sha256 sha;
  sha.Update(bundle.data(), bundle.size());
  sha.Final(p.data() + 4);
  p[36] = 0xFF;
  p[37] = restart ? 1 : 0;
  lk::Put16(p.data() + 38, kPrefix);
  p.insert(p.end(), bundle.begin(), bundle.begin() + kPrefix);
  return p;
}

std::vector<uint8_t> Chunk(const std::vector<uint8_t>& bundle, uint32_t off, bool bad_crc = false) {
  const uint32_t n = std::min<uint32_t>(4096, static_cast<uint32_t>(bundle.size()) - off);
  std::vector<uint8_t> p(32, 0);
  lk::Put32(p.data(), off);
  lk::Put16(p.data() + 4, static_cast<uint16_t>(n));
  lk::Put32(p.data() + 8, node::Crc32(bundle.data() + off, n) ^ (bad_crc ? 1u : 0u));
  lk::Put32(p.data() + 12, static_cast<uint32_t>(bundle.size()));
  uint8_t d[32];
  node::Sha256 sha;
  sha.Update(bundle.data(), bundle.size());
  sha.Final(d);
  std::memcpy(p.data() + 16, d, 8);
  p.insert(p.end(), bundle.begin() + off, bundle.begin() + off + n);
  return p;
}

uint32_t Durable(const Reply& r) {
  NT_CHECK(r.payload.size() == 4 + lk::kOtaStatusSize);
  return lk::Get32(r.payload.data() + 4 + 8);
}

void TestCobs() {
  uint8_t enc[600], dec[600];
  std::vector<uint8_t> cases[] = {{}, {0}, {1, 2, 3}, {0, 0}, std::vector<uint8_t>(254, 7),
                                  std::vector<uint8_t>(255, 7), std::vector<uint8_t>(508, 9)};
  cases[5][100] = 0;
  for (const auto& c : cases) {
    const uint32_t n = lk::CobsEncode(c.data(), static_cast<uint32_t>(c.size()), enc, sizeof enc);
    NT_CHECK(n > 0);
    for (uint32_t i = 0; i < n; ++i) NT_CHECK(enc[i] != 0);
    NT_CHECK(lk::CobsDecode(enc, n, dec) == static_cast<int32_t>(c.size()));
    NT_CHECK(c.empty() || std::memcmp(dec, c.data(), c.size()) == 0);
  }
  // 254 non-zero bytes: FF + 254 bytes + 01, exactly like core/link/cobs.py.
  NT_CHECK(lk::CobsEncode(cases[4].data(), 254, enc, sizeof enc) == 256 && enc[0] == 0xFF && enc[255] == 1);
  NT_CHECK(node::Crc32("123456789", 9) == 0xCBF43926u);
  // The receiver drops a corrupted frame and keeps going.
  lk::FrameReceiver rx;
  uint8_t raw[lk::kMaxRawFrame], wire[lk::kMaxEncoded + 1];
  const uint8_t pl[3] = {1, 0, 2};
  uint32_t n = lk::EncodeFrame(0x26, 0, 5, pl, 3, raw, wire);
  std::vector<uint8_t> stream(wire, wire + n);
  stream[3] ^= 0x10;
  stream.insert(stream.end(), wire, wire + n);
  stream[n + 3] = wire[3];
  lk::Frame f;
  int frames = 0;
  for (uint8_t b : stream) frames += rx.Push(b, &f) ? 1 : 0;
  NT_CHECK(frames == 1 && rx.counters().dropped == 1 && f.seq == 5 && f.length == 3);
}

void TestOta() {
  Sim sim;
  const Bundle a = MakeBundle("A", 1, 28000, 6000, 11);
  Provision(sim.mem(), a, 0, 1, 0);
  sim.LoadLayout();
  NT_CHECK(sim.BootUntilStable().kind == BootResult::kStable);

  // The OTA file: prefix ‖ app image ‖ data.
  const std::vector<uint8_t> app = AppImage("B", 2, 30000, 22);
  std::vector<uint8_t> bundle = Prefix(static_cast<uint32_t>(app.size()), 2, 30, "bundle-B");
  bundle.insert(bundle.end(), app.begin(), app.end());
  for (uint32_t i = 0; i < 9000; ++i) bundle.push_back(static_cast<uint8_t>(i * 7 + 3));
  const uint32_t size = static_cast<uint32_t>(bundle.size());

  {
    Host h(sim);
    Reply r = h.Request(lk::kHello, {1, 1, 0, 0});
    NT_CHECK(r.type == lk::kInfo);
    // 24 fixed + strings + 3 + 208 status.
    NT_CHECK(r.payload.size() > 24 + 3 + lk::kDeviceStatusSize);
    const uint8_t* st = r.payload.data() + r.payload.size() - lk::kDeviceStatusSize;
    NT_CHECK(st[0] == 1 && st[1] == 0 && st[16 + 2] == 0 && st[16 + 96 + 2] == 3);  // slot 1 empty

    NT_CHECK(ErrorCode(h.Request(lk::kOtaChunk, Chunk(bundle, 0))) == lk::kErrOtaBase + lk::kOtaWrongState);
    NT_CHECK(ErrorCode(h.Request(0x60, {})) == lk::kErrUnknownType);
    NT_CHECK(ErrorCode(h.Request(lk::kGetStatus, {1})) == lk::kErrBadPayload);
    h.battery.Set(20);
    NT_CHECK(ErrorCode(h.Request(lk::kOtaBegin, Begin(bundle))) == lk::kErrOtaBase + lk::kOtaBatteryLow);
    h.battery.Set(90);
    std::vector<uint8_t> bad = Begin(bundle);
    bad[40] = 'X';
    NT_CHECK(ErrorCode(h.Request(lk::kOtaBegin, bad)) == lk::kErrOtaBase + lk::kOtaBadPrefix);

    r = h.Request(lk::kOtaBegin, Begin(bundle));
    NT_CHECK(r.type == lk::kOtaBegin + 1 && Durable(r) == 0 && r.payload[5] == 1);
    NT_CHECK(Durable(h.Request(lk::kOtaChunk, Chunk(bundle, 0))) == 4096);
    NT_CHECK(Durable(h.Request(lk::kOtaChunk, Chunk(bundle, 0))) == 4096);  // duplicate
    NT_CHECK(ErrorCode(h.Request(lk::kOtaChunk, Chunk(bundle, 8192))) == lk::kErrOtaBase + lk::kOtaOutOfOrder);
    NT_CHECK(ErrorCode(h.Request(lk::kOtaChunk, Chunk(bundle, 4096, true))) == lk::kErrOtaBase + lk::kOtaChunkCrc);
    NT_CHECK(Durable(h.Request(lk::kOtaChunk, Chunk(bundle, 4096))) == 8192);
    NT_CHECK(Durable(h.Request(lk::kOtaChunk, Chunk(bundle, 8192))) == 12288);
    NT_CHECK(ErrorCode(h.Request(lk::kOtaEnd, {})) == lk::kErrOtaBase + lk::kOtaIncomplete);
  }
  // Reboot mid-transfer: a fresh endpoint; OTA_BEGIN again resumes at the journal's offset.
  NT_CHECK(sim.BootUntilStable().kind == BootResult::kStable);
  {
    Host h(sim);
    Reply r = h.Request(lk::kOtaStatus, {});
    NT_CHECK(r.payload[4] == 0);  // idle after the reboot
    r = h.Request(lk::kOtaBegin, Begin(bundle));
    NT_CHECK(Durable(r) == 12288);
    for (uint32_t off = 12288; off < size; off += 4096) {
      NT_CHECK(Durable(h.Request(lk::kOtaChunk, Chunk(bundle, off))) == std::min(off + 4096, size));
    }
    r = h.Request(lk::kOtaEnd, {});
    NT_CHECK(r.type == lk::kOtaEnd + 1 && r.payload[4] == 2);
    r = h.Request(lk::kGetStatus, {});
    NT_CHECK(r.payload[4 + 16 + 96 + 2] == 0);  // slot 1 verifies
    NT_CHECK(std::string(reinterpret_cast<const char*>(r.payload.data() + 4 + 16 + 96 + 20)) == "bundle-B");
    r = h.Request(lk::kOtaCommit, {});
    NT_CHECK(r.type == lk::kOtaCommit + 1 && r.payload[4] == 3);
    NT_CHECK(sim.board().boot().reboot_requested());
  }
  BootResult b = sim.BootUntilStable();
  NT_CHECK(b.kind == BootResult::kStable && b.slot == 1 && b.version == "bundle-B");
  NT_CHECK(sim.efuse().Read() == 2);
  {
    Host h(sim);
    // Calibration persisted for the bundle in slot 1.
    Reply r = h.Request(lk::kSetCalibrationOffset, {0xFF, 0, 0xF9, 0xFF});  // -7
    NT_CHECK(r.type == lk::kSetCalibrationOffset + 1 && lk::Get16(r.payload.data() + 4) == 0xFFF9);
    NT_CHECK(h.ep.CalibrationOffset(1) == -7 && h.ep.CalibrationOffset(0) == 0);
    // Rollback to A is refused: A's epoch 1 is below the counter 2.
    NT_CHECK(ErrorCode(h.Request(lk::kRollback, {})) == lk::kErrSlotBase + 9);
  }
}

void TestRollback() {
  Sim sim;
  const Bundle a = MakeBundle("A", 1, 28000, 6000, 11);
  const Bundle b = MakeBundle("B", 1, 30000, 9000, 22);
  Provision(sim.mem(), a, 0, 1, 0);
  Provision(sim.mem(), b, 1, 2, 1);
  sim.LoadLayout();
  BootResult r0 = sim.BootUntilStable();
  NT_CHECK(r0.kind == BootResult::kStable && r0.slot == 1);
  {
    Host h(sim);
    Reply r = h.Request(lk::kRollback, {});
    NT_CHECK(r.type == lk::kRollback + 1 && sim.board().boot().reboot_requested());
  }
  BootResult r1 = sim.BootUntilStable();
  NT_CHECK(r1.kind == BootResult::kStable && r1.slot == 0 && r1.version == "A");
  // Corrupt B's data: rollback back to it is refused with the reason, nothing written.
  sim.mem()[0x688000 + 0x1000 + 5] ^= 0xFF;
  {
    Host h(sim);
    sim.flash().ClearDirty();
    NT_CHECK(ErrorCode(h.Request(lk::kRollback, {})) == lk::kErrSlotBase + 7);
    for (uint32_t s = 0; s < 2048; ++s) NT_CHECK(!sim.flash().Dirty(s));
  }
}

}  // namespace

int main() {
  TestCobs();
  TestOta();
  TestRollback();
  std::printf("test_node_link: ok\n");
  return 0;
}
