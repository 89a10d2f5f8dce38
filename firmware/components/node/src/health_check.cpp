// The bundle application and its health check (health_check.h). No heap, no exceptions, no
// recursion, no VLAs; every loop is bounded by a component field checked against its size.
// Multi-byte values are read little-endian; int16 arrays are read straight into the caller's
// buffers (both the ESP32-S3 and the host are little-endian).
#include "node/health_check.h"

#include <cstring>

#include "edge_runtime/model_format.h"

namespace node {

namespace eb = edge::bundle;

namespace {

uint16_t U16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t U32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
float F32(const uint8_t* p) {
  const uint32_t bits = U32(p);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
bool Finite(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return ((bits >> 23) & 0xFFu) != 0xFFu;
}
uint32_t FloatBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return bits;
}

}  // namespace

const char* HealthFailureName(HealthFailure f) {
  switch (f) {
    case HealthFailure::kNone: return "none";
    case HealthFailure::kNotVerified: return "not_verified";
    case HealthFailure::kThresholds: return "thresholds";
    case HealthFailure::kCalibration: return "calibration";
    case HealthFailure::kModel: return "model";
    case HealthFailure::kSelfTestFormat: return "selftest_format";
    case HealthFailure::kMismatch: return "selftest_mismatch";
    case HealthFailure::kHang: return "hang";
    case HealthFailure::kSensor: return "sensor";
    case HealthFailure::kIo: return "io";
    case HealthFailure::kBuffers: return "buffers";
  }
  return "unknown";
}

HealthFailure BundleApp::LoadCalibration(FlashPort& flash, const SlotComponents& comps,
                                         int32_t* detail) {
  const uint32_t size = comps.size[eb::kComponentCalibration];
  if (size < kCalibrationHeaderSize) return HealthFailure::kCalibration;
  if (size > buf_.calib_bytes) return HealthFailure::kBuffers;
  uint8_t* c = buf_.calib;
  if (flash.Read(comps.addr[eb::kComponentCalibration], c, size) != Status::kOk) {
    return HealthFailure::kIo;
  }
  if (U32(c) != kCalibrationMagic || U16(c + 4) != 1 || U16(c + 6) != kCalibrationHeaderSize ||
      U16(c + 10) != 0 || U16(c + 46) != 0 || (U16(c + 44) & ~1u) != 0) {
    return HealthFailure::kCalibration;
  }
  default_offset_ = static_cast<int16_t>(U16(c + 8));
  fb_fe_plan& p = plan_;
  std::memset(&p, 0, sizeof p);
  p.abi_version = FB_FE_ABI_VERSION;
  p.channels = U16(c + 12);
  p.window_size = U16(c + 14);
  p.hop_length = U16(c + 16);
  p.fft_size = U16(c + 18);
  p.warmup = U16(c + 20);
  p.buffer_size = U16(c + 22);
  p.dc_removal = c[24];
  p.filter_enabled = c[25];
  p.compression = c[26];
  p.stats_mask = c[27];
  for (int i = 0; i < 5; ++i) p.biquad_q14[i] = static_cast<int16_t>(U16(c + 28 + 2 * i));
  p.n_bands = U16(c + 38);
  p.n_band_weights = U32(c + 40);
  const bool has_window = (U16(c + 44) & 1u) != 0;
  // Table sizes in 64-bit arithmetic: no overflow whatever the fields say.
  const uint64_t twiddle = p.n_bands > 0 ? (uint64_t{p.fft_size} / 2 + 1) * 2 * 4 : 0;
  const uint64_t window = has_window ? uint64_t{p.window_size} * 2 : 0;
  const uint64_t bands = uint64_t{p.n_bands} * 2 * 2 + uint64_t{p.n_band_weights} * 2;
  if (kCalibrationHeaderSize + twiddle + window + bands != size) return HealthFailure::kCalibration;
  uint32_t off = kCalibrationHeaderSize;
  p.twiddle = twiddle > 0 ? reinterpret_cast<const int32_t*>(c + off) : nullptr;
  off += static_cast<uint32_t>(twiddle);
  p.window_q15 = has_window ? reinterpret_cast<const int16_t*>(c + off) : nullptr;
  off += static_cast<uint32_t>(window);
  p.band_start = p.n_bands > 0 ? reinterpret_cast<const uint16_t*>(c + off) : nullptr;
  off += 2u * p.n_bands;
  p.band_len = p.n_bands > 0 ? reinterpret_cast<const uint16_t*>(c + off) : nullptr;
  off += 2u * p.n_bands;
  p.band_weights = p.n_band_weights > 0 ? reinterpret_cast<const uint16_t*>(c + off) : nullptr;
  size_t pool = 0;
  int32_t st = fb_fe_pool_bytes(&p, &pool);
  if (st != FB_OK) {
    *detail = st;
    return HealthFailure::kCalibration;
  }
  if (pool > buf_.fe_pool_bytes) return HealthFailure::kBuffers;
  st = fb_fe_init(&p, buf_.fe_pool, buf_.fe_pool_bytes, &fe_);
  if (st == FB_OK) st = fb_fe_frame_len(fe_, &frame_len_);
  if (st != FB_OK) {
    *detail = st;
    fe_ = nullptr;
    return HealthFailure::kCalibration;
  }
  return HealthFailure::kNone;
}

HealthFailure BundleApp::Load(FlashPort& flash, const SlotComponents& comps,
                              const HealthBuffers& buf, int32_t* detail) {
  loaded_ = false;
  fe_ = nullptr;
  buf_ = buf;
  *detail = 0;
  if (!comps.valid || !comps.model_digest.valid) return HealthFailure::kNotVerified;
  // Thresholds.
  if (comps.size[eb::kComponentThresholds] != kThresholdsSize) return HealthFailure::kThresholds;
  uint8_t th[kThresholdsSize];
  if (flash.Read(comps.addr[eb::kComponentThresholds], th, sizeof th) != Status::kOk) {
    return HealthFailure::kIo;
  }
  threshold_ = F32(th + 8);
  if (U32(th) != kThresholdsMagic || U16(th + 4) != 1 || U16(th + 6) != kThresholdsSize ||
      U32(th + 12) != 0 || !Finite(threshold_)) {
    return HealthFailure::kThresholds;
  }
  // Calibration and the feature plan.
  HealthFailure f = LoadCalibration(flash, comps, detail);
  if (f != HealthFailure::kNone) return f;
  // The model: mapped, or copied to the caller's buffer; then the signed digest re-checked.
  const uint32_t msize = comps.size[eb::kComponentModel];
  const uint8_t* blob = buf_.map != nullptr ? buf_.map(buf_.map_ctx, comps.addr[eb::kComponentModel], msize)
                                            : nullptr;
  if (blob == nullptr) {
    if (msize > buf_.model_bytes) return HealthFailure::kBuffers;
    if (flash.Read(comps.addr[eb::kComponentModel], buf_.model, msize) != Status::kOk) {
      return HealthFailure::kIo;
    }
    blob = buf_.model;
  }
  size_t need = 0;
  int32_t st = edge::InferenceRuntime::required_pool_bytes(blob, msize, &need);
  if (st != FB_MODEL_OK) {
    *detail = st;
    return HealthFailure::kModel;
  }
  if (need > buf_.rt_pool_bytes) return HealthFailure::kBuffers;
  st = rt_.init(blob, msize, buf_.rt_pool, buf_.rt_pool_bytes);
  if (st == FB_MODEL_OK) {
    digest_ = comps.model_digest;
    rt_.set_integrity_verifier(&eb::VerifyModelBlob, &digest_);
    st = rt_.verify_bundle_integrity();
  }
  if (st == FB_MODEL_OK) st = rt_.set_threshold(threshold_);
  if (st != FB_MODEL_OK) {
    *detail = st;
    return HealthFailure::kModel;
  }
  if (rt_.info().input_len > buf_.window_len || frame_len_ == 0 ||
      buf_.frames_len < frame_len_ || buf_.samples_len < plan_.channels) {
    return HealthFailure::kBuffers;
  }
  rt_.apply_calibration_offset(default_offset_);
  selftest_addr_ = comps.addr[eb::kComponentSelfTest];
  selftest_size_ = comps.size[eb::kComponentSelfTest];
  window_fill_ = 0;
  loaded_ = true;
  return HealthFailure::kNone;
}

int32_t BundleApp::Process(const int16_t* samples, uint32_t frames, int8_t* last_decision,
                           int32_t* st) {
  *st = FB_OK;
  const uint32_t ch = plan_.channels, hop = plan_.hop_length;
  const uint32_t input_len = rt_.info().input_len;
  int32_t windows = 0;
  uint32_t done = 0;
  while (done < frames) {
    // At most one feature frame is emitted per `hop` sample frames.
    const uint32_t n = frames - done < hop ? frames - done : hop;
    size_t emitted = 0;
    *st = fb_fe_push(fe_, samples + done * ch, n, buf_.frames, buf_.frames_len / frame_len_, &emitted);
    if (*st != FB_OK) return -1;
    done += n;
    for (size_t k = 0; k < emitted; ++k) {
      if (sink_ != nullptr && sink_->frame != nullptr) {
        sink_->frame(sink_->ctx, stream_frames_, buf_.frames + k * frame_len_,
                     static_cast<uint32_t>(frame_len_));
      }
      const uint32_t frame_index = stream_frames_++;
      const uint32_t room = input_len - window_fill_;
      const uint32_t take = static_cast<uint32_t>(frame_len_) < room ? static_cast<uint32_t>(frame_len_) : room;
      std::memcpy(buf_.window + window_fill_, buf_.frames + k * frame_len_, take * sizeof(int16_t));
      window_fill_ += take;
      if (window_fill_ == input_len) {
        window_fill_ = 0;
        *st = rt_.run(buf_.window, input_len, last_decision);
        if (*st != FB_MODEL_OK) return -1;
        if (sink_ != nullptr && sink_->inference != nullptr) {
          sink_->inference(sink_->ctx, frame_index, OutputScore(*last_decision), *last_decision);
        }
        ++windows;
      }
    }
  }
  return windows;
}

int8_t BundleApp::OutputScore(int8_t decision) const {
  const int8_t* out = rt_.output();
  const size_t n = rt_.output_len();
  if (out == nullptr || n == 0) return 0;
  if (n == 1) return out[0];
  return decision >= 0 && static_cast<size_t>(decision) < n ? out[decision] : 0;
}

void BundleApp::StartStream(bool reset_index) {
  if (fe_ != nullptr) fb_fe_reset(fe_);
  window_fill_ = 0;
  if (reset_index) stream_frames_ = 0;
}

int32_t BundleApp::Stream(const int16_t* samples, uint32_t frames, const PipelineSink& sink,
                          int32_t* st) {
  if (!loaded_) {
    *st = FB_OK;
    return -1;
  }
  int8_t decision = -1;
  sink_ = &sink;
  const int32_t w = Process(samples, frames, &decision, st);
  sink_ = nullptr;
  return w;
}

HealthFailure BundleApp::SelfTest(FlashPort& flash, Watchdog* wd, HealthReport* report) {
  if (!loaded_) return HealthFailure::kNotVerified;
  uint8_t h[kSelfTestHeaderSize];
  if (selftest_size_ < kSelfTestHeaderSize) return HealthFailure::kSelfTestFormat;
  if (flash.Read(selftest_addr_, h, sizeof h) != Status::kOk) return HealthFailure::kIo;
  const uint32_t count = U16(h + 8), kind = h[10], values = U32(h + 12);
  const uint32_t input_len = rt_.info().input_len;
  if (U32(h) != kSelfTestMagic || U16(h + 4) != 1 || U16(h + 6) != kSelfTestHeaderSize ||
      h[11] != 0 || count == 0 || count > kMaxSelfTestVectors || kind > 1 || values == 0 ||
      values > (selftest_size_ - kSelfTestHeaderSize) / 2 ||
      uint64_t{count} * (kSelfTestRecordHeader + 2ull * values) + kSelfTestHeaderSize != selftest_size_) {
    return HealthFailure::kSelfTestFormat;
  }
  if (kind == 0 ? values != input_len : values % plan_.channels != 0) {
    return HealthFailure::kSelfTestFormat;
  }
  report->vectors = static_cast<uint16_t>(count);
  const int16_t saved_offset = rt_.calibration_offset();
  rt_.apply_calibration_offset(default_offset_);
  const uint32_t record = kSelfTestRecordHeader + 2 * values;
  const uint32_t chunk_frames = buf_.samples_len / plan_.channels;
  HealthFailure result = HealthFailure::kNone;
  for (uint32_t i = 0; i < count && result == HealthFailure::kNone; ++i) {
    const uint32_t base = selftest_addr_ + kSelfTestHeaderSize + i * record;
    uint8_t rh[kSelfTestRecordHeader];
    if (flash.Read(base, rh, sizeof rh) != Status::kOk) {
      result = HealthFailure::kIo;
      break;
    }
    const int8_t expected = static_cast<int8_t>(rh[0]);
    const uint32_t expected_score = U32(rh + 4);
    int8_t decision = -1;
    int32_t st = FB_OK;
    if (kind == 0) {
      if (flash.Read(base + kSelfTestRecordHeader, buf_.window, 2 * values) != Status::kOk) {
        result = HealthFailure::kIo;
        break;
      }
      st = rt_.run(buf_.window, input_len, &decision);
    } else {
      fb_fe_reset(fe_);
      window_fill_ = 0;
      int32_t windows = 0;
      const uint32_t frames = values / plan_.channels;
      for (uint32_t f = 0; f < frames && st == FB_OK; f += chunk_frames) {
        const uint32_t n = frames - f < chunk_frames ? frames - f : chunk_frames;
        if (flash.Read(base + kSelfTestRecordHeader + 2 * f * plan_.channels, buf_.samples,
                       2 * n * plan_.channels) != Status::kOk) {
          result = HealthFailure::kIo;
          break;
        }
        const int32_t w = Process(buf_.samples, n, &decision, &st);
        if (w > 0) windows += w;
      }
      if (result != HealthFailure::kNone) break;
      // A recording gives exactly one window.
      if (st == FB_OK && (windows != 1 || window_fill_ != 0)) {
        result = HealthFailure::kSelfTestFormat;
        break;
      }
    }
    if (st != FB_OK) {
      report->detail = st;
      result = HealthFailure::kModel;
      break;
    }
    if (decision != expected || FloatBits(rt_.score()) != expected_score) {
      report->detail = static_cast<int32_t>(i);
      result = HealthFailure::kMismatch;
      break;
    }
    ++report->passed;
    if (wd != nullptr && !wd->Check()) result = HealthFailure::kHang;
  }
  rt_.apply_calibration_offset(saved_offset);
  fb_fe_reset(fe_);
  window_fill_ = 0;
  return result;
}

HealthFailure BundleApp::Liveness(SensorPort* sensor, Watchdog* wd, HealthReport* report) {
  report->live_decision = -1;
  if (!loaded_) return HealthFailure::kNotVerified;
  if (sensor == nullptr || sensor->Channels() != plan_.channels) return HealthFailure::kSensor;
  const uint32_t ch = plan_.channels;
  const uint32_t cap = buf_.samples_len / ch;
  int16_t lo[8], hi[8];
  const uint32_t tracked = ch < 8 ? ch : 8;
  for (uint32_t c = 0; c < tracked; ++c) {
    lo[c] = INT16_MAX;
    hi[c] = INT16_MIN;
  }
  fb_fe_reset(fe_);
  window_fill_ = 0;
  int8_t decision = -1;
  for (;;) {
    if (wd != nullptr && !wd->Check()) return HealthFailure::kHang;
    const int32_t n = sensor->Read(buf_.samples, cap);
    if (n < 0 || static_cast<uint32_t>(n) > cap) return HealthFailure::kSensor;
    if (n == 0) {
      if (wd == nullptr) return HealthFailure::kSensor;
      wd->clock->SleepUs(1000);
      continue;
    }
    for (uint32_t i = 0; i < static_cast<uint32_t>(n); ++i) {
      for (uint32_t c = 0; c < tracked; ++c) {
        const int16_t v = buf_.samples[i * ch + c];
        if (v < lo[c]) lo[c] = v;
        if (v > hi[c]) hi[c] = v;
      }
    }
    int32_t st = FB_OK;
    const int32_t w = Process(buf_.samples, static_cast<uint32_t>(n), &decision, &st);
    if (w < 0) {
      report->detail = st;
      return HealthFailure::kModel;
    }
    if (w > 0) break;
  }
  if (wd != nullptr && !wd->Check()) return HealthFailure::kHang;
  for (uint32_t c = 0; c < tracked; ++c) {
    if (hi[c] <= lo[c]) return HealthFailure::kSensor;  // stuck channel
  }
  report->live_decision = decision;
  fb_fe_reset(fe_);
  window_fill_ = 0;
  return HealthFailure::kNone;
}

HealthFailure BundleApp::Check(FlashPort& flash, const SlotComponents& comps,
                               const HealthBuffers& buf, SensorPort* sensor, Watchdog* wd,
                               HealthReport* report) {
  std::memset(report, 0, sizeof(*report));
  report->live_decision = -1;
  if (wd != nullptr) wd->Arm();
  // A bundle without self-test vectors cannot prove itself: say so before anything else fails.
  HealthFailure f = HealthFailure::kNone;
  if (comps.valid) {
    uint8_t magic[4] = {};
    const uint32_t st_size = comps.size[eb::kComponentSelfTest];
    if (st_size < kSelfTestHeaderSize) {
      f = HealthFailure::kSelfTestFormat;
    } else if (flash.Read(comps.addr[eb::kComponentSelfTest], magic, 4) != Status::kOk) {
      f = HealthFailure::kIo;
    } else if (U32(magic) != kSelfTestMagic) {
      f = HealthFailure::kSelfTestFormat;
    }
    if (f != HealthFailure::kNone) {
      report->detail = -1;  // no FBSV component
      report->failure = f;
      return f;
    }
  }
  f = Load(flash, comps, buf, &report->detail);
  if (f == HealthFailure::kNone && wd != nullptr && !wd->Check()) f = HealthFailure::kHang;
  if (f == HealthFailure::kNone) f = SelfTest(flash, wd, report);
  if (f == HealthFailure::kNone) f = Liveness(sensor, wd, report);
  report->failure = f;
  return f;
}

}  // namespace node
