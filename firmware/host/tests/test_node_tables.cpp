// The ESP-IDF demo (firmware/main/main.cpp) computes its plan tables with constexpr math; check
// they equal the host plan builder's (libm + nearbyint) for the same "vibration" recipe, and
// that the demo plan runs. main.cpp is compiled here against stub ESP-IDF headers.
#define app_main fieldbench_node_app_main
#include "../../main/main.cpp"
#undef app_main

#include "plan_builder.h"
#include "test_util.h"

int main() {
  const fbtest::OwnedPlan host(fbtest::VibrationRecipe());
  const fb_fe_plan a = MakePlan();
  const fb_fe_plan b = host.plan();
  FB_CHECK_EQ(a.n_band_weights, b.n_band_weights);
  for (int i = 0; i < 5; ++i) FB_CHECK_EQ(a.biquad_q14[i], b.biquad_q14[i]);
  for (int i = 0; i < kWindow; ++i) FB_CHECK_EQ(a.window_q15[i], b.window_q15[i]);
  for (int i = 0; i < 2 * kBins; ++i) FB_CHECK_EQ(a.twiddle[i], b.twiddle[i]);
  for (int i = 0; i < kBands; ++i) {
    FB_CHECK_EQ(a.band_start[i], b.band_start[i]);
    FB_CHECK_EQ(a.band_len[i], b.band_len[i]);
  }
  for (uint32_t i = 0; i < a.n_band_weights && i < b.n_band_weights; ++i) {
    FB_CHECK_EQ(a.band_weights[i], b.band_weights[i]);
  }
  size_t need = 0;
  FB_CHECK_EQ(fb_fe_pool_bytes(&a, &need), FB_OK);
  FB_CHECK(need <= sizeof(g_pool));
  FB_TEST_MAIN_END();
}
