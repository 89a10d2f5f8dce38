// Host-only support for the signed-bundle node tests: a deterministic ECDSA P-256 signer
// (mbedTLS), the manifest encoder, the device components (FBTH thresholds, FBCA calibration with
// the front-end plan, FBSV self-test vectors whose expectations come from the host build of the
// same pipeline), bundle files, factory provisioning into a slot, and a simulated board running
// the real boot flow (node::NodeBoot) and link endpoint with the real bundle verifier.
// Test code: heap and std containers are fine here.
#pragma once

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "edge_runtime/bundle_format.h"
#include "edge_runtime/bundle_verify.h"
#include "edge_runtime/feature_capi.h"
#include "edge_runtime/inference_runtime.h"
#include "host_port/host_flash.h"
#include "host_port/host_port.h"
#include "model_builder.h"
#include "node/boot_verify.h"
#include "node/health_check.h"
#include "node/link_endpoint.h"
#include "node/link_protocol.h"
#include "node_test_support.h"
#include "plan_builder.h"

namespace bt {

using nodetest::AppImage;
namespace eb = edge::bundle;
namespace lk = node::link;

inline void Put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x));
  v.push_back(static_cast<uint8_t>(x >> 8));
}
inline void Put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<uint8_t>(x >> (8 * i)));
}
inline void PutF(std::vector<uint8_t>& v, float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  Put32(v, b);
}
inline std::vector<uint8_t> Sha(const std::vector<uint8_t>& d) {
  std::vector<uint8_t> out(32);
  node::Sha256 s;
  s.Update(d.data(), d.size());
  s.Final(out.data());
  return out;
}

// ---- signer ------------------------------------------------------------------------------------
inline int DetRng(void* ctx, unsigned char* out, size_t n) {
  uint64_t* s = static_cast<uint64_t*>(ctx);
  for (size_t i = 0; i < n; ++i) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    out[i] = static_cast<unsigned char>(*s >> 56);
  }
  return 0;
}

class Signer {
 public:
  explicit Signer(uint8_t seed = 1) {
    mbedtls_pk_init(&pk_);
    NT_CHECK(mbedtls_pk_setup(&pk_, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) == 0);
    mbedtls_ecp_keypair* kp = mbedtls_pk_ec(pk_);
    NT_CHECK(mbedtls_ecp_group_load(&kp->grp, MBEDTLS_ECP_DP_SECP256R1) == 0);
    uint8_t d[32];
    for (int i = 0; i < 32; ++i) d[i] = static_cast<uint8_t>(seed * 31 + i * 7 + 1);
    d[0] = 0x3F;  // below the group order
    NT_CHECK(mbedtls_mpi_read_binary(&kp->d, d, 32) == 0);
    uint64_t rng = seed;
    NT_CHECK(mbedtls_ecp_mul(&kp->grp, &kp->Q, &kp->d, &kp->grp.G, DetRng, &rng) == 0);
    uint8_t buf[200];
    const int n = mbedtls_pk_write_pubkey_der(&pk_, buf, sizeof buf);
    NT_CHECK(n > 0);
    spki_.assign(buf + sizeof buf - n, buf + sizeof buf);
    const std::vector<uint8_t> id = Sha(spki_);
    std::memcpy(key_.key_id, id.data(), 32);
    key_.spki_der = spki_.data();
    key_.spki_len = static_cast<uint16_t>(spki_.size());
  }
  ~Signer() { mbedtls_pk_free(&pk_); }
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  const eb::TrustedKey& key() const { return key_; }
  std::vector<uint8_t> key_id() const { return {key_.key_id, key_.key_id + 32}; }

  // Strict DER, low-S ECDSA P-256 over SHA-256(msg).
  std::vector<uint8_t> Sign(const std::vector<uint8_t>& msg) const {
    const std::vector<uint8_t> h = Sha(msg);
    mbedtls_ecp_keypair* kp = mbedtls_pk_ec(pk_);
    mbedtls_mpi r, s, half;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    mbedtls_mpi_init(&half);
    uint64_t rng = 99;
    NT_CHECK(mbedtls_ecdsa_sign_det_ext(&kp->grp, &r, &s, &kp->d, h.data(), 32, MBEDTLS_MD_SHA256,
                                        DetRng, &rng) == 0);
    NT_CHECK(mbedtls_mpi_copy(&half, &kp->grp.N) == 0);
    NT_CHECK(mbedtls_mpi_shift_r(&half, 1) == 0);
    if (mbedtls_mpi_cmp_mpi(&s, &half) > 0) NT_CHECK(mbedtls_mpi_sub_mpi(&s, &kp->grp.N, &s) == 0);
    auto integer = [](const mbedtls_mpi& x) {
      uint8_t b[33] = {};
      NT_CHECK(mbedtls_mpi_write_binary(&x, b + 1, 32) == 0);
      int start = 1;
      while (start < 32 && b[start] == 0) ++start;
      if (b[start] & 0x80) --start;
      std::vector<uint8_t> out;
      out.reserve(40);
      out.push_back(0x02);
      out.push_back(static_cast<uint8_t>(33 - start));
      for (int i = start; i < 33; ++i) out.push_back(b[i]);
      return out;
    };
    const std::vector<uint8_t> ri = integer(r), si = integer(s);
    std::vector<uint8_t> der;
    der.reserve(80);
    der.push_back(0x30);
    der.push_back(static_cast<uint8_t>(ri.size() + si.size()));
    for (uint8_t x : ri) der.push_back(x);
    for (uint8_t x : si) der.push_back(x);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    mbedtls_mpi_free(&half);
    return der;
  }

 private:
  mutable mbedtls_pk_context pk_;
  std::vector<uint8_t> spki_;
  eb::TrustedKey key_{};
};

// ---- the pipeline: front-end plan, model, reference expectations --------------------------------
// 3-axis vibration, 16 linear bands 0..800 Hz, high-pass 10 Hz, no stats: 48 features per frame;
// a dense autoencoder 48 -> 8 -> 48 (RECON_MSE) over one frame.
inline fbtest::Recipe NodeRecipe() {
  fbtest::Recipe r = fbtest::VibrationRecipe();
  r.stats_mask = 0;
  return r;
}

inline std::vector<uint8_t> NodeModel(uint32_t seed) {
  fbtest::Lcg r(seed);
  fbtest::ModelBuilder b;
  const uint16_t x = b.Tensor({1, 48}, 0.06f, -20, 0);
  const uint16_t h = b.Tensor({1, 8}, 0.05f, -128, 48);
  const uint16_t y = b.Tensor({1, 48}, 0.06f, -10, 56);
  fbtest::LayerSpec l1;
  l1.op = FB_MODEL_OP_GEMM;
  l1.in0 = x;
  l1.out = h;
  l1.params = fbtest::RandMacParams(r, 8, 48, 0.0015f);
  b.Layer(l1);
  fbtest::LayerSpec l2;
  l2.op = FB_MODEL_OP_GEMM;
  l2.in0 = h;
  l2.out = y;
  l2.params = fbtest::RandMacParams(r, 48, 8, 0.004f);
  b.Layer(l2);
  b.input = x;
  b.output = y;
  b.input_scale = 1.0f / 256.0f;
  b.postprocess = FB_MODEL_POST_RECON_MSE;
  b.threshold = 1.0f;
  return b.Build();
}

inline std::vector<uint8_t> Thresholds(float t, uint32_t magic = node::kThresholdsMagic) {
  std::vector<uint8_t> v;
  Put32(v, magic);
  Put16(v, 1);
  Put16(v, 16);
  PutF(v, t);
  Put32(v, 0);
  return v;
}

inline std::vector<uint8_t> Calibration(const fbtest::OwnedPlan& op, int16_t offset) {
  const fb_fe_plan p = op.plan();
  std::vector<uint8_t> v;
  Put32(v, node::kCalibrationMagic);
  Put16(v, 1);
  Put16(v, 48);
  Put16(v, static_cast<uint16_t>(offset));
  Put16(v, 0);
  for (uint16_t x : {p.channels, p.window_size, p.hop_length, p.fft_size, p.warmup, p.buffer_size}) Put16(v, x);
  for (uint8_t x : {p.dc_removal, p.filter_enabled, p.compression, p.stats_mask}) v.push_back(x);
  for (int i = 0; i < 5; ++i) Put16(v, static_cast<uint16_t>(p.biquad_q14[i]));
  Put16(v, p.n_bands);
  Put32(v, p.n_band_weights);
  Put16(v, p.window_q15 != nullptr ? 1 : 0);
  Put16(v, 0);
  if (p.n_bands > 0) {
    for (uint32_t i = 0; i < (p.fft_size / 2u + 1u) * 2u; ++i) Put32(v, static_cast<uint32_t>(p.twiddle[i]));
  }
  if (p.window_q15 != nullptr) {
    for (uint32_t i = 0; i < p.window_size; ++i) Put16(v, static_cast<uint16_t>(p.window_q15[i]));
  }
  for (uint32_t i = 0; i < p.n_bands; ++i) Put16(v, p.band_start[i]);
  for (uint32_t i = 0; i < p.n_bands; ++i) Put16(v, p.band_len[i]);
  for (uint32_t i = 0; i < p.n_band_weights; ++i) Put16(v, p.band_weights[i]);
  return v;
}

// A recording of one segment (L sample frames × channels): tone + noise, amplitude by vector.
inline std::vector<int16_t> Recording(uint32_t frames, uint32_t channels, uint32_t index) {
  std::vector<int16_t> s(frames * channels);
  uint32_t x = 12345u + index * 7919u;
  for (uint32_t i = 0; i < frames; ++i) {
    for (uint32_t c = 0; c < channels; ++c) {
      x = x * 1103515245u + 12345u;
      const int32_t noise = static_cast<int32_t>((x >> 16) & 0x3FF) - 512;
      const int32_t tone = ((i * (5 + c + index)) % 64 < 32 ? 1 : -1) * static_cast<int32_t>(300 + 700 * index);
      s[i * channels + c] = static_cast<int16_t>(tone + noise * static_cast<int32_t>(1 + index % 3));
    }
  }
  return s;
}

struct Expect {
  int8_t decision;
  float score;
};

// The reference: the host build of the front end (batch path) and the INT8 runtime.
inline std::vector<Expect> Reference(const std::vector<uint8_t>& model, const fbtest::OwnedPlan& op,
                                     float threshold, int16_t offset,
                                     const std::vector<std::vector<int16_t>>& recs) {
  const fb_fe_plan p = op.plan();
  size_t fe_bytes = 0;
  NT_CHECK(fb_fe_pool_bytes(&p, &fe_bytes) == FB_OK);
  std::vector<uint8_t> fe_pool(fe_bytes);
  fb_fe_handle* h = nullptr;
  NT_CHECK(fb_fe_init(&p, fe_pool.data(), fe_pool.size(), &h) == FB_OK);
  size_t pool = 0;
  NT_CHECK(edge::InferenceRuntime::required_pool_bytes(model.data(), model.size(), &pool) == FB_MODEL_OK);
  std::vector<uint8_t> rt_pool(pool);
  edge::InferenceRuntime rt;
  NT_CHECK(rt.init(model.data(), model.size(), rt_pool.data(), rt_pool.size()) == FB_MODEL_OK);
  rt.set_integrity_verifier(&edge::CrcOnlyVerifier, nullptr);
  NT_CHECK(rt.verify_bundle_integrity() == FB_MODEL_OK);
  NT_CHECK(rt.set_threshold(threshold) == FB_MODEL_OK);
  rt.apply_calibration_offset(offset);
  std::vector<Expect> out;
  std::vector<int16_t> feat(48);
  for (const auto& r : recs) {
    NT_CHECK(fb_fe_extract_batch(h, r.data(), 1, feat.data()) == FB_OK);
    int8_t d = -1;
    NT_CHECK(rt.run(feat.data(), feat.size(), &d) == FB_MODEL_OK);
    out.push_back({d, rt.score()});
  }
  return out;
}

inline std::vector<uint8_t> SelfTest(const std::vector<std::vector<int16_t>>& recs,
                                     const std::vector<Expect>& ex) {
  std::vector<uint8_t> v;
  Put32(v, node::kSelfTestMagic);
  Put16(v, 1);
  Put16(v, 16);
  Put16(v, static_cast<uint16_t>(recs.size()));
  v.push_back(1);  // raw recordings
  v.push_back(0);
  Put32(v, static_cast<uint32_t>(recs[0].size()));
  for (size_t i = 0; i < recs.size(); ++i) {
    v.push_back(static_cast<uint8_t>(ex[i].decision));
    v.push_back(0);
    v.push_back(0);
    v.push_back(0);
    PutF(v, ex[i].score);
    for (int16_t s : recs[i]) Put16(v, static_cast<uint16_t>(s));
  }
  return v;
}

// ---- bundles -------------------------------------------------------------------------------------
enum class Fault {
  kNone,
  kSelfTestExpectation,  // signed, but vector 0 expects the other decision
  kThresholdValue,       // signed thresholds that change decisions
  kThresholdFormat,      // signed thresholds component with a bad magic
  kCalibrationValue,     // signed calibration with another default offset
  kCalibrationFormat,    // signed calibration whose plan does not add up
  kModelWeights,         // signed model with other weights (expectations from the original)
  kModelFormat,          // signed model blob that does not parse
};

struct BundleSpec {
  std::string id = "bundle-A";
  uint32_t epoch = 1;
  uint32_t fw_payload = 20000;
  uint32_t seed = 1;
  uint8_t min_battery = 15;
  uint16_t abi_min = 1, abi_max = 2;
  std::string chip = "esp32s3";
  std::string board = "esp32-s3-devkitc-1";
  uint32_t vectors = 6;
  int16_t offset = 3;
  Fault fault = Fault::kNone;
};

struct BuiltBundle {
  std::vector<uint8_t> file;
  std::vector<std::vector<uint8_t>> comps;
  uint32_t prefix = 0;
  std::string id;
  uint32_t epoch = 0;
};

inline const std::vector<uint8_t>& PartitionHash() {
  static const std::vector<uint8_t> h = Sha(nodetest::PartitionTableBytes());
  return h;
}

inline void Tlv(std::vector<uint8_t>& m, uint16_t tag, const std::vector<uint8_t>& v) {
  Put16(m, tag);
  Put16(m, static_cast<uint16_t>(v.size()));
  m.insert(m.end(), v.begin(), v.end());
}
inline std::vector<uint8_t> Str(const std::string& s) { return {s.begin(), s.end()}; }
inline std::vector<uint8_t> U32v(uint32_t x) {
  std::vector<uint8_t> v;
  Put32(v, x);
  return v;
}

inline BuiltBundle BuildBundle(const Signer& signer, const BundleSpec& sp) {
  static const fbtest::OwnedPlan plan(NodeRecipe());
  BuiltBundle b;
  b.id = sp.id;
  b.epoch = sp.epoch;
  std::vector<uint8_t> model = NodeModel(7);
  const fb_fe_plan p = plan.plan();
  const uint32_t seg = static_cast<uint32_t>(p.warmup) + p.window_size;
  std::vector<std::vector<int16_t>> recs;
  for (uint32_t i = 0; i < sp.vectors; ++i) recs.push_back(Recording(seg, p.channels, i));
  // Threshold: the median score, so the vectors expect both decisions.
  std::vector<Expect> probe = Reference(model, plan, 1.0f, sp.offset, recs);
  std::vector<float> scores;
  for (const Expect& e : probe) scores.push_back(e.score);
  std::sort(scores.begin(), scores.end());
  const float threshold = scores[scores.size() / 2];
  std::vector<Expect> ex = Reference(model, plan, threshold, sp.offset, recs);
  std::vector<uint8_t> thresholds = Thresholds(threshold);
  std::vector<uint8_t> calibration = Calibration(plan, sp.offset);
  switch (sp.fault) {
    case Fault::kSelfTestExpectation: ex[0].decision = static_cast<int8_t>(1 - ex[0].decision); break;
    case Fault::kThresholdValue: thresholds = Thresholds(-1.0f); break;  // every vector "anomalous"
    case Fault::kThresholdFormat: thresholds = Thresholds(threshold, 0x12345678u); break;
    case Fault::kCalibrationValue: calibration = Calibration(plan, static_cast<int16_t>(sp.offset + 900)); break;
    case Fault::kCalibrationFormat: calibration.resize(calibration.size() - 2); break;
    case Fault::kModelWeights: model = NodeModel(8); break;
    case Fault::kModelFormat: model[0] ^= 0xFF; break;
    case Fault::kNone: break;
  }
  std::vector<uint8_t> drift(512 + sp.seed % 100);
  for (size_t i = 0; i < drift.size(); ++i) drift[i] = static_cast<uint8_t>(i * 13 + sp.seed);
  b.comps = {AppImage(sp.id, sp.epoch, sp.fw_payload, sp.seed), model, thresholds, calibration,
             drift, SelfTest(recs, ex)};
  // Manifest (tags strictly increasing).
  const uint16_t vers[4] = {static_cast<uint16_t>(0x100 + sp.epoch), 1, 1, 1};
  std::vector<uint8_t> m;
  Tlv(m, eb::kTagBundleId, Str(sp.id));
  Tlv(m, eb::kTagFirmwareVersion, Str("fw-" + sp.id));
  Tlv(m, eb::kTagModelVersion, Str("model-1"));
  Tlv(m, eb::kTagThresholdVersion, Str("thresh-1"));
  Tlv(m, eb::kTagCalibrationVersion, Str("calib-1"));
  std::vector<uint8_t> vv;
  for (uint16_t x : vers) Put16(vv, x);
  Tlv(m, eb::kTagVersionNumbers, vv);
  Tlv(m, eb::kTagToolVersion, Str("fieldbench test"));
  Tlv(m, eb::kTagProfile, Str("industrial-sensors"));
  Tlv(m, eb::kTagEpoch, U32v(sp.epoch));
  Tlv(m, eb::kTagKeyId, signer.key_id());
  Tlv(m, eb::kTagChip, Str(sp.chip));
  Tlv(m, eb::kTagBoardId, Str(sp.board));
  Tlv(m, eb::kTagFlashSize, U32v(8u * 1024u * 1024u));
  Tlv(m, eb::kTagPartitionHash, PartitionHash());
  std::vector<uint8_t> abi;
  Put16(abi, sp.abi_min);
  Put16(abi, sp.abi_max);
  Put16(abi, 1);
  Tlv(m, eb::kTagFirmwareAbi, abi);
  Tlv(m, eb::kTagTargetEnvironment, {0});
  Tlv(m, eb::kTagMinBatteryLevel, {sp.min_battery});
  Tlv(m, eb::kTagMaxLatencyMs, U32v(45));
  Tlv(m, eb::kTagPeakRamBudget, U32v(65536));
  Tlv(m, eb::kTagThresholdPolicy, {0});
  Tlv(m, eb::kTagCalibrationPolicy, {0});
  Tlv(m, eb::kTagRollbackPolicy, {1});
  Tlv(m, eb::kTagModelPoolBytes, U32v(4096));
  Tlv(m, eb::kTagModelLatencyUs, U32v(100));
  uint32_t payload = 0;
  for (int c = 0; c < eb::kComponentCount; ++c) {
    std::vector<uint8_t> v = U32v(static_cast<uint32_t>(b.comps[c].size()));
    const std::vector<uint8_t> h = Sha(b.comps[c]);
    v.insert(v.end(), h.begin(), h.end());
    Tlv(m, static_cast<uint16_t>(eb::kTagComponentFirst + c), v);
    payload += static_cast<uint32_t>(b.comps[c].size());
  }
  const std::vector<uint8_t> sig = signer.Sign(m);
  eb::BundleHeader hd{};
  hd.magic = eb::kMagic;
  hd.format_version = eb::kFormatVersion;
  hd.header_size = eb::kHeaderSize;
  hd.fw_version = vers[0];
  hd.model_version = vers[1];
  hd.threshold_version = vers[2];
  hd.calibration_version = vers[3];
  hd.manifest_size = static_cast<uint32_t>(m.size());
  hd.signature_size = static_cast<uint32_t>(sig.size());
  hd.payload_size = payload;
  uint8_t hb[eb::kHeaderSize];
  eb::EncodeHeader(hd, hb);
  b.file.assign(hb, hb + eb::kHeaderSize);
  b.file.insert(b.file.end(), m.begin(), m.end());
  b.file.insert(b.file.end(), sig.begin(), sig.end());
  b.prefix = static_cast<uint32_t>(b.file.size());
  for (const auto& c : b.comps) b.file.insert(b.file.end(), c.begin(), c.end());
  return b;
}

// Factory provisioning of bundle `b` into slot `slot` (seq != 0: otadata VALID entry in `copy`).
inline void ProvisionBundle(uint8_t* mem, const BuiltBundle& b, int slot, uint32_t seq, int copy) {
  nodetest::Bundle nb;
  nb.app = b.comps[0];
  nb.data.assign(b.file.begin(), b.file.begin() + b.prefix);
  nb.data.insert(nb.data.end(), b.file.begin() + b.prefix + static_cast<long>(b.comps[0].size()), b.file.end());
  std::memset(&nb.manifest, 0, sizeof nb.manifest);
  nb.manifest.app_size = static_cast<uint32_t>(nb.app.size());
  nb.manifest.data_size = static_cast<uint32_t>(nb.data.size());
  nb.manifest.epoch = b.epoch;
  std::snprintf(nb.manifest.bundle_version, sizeof nb.manifest.bundle_version, "%s", b.id.c_str());
  const std::vector<uint8_t> ha = Sha(nb.app), hd = Sha(nb.data);
  std::memcpy(nb.manifest.app_sha256, ha.data(), 32);
  std::memcpy(nb.manifest.data_sha256, hd.data(), 32);
  nodetest::Provision(mem, nb, slot, seq, copy);
}

// ---- the simulated board ---------------------------------------------------------------------------
struct Buffers {
  alignas(16) uint8_t fe_pool[32768];
  alignas(16) uint8_t rt_pool[16384];
  alignas(16) uint8_t model[65536];
  alignas(16) uint8_t calib[16384];
  int16_t window[1024];
  int16_t samples[768];
  int16_t frames[256];
};

// The sensor of the board: the host port's stub, plus injected faults.
class FaultySensor final : public node::SensorPort {
 public:
  explicit FaultySensor(hostport::SimClock& clock) : clock_(clock) {}
  bool hang = false;   // the driver blocks: 10 s of simulated time per read
  bool stuck = false;  // returns a constant
  uint32_t Channels() override { return stub_.Channels(); }
  uint32_t RateHz() override { return stub_.RateHz(); }
  int32_t Read(int16_t* dst, uint32_t frames) override {
    if (hang) clock_.Advance(10'000'000);
    const int32_t n = stub_.Read(dst, frames);
    if (stuck && n > 0) std::fill(dst, dst + n * 3, int16_t{100});
    clock_.Advance(static_cast<uint64_t>(n > 0 ? n : 0) * 625);  // 1600 Hz
    return n;
  }

 private:
  hostport::SimClock& clock_;
  hostport::StubSensor stub_;
};

class NullLink final : public node::LinkPort {
 public:
  std::vector<uint8_t> out;
  int32_t Read(uint8_t*, uint32_t) override { return 0; }
  int32_t Write(const uint8_t* src, uint32_t len) override {
    out.insert(out.end(), src, src + len);
    return static_cast<int32_t>(len);
  }
};

struct Boot {
  enum Kind { kStable, kReboot, kPowerLost, kBrick } kind;
  int slot;
  node::BootOutcome outcome;
  std::string version;
  node::HealthFailure health;
};

class Board {
 public:
  explicit Board(const Signer& signer)
      : mem_(hostport::HostFlash::kDefaultSize, 0xFF),
        board_(flash_, efuse_),
        sensor_(clock_),
        buffers_(new Buffers()) {
    flash_.UseBuffer(mem_.data(), static_cast<uint32_t>(mem_.size()));
    key_ = signer.key();
    trust_ = node::BundleTrust{&key_, 1, "esp32s3", "esp32-s3-devkitc-1", 8u * 1024u * 1024u, 1, true};
    Buffers& b = *buffers_;
    config_.trust = trust_;
    config_.buffers = node::HealthBuffers{b.fe_pool, sizeof b.fe_pool, b.rt_pool, sizeof b.rt_pool,
                                          b.model, sizeof b.model, b.calib, sizeof b.calib,
                                          b.window, 1024, b.samples, 768, b.frames, 256,
                                          map_flash ? &Board::Map : nullptr, this};
    config_.health_budget_us = 5'000'000;
    config_.watchdog_expire = &Board::WatchdogReset;
    config_.watchdog_ctx = this;
    port_ = node::Port{&flash_, &board_.boot(), &link_, &clock_, &battery_, &sensor_, &log_};
  }

  uint8_t* mem() { return mem_.data(); }
  hostport::HostFlash& flash() { return flash_; }
  hostport::HostBoard& board() { return board_; }
  hostport::VirtualEfuse& efuse() { return efuse_; }
  hostport::SimBattery& battery() { return battery_; }
  hostport::SimClock& clock() { return clock_; }
  FaultySensor& sensor() { return sensor_; }
  const node::Port& port() const { return port_; }
  node::NodeBootConfig& config() { return config_; }
  void LoadLayout() { NT_CHECK(board_.LoadLayout() == node::Status::kOk); }

  // Faults of the bundle with this id while it is on trial.
  std::string crash_id;  // crashes at boot before confirming
  std::string hang_id;   // its sensor driver hangs (the watchdog fires)
  bool cut_before_confirm = false;  // power lost at the trial's first write
  bool map_flash = false;
  std::string confirmed_id;
  int watchdog_resets = 0;

  static const uint8_t* Map(void* ctx, uint32_t addr, uint32_t len) {
    Board* self = static_cast<Board*>(ctx);
    if (addr > self->mem_.size() || len > self->mem_.size() - addr) return nullptr;
    return self->mem_.data() + addr;
  }
  static void WatchdogReset(void* ctx) {
    Board* self = static_cast<Board*>(ctx);
    ++self->watchdog_resets;
    self->flash_.ArmCut(1, hostport::CutKind::kClean, 0);  // the chip resets: nothing more is written
  }

  // The running firmware's boot flow object of the last boot (valid until the next boot).
  node::NodeBoot* node() { return node_.get(); }

  Boot BootOnce() {
    node_.reset();
    sensor_.hang = false;
    int slot = -1;
    const node::Status st = board_.PowerOn(&slot);
    if (st == node::Status::kPowerLost) return {Boot::kPowerLost, -1, node::BootOutcome::kPowerLost, "", {}};
    if (st != node::Status::kOk) return {Boot::kBrick, -1, node::BootOutcome::kNoValidBundle, "", {}};
    const node::OtaState state = board_.boot().RunningState();
    const std::string running = SlotId(slot);
    if (!crash_id.empty() && running == crash_id && state != node::OtaState::kValid) {
      return {Boot::kReboot, slot, node::BootOutcome::kRevertRequested, "crash", {}};
    }
    sensor_.hang = !hang_id.empty() && running == hang_id && state != node::OtaState::kValid;
    if (cut_before_confirm && state == node::OtaState::kPendingVerify) {
      flash_.ArmCut(1, hostport::CutKind::kClean, 0);
    }
    config_.buffers.map = map_flash ? &Board::Map : nullptr;
    node_.reset(new node::NodeBoot(port_, board_.layout(), config_));
    const node::BootSummary s = node_->Run();
    const node::HealthFailure hf = node_->health_ran() ? node_->health().failure : node::HealthFailure::kNone;
    sensor_.hang = false;
    if (s.outcome == node::BootOutcome::kPowerLost) return {Boot::kPowerLost, slot, s.outcome, "", hf};
    node::SlotReport report;
    node::Status io;
    if (s.outcome == node::BootOutcome::kConfirmed) confirmed_id = SlotId(slot);
    if (board_.boot().reboot_requested()) return {Boot::kReboot, slot, s.outcome, "", hf};
    if (s.outcome != node::BootOutcome::kRunning && s.outcome != node::BootOutcome::kConfirmed) {
      return {Boot::kBrick, slot, s.outcome, "", hf};
    }
    NT_CHECK(node_->slots().Verify(slot, &report, &io) == node::Reason::kNone);
    return {Boot::kStable, slot, s.outcome, report.manifest.bundle_version, hf};
  }

  // Boots until stable; a power loss is followed by a power-on (the supply comes back).
  Boot BootUntilStable(int max_boots = 10) {
    Boot last{Boot::kBrick, -1, node::BootOutcome::kNoValidBundle, "boot loop", {}};
    for (int i = 0; i < max_boots; ++i) {
      last = BootOnce();
      if (last.kind == Boot::kReboot || last.kind == Boot::kPowerLost) {
        flash_.Disarm();
        flash_.PowerOn();
        continue;
      }
      return last;
    }
    return last;
  }

  // Bundle id in a slot's manifest ("" if none).
  std::string SlotId(int slot) {
    uint8_t raw[node::kSlotManifestSize];
    node::SlotManifest m;
    if (flash_.Read(board_.layout().model[slot].offset, raw, sizeof raw) != node::Status::kOk ||
        !node::DecodeSlotManifest(raw, &m)) {
      return "";
    }
    return m.bundle_version;
  }

 private:
  std::vector<uint8_t> mem_;
  hostport::HostFlash flash_;
  hostport::VirtualEfuse efuse_;
  hostport::HostBoard board_;
  hostport::SimClock clock_;
  hostport::SimBattery battery_;
  FaultySensor sensor_;
  hostport::StderrLog log_{false};
  NullLink link_;
  std::unique_ptr<Buffers> buffers_;
  eb::TrustedKey key_{};
  node::BundleTrust trust_{};
  node::NodeBootConfig config_{};
  node::Port port_{};
  std::unique_ptr<node::NodeBoot> node_;
};

// ---- a host talking to the link endpoint of the running firmware ---------------------------------
struct Reply {
  uint8_t type = 0, flags = 0;
  uint32_t seq = 0;
  std::vector<uint8_t> payload;
  uint16_t error() const { return type == lk::kError ? lk::Get16(payload.data() + 4) : 0; }
  uint32_t durable() const { return payload.size() >= 16 ? lk::Get32(payload.data() + 4 + 8) : 0; }
};

class LinkVec final : public node::LinkPort {
 public:
  std::vector<uint8_t> out;
  int32_t Read(uint8_t*, uint32_t) override { return 0; }
  int32_t Write(const uint8_t* src, uint32_t len) override {
    out.insert(out.end(), src, src + len);
    return static_cast<int32_t>(len);
  }
};

class Host {
 public:
  explicit Host(Board& b)
      : board_(b),
        port_(b.port()),
        id_{2, {0x02, 0xfb, 0, 0, 0, 1}, "twin-0.2", 1, "g", names_, 64, 8000.0f},
        hooks_(b.node()->verifier().hooks()),
        ep_(port_, b.board().layout(), b.node()->slots(), id_, hooks_, summary_) {
    port_.link = &link_;
    link_.out.reserve(64 * 1024);  // no test-side allocation while the endpoint answers
  }
  node::LinkEndpoint& ep() { return ep_; }

  Reply Request(uint8_t type, const std::vector<uint8_t>& payload) {
    link_.out.clear();
    uint8_t raw[lk::kMaxRawFrame], wire[lk::kMaxEncoded + 1];
    const uint32_t n = lk::EncodeFrame(type, 0, seq_++, payload.data(), static_cast<uint32_t>(payload.size()), raw, wire);
    NT_CHECK(n > 0);
    ep_.Feed(wire, n);
    lk::Frame f;
    Reply r;
    int got = 0;
    for (uint8_t byte : link_.out) {
      if (rx_.Push(byte, &f)) {
        r = {f.type, f.flags, f.seq, {f.payload, f.payload + f.length}};
        ++got;
      }
    }
    NT_CHECK(got == 1);
    return r;
  }

  static std::vector<uint8_t> Begin(const BuiltBundle& b, bool restart = false) {
    std::vector<uint8_t> p(40, 0);
    lk::Put32(p.data(), static_cast<uint32_t>(b.file.size()));
    const std::vector<uint8_t> h = Sha(b.file);
    std::memcpy(p.data() + 4, h.data(), 32);
    p[36] = 0xFF;
    p[37] = restart ? 1 : 0;
    lk::Put16(p.data() + 38, static_cast<uint16_t>(b.prefix));
    p.insert(p.end(), b.file.begin(), b.file.begin() + b.prefix);
    return p;
  }
  static std::vector<uint8_t> Chunk(const BuiltBundle& b, uint32_t off) {
    const uint32_t size = static_cast<uint32_t>(b.file.size());
    const uint32_t n = std::min<uint32_t>(4096, size - off);
    std::vector<uint8_t> p(32, 0);
    lk::Put32(p.data(), off);
    lk::Put16(p.data() + 4, static_cast<uint16_t>(n));
    lk::Put32(p.data() + 8, node::Crc32(b.file.data() + off, n));
    lk::Put32(p.data() + 12, size);
    const std::vector<uint8_t> h = Sha(b.file);
    std::memcpy(p.data() + 16, h.data(), 8);
    p.insert(p.end(), b.file.begin() + off, b.file.begin() + off + n);
    return p;
  }

  // A whole OTA: begin (or resume), chunks from the durable offset, end, commit. Returns the
  // first error code (0 = committed).
  uint16_t Ota(const BuiltBundle& b) {
    Reply r = Request(lk::kOtaBegin, Begin(b));
    if (r.error() != 0) return r.error();
    const uint32_t size = static_cast<uint32_t>(b.file.size());
    for (uint32_t off = r.durable(); off < size; off += 4096) {
      r = Request(lk::kOtaChunk, Chunk(b, off));
      if (r.error() != 0) return r.error();
    }
    r = Request(lk::kOtaEnd, {});
    if (r.error() != 0) return r.error();
    r = Request(lk::kOtaCommit, {});
    return r.error();
  }

 private:
  Board& board_;
  node::Port port_;
  LinkVec link_;
  const char* names_[3] = {"accX", "accY", "accZ"};
  node::DeviceIdentity id_;
  node::OtaHooks hooks_;
  node::BootSummary summary_;
  node::LinkEndpoint ep_;
  lk::FrameReceiver rx_;
  uint32_t seq_ = 0;
};

}  // namespace bt
