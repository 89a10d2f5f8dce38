// The twin's application side (twin_device.h).
#include "twin_device.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "node/checksum.h"
#include "node/link_protocol.h"
#include "node/health_check.h"

namespace twin {

namespace lk = node::link;

namespace {

const char* const kChannelNames[3] = {"accX", "accY", "accZ"};
constexpr uint16_t kSamplesPerBlock = 64;
constexpr uint64_t kMaxBacklogUs = 500000;
constexpr uint16_t kTwinFirmwareAbi = 1;  // the ABI the sample bundles' firmware declares  // a stalled loop drops samples (the host sees a gap)

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

namespace {

// The model blob is read in place from the mapped flash file (esp_partition_mmap on a board).
const uint8_t* MapFlash(void* ctx, uint32_t addr, uint32_t len) {
  const hostport::HostFlash* flash = static_cast<const hostport::HostFlash*>(ctx);
  if (flash->data() == nullptr || addr > flash->Size() || len > flash->Size() - addr) return nullptr;
  return flash->data() + addr;
}

constexpr uint64_t kHealthBudgetUs = 5'000'000;  // the trial's watchdog (simulated time)

}  // namespace

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
    if (!trust_.AddDerFile(f.c_str())) {
      *error = "cannot read the trusted public key " + f + " (DER SubjectPublicKeyInfo)";
      return false;
    }
  }
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
  // What the device trusts: the fused keys, its chip, board and flash size, its firmware ABI.
  // The partition-table hash is not compared: the sample bundles sign a placeholder digest.
  config_.trust = node::BundleTrust{trust_.keys, static_cast<size_t>(trust_.count), "esp32s3",
                                    opt_.board_id.empty() ? nullptr : opt_.board_id.c_str(),
                                    8u * 1024u * 1024u, kTwinFirmwareAbi, false};
  TwinBuffers& b = buffers_;
  config_.buffers = node::HealthBuffers{
      b.fe_pool, sizeof b.fe_pool, b.rt_pool, sizeof b.rt_pool, b.model, sizeof b.model,
      b.calib, sizeof b.calib, b.window, sizeof b.window / 2, b.samples, sizeof b.samples / 2,
      b.frames, sizeof b.frames / 2, &MapFlash, &flash_};
  config_.health_budget_us = kHealthBudgetUs;
  config_.watchdog_expire = &TwinDevice::WatchdogReset;
  config_.watchdog_ctx = this;
  sink_ = node::PipelineSink{&TwinDevice::OnFeatureFrame, &TwinDevice::OnInference, this};
  port_ = node::Port{&flash_, &board_.boot(), &seq_link_, &clock_, &battery_, &sensor_, &log_};
  id_.chip = 2;  // host twin
  std::memcpy(id_.mac, opt_.mac, 6);
  id_.firmware_version = firmware_version_;
  id_.firmware_abi = kTwinFirmwareAbi;
  id_.units = "g";
  id_.channel_names = kChannelNames;
  id_.samples_per_block = kSamplesPerBlock;
  id_.fixed_point_scale = sp.scale;
  real_last_us_ = RealNowUs();
  return true;
}

// The watchdog of the trial: the chip resets, so nothing more reaches the flash.
void TwinDevice::WatchdogReset(void* ctx) {
  TwinDevice* self = static_cast<TwinDevice*>(ctx);
  self->watchdog_fired_ = true;
  ++self->watchdog_resets_;
  self->flash_.ArmCut(1, hostport::CutKind::kClean, 0);
}

std::string TwinDevice::HealthJson() const {
  if (!node_ || !node_->health_ran()) return "null";
  const node::HealthReport& h = node_->health();
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "{\"failure\": \"%s\", \"vectors\": %u, \"passed\": %u, \"detail\": %d, "
                "\"live_decision\": %d}",
                node::HealthFailureName(h.failure), h.vectors, h.passed, h.detail,
                h.live_decision);
  return buf;
}

void TwinDevice::Boot() {
  endpoint_.reset();
  node_.reset();
  bare_slots_.reset();
  summary_ = node::BootSummary();
  firmware_version_[0] = '\0';
  std::string chain;   // every boot of this power-on, e.g. trial -> revert -> previous slot
  std::string health;  // the health check of each boot that ran one
  for (int tries = 0; tries < 8; ++tries) {
    // A reset (watchdog, power loss, reboot request): the supply is back, the ROM starts over.
    flash_.Disarm();
    flash_.PowerOn();
    watchdog_fired_ = false;
    ++boots_;
    int slot = -1;
    node_.reset();
    if (board_.PowerOn(&slot) != node::Status::kOk) {
      board_.boot().SetRunningSlot(-1);
      summary_.outcome = node::BootOutcome::kNoValidBundle;
      chain += std::string(chain.empty() ? "" : ", ") + "\"no_bootable_slot\"";
      break;
    }
    node_.emplace(port_, board_.layout(), config_);
    const node::BootSummary s = node_->Run();
    summary_ = s;
    chain += std::string(chain.empty() ? "" : ", ") + "\"" + node::BootOutcomeName(s.outcome) + "\"";
    if (node_->health_ran()) health += std::string(health.empty() ? "" : ", ") + HealthJson();
    if (s.outcome == node::BootOutcome::kPowerLost || watchdog_fired_ ||
        board_.boot().reboot_requested()) {
      continue;
    }
    const int running = board_.boot().RunningSlot();
    node::SlotReport report;
    std::memset(&report, 0, sizeof report);
    node::Status io;
    if (running >= 0) node_->slots().Verify(running, &report, &io);
    std::snprintf(firmware_version_, sizeof firmware_version_, "%s", report.app.version);
    break;
  }
  seq_link_.Restart();
  node::SlotManager* slots = nullptr;
  node::OtaHooks hooks{};
  const node::BootSummary* summary = &summary_;
  if (node_) {
    slots = &node_->slots();
    hooks = node_->verifier().hooks();
    summary = &node_->summary();
  } else {
    // No slot to boot: the link only, with the default verifier (nothing to install into
    // without a layout that boots — OTA needs a running slot).
    bare_slots_.emplace(flash_, board_.boot(), board_.layout());
    slots = &*bare_slots_;
  }
  endpoint_.emplace(port_, board_.layout(), *slots, id_, hooks, *summary);
  if (node_) endpoint_->set_confirm(&node::NodeBoot::ConfirmHook, &*node_);
  was_streaming_ = false;
  endpoint_->Start();
  const bool app = node_ && node_->app().loaded();
  std::printf("{\"event\": \"boot\", \"boots\": %u, \"running_slot\": %d, \"outcome\": \"%s\", "
              "\"reason\": \"%s\", \"firmware_version\": \"%s\", \"chain\": [%s], "
              "\"health\": [%s], \"app_loaded\": %s, \"watchdog_resets\": %u}\n",
              boots_, board_.boot().RunningSlot(), node::BootOutcomeName(summary->outcome),
              node::ReasonName(summary->reason), firmware_version_, chain.c_str(), health.c_str(),
              app ? "true" : "false", watchdog_resets_);
  std::fflush(stdout);
}

void TwinDevice::OnFeatureFrame(void* ctx, uint32_t index, const int16_t* f, uint32_t len) {
  TwinDevice* self = static_cast<TwinDevice*>(ctx);
  const uint32_t room = (lk::kMaxPayload - 8) / 2;
  if (self->fblock_frames_ > 0 &&
      (len != self->fblock_len_ || (self->fblock_frames_ + 1) * len > room)) {
    self->FlushFeatures();
  }
  if (len == 0 || len > room) return;
  if (self->fblock_frames_ == 0) {
    self->fblock_first_ = index;
    self->fblock_len_ = len;
  }
  uint8_t* out = self->fblock_ + 8 + 2 * self->fblock_frames_ * len;
  for (uint32_t i = 0; i < len; ++i) lk::Put16(out + 2 * i, static_cast<uint16_t>(f[i]));
  ++self->fblock_frames_;
}

void TwinDevice::FlushFeatures() {
  if (fblock_frames_ == 0) return;
  lk::Put32(fblock_, fblock_first_);
  lk::Put16(fblock_ + 4, static_cast<uint16_t>(fblock_frames_));
  lk::Put16(fblock_ + 6, static_cast<uint16_t>(fblock_len_));
  seq_link_.SendFrame(lk::kFeatureBlock, fblock_, 8 + 2 * fblock_frames_ * fblock_len_);
  fblock_frames_ = 0;
  ++features_sent_;
}

void TwinDevice::OnInference(void* ctx, uint32_t last_frame, int8_t score, int8_t decision) {
  TwinDevice* self = static_cast<TwinDevice*>(ctx);
  self->FlushFeatures();  // the window's frames go before its inference
  uint8_t p[8] = {};
  lk::Put32(p, last_frame);
  p[4] = static_cast<uint8_t>(score);
  p[5] = static_cast<uint8_t>(decision < 0 ? 0 : decision);
  self->seq_link_.SendFrame(lk::kInference, p, sizeof p);
  ++self->inferences_sent_;
}

void TwinDevice::StreamSamples() {
  const bool on = endpoint_->streaming();
  const uint64_t now = clock_.NowUs();
  node::BundleApp* app = node_ && node_->app().loaded() ? &node_->app() : nullptr;
  if (on && !was_streaming_) {
    stream_start_us_ = now;
    stream_sent_ = 0;
    fblock_frames_ = 0;
    if (app != nullptr) app->StartStream();
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
    if (app != nullptr) app->StartStream(false);  // features restart on the next samples
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
    // The same samples through the bundle's pipeline: features -> INT8 on the static pool.
    if (app != nullptr && app->channels() == 3) {
      int32_t st = 0;
      if (app->Stream(samples, kSamplesPerBlock, sink_, &st) < 0) {
        log_.Write(node::LogLevel::kError, "pipeline error while streaming; stream restarted");
        app->StartStream();
      }
      FlushFeatures();
    }
  }
}

bool TwinDevice::Step(int max_wait_ms, int control_fd) {
  const bool control = link_.Wait(max_wait_ms, control_fd);
  const uint64_t real = RealNowUs();
  clock_.Advance(static_cast<uint64_t>(static_cast<double>(real - real_last_us_) * opt_.speed));
  real_last_us_ = real;
  endpoint_->Poll();
  if (board_.boot().reboot_requested() || watchdog_fired_ || flash_.power_lost()) {
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
  if (cmd == "status") {
    char buf[384];
    const node::BootSummary& s = node_ ? node_->summary() : summary_;
    std::snprintf(buf, sizeof buf,
                  "true, \"running_slot\": %d, \"outcome\": \"%s\", \"boots\": %u, "
                  "\"battery\": %u, \"connected\": %s, \"temperature_c\": %.2f, "
                  "\"app_loaded\": %s, \"feature_blocks\": %u, \"inferences\": %u, "
                  "\"health\": ",
                  board_.boot().RunningSlot(), node::BootOutcomeName(s.outcome), boots_,
                  battery_.LevelPercent(), link_.connected() ? "true" : "false",
                  static_cast<double>(sensor_.temperature_c()),
                  node_ && node_->app().loaded() ? "true" : "false", features_sent_,
                  inferences_sent_);
    return ok + buf + HealthJson() + "}";
  }
  return ok + "false, \"error\": \"unknown command (sensor, battery, reboot, status, quit)\"}";
}

}  // namespace twin
