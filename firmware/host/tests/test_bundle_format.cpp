// Bundle container: CRC, header codec, manifest TLV parser and strict DER signature checks.
// The signature and verdict parity with Python is in tests/bundle (through tools/bundle_verify).
#include <cstring>
#include <initializer_list>
#include <vector>

#include "edge_runtime/bundle_format.h"
#include "edge_runtime/bundle_verify.h"
#include "edge_runtime/model_format.h"
#include "test_util.h"

using namespace edge::bundle;

namespace {

void Tlv(std::vector<uint8_t>* m, uint16_t tag, const std::vector<uint8_t>& value) {
  m->push_back(static_cast<uint8_t>(tag));
  m->push_back(static_cast<uint8_t>(tag >> 8));
  m->push_back(static_cast<uint8_t>(value.size()));
  m->push_back(static_cast<uint8_t>(value.size() >> 8));
  m->insert(m->end(), value.begin(), value.end());
}

std::vector<uint8_t> Str(const char* s) { return std::vector<uint8_t>(s, s + std::strlen(s)); }
std::vector<uint8_t> Zeros(size_t n) { return std::vector<uint8_t>(n, 0); }
std::vector<uint8_t> U32(uint32_t v) {
  return {static_cast<uint8_t>(v), static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 24)};
}

// A minimal valid manifest; `skip` leaves one tag out, `extra` appends a TLV at the end.
std::vector<uint8_t> Manifest(uint16_t skip = 0) {
  std::vector<uint8_t> m;
  auto add = [&](uint16_t tag, const std::vector<uint8_t>& v) {
    if (tag != skip) Tlv(&m, tag, v);
  };
  add(kTagBundleId, Str("edge-inference-v2.4.1"));
  add(kTagFirmwareVersion, Str("fw-1.8.0"));
  add(kTagModelVersion, Str("int8-anomaly-detect-0.9.2"));
  add(kTagThresholdVersion, Str("thresh-v3"));
  add(kTagCalibrationVersion, Str("calib-v2"));
  add(kTagVersionNumbers, {1, 0, 2, 0, 3, 0, 4, 0});
  add(kTagToolVersion, Str("fieldbench 0.1.0"));
  add(kTagProfile, Str("safety-critical"));
  add(kTagEpoch, U32(3));
  add(kTagKeyId, Zeros(32));
  add(kTagChip, Str("esp32s3"));
  add(kTagBoardId, Str("devkitc-1"));
  add(kTagFlashSize, U32(8u << 20));
  add(kTagPartitionHash, Zeros(32));
  add(kTagFirmwareAbi, {1, 0, 2, 0, 1, 0});
  add(kTagTargetEnvironment, {2, 6, 'i', 'n', 'd', 'o', 'o', 'r', 1, 'x'});
  add(kTagMinBatteryLevel, {15});
  add(kTagMaxLatencyMs, U32(45));
  add(kTagPeakRamBudget, U32(12288));
  add(kTagThresholdPolicy, {0});
  add(kTagCalibrationPolicy, {1});
  add(kTagRollbackPolicy, {1});
  add(kTagModelPoolBytes, U32(9000));
  add(kTagModelLatencyUs, U32(2000));
  for (uint16_t c = 0; c < kComponentCount; ++c) {
    std::vector<uint8_t> v = U32(100u * (c + 1));
    v.resize(kComponentTlvSize, static_cast<uint8_t>(c));
    add(static_cast<uint16_t>(kTagComponentFirst + c), v);
  }
  return m;
}

void TestCrc() {
  const uint8_t text[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  FB_CHECK_EQ(Crc32(text, sizeof(text)), 0xCBF43926u);  // the CRC-32/ISO-HDLC check value
  FB_CHECK_EQ(Crc32(text + 4, 5, Crc32(text, 4)), 0xCBF43926u);
}

void TestHeaderRoundTrip() {
  BundleHeader h{};
  h.magic = kMagic;
  h.format_version = kFormatVersion;
  h.header_size = kHeaderSize;
  h.fw_version = 0x0108;
  h.model_version = 9;
  h.threshold_version = 3;
  h.calibration_version = 2;
  h.manifest_size = 700;
  h.signature_size = 71;
  h.payload_size = 123456;
  uint8_t bytes[kHeaderSize];
  EncodeHeader(h, bytes);
  FB_CHECK(std::memcmp(bytes, "FBUN", 4) == 0);
  BundleHeader back{};
  DecodeHeader(bytes, &back);
  FB_CHECK_EQ(back.fw_version, 0x0108);
  FB_CHECK_EQ(back.calibration_version, 2);
  FB_CHECK_EQ(back.payload_size, 123456);
  FB_CHECK_EQ(back.checksum, Crc32(bytes, kHeaderCrcOffset));
}

void TestManifestParser() {
  ManifestView view;
  std::vector<uint8_t> m = Manifest();
  FB_CHECK(ParseManifest(m.data(), static_cast<uint32_t>(m.size()), &view) == Reason::kOk);
  FB_CHECK_EQ(view.epoch, 3);
  FB_CHECK_EQ(view.versions[3], 4);
  FB_CHECK_EQ(view.components[kComponentModel].size, 200);
  FB_CHECK_EQ(view.components[kComponentModel].offset, 100);
  FB_CHECK_EQ(view.components[kComponentSelfTest].offset, 1500);
  FB_CHECK_EQ(view.max_latency_ms, 45);
  FB_CHECK(!view.gate_overridden);

  // Every required tag is required.
  for (uint16_t tag :
       std::initializer_list<uint16_t>{kTagBundleId, kTagEpoch, kTagKeyId, kTagFirmwareAbi,
                                       static_cast<uint16_t>(kTagComponentFirst + 5)}) {
    std::vector<uint8_t> missing = Manifest(tag);
    FB_CHECK(ParseManifest(missing.data(), static_cast<uint32_t>(missing.size()), &view) ==
             Reason::kMalformedManifest);
  }
  // Every truncation of the manifest is malformed (a cut TLV, or a missing required tag).
  for (uint32_t n = 0; n < m.size(); ++n) {
    FB_CHECK(ParseManifest(m.data(), n, &view) == Reason::kMalformedManifest);
  }
  // Duplicate / out-of-order / unknown tags.
  std::vector<uint8_t> dup = m;
  Tlv(&dup, kTagComponentFirst + 5, Zeros(kComponentTlvSize));
  FB_CHECK(ParseManifest(dup.data(), static_cast<uint32_t>(dup.size()), &view) ==
           Reason::kMalformedManifest);
  std::vector<uint8_t> unknown = m;
  Tlv(&unknown, 0x7000, Zeros(1));
  FB_CHECK(ParseManifest(unknown.data(), static_cast<uint32_t>(unknown.size()), &view) ==
           Reason::kMalformedManifest);
  // A non-printable byte in a string.
  std::vector<uint8_t> bad_str = m;
  bad_str[4] = 0x01;
  FB_CHECK(ParseManifest(bad_str.data(), static_cast<uint32_t>(bad_str.size()), &view) ==
           Reason::kMalformedManifest);
}

std::vector<uint8_t> Der(const std::vector<uint8_t>& r, const std::vector<uint8_t>& s) {
  std::vector<uint8_t> d = {0x30, static_cast<uint8_t>(4 + r.size() + s.size()), 0x02,
                            static_cast<uint8_t>(r.size())};
  d.insert(d.end(), r.begin(), r.end());
  d.push_back(0x02);
  d.push_back(static_cast<uint8_t>(s.size()));
  d.insert(d.end(), s.begin(), s.end());
  return d;
}

Reason Check(const std::vector<uint8_t>& d) {
  return CheckSignatureEncoding(d.data(), static_cast<uint32_t>(d.size()));
}

void TestDer() {
  const std::vector<uint8_t> one = {0x01};
  const std::vector<uint8_t> big(32, 0x11);
  FB_CHECK(Check(Der(big, big)) == Reason::kOk);
  FB_CHECK(Check(Der(one, one)) == Reason::kOk);
  FB_CHECK(Check(Der({0x00}, one)) == Reason::kMalformedSignature);        // r = 0
  FB_CHECK(Check(Der({0x00, 0x01}, one)) == Reason::kMalformedSignature);  // non-minimal
  FB_CHECK(Check(Der({0x80}, one)) == Reason::kMalformedSignature);        // negative
  std::vector<uint8_t> high(32, 0xFF);
  high.insert(high.begin(), 0x00);
  FB_CHECK(Check(Der(one, high)) == Reason::kMalformedSignature);  // s >= n/2 and >= n
  std::vector<uint8_t> half = {0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff,
                               0xff, 0xff, 0xff, 0xff, 0xff, 0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b,
                               0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8};
  FB_CHECK(Check(Der(one, half)) == Reason::kOk);  // s == floor(n/2) is low-S
  half[31] = 0xa9;
  FB_CHECK(Check(Der(one, half)) == Reason::kMalformedSignature);
  std::vector<uint8_t> trailing = Der(one, one);
  trailing.push_back(0);
  FB_CHECK(Check(trailing) == Reason::kMalformedSignature);
}

void TestReasonNames() {
  FB_CHECK(std::strcmp(ReasonName(Reason::kOk), "OK") == 0);
  FB_CHECK(std::strcmp(ReasonName(Reason::kHashMismatch), "HASH_MISMATCH") == 0);
  VerifyResult r{};
  r.reason = Reason::kHashMismatch;
  r.component = kComponentDriftBaseline;
  char text[64];
  FormatReason(r, text, sizeof(text));
  FB_CHECK(std::strcmp(text, "HASH_MISMATCH:drift_baseline") == 0);
}

void TestModelHook() {
  // SHA-256("abc"), the FIPS 180-2 example.
  const uint8_t abc[] = {'a', 'b', 'c'};
  const uint8_t expected[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  VerifyResult result{};
  result.reason = Reason::kOk;
  result.manifest.components[kComponentModel].size = 3;
  std::memcpy(result.manifest.components[kComponentModel].sha256, expected, 32);
  ModelDigest digest;
  FB_CHECK(ModelDigestFromResult(result, &digest));
  FB_CHECK_EQ(VerifyModelBlob(abc, 3, &digest), FB_MODEL_OK);
  const uint8_t abd[] = {'a', 'b', 'd'};
  FB_CHECK_EQ(VerifyModelBlob(abd, 3, &digest), FB_MODEL_ERR_VERIFY_FAILED);
  FB_CHECK_EQ(VerifyModelBlob(abc, 2, &digest), FB_MODEL_ERR_VERIFY_FAILED);
  result.reason = Reason::kBadSignature;
  FB_CHECK(!ModelDigestFromResult(result, &digest));
  FB_CHECK_EQ(VerifyModelBlob(abc, 3, &digest), FB_MODEL_ERR_VERIFY_FAILED);
}

}  // namespace

int main() {
  TestModelHook();
  TestCrc();
  TestHeaderRoundTrip();
  TestManifestParser();
  TestDer();
  TestReasonNames();
  FB_TEST_MAIN_END();
}
