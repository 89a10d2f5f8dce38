// edge::FeatureExtractor: the per-segment pipeline of docs/dsp.md section 4 plus the streaming
// logic of section 3, over buffers carved from an edge::Pool.
#ifndef EDGE_RUNTIME_FEATURE_EXTRACTOR_H_
#define EDGE_RUNTIME_FEATURE_EXTRACTOR_H_

#include <cstddef>
#include <cstdint>

#include "edge_runtime/feature_capi.h"
#include "edge_runtime/pool.h"
#include "edge_runtime/ring_buffer.h"

namespace edge {

// Hard limits of the plan (docs/dsp.md section 1 and the C ABI).
constexpr uint32_t kMaxChannels = 8;
constexpr uint32_t kMinWindow = 8;
constexpr uint32_t kMaxWindow = 4096;
constexpr uint32_t kMinFft = 16;
constexpr uint32_t kMaxFft = 4096;
constexpr uint32_t kMaxWarmup = 4096;
constexpr uint32_t kMaxBuffer = 16384;
constexpr uint32_t kMaxBands = 64;
constexpr uint8_t kStatsAll = FB_FE_STAT_RMS | FB_FE_STAT_PEAK | FB_FE_STAT_CREST;

// FB_OK when the plan can be run; otherwise the FB_ERR_* code of the first problem found.
int32_t ValidatePlan(const fb_fe_plan* plan);

class FeatureExtractor {
 public:
  FeatureExtractor() = default;

  // Takes every buffer from `pool` in a fixed order and, unless the pool is only measuring,
  // copies the plan's tables into it and clears the stream state. `plan` must be valid.
  void Layout(const fb_fe_plan& plan, Pool& pool);

  size_t frame_len() const { return frame_len_; }
  size_t segment_len() const { return seg_len_; }

  // Frames that Push() would emit for the next n sample frames (no state change).
  size_t FramesForPush(size_t n) const;
  // Streams n interleaved sample frames; writes the emitted feature frames to `out` and returns
  // how many there were (exactly FramesForPush(n)).
  size_t Push(const int16_t* interleaved, size_t n, int16_t* out);
  // One feature frame per segment of segment_len() interleaved sample frames.
  void ExtractBatch(const int16_t* segments, size_t n_segments, int16_t* out);
  // Back to the state right after init: cleared ring buffer, no samples seen.
  void Reset();

 private:
  // Runs section 4 on seg_ (already filled with one channel's segment), writing the channel's
  // n_bands + n_stats values to out.
  void ComputeChannel(int16_t* out);

  // Plan scalars.
  uint32_t channels_ = 0, window_ = 0, hop_ = 0, fft_size_ = 0, warmup_ = 0, n_bands_ = 0;
  bool dc_removal_ = false, filter_ = false, log2_ = false;
  uint8_t stats_mask_ = 0;
  int16_t biquad_[5] = {0, 0, 0, 0, 0};
  size_t seg_len_ = 0, frame_len_ = 0, per_channel_ = 0;

  // Table copies (pool).
  const int16_t* window_q15_ = nullptr;  // nullptr = rectangular
  const int32_t* twiddle_ = nullptr;
  const uint16_t* band_start_ = nullptr;
  const uint16_t* band_len_ = nullptr;
  const uint16_t* band_weights_ = nullptr;

  // Scratch (pool).
  int16_t* seg_ = nullptr;      // one channel's segment; DC removal and biquad run in place
  int16_t* fft_buf_ = nullptr;  // fft_size_ int16: windowed block, then the complex FFT
  uint32_t* pw_ = nullptr;      // fft_size_/2 + 1 power bins

  // Stream state. until_next_ counts samples left before the next frame: it starts at L and is
  // reloaded with hop, so it never grows and cannot overflow however long the stream runs.
  RingBuffer ring_;
  uint32_t until_next_ = 0;
};

}  // namespace edge

#endif  // EDGE_RUNTIME_FEATURE_EXTRACTOR_H_
