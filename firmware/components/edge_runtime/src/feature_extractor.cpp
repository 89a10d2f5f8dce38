#include "edge_runtime/feature_extractor.h"

#include <cstring>

#include "edge_runtime/kernels.h"

namespace edge {
namespace {

bool IsPowerOfTwo(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

uint32_t PopCount3(uint8_t mask) { return (mask & 1u) + ((mask >> 1) & 1u) + ((mask >> 2) & 1u); }

uint32_t Abs32(int32_t v) {
  return v < 0 ? static_cast<uint32_t>(0) - static_cast<uint32_t>(v) : static_cast<uint32_t>(v);
}

// Copies `count` T from src into a pool block (or only measures).
template <typename T>
T* CopyTable(Pool& pool, const T* src, size_t count) {
  T* dst = pool.Take<T>(count);
  if (dst != nullptr && src != nullptr && count != 0) std::memcpy(dst, src, count * sizeof(T));
  return dst;
}

int32_t ValidateSpectral(const fb_fe_plan& p) {
  const uint32_t n = p.fft_size;
  if (!IsPowerOfTwo(n) || n < kMinFft || n > kMaxFft || n < p.window_size) return FB_ERR_CONFIG;
  if (p.twiddle == nullptr || p.band_start == nullptr || p.band_len == nullptr ||
      p.band_weights == nullptr) {
    return FB_ERR_NULL;
  }
  // Butterfly products are int32 (spec 4.6): that is only overflow-free when
  // 32768 * (|tw_re| + |tw_im|) + 2^14 < 2^31 for every q < N/2, which a table built as specified
  // satisfies. Rejecting other tables keeps hostile input from causing undefined behaviour.
  for (uint32_t q = 0; q < n / 2; ++q) {
    if (Abs32(p.twiddle[2 * q]) + Abs32(p.twiddle[2 * q + 1]) > 65535u) return FB_ERR_CONFIG;
  }
  // Windowed samples must fit int16 (the FFT buffer): true for every window value but -32768.
  if (p.window_q15 != nullptr) {
    for (uint32_t i = 0; i < p.window_size; ++i) {
      if (p.window_q15[i] == -32768) return FB_ERR_CONFIG;
    }
  }
  const uint32_t bins = n / 2 + 1;
  uint64_t total = 0;
  for (uint32_t b = 0; b < p.n_bands; ++b) {
    const uint32_t start = p.band_start[b], len = p.band_len[b];
    if (len == 0 || start >= bins || len > bins - start) return FB_ERR_CONFIG;
    total += len;
  }
  if (total != p.n_band_weights) return FB_ERR_CONFIG;
  // Q15 weights are at most 1.0 (spec 4.7), and a band whose weights are all zero owns no bin.
  const uint16_t* w = p.band_weights;
  for (uint32_t b = 0; b < p.n_bands; ++b) {
    bool any = false;
    for (uint32_t i = 0; i < p.band_len[b]; ++i, ++w) {
      if (*w > 32768u) return FB_ERR_CONFIG;
      any = any || *w != 0;
    }
    if (!any) return FB_ERR_CONFIG;
  }
  return FB_OK;
}

}  // namespace

int32_t ValidatePlan(const fb_fe_plan* plan) {
  if (plan == nullptr) return FB_ERR_NULL;
  const fb_fe_plan& p = *plan;
  if (p.abi_version != FB_FE_ABI_VERSION) return FB_ERR_ABI;
  if (p.channels < 1 || p.channels > kMaxChannels) return FB_ERR_CONFIG;
  if (p.window_size < kMinWindow || p.window_size > kMaxWindow) return FB_ERR_CONFIG;
  if (p.hop_length < 1 || p.hop_length > p.window_size) return FB_ERR_CONFIG;
  if (p.dc_removal > 1 || p.filter_enabled > 1 || p.compression > 1) return FB_ERR_CONFIG;
  if (p.warmup > kMaxWarmup || (p.filter_enabled == 0 && p.warmup != 0)) return FB_ERR_CONFIG;
  const uint32_t seg = static_cast<uint32_t>(p.window_size) + p.warmup;
  if (p.buffer_size < seg || p.buffer_size > kMaxBuffer) return FB_ERR_CONFIG;
  if (p.stats_mask > kStatsAll) return FB_ERR_CONFIG;
  if (p.n_bands > kMaxBands) return FB_ERR_CONFIG;
  if (p.n_bands == 0 && p.stats_mask == 0) return FB_ERR_CONFIG;  // would output nothing
  if (p.n_bands > 0) return ValidateSpectral(p);
  return FB_OK;
}

void FeatureExtractor::Layout(const fb_fe_plan& plan, Pool& pool) {
  channels_ = plan.channels;
  window_ = plan.window_size;
  hop_ = plan.hop_length;
  warmup_ = plan.warmup;
  n_bands_ = plan.n_bands;
  fft_size_ = n_bands_ > 0 ? plan.fft_size : 0;  // "fft_size ignored" without bands
  dc_removal_ = plan.dc_removal != 0;
  filter_ = plan.filter_enabled != 0;
  log2_ = plan.compression != 0;
  stats_mask_ = plan.stats_mask;
  for (int i = 0; i < 5; ++i) biquad_[i] = plan.biquad_q14[i];
  seg_len_ = static_cast<size_t>(warmup_) + window_;
  per_channel_ = n_bands_ + PopCount3(stats_mask_);
  frame_len_ = channels_ * per_channel_;

  // Fixed order; the measuring pass (fb_fe_pool_bytes) runs exactly this code.
  int16_t* ring = pool.Take<int16_t>(static_cast<size_t>(plan.buffer_size) * channels_);
  seg_ = pool.Take<int16_t>(seg_len_);
  if (n_bands_ > 0) {
    window_q15_ = plan.window_q15 != nullptr ? CopyTable(pool, plan.window_q15, window_) : nullptr;
    twiddle_ = CopyTable(pool, plan.twiddle, 2 * (fft_size_ / 2 + 1));
    band_start_ = CopyTable(pool, plan.band_start, n_bands_);
    band_len_ = CopyTable(pool, plan.band_len, n_bands_);
    band_weights_ = CopyTable(pool, plan.band_weights, plan.n_band_weights);
    fft_buf_ = pool.Take<int16_t>(fft_size_);
    pw_ = pool.Take<uint32_t>(fft_size_ / 2 + 1);
  }
  if (ring != nullptr) ring_.Attach(ring, plan.buffer_size, channels_);
  until_next_ = static_cast<uint32_t>(seg_len_);
}

size_t FeatureExtractor::FramesForPush(size_t n) const {
  if (n < until_next_) return 0;
  return 1 + (n - until_next_) / hop_;
}

size_t FeatureExtractor::Push(const int16_t* interleaved, size_t n, int16_t* out) {
  size_t frames = 0;
  for (size_t i = 0; i < n; ++i) {
    ring_.Push(interleaved + i * channels_);
    if (--until_next_ != 0) continue;
    // n >= L and (n - L) % hop == 0: emit from the latest L samples of every channel.
    int16_t* frame = out + frames * frame_len_;
    for (uint32_t c = 0; c < channels_; ++c) {
      ring_.CopyLatest(c, seg_len_, seg_);
      ComputeChannel(frame + c * per_channel_);
    }
    ++frames;
    until_next_ = hop_;
  }
  return frames;
}

void FeatureExtractor::ExtractBatch(const int16_t* segments, size_t n_segments, int16_t* out) {
  const size_t seg_values = seg_len_ * channels_;
  for (size_t s = 0; s < n_segments; ++s) {
    const int16_t* src = segments + s * seg_values;
    int16_t* frame = out + s * frame_len_;
    for (uint32_t c = 0; c < channels_; ++c) {
      for (size_t i = 0; i < seg_len_; ++i) seg_[i] = src[i * channels_ + c];
      ComputeChannel(frame + c * per_channel_);
    }
  }
}

void FeatureExtractor::Reset() {
  ring_.Clear();
  until_next_ = static_cast<uint32_t>(seg_len_);
}

void FeatureExtractor::ComputeChannel(int16_t* out) {
  if (dc_removal_) kernels::RemoveDc(seg_, seg_len_);        // 4.1, over all L samples
  if (filter_) kernels::BiquadQ14(seg_, seg_len_, biquad_);  // 4.2, zero state per segment
  const int16_t* y = seg_ + warmup_;                         // the W samples that count

  if (n_bands_ > 0) {
    kernels::ApplyWindow(y, window_, window_q15_, fft_buf_, fft_size_);  // 4.4
    const int e = kernels::BlockNormalise(fft_buf_, fft_size_);          // 4.5
    kernels::RfftPower(fft_buf_, fft_size_, twiddle_, pw_);              // 4.6
    const uint16_t* w = band_weights_;
    for (uint32_t b = 0; b < n_bands_; ++b) {  // 4.7 + 4.8
      const uint64_t energy = kernels::BandEnergy(pw_ + band_start_[b], w, band_len_[b]);
      w += band_len_[b];
      *out++ = kernels::Compress(energy, e, log2_);
    }
  }
  if (stats_mask_ != 0) {  // 4.3, in the order rms, peak, crest
    uint32_t rms = 0, peak = 0;
    kernels::TimeStats(y, window_, &rms, &peak);
    if (stats_mask_ & FB_FE_STAT_RMS) *out++ = kernels::RmsOut(rms);
    if (stats_mask_ & FB_FE_STAT_PEAK) *out++ = kernels::PeakOut(peak);
    if (stats_mask_ & FB_FE_STAT_CREST) *out++ = kernels::CrestQ8(peak, rms);
  }
}

}  // namespace edge
