// The twin's application side (twin_device.h).
#include "twin_device.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "node/checksum.h"
#include "node/link_protocol.h"

namespace twin {

namespace lk = node::link;

namespace {

const char* const kChannelNames[3] = {"accX", "accY", "accZ"};
constexpr uint16_t kSamplesPerBlock = 64;
constexpr uint64_t kMaxBacklogUs = 500000;  // a stalled loop drops samples (the host sees a gap)

uint64_t RealNowUs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out;
}

}  // namespace

// ---- SequencedLink ----------------------------------------------------------------------------

int32_t SequencedLink::Write(const uint8_t* src, uint32_t len) {
  for (uint32_t i = 0; i < len; ++i) {
    if (src[i] != 0) {
      if (fill_ < sizeof acc_) acc_[fill_] = src[i];
      ++fill_;
      continue;
    }
    if (fill_ == 0) {
      const uint8_t zero = 0;
      link_.Write(&zero, 1);  // the resync delimiter after boot
    } else if (fill_ <= sizeof acc_) {
      Forward();
    }
    fill_ = 0;
  }
  return static_cast<int32_t>(len);
}

void SequencedLink::Forward() {
  const int32_t n = lk::CobsDecode(acc_, fill_, raw_);
  if (n < static_cast<int32_t>(lk::kHeaderSize + lk::kCrcSize)) return;
  const uint32_t body = static_cast<uint32_t>(n) - lk::kCrcSize;
  lk::Put32(raw_ + 4, seq_++);
  lk::Put32(raw_ + body, node::Crc32(raw_, body));
  const uint32_t w = lk::CobsEncode(raw_, static_cast<uint32_t>(n), wire_, sizeof wire_ - 1);
  if (w == 0) return;
  wire_[w] = 0;
  link_.Write(wire_, w + 1);
  ++frames_;
}

void SequencedLink::SendFrame(uint8_t type, const uint8_t* payload, uint32_t len) {
  const uint32_t n = lk::EncodeFrame(type, 0, seq_++, payload, len, raw_, wire_);
  if (n > 0) link_.Write(wire_, n);
  ++frames_;
}

// ---- TwinDevice -------------------------------------------------------------------------------

TwinDevice::TwinDevice(const TwinOptions& opt)
    : opt_(opt),
      efuse_((opt.efuse_path.empty() ? opt.flash_path + ".efuse" : opt.efuse_path).c_str()),
      board_(flash_, efuse_) {}

bool TwinDevice::Open(std::string* error) {
  if (flash_.OpenFile(opt_.flash_path.c_str()) != node::Status::kOk) {
    *error = "cannot open the flash image " + opt_.flash_path;
    return false;
  }
  if (board_.LoadLayout() != node::Status::kOk) {
    *error = opt_.flash_path + ": no usable partition table at 0x8000 (provision the image)";
    return false;
  }
  for (const std::string& f : opt_.trust_files) {
    if (!verifier_.trust.AddDerFile(f.c_str())) {
      *error = "cannot read the trusted public key " + f + " (DER SubjectPublicKeyInfo)";
      return false;
    }
  }
  verifier_.board_id = opt_.board_id.empty() ? nullptr : opt_.board_id.c_str();
  verifier_.max_app_size = board_.layout().app[0].size;
  verifier_.max_data_size = board_.layout().model[0].size - node::kSlotDataOffset;
  hooks_ = MakeOtaHooks(&verifier_);
  hostport::SimSensorParams sp;
  char bad[64] = {};
  if (!hostport::ApplySensorParams(opt_.sensor.c_str(), &sp, bad, sizeof bad)) {
    *error = std::string("unknown sensor parameter '") + bad + "' (see docs/device.md)";
    return false;
  }
  sensor_.Configure(sp);
  battery_.Set(opt_.battery);
  const bool linked = opt_.pty ? link_.OpenPty() : link_.ListenTcp(static_cast<uint16_t>(opt_.listen_port));
  if (!linked) {
    *error = opt_.pty ? std::string("cannot open a pty")
                      : "cannot listen on 127.0.0.1:" + std::to_string(opt_.listen_port) +
                            " (another twin may hold it; pick another port or 0)";
    return false;
  }
  port_ = node::Port{&flash_, &board_.boot(), &seq_link_, &clock_, &battery_, &sensor_, &log_};
  id_.chip = 2;  // host twin
  std::memcpy(id_.mac, opt_.mac, 6);
  id_.firmware_version = firmware_version_;
  id_.firmware_abi = verifier_.firmware_abi;
  id_.units = "g";
  id_.channel_names = kChannelNames;
  id_.samples_per_block = kSamplesPerBlock;
  id_.fixed_point_scale = sp.scale;
  real_last_us_ = RealNowUs();
  return true;
}

bool TwinDevice::Health(const node::SlotReport& report, void* ctx) {
  const TwinDevice* self = static_cast<const TwinDevice*>(ctx);
  for (const std::string& id : self->opt_.unhealthy) {
    if (id == report.manifest.bundle_version) return false;
  }
  return true;
}

void TwinDevice::Boot() {
  endpoint_.reset();
  slots_.reset();
  summary_ = node::BootSummary();
  firmware_version_[0] = '\0';
  std::string chain;  // every boot of this power-on, e.g. trial -> revert -> previous slot
  for (int tries = 0; tries < 8; ++tries) {
    ++boots_;
    int slot = -1;
    if (board_.PowerOn(&slot) != node::Status::kOk) {
      board_.boot().SetRunningSlot(-1);
      summary_.outcome = node::BootOutcome::kNoValidBundle;
      break;
    }
    slots_.emplace(flash_, board_.boot(), board_.layout());
    node::SlotReport report;
    std::memset(&report, 0, sizeof report);
    node::Reason why = node::Reason::kNone;
    const node::BootOutcome o = slots_->OnBoot(&TwinDevice::Health, this, &report, &why);
    summary_.outcome = o;
    summary_.reason = why;
    const node::OtaState st = board_.boot().RunningState();
    summary_.health = o == node::BootOutcome::kConfirmed ? 1 : (o == node::BootOutcome::kRevertRequested ? 2 : 0);
    chain += std::string(chain.empty() ? "" : ", ") + "\"" + node::BootOutcomeName(o) + "\"";
    if (board_.boot().reboot_requested()) continue;
    (void)st;
    std::snprintf(firmware_version_, sizeof firmware_version_, "%s", report.app.version);
    break;
  }
  if (!slots_) slots_.emplace(flash_, board_.boot(), board_.layout());
  seq_link_.Restart();
  endpoint_.emplace(port_, board_.layout(), *slots_, id_, hooks_, summary_);
  was_streaming_ = false;
  endpoint_->Start();
  std::printf("{\"event\": \"boot\", \"boots\": %u, \"running_slot\": %d, \"outcome\": \"%s\", "
              "\"reason\": \"%s\", \"firmware_version\": \"%s\", \"chain\": [%s]}\n",
              boots_, board_.boot().RunningSlot(), node::BootOutcomeName(summary_.outcome),
              node::ReasonName(summary_.reason), firmware_version_, chain.c_str());
  std::fflush(stdout);
}

void TwinDevice::StreamSamples() {
  const bool on = endpoint_->streaming();
  const uint64_t now = clock_.NowUs();
  if (on && !was_streaming_) {
    stream_start_us_ = now;
    stream_sent_ = 0;
  }
  was_streaming_ = on;
  if (!on) return;
  const uint32_t rate = sensor_.RateHz();
  uint64_t due = (now - stream_start_us_) * rate / 1000000u;
  if (due > stream_sent_ + kMaxBacklogUs * rate / 1000000u) {
    // The loop stalled (a long flash operation): those samples were never taken.
    const uint64_t skip = due - stream_sent_ - kSamplesPerBlock;
    int16_t scratch[3 * kSamplesPerBlock];
    for (uint64_t k = 0; k < skip; k += kSamplesPerBlock) {
      sensor_.Read(scratch, static_cast<uint32_t>(skip - k < kSamplesPerBlock ? skip - k : kSamplesPerBlock));
    }
    stream_sent_ += skip;
  }
  uint8_t payload[12 + 2 * 3 * kSamplesPerBlock];
  while (due >= stream_sent_ + kSamplesPerBlock) {
    int16_t samples[3 * kSamplesPerBlock];
    sensor_.Read(samples, kSamplesPerBlock);
    for (int i = 0; i < 8; ++i) payload[i] = static_cast<uint8_t>(stream_sent_ >> (8 * i));
    lk::Put16(payload + 8, kSamplesPerBlock);
    payload[10] = 3;
    payload[11] = 1;
    for (uint32_t i = 0; i < 3u * kSamplesPerBlock; ++i) {
      lk::Put16(payload + 12 + 2 * i, static_cast<uint16_t>(samples[i]));
    }
    seq_link_.SendFrame(lk::kSampleBlock, payload, sizeof payload);
    stream_sent_ += kSamplesPerBlock;
  }
}

bool TwinDevice::Step(int max_wait_ms, int control_fd) {
  const bool control = link_.Wait(max_wait_ms, control_fd);
  const uint64_t real = RealNowUs();
  clock_.Advance(static_cast<uint64_t>(static_cast<double>(real - real_last_us_) * opt_.speed));
  real_last_us_ = real;
  endpoint_->Poll();
  if (board_.boot().reboot_requested()) {
    Boot();
  } else {
    StreamSamples();
  }
  return control;
}

std::string TwinDevice::Control(const std::string& line, bool* quit) {
  *quit = false;
  const size_t sp = line.find(' ');
  const std::string cmd = line.substr(0, sp);
  const std::string arg = sp == std::string::npos ? "" : line.substr(sp + 1);
  std::string ok = "{\"event\": \"control\", \"command\": \"" + JsonEscape(cmd) + "\", \"ok\": ";
  if (cmd == "quit") {
    *quit = true;
    return "";
  }
  if (cmd == "reboot") {
    Boot();
    return ok + "true}";
  }
  if (cmd == "battery") {
    const int level = std::atoi(arg.c_str());
    if (arg.empty() || level < 0 || level > 100) return ok + "false, \"error\": \"battery 0..100\"}";
    battery_.Set(static_cast<uint8_t>(level));
    return ok + "true}";
  }
  if (cmd == "sensor") {
    hostport::SimSensorParams p = sensor_.params();
    char bad[64] = {};
    if (!hostport::ApplySensorParams(arg.c_str(), &p, bad, sizeof bad)) {
      return ok + "false, \"error\": \"unknown sensor parameter " + JsonEscape(bad) + "\"}";
    }
    sensor_.Configure(p);
    return ok + "true}";
  }
  if (cmd == "unhealthy" || cmd == "healthy") {
    std::vector<std::string>& u = opt_.unhealthy;
    for (size_t i = 0; i < u.size(); ++i) {
      if (u[i] == arg) u.erase(u.begin() + static_cast<long>(i--));
    }
    if (cmd == "unhealthy") u.push_back(arg);
    return ok + "true}";
  }
  if (cmd == "status") {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "true, \"running_slot\": %d, \"outcome\": \"%s\", \"boots\": %u, "
                  "\"battery\": %u, \"connected\": %s, \"temperature_c\": %.2f}",
                  board_.boot().RunningSlot(), node::BootOutcomeName(summary_.outcome), boots_,
                  battery_.LevelPercent(), link_.connected() ? "true" : "false",
                  static_cast<double>(sensor_.temperature_c()));
    return ok + buf;
  }
  return ok + "false, \"error\": \"unknown command\"}";
}

}  // namespace twin
