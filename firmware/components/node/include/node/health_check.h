// The bundle application and its health check: thresholds, calibration (with the feature
// front-end plan) and self-test vectors of a verified slot (docs/bundle-format.md "Device
// components"), the INT8 runtime on a static pool, and the post-update health check.
//
// Component layouts (all little-endian; the Python side is core/bundle/device.py):
//
//   thresholds   "FBTH" u32 magic, u16 version 1, u16 size 16, f32 threshold (finite; the
//                RECON_MSE decision threshold, ignored by ARGMAX models), u32 flags 0
//   calibration  "FBCA" u32 magic, u16 version 1, u16 header 48, i16 default calibration offset,
//                u16 0, then the front-end plan (feature_capi.h fb_fe_plan):
//                12 u16 channels, window_size, hop_length, fft_size, warmup, buffer_size
//                24 u8 dc_removal, filter_enabled, compression, stats_mask
//                28 i16 biquad_q14[5]   38 u16 n_bands   40 u32 n_band_weights
//                44 u16 flags (bit 0: window table present), u16 0
//                48 tables, back to back: twiddle ((fft_size/2+1)·2 i32, when n_bands > 0),
//                   window (window_size i16, when flagged), band_start, band_len (n_bands u16
//                   each), band_weights (n_band_weights u16); the component ends there.
//   selftest     "FBSV" u32 magic, u16 version 1, u16 header 16, u16 count (1..1024), u8 kind
//                (0 feature windows, 1 raw sample recordings), u8 0, u32 values per vector;
//                then count records: i8 expected decision, u8[3] 0, f32 expected score (bit
//                exact), int16 values[values per vector].
//                kind 0: the model's input window (input_len features);
//                kind 1: interleaved samples (channels × frames) streamed through the front end
//                from a reset; the first input_len / frame_len feature frames form the window.
//                Expectations come from the bit-exact reference (core.dsp + core.model executor)
//                with the calibration component's default offset and threshold.
//
// The health check of a trial boot: load (thresholds, calibration, plan, model blob with the
// runtime's integrity hook = the signed model digest), every self-test vector (decision and score
// bit-exact), then liveness (the sensor delivers frames of the plan's channel count that are not
// stuck, and one live window goes through features → INT8 → decision), all under a watchdog on
// the port's clock. No heap: every buffer is caller-provided (HealthBuffers), typically static.
#pragma once

#include <cstdint>

#include "edge_runtime/feature_capi.h"
#include "edge_runtime/inference_runtime.h"
#include "node/bundle_slot.h"
#include "node/port.h"

namespace node {

constexpr uint32_t kThresholdsMagic = 0x48544246u;   // "FBTH"
constexpr uint32_t kCalibrationMagic = 0x41434246u;  // "FBCA"
constexpr uint32_t kSelfTestMagic = 0x56534246u;     // "FBSV"
constexpr uint32_t kThresholdsSize = 16;
constexpr uint32_t kCalibrationHeaderSize = 48;
constexpr uint32_t kSelfTestHeaderSize = 16;
constexpr uint32_t kSelfTestRecordHeader = 8;
constexpr uint32_t kMaxSelfTestVectors = 1024;

enum class HealthFailure : uint8_t {
  kNone = 0,
  kNotVerified = 1,     // the slot's components are unknown (it did not verify)
  kThresholds = 2,      // malformed thresholds component
  kCalibration = 3,     // malformed calibration component or feature plan
  kModel = 4,           // the model blob does not load (format, pool, integrity hook)
  kSelfTestFormat = 5,  // malformed self-test component, or it does not fit the model
  kMismatch = 6,        // a vector's decision or score differs from the expectation
  kHang = 7,            // the watchdog expired
  kSensor = 8,          // liveness: no samples, wrong channel count, or a stuck sensor
  kIo = 9,              // flash read error
  kBuffers = 10,        // a HealthBuffers buffer is too small for this bundle
};
const char* HealthFailureName(HealthFailure f);

// Maps `len` bytes at flash address `addr` for reading (esp_partition_mmap on the device, the
// file mapping on the host); nullptr when unavailable — then the model is copied to `model`.
typedef const uint8_t* (*FlashMapFn)(void* ctx, uint32_t addr, uint32_t len);

struct HealthBuffers {
  uint8_t* fe_pool;  uint32_t fe_pool_bytes;   // feature front-end handle and state
  uint8_t* rt_pool;  uint32_t rt_pool_bytes;   // INT8 arena + scratch
  uint8_t* model;    uint32_t model_bytes;     // model copy when the flash is not mapped
  uint8_t* calib;    uint32_t calib_bytes;     // calibration component (plan tables point here)
  int16_t* window;   uint32_t window_len;      // one model input window
  int16_t* samples;  uint32_t samples_len;     // sample chunk (multiple of the channel count)
  int16_t* frames;   uint32_t frames_len;      // feature frames out of one push
  FlashMapFn map;    void* map_ctx;
};

// A watchdog on the simulated or real clock: Check() past the deadline calls `expire` (the
// device resets; the host twin cuts the power) once and returns false.
struct Watchdog {
  ClockPort* clock;
  uint64_t budget_us;
  void (*expire)(void* ctx);
  void* ctx;
  uint64_t deadline_us;
  bool fired;
  void Arm() {
    deadline_us = clock->NowUs() + budget_us;
    fired = false;
  }
  bool Check() {
    if (fired) return false;
    if (clock->NowUs() <= deadline_us) return true;
    fired = true;
    if (expire != nullptr) expire(ctx);
    return false;
  }
};

struct HealthReport {
  HealthFailure failure;
  uint16_t vectors;      // self-test vectors in the bundle
  uint16_t passed;       // vectors that matched
  int32_t detail;        // runtime / front-end status, or the failing vector index
  int8_t live_decision;  // decision of the liveness window (-1 if not run)
};

// Where the running pipeline's outputs go while the node streams (docs/protocol.md §10.5):
// every feature frame (frame_len int16, `index` counts frames since the stream started) and
// every inference (the last feature frame of its window, the INT8 output score, the decision).
struct PipelineSink {
  void (*frame)(void* ctx, uint32_t index, const int16_t* features, uint32_t len);
  void (*inference)(void* ctx, uint32_t last_frame, int8_t score, int8_t decision);
  void* ctx;
};

// The running bundle's inference pipeline, loaded from a verified slot.
class BundleApp {
 public:
  // Loads thresholds, calibration + plan and the model of `comps` (which VerifyAndLocate filled).
  HealthFailure Load(FlashPort& flash, const SlotComponents& comps, const HealthBuffers& buf,
                     int32_t* detail);
  // Runs every self-test vector with the bundle's own calibration offset and threshold.
  HealthFailure SelfTest(FlashPort& flash, Watchdog* wd, HealthReport* report);
  // Liveness: sensor frames (count, channel count, not stuck), one live window inferred.
  HealthFailure Liveness(SensorPort* sensor, Watchdog* wd, HealthReport* report);
  // Load + SelfTest + Liveness.
  HealthFailure Check(FlashPort& flash, const SlotComponents& comps, const HealthBuffers& buf,
                      SensorPort* sensor, Watchdog* wd, HealthReport* report);

  // Streams interleaved samples through the front end; every complete window is inferred.
  // Returns the number of windows run, or -1 on an error (status in *st).
  int32_t Process(const int16_t* samples, uint32_t frames, int8_t* last_decision, int32_t* st);
  // The main loop's Process: same pipeline (with the applied calibration offset), every
  // feature frame and inference reported to `sink`. StartStream resets the front end (a new
  // stream, or samples lost: the next window starts fresh) and, when asked, the frame counter.
  void StartStream(bool reset_index = true);
  int32_t Stream(const int16_t* samples, uint32_t frames, const PipelineSink& sink, int32_t* st);
  uint32_t streamed_frames() const { return stream_frames_; }

  bool loaded() const { return loaded_; }
  edge::InferenceRuntime& runtime() { return rt_; }
  int16_t default_offset() const { return default_offset_; }
  float bundle_threshold() const { return threshold_; }
  uint32_t frame_len() const { return static_cast<uint32_t>(frame_len_); }
  uint32_t channels() const { return plan_.channels; }

 private:
  HealthFailure LoadCalibration(FlashPort& flash, const SlotComponents& comps, int32_t* detail);
  // INFERENCE's i8 score: the single INT8 output (RECON_MSE / binary heads), else the output of
  // the decided class.
  int8_t OutputScore(int8_t decision) const;

  edge::InferenceRuntime rt_;
  fb_fe_plan plan_ = {};
  fb_fe_handle* fe_ = nullptr;
  HealthBuffers buf_ = {};
  edge::bundle::ModelDigest digest_ = {};
  uint32_t selftest_addr_ = 0, selftest_size_ = 0;
  size_t frame_len_ = 0;
  uint32_t window_fill_ = 0;
  const PipelineSink* sink_ = nullptr;  // set only inside Stream()
  uint32_t stream_frames_ = 0;
  int16_t default_offset_ = 0;
  float threshold_ = 0.0f;
  bool loaded_ = false;
};

}  // namespace node
