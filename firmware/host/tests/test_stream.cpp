// Streaming (fb_fe_push, random chunks) equals extract_batch on the same segments; output
// capacity handling; reset. Linked against the shared library to exercise the exported ABI.
#include <cstdint>
#include <random>
#include <vector>

#include "edge_runtime/feature_capi.h"
#include "fe_session.h"
#include "plan_builder.h"
#include "test_util.h"

namespace {

using fbtest::OwnedPlan;
using fbtest::Recipe;
using fbtest::Session;

std::vector<int16_t> Recording(size_t frames, size_t ch, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int16_t> rec(frames * ch);
  for (size_t i = 0; i < rec.size(); ++i) {
    const size_t t = i / ch;
    // Noise plus a slow ramp, with occasional full-scale bursts.
    int v = static_cast<int>(rng() % 4001) - 2000 + static_cast<int>((t * 37) % 3000);
    if ((t / 500) % 7 == 3) v = (t % 2 == 0) ? 32767 : -32768;
    rec[i] = static_cast<int16_t>(v);
  }
  return rec;
}

std::vector<int16_t> Stream(Session& s, const std::vector<int16_t>& rec, uint32_t seed,
                            size_t max_chunk) {
  std::mt19937 rng(seed);
  const size_t ch = s.plan.channels;
  const size_t total = rec.size() / ch;
  std::vector<int16_t> out;
  size_t pos = 0;
  while (pos < total) {
    size_t chunk = rng() % (max_chunk + 1);
    if (chunk > total - pos) chunk = total - pos;
    const size_t cap = chunk / s.plan.hop_length + 1;
    std::vector<int16_t> buf(cap * s.frame_len + 1, 0x5A5A);
    size_t got = 12345;
    FB_CHECK_EQ(fb_fe_push(s.h, rec.data() + pos * ch, chunk, buf.data(), cap, &got), FB_OK);
    FB_CHECK(got <= cap);
    FB_CHECK_EQ(buf[cap * s.frame_len], 0x5A5A);  // no write past the capacity
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(got * s.frame_len));
    pos += chunk;
  }
  return out;
}

void CheckRecipe(const Recipe& r, const char* name) {
  const OwnedPlan op(r);
  FB_CHECK(!op.band_error);
  Session s(op.plan());
  FB_CHECK_EQ(s.status, FB_OK);
  if (s.status != FB_OK) return;
  const size_t ch = r.channels;
  const size_t total = s.seg_len + 40 * static_cast<size_t>(r.hop) + 13;
  const std::vector<int16_t> rec = Recording(total, ch, 99);
  size_t n_batch = 0;
  const std::vector<int16_t> batch = s.Batch(rec, &n_batch);
  const size_t want = 1 + (total - s.seg_len) / static_cast<size_t>(r.hop);
  FB_CHECK_EQ(n_batch, want);
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    const size_t max_chunk = seed == 1 ? 1 : (seed == 2 ? 7 : 3 * static_cast<size_t>(r.hop));
    const std::vector<int16_t> streamed = Stream(s, rec, seed, max_chunk);
    if (streamed != batch) std::fprintf(stderr, "%s: stream != batch (seed %u)\n", name, seed);
    FB_CHECK(streamed == batch);
    fb_fe_reset(s.h);
  }
  // Batch did not disturb the stream: interleave batch calls with pushes.
  {
    std::vector<int16_t> out(want * s.frame_len);
    size_t got = 0;
    const size_t half = total / 2;
    FB_CHECK_EQ(fb_fe_push(s.h, rec.data(), half, out.data(), want, &got), FB_OK);
    size_t n2 = 0;
    (void)s.Batch(rec, &n2);
    size_t got2 = 0;
    FB_CHECK_EQ(fb_fe_push(s.h, rec.data() + half * ch, total - half,
                           out.data() + got * s.frame_len, want - got, &got2),
                FB_OK);
    FB_CHECK_EQ(got + got2, want);
    FB_CHECK(out == batch);
    fb_fe_reset(s.h);
  }
}

void TestOutputTooSmall() {
  const OwnedPlan op(fbtest::VibrationRecipe());
  Session s(op.plan());
  const size_t ch = 3, L = s.seg_len, H = 128;
  const std::vector<int16_t> rec = Recording(L + 10 * H, ch, 5);
  size_t n_batch = 0;
  const std::vector<int16_t> batch = s.Batch(rec, &n_batch);
  std::vector<int16_t> out(11 * s.frame_len);
  size_t got = 99;
  // L - 1 samples: no frame yet, so no output buffer needed at all.
  FB_CHECK_EQ(fb_fe_push(s.h, rec.data(), L - 1, nullptr, 0, &got), FB_OK);
  FB_CHECK_EQ(got, 0);
  // The L-th sample would emit a frame: refused, nothing consumed, the need is reported.
  FB_CHECK_EQ(fb_fe_push(s.h, rec.data() + (L - 1) * ch, 1, out.data(), 0, &got),
              FB_ERR_OUTPUT_TOO_SMALL);
  FB_CHECK_EQ(got, 1);
  // 1 + 5H samples would emit 6 frames; capacity 5 is refused as a whole.
  FB_CHECK_EQ(fb_fe_push(s.h, rec.data() + (L - 1) * ch, 1 + 5 * H, out.data(), 5, &got),
              FB_ERR_OUTPUT_TOO_SMALL);
  FB_CHECK_EQ(got, 6);
  FB_CHECK_EQ(fb_fe_push(s.h, rec.data() + (L - 1) * ch, 1 + 5 * H, out.data(), 6, &got), FB_OK);
  FB_CHECK_EQ(got, 6);
  FB_CHECK_EQ(
      fb_fe_push(s.h, rec.data() + (L + 5 * H) * ch, 5 * H, out.data() + 6 * s.frame_len, 5, &got),
      FB_OK);
  FB_CHECK_EQ(got, 5);
  FB_CHECK(out == batch);
  // Zero-length push and null input with zero frames are fine.
  FB_CHECK_EQ(fb_fe_push(s.h, nullptr, 0, nullptr, 0, &got), FB_OK);
  FB_CHECK_EQ(got, 0);
  int16_t one[3] = {0, 0, 0};
  // A frame is due after H more samples; here one sample needs no output.
  FB_CHECK_EQ(fb_fe_push(s.h, one, 1, nullptr, 0, &got), FB_OK);
  FB_CHECK_EQ(fb_fe_push(s.h, nullptr, 1, out.data(), 1, &got), FB_ERR_NULL);
}

}  // namespace

int main() {
  CheckRecipe(fbtest::AudioRecipe(), "audio");
  CheckRecipe(fbtest::VibrationRecipe(), "vibration");
  {
    Recipe r;  // odd sizes, ring larger than L (wrap-around), bandpass, mel, stats, no log
    r.sample_rate = 8000.0;
    r.channels = 2;
    r.window = 100;
    r.hop = 37;
    r.fft = 128;
    r.buffer = 500;
    r.filter = "bandpass";
    r.cutoff_hz = 1000.0;
    r.q = 2.0;
    r.warmup = 20;
    r.band_scale = "mel";
    r.band_count = 10;
    r.log2 = false;
    r.stats_mask = FB_FE_STAT_RMS | FB_FE_STAT_CREST;
    CheckRecipe(r, "odd");
    r.hop = 100;  // hop == window
    r.buffer = 0;
    r.band_scale = "none";
    r.stats_mask = FB_FE_STAT_PEAK;
    CheckRecipe(r, "stats-only");
    r.hop = 1;
    r.channels = 8;
    r.dc_removal = false;
    r.band_scale = "linear";
    r.band_count = 5;
    CheckRecipe(r, "hop1");
  }
  TestOutputTooSmall();
  FB_TEST_MAIN_END();
}
