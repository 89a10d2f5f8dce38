// INT8 runtime unit tests: kernels against hand-computed cases and an independent naive
// reference, post-processing, the integrity policy, and every parser rejection.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "edge_runtime/inference_runtime.h"
#include "edge_runtime/runtime_capi.h"
#include "model_builder.h"
#include "test_util.h"

using fbtest::FixCrc;
using fbtest::LayerSpec;
using fbtest::ModelBuilder;

namespace {

struct Rt {
  std::vector<uint8_t> blob;
  std::vector<uint8_t> pool;
  edge::InferenceRuntime rt;
  int32_t init_status = -1;
  explicit Rt(std::vector<uint8_t> b, bool verify = true) : blob(std::move(b)) {
    size_t need = 0;
    init_status = edge::InferenceRuntime::required_pool_bytes(blob.data(), blob.size(), &need);
    if (init_status != FB_MODEL_OK) return;
    pool.assign(need, 0);
    init_status = rt.init(blob.data(), blob.size(), pool.data(), pool.size());
    if (init_status == FB_MODEL_OK && verify) {
      rt.set_integrity_verifier(&edge::CrcOnlyVerifier, nullptr);
      init_status = rt.verify_bundle_integrity();
    }
  }
};

int8_t RefRequant(int64_t acc, float m, int zp, int qmin = -128, int qmax = 127) {
  float f = static_cast<float>(acc) * m;
  f = std::fmin(std::fmax(f, static_cast<float>(qmin - zp)), static_cast<float>(qmax - zp));
  return static_cast<int8_t>(static_cast<int>(std::nearbyint(f)) + zp);
}

float F32At(const std::vector<uint8_t>& p, size_t i) {
  float f;
  std::memcpy(&f, p.data() + 4 * i, 4);
  return f;
}
int32_t I32At(const std::vector<uint8_t>& p, size_t i) {
  int32_t v;
  std::memcpy(&v, p.data() + 4 * i, 4);
  return v;
}

// Independent naive executor over a ModelBuilder (padded-index loops, std::nearbyint).
std::vector<std::vector<int8_t>> NaiveRun(const ModelBuilder& b, const std::vector<int16_t>& win,
                                          int16_t offset = 0) {
  std::vector<std::vector<int8_t>> t(b.tensors.size());
  const fb_model_tensor& ti = b.tensors[b.input];
  for (int16_t v : win) {
    int f = std::max(-32768, std::min(32767, v + offset));
    float x = static_cast<float>(f) * b.input_scale;
    float q = std::nearbyint(std::fmin(std::fmax(x / ti.scale, -128.0f - ti.zero_point),
                                       127.0f - ti.zero_point));
    t[b.input].push_back(static_cast<int8_t>(static_cast<int>(q) + ti.zero_point));
  }
  for (const LayerSpec& l : b.layers) {
    const fb_model_tensor& X = b.tensors[l.in0];
    const fb_model_tensor& Y = b.tensors[l.out];
    const std::vector<int8_t>& x = t[l.in0];
    std::vector<int8_t> y(Y.size_bytes);
    const int C = X.dims[1], H = X.dims[2], W = X.dims[3];
    const int Co = Y.dims[1], Ho = Y.dims[2], Wo = Y.dims[3];
    const auto& at = l.attr;
    switch (l.op) {
      case FB_MODEL_OP_CONV: {
        const int g = at[10], cig = C / g, cog = Co / g, kh = at[0], kw = at[1];
        for (int co = 0; co < Co; ++co)
          for (int oh = 0; oh < Ho; ++oh)
            for (int ow = 0; ow < Wo; ++ow) {
              int64_t acc = I32At(l.params, Co + co);
              for (int ci = 0; ci < cig; ++ci)
                for (int ky = 0; ky < kh; ++ky)
                  for (int kx = 0; kx < kw; ++kx) {
                    const int ih = oh * at[2] - at[6] + ky * at[4];
                    const int iw = ow * at[3] - at[7] + kx * at[5];
                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                    const int cin = (co / cog) * cig + ci;
                    const int8_t w = static_cast<int8_t>(
                        l.params[8 * Co + ((co * cig + ci) * kh + ky) * kw + kx]);
                    acc += (x[(cin * H + ih) * W + iw] - X.zero_point) * w;
                  }
              y[(co * Ho + oh) * Wo + ow] =
                  RefRequant(acc, F32At(l.params, co), Y.zero_point, l.qmin, l.qmax);
            }
        break;
      }
      case FB_MODEL_OP_GEMM: {
        const size_t K = x.size(), N = y.size();
        for (size_t n = 0; n < N; ++n) {
          int64_t acc = I32At(l.params, N + n);
          for (size_t k = 0; k < K; ++k)
            acc += (x[k] - X.zero_point) * static_cast<int8_t>(l.params[8 * N + n * K + k]);
          y[n] = RefRequant(acc, F32At(l.params, n), Y.zero_point, l.qmin, l.qmax);
        }
        break;
      }
      case FB_MODEL_OP_MAXPOOL:
        for (int c = 0; c < C; ++c)
          for (int oh = 0; oh < Ho; ++oh)
            for (int ow = 0; ow < Wo; ++ow) {
              int best = -128;
              for (int ky = 0; ky < at[0]; ++ky)
                for (int kx = 0; kx < at[1]; ++kx) {
                  const int ih = oh * at[2] - at[6] + ky * at[4];
                  const int iw = ow * at[3] - at[7] + kx * at[5];
                  if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                    best = std::max(best, static_cast<int>(x[(c * H + ih) * W + iw]));
                }
              y[(c * Ho + oh) * Wo + ow] = static_cast<int8_t>(best);
            }
        break;
      case FB_MODEL_OP_AVGPOOL:
        for (int c = 0; c < C; ++c)
          for (int oh = 0; oh < Ho; ++oh)
            for (int ow = 0; ow < Wo; ++ow) {
              float sum = 0.0f;
              int n = 0;
              for (int ky = 0; ky < at[0]; ++ky)
                for (int kx = 0; kx < at[1]; ++kx) {
                  const int ih = oh * at[2] - at[6] + ky;
                  const int iw = ow * at[3] - at[7] + kx;
                  if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                  sum += X.scale * static_cast<float>(x[(c * H + ih) * W + iw] - X.zero_point);
                  ++n;
                }
              const float cnt = at[10] ? static_cast<float>(at[0] * at[1]) : static_cast<float>(n);
              float q = std::nearbyint(sum / cnt / Y.scale + static_cast<float>(Y.zero_point));
              q = std::fmin(std::fmax(q, static_cast<float>(l.qmin)), static_cast<float>(l.qmax));
              y[(c * Ho + oh) * Wo + ow] = static_cast<int8_t>(q);
            }
        break;
      case FB_MODEL_OP_GAP:
        for (int c = 0; c < C; ++c) {
          int64_t acc = 0;
          for (int i = 0; i < H * W; ++i) acc += x[c * H * W + i] - X.zero_point;
          y[c] = RefRequant(acc, F32At(l.params, 0), Y.zero_point, l.qmin, l.qmax);
        }
        break;
      case FB_MODEL_OP_SIGMOID:
        for (size_t i = 0; i < y.size(); ++i)
          y[i] = static_cast<int8_t>(l.params[static_cast<uint8_t>(x[i])]);
        break;
      case FB_MODEL_OP_ADD: {
        const std::vector<int8_t>& x2 = t[l.in1];
        for (size_t i = 0; i < y.size(); ++i) {
          const float v = std::fma(static_cast<float>(x[i]), F32At(l.params, 0),
                                   std::fma(static_cast<float>(x2[i]), F32At(l.params, 1),
                                            F32At(l.params, 2)));
          float q = std::nearbyint(v);
          q = std::fmin(std::fmax(q, static_cast<float>(l.qmin)), static_cast<float>(l.qmax));
          y[i] = static_cast<int8_t>(q);
        }
        break;
      }
      case FB_MODEL_OP_RESHAPE:
        y = x;
        break;
      default:
        break;
    }
    t[l.out] = y;
  }
  return t;
}

std::vector<int16_t> RandWindow(fbtest::Lcg& r, size_t n, int amp) {
  std::vector<int16_t> w(n);
  for (auto& v : w) v = static_cast<int16_t>(r.Int(-amp, amp));
  return w;
}

void TestRounding() {
  // M = 0.5 makes odd accumulators exact ties: half-to-even.
  ModelBuilder b;
  const uint16_t x = b.Tensor({1, 6}, 1.0f, 0, 0);
  const uint16_t y = b.Tensor({1, 6}, 1.0f, 0, 8);
  LayerSpec l;
  l.op = FB_MODEL_OP_GEMM;
  l.in0 = x;
  l.out = y;
  // Identity weights, M = 0.5, bias 0.
  std::vector<int8_t> w(36, 0);
  for (int i = 0; i < 6; ++i) w[i * 6 + i] = 1;
  l.params = fbtest::MacParams(std::vector<float>(6, 0.5f), std::vector<int32_t>(6, 0), w);
  b.Layer(l);
  b.input = x;
  b.output = y;
  Rt rt(b.Build());
  FB_CHECK_EQ(rt.init_status, FB_MODEL_OK);
  const int16_t win[6] = {1, 3, 5, -1, -3, 255};  // q = win (scale 1, input_scale 1)
  FB_CHECK(rt.rt.run_inference(win, 6) >= 0);
  const int8_t* o = rt.rt.output();
  const int8_t want[6] = {0, 2, 2, 0, -2, 64};  // 0.5->0, 1.5->2, 2.5->2, -0.5->0, -1.5->-2
  for (int i = 0; i < 6; ++i) FB_CHECK_EQ(o[i], want[i]);  // 255 saturates to 127 -> 63.5 -> 64
}

void TestQuantizeInput() {
  // input_scale 1/256, s = 1/32, zp = 10: q = RNE(f/8) + 10, saturating; calibration offset.
  ModelBuilder b;
  const uint16_t x = b.Tensor({1, 5}, 1.0f / 32.0f, 10, 0);
  const uint16_t y = b.Tensor({1, 5}, 1.0f / 32.0f, 10, 8);
  LayerSpec l;
  l.op = FB_MODEL_OP_RESHAPE;
  l.in0 = x;
  l.out = y;
  b.Layer(l);
  b.input = x;
  b.output = y;
  b.input_scale = 1.0f / 256.0f;
  Rt rt(b.Build());
  FB_CHECK_EQ(rt.init_status, FB_MODEL_OK);
  const int16_t win[5] = {4, 12, -4, 32767, -32768};  // 0.5->0, 1.5->2, -0.5->0, sat, sat
  FB_CHECK_EQ(rt.rt.run_inference(win, 5), 3);        // argmax: 127 at index 3
  const int8_t want[5] = {10, 12, 10, 127, -128};
  for (int i = 0; i < 5; ++i) FB_CHECK_EQ(rt.rt.output()[i], want[i]);
  rt.rt.apply_calibration_offset(8);  // +1 LSB after /8; 32767 + 8 saturates in int16
  FB_CHECK(rt.rt.run_inference(win, 5) >= 0);
  const int8_t want2[5] = {12, 12, 10, 127, -128};  // 12/8=1.5->2, 20/8=2.5->2, 4/8=0.5->0
  for (int i = 0; i < 5; ++i) FB_CHECK_EQ(rt.rt.output()[i], want2[i]);
}

void TestSampleModelsAgainstNaive() {
  const ModelBuilder models[3] = {fbtest::SampleAutoencoder(), fbtest::SampleConvClassifier(),
                                  fbtest::SampleMixedOps()};
  fbtest::Lcg r(99);
  for (const ModelBuilder& m : models) {
    Rt rt(m.Build());
    FB_CHECK_EQ(rt.init_status, FB_MODEL_OK);
    if (rt.init_status != FB_MODEL_OK) continue;
    const size_t n_in = rt.rt.info().input_len;
    for (int k = 0; k < 200; ++k) {
      const auto win = RandWindow(r, n_in, k % 2 ? 2000 : 30000);
      const int16_t off = static_cast<int16_t>(k % 3 == 0 ? 0 : r.Int(-300, 300));
      rt.rt.apply_calibration_offset(off);
      const int8_t d = rt.rt.run_inference(win.data(), win.size());
      FB_CHECK(d >= 0);
      const auto ref = NaiveRun(m, win, off);
      const std::vector<int8_t>& want = ref[m.output];
      int mism = 0;
      for (size_t i = 0; i < want.size(); ++i) mism += rt.rt.output()[i] != want[i];
      FB_CHECK_EQ(mism, 0);
      if (m.postprocess == FB_MODEL_POST_ARGMAX) {
        size_t best = 0;
        for (size_t i = 1; i < want.size(); ++i)
          if (want[i] > want[best]) best = i;
        FB_CHECK_EQ(d, static_cast<int>(best));
      } else {
        const fb_model_tensor& to = m.tensors[m.output];
        const fb_model_tensor& ti = m.tensors[m.input];
        float sum = 0.0f;
        for (size_t i = 0; i < want.size(); ++i) {
          const float dd = static_cast<float>(want[i] - to.zero_point) * to.scale -
                           static_cast<float>(ref[m.input][i] - ti.zero_point) * ti.scale;
          const volatile float sq = dd * dd;
          sum += sq;
        }
        const float score = sum / static_cast<float>(want.size());
        const float got = rt.rt.score();
        FB_CHECK(std::memcmp(&score, &got, 4) == 0);
        FB_CHECK_EQ(d, score > m.threshold ? 1 : 0);
      }
    }
  }
}

void TestPostprocess() {
  // ARGMAX ties -> lowest index.
  ModelBuilder b;
  const uint16_t x = b.Tensor({1, 4}, 1.0f, 0, 0);
  const uint16_t y = b.Tensor({1, 4}, 1.0f, 0, 4);
  LayerSpec l;
  l.op = FB_MODEL_OP_RESHAPE;
  l.in0 = x;
  l.out = y;
  b.Layer(l);
  b.input = x;
  b.output = y;
  Rt rt(b.Build());
  const int16_t win[4] = {3, 9, 9, 1};
  FB_CHECK_EQ(rt.rt.run_inference(win, 4), 1);
  FB_CHECK(rt.rt.score() == 9.0f);
  // RECON_MSE with an identity model: score 0; threshold -1 -> anomaly.
  b.postprocess = FB_MODEL_POST_RECON_MSE;
  b.threshold = 0.5f;
  Rt ae(b.Build());
  FB_CHECK_EQ(ae.init_status, FB_MODEL_OK);
  FB_CHECK_EQ(ae.rt.run_inference(win, 4), 0);
  FB_CHECK(ae.rt.score() == 0.0f);
  FB_CHECK_EQ(ae.rt.set_threshold(-1.0f), FB_MODEL_OK);
  FB_CHECK_EQ(ae.rt.run_inference(win, 4), 1);
  FB_CHECK_EQ(ae.rt.set_threshold(NAN), FB_MODEL_ERR_BAD_ARG);
  FB_CHECK_EQ(ae.rt.set_threshold(INFINITY), FB_MODEL_ERR_BAD_ARG);
  FB_CHECK(ae.rt.threshold() == -1.0f);
}

void TestIntegrityPolicy() {
  const auto blob = fbtest::SampleAutoencoder().Build();
  Rt rt(blob, /*verify=*/false);
  FB_CHECK_EQ(rt.init_status, FB_MODEL_OK);
  std::vector<int16_t> win(16, 100);
  int8_t d = 0;
  FB_CHECK_EQ(rt.rt.run(win.data(), win.size(), &d), FB_MODEL_ERR_NOT_VERIFIED);
  FB_CHECK_EQ(d, -1);
  FB_CHECK_EQ(rt.rt.run_inference(win.data(), win.size()), -1);
  FB_CHECK_EQ(rt.rt.verify_bundle_integrity(), FB_MODEL_ERR_NO_VERIFIER);
  rt.rt.set_integrity_verifier(
      [](const uint8_t*, size_t, void* ctx) -> int32_t { return *static_cast<int*>(ctx); },
      nullptr);
  int verdict = 7;
  rt.rt.set_integrity_verifier(
      [](const uint8_t*, size_t, void* ctx) -> int32_t { return *static_cast<int*>(ctx); },
      &verdict);
  FB_CHECK_EQ(rt.rt.verify_bundle_integrity(), FB_MODEL_ERR_VERIFY_FAILED);
  FB_CHECK(!rt.rt.verified());
  verdict = FB_MODEL_OK;
  FB_CHECK_EQ(rt.rt.verify_bundle_integrity(), FB_MODEL_OK);
  FB_CHECK_EQ(rt.rt.run(win.data(), win.size(), &d), FB_MODEL_OK);
  FB_CHECK_EQ(rt.rt.run(win.data(), 15, &d), FB_MODEL_ERR_WINDOW_LEN);
  FB_CHECK_EQ(rt.rt.run(nullptr, 16, &d), FB_MODEL_ERR_NULL);
  // Blob modified in place after init: the CRC-only verifier refuses it.
  rt.rt.set_integrity_verifier(&edge::CrcOnlyVerifier, nullptr);
  rt.blob[rt.blob.size() - 1] ^= 1;
  FB_CHECK_EQ(rt.rt.verify_bundle_integrity(), FB_MODEL_ERR_VERIFY_FAILED);
  FB_CHECK_EQ(rt.rt.run(win.data(), win.size(), &d), FB_MODEL_ERR_NOT_VERIFIED);
  // Uninitialised runtime.
  edge::InferenceRuntime fresh;
  FB_CHECK_EQ(fresh.run(win.data(), win.size(), &d), FB_MODEL_ERR_NOT_READY);
  FB_CHECK_EQ(fresh.verify_bundle_integrity(), FB_MODEL_ERR_NOT_READY);
}

void TestPool() {
  const auto blob = fbtest::SampleConvClassifier().Build();
  size_t need = 0;
  FB_CHECK_EQ(edge::InferenceRuntime::required_pool_bytes(blob.data(), blob.size(), &need),
              FB_MODEL_OK);
  FB_CHECK_EQ(need, 192 + 7);  // arena 192 (reused), scratch 0, alignment slack
  std::vector<uint8_t> pool(need + 1);
  edge::InferenceRuntime rt;
  FB_CHECK_EQ(rt.init(blob.data(), blob.size(), pool.data(), need - 1),
              FB_MODEL_ERR_POOL_TOO_SMALL);
  FB_CHECK(!rt.ready());
  FB_CHECK_EQ(rt.init(blob.data(), blob.size(), nullptr, need), FB_MODEL_ERR_NULL);
  FB_CHECK_EQ(rt.init(blob.data(), blob.size(), pool.data() + 1, need), FB_MODEL_OK);
  // C ABI: handle included.
  size_t cneed = 0;
  FB_CHECK_EQ(fb_rt_pool_bytes(blob.data(), blob.size(), &cneed), FB_MODEL_OK);
  FB_CHECK(cneed > need);
  std::vector<uint8_t> cpool(cneed + 8);
  fb_rt_handle* h = nullptr;
  FB_CHECK_EQ(fb_rt_init(blob.data(), blob.size(), cpool.data(), cneed - 1, &h),
              FB_MODEL_ERR_POOL_TOO_SMALL);
  for (size_t shift = 0; shift < 8; ++shift) {
    FB_CHECK_EQ(fb_rt_init(blob.data(), blob.size(), cpool.data() + shift, cneed, &h),
                FB_MODEL_OK);
    FB_CHECK_EQ(fb_rt_allow_unsigned(h), FB_MODEL_OK);
    FB_CHECK_EQ(fb_rt_verify(h), FB_MODEL_OK);
    std::vector<int16_t> win(64, 500);
    int8_t d = -1;
    float score = 0;
    FB_CHECK_EQ(fb_rt_run(h, win.data(), win.size(), &d, &score), FB_MODEL_OK);
    FB_CHECK(d >= 0 && d < 3);
  }
  fb_rt_info info;
  FB_CHECK_EQ(fb_rt_validate(blob.data(), blob.size(), &info), FB_MODEL_OK);
  FB_CHECK_EQ(info.input_len, 64);
  FB_CHECK_EQ(info.output_len, 3);
  FB_CHECK_EQ(info.macs, 8 * 16 * 12 + 8 * 8 * 3 + 3 * 8);
  FB_CHECK_EQ(info.dump_bytes, 64 + 128 + 64 + 64 + 8 + 8 + 3);
}

// ---- parser rejections -------------------------------------------------------------------------
int32_t Validate(const std::vector<uint8_t>& b) {
  return edge::ValidateModel(b.data(), b.size(), nullptr);
}

template <typename T>
void Poke(std::vector<uint8_t>& b, size_t off, T v, bool fix = true) {
  std::memcpy(b.data() + off, &v, sizeof v);
  if (fix) FixCrc(b);
}

size_t TensorOff(uint32_t i) { return FB_MODEL_HEADER_BYTES + i * FB_MODEL_TENSOR_BYTES; }
size_t LayerOff(uint32_t n_tensors, uint32_t i) {
  return TensorOff(n_tensors) + i * FB_MODEL_LAYER_BYTES;
}

void TestRejections() {
  const ModelBuilder conv = fbtest::SampleConvClassifier();
  const auto good = conv.Build();
  const uint32_t nt = static_cast<uint32_t>(conv.tensors.size());
  FB_CHECK_EQ(Validate(good), FB_MODEL_OK);
  FB_CHECK_EQ(edge::ValidateModel(nullptr, 10, nullptr), FB_MODEL_ERR_NULL);

  auto b = good;
  FB_CHECK_EQ(edge::ValidateModel(b.data(), 63, nullptr), FB_MODEL_ERR_TRUNCATED);
  FB_CHECK_EQ(edge::ValidateModel(b.data(), b.size() - 1, nullptr), FB_MODEL_ERR_TRUNCATED);
  b.push_back(0);
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_HEADER);  // trailing bytes
  b = good;
  Poke<uint32_t>(b, 0, 0x12345678u);
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_MAGIC);
  b = good;
  Poke<uint16_t>(b, 4, 2);
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_VERSION);
  b = good;
  Poke<uint16_t>(b, 6, 60);
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_HEADER);
  b = good;
  b[b.size() - 1] ^= 0x40;  // no CRC fix
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_CRC);
  b = good;
  Poke<uint16_t>(b, 16, 0);
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_LIMITS);
  b = good;
  Poke<uint16_t>(b, 18, 65);
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_LIMITS);
  b = good;
  Poke<uint32_t>(b, 28, 4);  // params offset
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_OFFSET);
  b = good;
  Poke<uint8_t>(b, 53, 1);  // flags
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_HEADER);
  b = good;
  Poke<float>(b, 48, NAN);  // input scale
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_HEADER);
  b = good;
  Poke<uint16_t>(b, 46, 0);  // output == input
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_HEADER);
  b = good;
  Poke<uint32_t>(b, 36, 191);  // arena smaller than the plan
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_ARENA_BOUNDS);
  b = good;
  Poke<uint32_t>(b, 40, FB_MODEL_MAX_SCRATCH_BYTES + 1);
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_ARENA_BOUNDS);
  // Tensor fields.
  b = good;
  Poke<uint8_t>(b, TensorOff(1), 2);  // dtype
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_TENSOR);
  b = good;
  Poke<uint8_t>(b, TensorOff(1) + 1, 5);  // rank
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_TENSOR);
  b = good;
  Poke<uint16_t>(b, TensorOff(1) + 4 + 2, 0);  // dim 0
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_TENSOR);
  b = good;
  Poke<float>(b, TensorOff(1) + 12, -1.0f);  // scale
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_TENSOR);
  b = good;
  Poke<int32_t>(b, TensorOff(1) + 16, 128);  // zp
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_TENSOR);
  b = good;
  Poke<uint32_t>(b, TensorOff(1) + 24, 127);  // size_bytes
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_TENSOR);
  b = good;
  Poke<uint32_t>(b, TensorOff(1) + 20, 0xFFFFFFF0u);  // offset past the arena (no wrap)
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_ARENA_BOUNDS);
  // Arena overlap: conv1 output moved onto its own input.
  b = good;
  Poke<uint32_t>(b, TensorOff(1) + 20, 0);
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_ARENA_OVERLAP);
  // Shapes and ops.
  b = good;
  Poke<uint16_t>(b, TensorOff(1) + 4 + 6, 15);  // conv out W 16 -> 15
  Poke<uint32_t>(b, TensorOff(1) + 24, 120);
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_SHAPE);
  b = good;
  Poke<uint8_t>(b, LayerOff(nt, 0), FB_MODEL_OP_SOFTMAX);
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_OP);
  b = good;
  Poke<uint8_t>(b, LayerOff(nt, 0), 200);
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_OP);
  b = good;
  Poke<uint16_t>(b, LayerOff(nt, 0) + 4, 40);  // input id out of range
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_LAYER);
  b = good;
  Poke<uint16_t>(b, LayerOff(nt, 0) + 4, 2);  // reads a tensor written later
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_LAYER);
  b = good;
  Poke<uint16_t>(b, LayerOff(nt, 1) + 8, 1);  // writes tensor 1 twice
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_LAYER);
  b = good;
  Poke<int8_t>(b, LayerOff(nt, 0) + 3, -100);  // qmax -100 ...
  Poke<int8_t>(b, LayerOff(nt, 0) + 2, 0);     // ... below qmin 0
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_LAYER);
  b = good;
  Poke<uint16_t>(b, LayerOff(nt, 0) + 20 + 2 * 2, 0);  // stride 0
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_LAYER);
  b = good;
  Poke<uint16_t>(b, LayerOff(nt, 0) + 20 + 2 * 10, 3);  // group 3 does not divide 4
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_SHAPE);
  b = good;
  Poke<uint32_t>(b, LayerOff(nt, 0) + 16, 4);  // params_bytes wrong for the op
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_PARAMS);
  b = good;
  Poke<uint32_t>(b, LayerOff(nt, 0) + 12, 2);  // misaligned params offset
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_OFFSET);
  b = good;
  Poke<uint32_t>(b, LayerOff(nt, 0) + 12, 0xFFFFFFF0u);  // params past the section (no wrap)
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_OFFSET);
  b = good;
  {
    const size_t p0 = TensorOff(nt) + conv.layers.size() * FB_MODEL_LAYER_BYTES;
    Poke<float>(b, p0, NAN);  // first conv multiplier
    FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_PARAMS);
    b = good;
    Poke<int32_t>(b, p0 + 4 * 8, 0x7FFFFFFF);  // bias too large for the accumulator bound
    FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_PARAMS);
  }
  b = good;
  Poke<uint8_t>(b, 52, 3);  // postprocess kind
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_POSTPROCESS);
  b = good;
  Poke<float>(b, 56, INFINITY);
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_POSTPROCESS);
  b = good;
  Poke<uint8_t>(b, 52, FB_MODEL_POST_RECON_MSE);  // output 3 != input 64 elements
  FB_CHECK_EQ(Validate(b), FB_MODEL_ERR_BAD_POSTPROCESS);
  // A tensor that is never written.
  {
    ModelBuilder m = fbtest::SampleAutoencoder();
    m.Tensor({1, 4}, 1.0f, 0, 0);
    FB_CHECK_EQ(Validate(m.Build()), FB_MODEL_ERR_BAD_LAYER);
  }
  // RECON_MSE keeps the input alive to the end: reusing its bytes is an overlap.
  {
    ModelBuilder m = fbtest::SampleAutoencoder();
    m.tensors[2].arena_offset = 0;  // output over the input
    FB_CHECK_EQ(Validate(m.Build()), FB_MODEL_ERR_ARENA_OVERLAP);
    m.postprocess = FB_MODEL_POST_ARGMAX;  // now the input is dead after layer 0: reuse is fine
    FB_CHECK_EQ(Validate(m.Build()), FB_MODEL_OK);
  }
}

void TestCorruptionSweep() {
  // Every truncation and every single-bit flip is rejected (or, for flips, caught by the CRC);
  // never a crash (run under ASan/UBSan in the asan build).
  const ModelBuilder models[3] = {fbtest::SampleAutoencoder(), fbtest::SampleConvClassifier(),
                                  fbtest::SampleMixedOps()};
  long rejected = 0, total = 0;
  for (const ModelBuilder& m : models) {
    const auto good = m.Build();
    for (size_t n = 0; n < good.size(); ++n) {
      const int32_t st = edge::ValidateModel(good.data(), n, nullptr);
      FB_CHECK(st == FB_MODEL_ERR_TRUNCATED);
      ++total;
      rejected += st != FB_MODEL_OK;
    }
    for (size_t i = 0; i < good.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        auto b = good;
        b[i] ^= static_cast<uint8_t>(1u << bit);
        const int32_t st = Validate(b);
        FB_CHECK(st != FB_MODEL_OK);
        ++total;
        rejected += st != FB_MODEL_OK;
        // Same flip with the CRC fixed up: must be rejected or run safely.
        FixCrc(b);
        if (Validate(b) == FB_MODEL_OK) {
          Rt rt(b);
          std::vector<int16_t> win(rt.rt.info().input_len, 1234);
          (void)rt.rt.run_inference(win.data(), win.size());
        }
      }
    }
  }
  FB_CHECK_EQ(rejected, total);
  std::printf("corruption sweep: %ld/%ld rejected\n", rejected, total);
}

}  // namespace

int main() {
  TestRounding();
  TestQuantizeInput();
  TestSampleModelsAgainstNaive();
  TestPostprocess();
  TestIntegrityPolicy();
  TestPool();
  TestRejections();
  TestCorruptionSweep();
  FB_TEST_MAIN_END();
}
