// Plan validation, pool sizing and argument checks of the C ABI.
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "edge_runtime/feature_capi.h"
#include "plan_builder.h"
#include "test_util.h"

namespace {

using fbtest::OwnedPlan;

int32_t InitWith(const fb_fe_plan& p) {
  size_t bytes = 0;
  const int32_t st = fb_fe_pool_bytes(&p, &bytes);
  // A big pool so that only validation can fail.
  std::vector<unsigned char> pool(1 << 20);
  fb_fe_handle* h = nullptr;
  const int32_t st2 = fb_fe_init(&p, pool.data(), pool.size(), &h);
  FB_CHECK_EQ(st, st2);  // pool_bytes and init agree on validation
  if (st2 != FB_OK) FB_CHECK(h == nullptr);
  return st2;
}

void ExpectStatus(const OwnedPlan& owned, const std::function<void(fb_fe_plan&)>& edit,
                  int32_t want, const char* what) {
  fb_fe_plan p = owned.plan();
  edit(p);
  const int32_t got = InitWith(p);
  if (got != want) std::fprintf(stderr, "case '%s': status %d, want %d\n", what, got, want);
  FB_CHECK_EQ(got, want);
}

void TestValidPlans() {
  const OwnedPlan audio(fbtest::AudioRecipe());
  const OwnedPlan vib(fbtest::VibrationRecipe());
  FB_CHECK(!audio.band_error);
  FB_CHECK(!vib.band_error);
  FB_CHECK_EQ(InitWith(audio.plan()), FB_OK);
  FB_CHECK_EQ(InitWith(vib.plan()), FB_OK);
}

void TestInvalidFields() {
  const OwnedPlan vib(fbtest::VibrationRecipe());  // filter + bands + stats
  const OwnedPlan audio(fbtest::AudioRecipe());    // no filter, no stats
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.abi_version = 2; }, FB_ERR_ABI, "abi");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.abi_version = 0; }, FB_ERR_ABI, "abi0");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.channels = 0; }, FB_ERR_CONFIG, "channels 0");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.channels = 9; }, FB_ERR_CONFIG, "channels 9");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.window_size = 7; }, FB_ERR_CONFIG, "window 7");
  ExpectStatus(
      audio,
      [](fb_fe_plan& p) {
        p.window_size = 4097;
        p.buffer_size = 8000;
      },
      FB_ERR_CONFIG, "window 4097");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.hop_length = 0; }, FB_ERR_CONFIG, "hop 0");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.hop_length = 257; }, FB_ERR_CONFIG, "hop > window");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.fft_size = 384; }, FB_ERR_CONFIG, "fft not pow2");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.fft_size = 128; }, FB_ERR_CONFIG, "fft < window");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.fft_size = 8192; }, FB_ERR_CONFIG, "fft 8192");
  ExpectStatus(
      vib,
      [](fb_fe_plan& p) {
        p.fft_size = 8;
        p.window_size = 8;
        p.hop_length = 4;
      },
      FB_ERR_CONFIG, "fft 8");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.buffer_size = 383; }, FB_ERR_CONFIG, "buffer < L");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.buffer_size = 16385; }, FB_ERR_CONFIG, "buffer big");
  ExpectStatus(
      vib,
      [](fb_fe_plan& p) {
        p.warmup = 4097;
        p.buffer_size = 16000;
      },
      FB_ERR_CONFIG, "warmup big");
  ExpectStatus(
      audio,
      [](fb_fe_plan& p) {
        p.warmup = 16;
        p.buffer_size = 600;
      },
      FB_ERR_CONFIG, "warmup without filter");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.stats_mask = 8; }, FB_ERR_CONFIG, "stats 8");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.dc_removal = 2; }, FB_ERR_CONFIG, "dc 2");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.filter_enabled = 2; }, FB_ERR_CONFIG, "filter 2");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.compression = 2; }, FB_ERR_CONFIG, "compression 2");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.n_bands = 65; }, FB_ERR_CONFIG, "65 bands");
  ExpectStatus(
      vib,
      [](fb_fe_plan& p) {
        p.n_bands = 0;
        p.stats_mask = 0;
      },
      FB_ERR_CONFIG, "nothing to output");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.n_band_weights -= 1; }, FB_ERR_CONFIG, "weights count");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.n_band_weights += 1; }, FB_ERR_CONFIG, "weights count+");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.twiddle = nullptr; }, FB_ERR_NULL, "twiddle null");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.band_start = nullptr; }, FB_ERR_NULL, "start null");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.band_len = nullptr; }, FB_ERR_NULL, "len null");
  ExpectStatus(
      vib, [](fb_fe_plan& p) { p.band_weights = nullptr; }, FB_ERR_NULL, "w null");

  // Table contents: band outside 0..N/2, empty band, all-zero band, over-unity weight,
  // window value -32768, twiddle that would overflow the int32 butterfly.
  {
    OwnedPlan bad(fbtest::VibrationRecipe());
    bad.band_start[15] = 121;  // 121 + 9 = 130 > 129 bins
    FB_CHECK_EQ(InitWith(bad.plan()), FB_ERR_CONFIG);
  }
  {
    OwnedPlan bad(fbtest::VibrationRecipe());
    bad.band_start[3] = 129;  // start beyond the last bin
    FB_CHECK_EQ(InitWith(bad.plan()), FB_ERR_CONFIG);
  }
  {
    OwnedPlan bad(fbtest::VibrationRecipe());
    bad.band_len[2] += bad.band_len[3];
    bad.band_len[3] = 0;  // total unchanged, but a band of length 0
    FB_CHECK_EQ(InitWith(bad.plan()), FB_ERR_CONFIG);
  }
  {
    OwnedPlan bad(fbtest::VibrationRecipe());
    for (int i = 0; i < bad.band_len[0]; ++i) bad.band_weights[static_cast<size_t>(i)] = 0;
    FB_CHECK_EQ(InitWith(bad.plan()), FB_ERR_CONFIG);
  }
  {
    OwnedPlan bad(fbtest::VibrationRecipe());
    bad.band_weights[4] = 40000;
    FB_CHECK_EQ(InitWith(bad.plan()), FB_ERR_CONFIG);
  }
  {
    OwnedPlan bad(fbtest::VibrationRecipe());
    bad.window[10] = -32768;
    FB_CHECK_EQ(InitWith(bad.plan()), FB_ERR_CONFIG);
  }
  {
    OwnedPlan bad(fbtest::VibrationRecipe());
    bad.twiddle[2 * 5] = 65000;  // |re| + |im| > 65535
    FB_CHECK_EQ(InitWith(bad.plan()), FB_ERR_CONFIG);
  }
  // Stats-only plan: fft_size and tables are ignored.
  {
    fbtest::Recipe r = fbtest::VibrationRecipe();
    r.band_scale = "none";
    OwnedPlan stats_only(r);
    fb_fe_plan p = stats_only.plan();
    p.fft_size = 3;
    FB_CHECK_EQ(InitWith(p), FB_OK);
  }
}

void TestNullsAndPool() {
  const OwnedPlan vib(fbtest::VibrationRecipe());
  const fb_fe_plan p = vib.plan();
  size_t bytes = 0;
  FB_CHECK_EQ(fb_fe_pool_bytes(nullptr, &bytes), FB_ERR_NULL);
  FB_CHECK_EQ(fb_fe_pool_bytes(&p, nullptr), FB_ERR_NULL);
  FB_CHECK_EQ(fb_fe_pool_bytes(&p, &bytes), FB_OK);
  FB_CHECK(bytes > 384u * 3u * 2u);

  std::vector<unsigned char> pool(bytes + 64);
  fb_fe_handle* h = nullptr;
  FB_CHECK_EQ(fb_fe_init(nullptr, pool.data(), bytes, &h), FB_ERR_NULL);
  FB_CHECK_EQ(fb_fe_init(&p, nullptr, bytes, &h), FB_ERR_NULL);
  FB_CHECK_EQ(fb_fe_init(&p, pool.data(), bytes, nullptr), FB_ERR_NULL);
  FB_CHECK_EQ(fb_fe_init(&p, pool.data(), bytes - 1, &h), FB_ERR_POOL_TOO_SMALL);
  FB_CHECK(h == nullptr);
  FB_CHECK_EQ(fb_fe_init(&p, pool.data(), 0, &h), FB_ERR_POOL_TOO_SMALL);
  // Exactly pool_bytes works at every alignment of the pool pointer.
  for (size_t off = 0; off < 16; ++off) {
    std::memset(pool.data(), 0xCD, pool.size());
    h = nullptr;
    FB_CHECK_EQ(fb_fe_init(&p, pool.data() + off, bytes, &h), FB_OK);
    FB_CHECK(h != nullptr);
    size_t fl = 0, sl = 0;
    FB_CHECK_EQ(fb_fe_frame_len(h, &fl), FB_OK);
    FB_CHECK_EQ(fb_fe_segment_len(h, &sl), FB_OK);
    FB_CHECK_EQ(fl, 3 * (16 + 3));
    FB_CHECK_EQ(sl, 256 + 128);
    // Nothing written past the reported size.
    for (size_t i = off + bytes; i < pool.size(); ++i) FB_CHECK_EQ(pool[i], 0xCD);
  }
  // The caller's tables are copied: scribbling over them afterwards changes nothing.
  {
    OwnedPlan own(fbtest::VibrationRecipe());
    fb_fe_plan q = own.plan();
    std::vector<unsigned char> pl(bytes);
    fb_fe_handle* h2 = nullptr;
    FB_CHECK_EQ(fb_fe_init(&q, pl.data(), pl.size(), &h2), FB_OK);
    std::vector<int16_t> seg(384 * 3);
    for (size_t i = 0; i < seg.size(); ++i) seg[i] = static_cast<int16_t>((i * 7919) % 20000);
    std::vector<int16_t> a(57), b(57);
    FB_CHECK_EQ(fb_fe_extract_batch(h2, seg.data(), 1, a.data()), FB_OK);
    std::fill(own.twiddle.begin(), own.twiddle.end(), 0);
    std::fill(own.band_weights.begin(), own.band_weights.end(), 0);
    std::fill(own.window.begin(), own.window.end(), 0);
    FB_CHECK_EQ(fb_fe_extract_batch(h2, seg.data(), 1, b.data()), FB_OK);
    FB_CHECK(a == b);
  }
  size_t out = 0;
  FB_CHECK_EQ(fb_fe_frame_len(nullptr, &out), FB_ERR_NULL);
  FB_CHECK_EQ(fb_fe_segment_len(nullptr, &out), FB_ERR_NULL);
  int16_t dummy[4] = {0, 0, 0, 0};
  FB_CHECK_EQ(fb_fe_push(nullptr, dummy, 1, dummy, 1, &out), FB_ERR_NULL);
  FB_CHECK_EQ(fb_fe_extract_batch(nullptr, dummy, 1, dummy), FB_ERR_NULL);
  fb_fe_reset(nullptr);  // no-op
}

}  // namespace

int main() {
  TestValidPlans();
  TestInvalidFields();
  TestNullsAndPool();
  FB_TEST_MAIN_END();
}
