// Streaming bundle verifier: fixed buffers, checks in the documented order (bundle_verify.h).
#include "edge_runtime/bundle_verify.h"

#include <cstdio>
#include <cstring>

#include "edge_runtime/model_format.h"
#include "mbedtls/pk.h"
#include "mbedtls/sha256.h"
#include "mbedtls/version.h"

namespace edge {
namespace bundle {
namespace {

// mbedTLS 2.28 (Debian host) spells the SHA-256 calls *_ret; 3.x (ESP-IDF 5) dropped the suffix.
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
int ShaStart(mbedtls_sha256_context* c) { return mbedtls_sha256_starts(c, 0); }
int ShaUpdate(mbedtls_sha256_context* c, const uint8_t* d, size_t n) {
  return mbedtls_sha256_update(c, d, n);
}
int ShaFinish(mbedtls_sha256_context* c, uint8_t out[32]) { return mbedtls_sha256_finish(c, out); }
#else
int ShaStart(mbedtls_sha256_context* c) { return mbedtls_sha256_starts_ret(c, 0); }
int ShaUpdate(mbedtls_sha256_context* c, const uint8_t* d, size_t n) {
  return mbedtls_sha256_update_ret(c, d, n);
}
int ShaFinish(mbedtls_sha256_context* c, uint8_t out[32]) {
  return mbedtls_sha256_finish_ret(c, out);
}
#endif

// Group order n of P-256 and floor(n / 2), big-endian.
constexpr uint8_t kOrder[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
constexpr uint8_t kHalfOrder[32] = {
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8};

enum TlvType : uint8_t { kStr, kU8, kU32, kU64, kH32, kAbi, kVers, kList, kComp };

struct TagSpec {
  uint16_t tag;
  TlvType type;
  bool required;
};

// Every tag the format knows, in increasing order (kept in step with core/bundle/format.py).
constexpr TagSpec kTags[] = {
    {kTagBundleId, kStr, true},
    {kTagFirmwareVersion, kStr, true},
    {kTagModelVersion, kStr, true},
    {kTagThresholdVersion, kStr, true},
    {kTagCalibrationVersion, kStr, true},
    {kTagRollbackTarget, kStr, false},
    {kTagVersionNumbers, kVers, true},
    {kTagToolVersion, kStr, true},
    {kTagProfile, kStr, true},
    {kTagEpoch, kU32, true},
    {kTagExpires, kU64, false},
    {kTagKeyId, kH32, true},
    {kTagChip, kStr, true},
    {kTagBoardId, kStr, true},
    {kTagFlashSize, kU32, true},
    {kTagPartitionHash, kH32, true},
    {kTagFirmwareAbi, kAbi, true},
    {kTagTargetEnvironment, kList, true},
    {kTagMinBatteryLevel, kU8, true},
    {kTagMaxLatencyMs, kU32, true},
    {kTagPeakRamBudget, kU32, true},
    {kTagThresholdPolicy, kU8, true},
    {kTagCalibrationPolicy, kU8, true},
    {kTagRollbackPolicy, kU8, true},
    {kTagModelPoolBytes, kU32, true},
    {kTagModelLatencyUs, kU32, true},
    {kTagGateOverride, kStr, false},
    {kTagReportSha256, kH32, false},
    {kTagComponentFirst + 0, kComp, true},
    {kTagComponentFirst + 1, kComp, true},
    {kTagComponentFirst + 2, kComp, true},
    {kTagComponentFirst + 3, kComp, true},
    {kTagComponentFirst + 4, kComp, true},
    {kTagComponentFirst + 5, kComp, true},
};
constexpr size_t kTagCount = sizeof(kTags) / sizeof(kTags[0]);
static_assert(kTagCount <= 64, "required-tag mask is a uint64_t");

bool Printable(const uint8_t* p, uint32_t n) {
  for (uint32_t i = 0; i < n; ++i) {
    if (p[i] < 0x20 || p[i] > 0x7E) return false;
  }
  return true;
}

bool ValidValue(TlvType type, const uint8_t* v, uint32_t len) {
  switch (type) {
    case kStr:
      return len >= 1 && len <= kMaxString && Printable(v, len);
    case kU8:
      return len == 1;
    case kU32:
      return len == 4;
    case kU64:
      return len == 8;
    case kH32:
      return len == 32;
    case kAbi:
      return len == 6;
    case kVers:
      return len == 8;
    case kComp:
      return len == kComponentTlvSize;
    case kList: {
      if (len < 1) return false;
      const uint32_t count = v[0];
      if (count > kMaxListItems) return false;
      uint32_t pos = 1;
      for (uint32_t i = 0; i < count; ++i) {
        if (pos >= len) return false;
        const uint32_t n = v[pos++];
        if (n < 1 || n > kMaxString || n > len - pos || !Printable(v + pos, n)) return false;
        pos += n;
      }
      return pos == len;
    }
  }
  return false;
}

// Big-endian compare of a (<= 32 byte) integer with a 32-byte constant.
int CompareTo(const uint8_t* v, uint32_t n, const uint8_t ref[32]) {
  if (n < 32) {
    for (uint32_t i = 0; i < 32 - n; ++i) {
      if (ref[i] != 0) return -1;
    }
  }
  const uint8_t* r = ref + (32 - n);
  for (uint32_t i = 0; i < n; ++i) {
    if (v[i] != r[i]) return v[i] < r[i] ? -1 : 1;
  }
  return 0;
}

// One strict DER INTEGER at der[*pos]; on success value = [*val, *val + *val_len), no leading 0.
bool ReadDerInteger(const uint8_t* der, uint32_t size, uint32_t* pos, const uint8_t** val,
                    uint32_t* val_len) {
  uint32_t p = *pos;
  if (size - p < 2 || der[p] != 0x02) return false;
  const uint32_t len = der[p + 1];
  p += 2;
  if (len < 1 || len > 33 || len > size - p) return false;
  const uint8_t* v = der + p;
  if (v[0] & 0x80) return false;                                // negative
  if (len > 1 && v[0] == 0x00 && !(v[1] & 0x80)) return false;  // non-minimal
  uint32_t n = len;
  if (v[0] == 0x00 && len > 1) {
    ++v;
    --n;
  }
  if (n > 32) return false;
  bool zero = true;
  for (uint32_t i = 0; i < n; ++i) zero = zero && v[i] == 0;
  if (zero) return false;
  *val = v;
  *val_len = n;
  *pos = p + len;
  return true;
}

bool ReadSource(const BundleSource& s, uint32_t offset, uint8_t* dst, uint32_t len) {
  return s.read != nullptr && s.read(s.ctx, offset, dst, len);
}

bool StrEquals(const uint8_t* manifest, const ManifestView::Str& s, const char* text) {
  const size_t n = std::strlen(text);
  return n == s.length && std::memcmp(manifest + s.offset, text, n) == 0;
}

}  // namespace

Reason CheckSignatureEncoding(const uint8_t* der, uint32_t size) {
  if (size < kMinSignatureSize || size > kMaxSignatureSize) return Reason::kMalformedSignature;
  if (der[0] != 0x30 || der[1] >= 0x80 || der[1] != size - 2) return Reason::kMalformedSignature;
  uint32_t pos = 2;
  const uint8_t* r = nullptr;
  const uint8_t* s = nullptr;
  uint32_t r_len = 0, s_len = 0;
  if (!ReadDerInteger(der, size, &pos, &r, &r_len)) return Reason::kMalformedSignature;
  if (!ReadDerInteger(der, size, &pos, &s, &s_len)) return Reason::kMalformedSignature;
  if (pos != size) return Reason::kMalformedSignature;
  if (CompareTo(r, r_len, kOrder) >= 0) return Reason::kMalformedSignature;
  if (CompareTo(s, s_len, kHalfOrder) > 0) return Reason::kMalformedSignature;  // high-S
  return Reason::kOk;
}

Reason ParseManifest(const uint8_t* m, uint32_t size, ManifestView* view) {
  std::memset(view, 0, sizeof(*view));
  uint64_t seen = 0;
  uint32_t pos = 0;
  int32_t last_tag = -1;
  size_t spec_index = 0;
  while (pos < size) {
    if (size - pos < kTlvHeaderSize) return Reason::kMalformedManifest;
    const uint16_t tag = LoadU16(m + pos);
    const uint32_t len = LoadU16(m + pos + 2);
    pos += kTlvHeaderSize;
    if (static_cast<int32_t>(tag) <= last_tag || len > size - pos) {
      return Reason::kMalformedManifest;
    }
    last_tag = tag;
    while (spec_index < kTagCount && kTags[spec_index].tag < tag) ++spec_index;
    if (spec_index == kTagCount || kTags[spec_index].tag != tag) return Reason::kMalformedManifest;
    const TagSpec& spec = kTags[spec_index];
    const uint8_t* v = m + pos;
    if (!ValidValue(spec.type, v, len)) return Reason::kMalformedManifest;
    seen |= uint64_t{1} << spec_index;
    const ManifestView::Str str{static_cast<uint16_t>(pos), static_cast<uint16_t>(len)};
    switch (tag) {
      case kTagBundleId:
        view->bundle_id = str;
        break;
      case kTagVersionNumbers:
        for (int i = 0; i < 4; ++i) view->versions[i] = LoadU16(v + 2 * i);
        break;
      case kTagEpoch:
        view->epoch = LoadU32(v);
        break;
      case kTagExpires:
        view->expires = LoadU64(v);
        if (view->expires == 0) return Reason::kMalformedManifest;
        break;
      case kTagKeyId:
        std::memcpy(view->key_id, v, 32);
        break;
      case kTagChip:
        view->chip = str;
        break;
      case kTagBoardId:
        view->board_id = str;
        break;
      case kTagFlashSize:
        view->flash_size = LoadU32(v);
        break;
      case kTagPartitionHash:
        std::memcpy(view->partition_hash, v, 32);
        break;
      case kTagFirmwareAbi:
        view->abi_min = LoadU16(v);
        view->abi_max = LoadU16(v + 2);
        view->firmware_abi = LoadU16(v + 4);
        if (view->abi_min > view->abi_max) return Reason::kMalformedManifest;
        break;
      case kTagMinBatteryLevel:
        view->min_battery_level = v[0];
        if (v[0] > 100) return Reason::kMalformedManifest;
        break;
      case kTagMaxLatencyMs:
        view->max_latency_ms = LoadU32(v);
        break;
      case kTagPeakRamBudget:
        view->peak_ram_budget = LoadU32(v);
        break;
      case kTagThresholdPolicy:
      case kTagCalibrationPolicy:
      case kTagRollbackPolicy:
        if (v[0] > kMaxPolicyValue) return Reason::kMalformedManifest;
        if (tag == kTagThresholdPolicy) view->threshold_policy = v[0];
        if (tag == kTagCalibrationPolicy) view->calibration_policy = v[0];
        if (tag == kTagRollbackPolicy) view->rollback_policy = v[0];
        break;
      case kTagModelPoolBytes:
        view->model_pool_bytes = LoadU32(v);
        break;
      case kTagModelLatencyUs:
        view->model_latency_us = LoadU32(v);
        break;
      case kTagGateOverride:
        view->gate_overridden = true;
        break;
      default:
        if (spec.type == kComp) {
          ComponentInfo& c = view->components[tag - kTagComponentFirst];
          c.size = LoadU32(v);
          std::memcpy(c.sha256, v + 4, 32);
        }
        break;
    }
    pos += len;
  }
  for (size_t i = 0; i < kTagCount; ++i) {
    if (kTags[i].required && !(seen & (uint64_t{1} << i))) return Reason::kMalformedManifest;
  }
  uint64_t offset = 0;
  for (int i = 0; i < kComponentCount; ++i) {
    view->components[i].offset = static_cast<uint32_t>(offset);
    offset += view->components[i].size;
  }
  if (offset > 0xFFFFFFFFull) return Reason::kMalformedManifest;
  return Reason::kOk;
}

Reason VerifyBundle(const BundleSource& src, const DeviceContext& dev, VerifyScratch* sc,
                    VerifyResult* res) {
  std::memset(res, 0, sizeof(*res));
  auto done = [res](Reason r) {
    res->reason = r;
    return r;
  };

  // 1. Header: presence, identity, integrity, sanity.
  if (src.size < kHeaderSize) return done(Reason::kTruncated);
  if (!ReadSource(src, 0, sc->header, kHeaderSize)) return done(Reason::kIoError);
  BundleHeader h;
  DecodeHeader(sc->header, &h);
  if (h.magic != kMagic) return done(Reason::kBadMagic);
  if (h.format_version != kFormatVersion) return done(Reason::kBadFormatVersion);
  if (Crc32(sc->header, kHeaderCrcOffset) != h.checksum) return done(Reason::kBadChecksum);
  bool reserved_zero = h.flags == 0;
  for (uint8_t b : h.reserved) reserved_zero = reserved_zero && b == 0;
  if (h.header_size != kHeaderSize || !reserved_zero || h.manifest_size < kMinManifestSize ||
      h.manifest_size > kMaxManifestSize || h.signature_size < kMinSignatureSize ||
      h.signature_size > kMaxSignatureSize) {
    return done(Reason::kMalformedHeader);
  }
  const uint64_t meta_end = uint64_t{kHeaderSize} + h.manifest_size + h.signature_size;
  const uint64_t total = meta_end + h.payload_size;
  if (dev.max_bundle_size != 0 && total > dev.max_bundle_size) return done(Reason::kTooLarge);
  if (src.size < total) return done(Reason::kTruncated);
  if (src.size > total) return done(Reason::kTrailingData);

  // 2. Manifest structure and signer.
  if (!ReadSource(src, kHeaderSize, sc->manifest, h.manifest_size) ||
      !ReadSource(src, kHeaderSize + h.manifest_size, sc->signature, h.signature_size)) {
    return done(Reason::kIoError);
  }
  ManifestView& mv = res->manifest;
  if (ParseManifest(sc->manifest, h.manifest_size, &mv) != Reason::kOk) {
    return done(Reason::kMalformedManifest);
  }
  const TrustedKey* key = nullptr;
  for (size_t i = 0; i < dev.key_count && key == nullptr; ++i) {
    if (std::memcmp(dev.keys[i].key_id, mv.key_id, 32) == 0) key = &dev.keys[i];
  }
  if (key == nullptr) return done(Reason::kUnknownKey);

  // 3. Signature over the manifest bytes.
  if (CheckSignatureEncoding(sc->signature, h.signature_size) != Reason::kOk) {
    return done(Reason::kMalformedSignature);
  }
  uint8_t digest[32];
  mbedtls_sha256_context sha;
  mbedtls_sha256_init(&sha);
  const bool hashed = ShaStart(&sha) == 0 && ShaUpdate(&sha, sc->manifest, h.manifest_size) == 0 &&
                      ShaFinish(&sha, digest) == 0;
  mbedtls_sha256_free(&sha);
  if (!hashed) return done(Reason::kBadSignature);
  mbedtls_pk_context pk;
  mbedtls_pk_init(&pk);
  bool sig_ok = mbedtls_pk_parse_public_key(&pk, key->spki_der, key->spki_len) == 0 &&
                mbedtls_pk_can_do(&pk, MBEDTLS_PK_ECDSA) &&
                mbedtls_pk_verify(&pk, MBEDTLS_MD_SHA256, digest, sizeof(digest), sc->signature,
                                  h.signature_size) == 0;
  mbedtls_pk_free(&pk);
  if (!sig_ok) return done(Reason::kBadSignature);

  // 4. The signed manifest against the header and the device.
  uint32_t payload = 0;
  for (const ComponentInfo& c : mv.components) payload += c.size;  // no overflow: parse checked
  const uint16_t header_versions[4] = {h.fw_version, h.model_version, h.threshold_version,
                                       h.calibration_version};
  if (std::memcmp(header_versions, mv.versions, sizeof(header_versions)) != 0 ||
      payload != h.payload_size) {
    return done(Reason::kHeaderMismatch);
  }
  if ((dev.chip != nullptr && !StrEquals(sc->manifest, mv.chip, dev.chip)) ||
      (dev.board_id != nullptr && !StrEquals(sc->manifest, mv.board_id, dev.board_id)) ||
      (dev.flash_size != 0 && dev.flash_size != mv.flash_size) ||
      (dev.partition_hash != nullptr && std::memcmp(dev.partition_hash, mv.partition_hash, 32))) {
    return done(Reason::kWrongTarget);
  }
  if (mv.firmware_abi < mv.abi_min || mv.firmware_abi > mv.abi_max ||
      (dev.firmware_abi != 0 && (dev.firmware_abi < mv.abi_min || dev.firmware_abi > mv.abi_max))) {
    return done(Reason::kIncompatibleFirmware);
  }
  if (mv.epoch < dev.min_epoch) return done(Reason::kEpochTooLow);
  if (mv.expires != 0 && dev.now_unix != 0 && dev.now_unix > mv.expires) {
    return done(Reason::kExpired);
  }
  const uint32_t app = mv.components[kComponentFirmware].size;
  if ((dev.max_app_size != 0 && app > dev.max_app_size) ||
      (dev.max_data_size != 0 && payload - app > dev.max_data_size)) {
    return done(Reason::kTooLarge);
  }

  // 5. Stream every component through SHA-256.
  for (uint8_t i = 0; i < kComponentCount; ++i) {
    ComponentInfo& c = mv.components[i];
    c.offset += static_cast<uint32_t>(meta_end);
    mbedtls_sha256_init(&sha);
    bool ok = ShaStart(&sha) == 0;
    for (uint32_t done_bytes = 0; ok && done_bytes < c.size;) {
      const uint32_t n = c.size - done_bytes < kChunkSize ? c.size - done_bytes : kChunkSize;
      if (!ReadSource(src, c.offset + done_bytes, sc->chunk, n)) {
        mbedtls_sha256_free(&sha);
        return done(Reason::kIoError);
      }
      ok = ShaUpdate(&sha, sc->chunk, n) == 0;
      done_bytes += n;
    }
    ok = ok && ShaFinish(&sha, digest) == 0;
    mbedtls_sha256_free(&sha);
    if (!ok || std::memcmp(digest, c.sha256, 32) != 0) {
      res->component = i;
      return done(Reason::kHashMismatch);
    }
  }
  return done(Reason::kOk);
}

bool ModelDigestFromResult(const VerifyResult& result, ModelDigest* digest) {
  std::memset(digest, 0, sizeof(*digest));
  if (result.reason != Reason::kOk) return false;
  const ComponentInfo& model = result.manifest.components[kComponentModel];
  std::memcpy(digest->sha256, model.sha256, 32);
  digest->size = model.size;
  digest->valid = true;
  return true;
}

int32_t VerifyModelBlob(const uint8_t* blob, size_t len, void* ctx) {
  const auto* digest = static_cast<const ModelDigest*>(ctx);
  if (blob == nullptr || digest == nullptr || !digest->valid || len != digest->size) {
    return FB_MODEL_ERR_VERIFY_FAILED;
  }
  uint8_t actual[32];
  mbedtls_sha256_context sha;
  mbedtls_sha256_init(&sha);
  const bool ok =
      ShaStart(&sha) == 0 && ShaUpdate(&sha, blob, len) == 0 && ShaFinish(&sha, actual) == 0;
  mbedtls_sha256_free(&sha);
  // Not secret data, but compare in constant time anyway (no early exit on the first byte).
  uint8_t diff = ok ? 0 : 1;
  for (int i = 0; i < 32; ++i) diff |= static_cast<uint8_t>(actual[i] ^ digest->sha256[i]);
  return diff == 0 ? FB_MODEL_OK : FB_MODEL_ERR_VERIFY_FAILED;
}

void FormatReason(const VerifyResult& result, char* out, size_t out_size) {
  if (out == nullptr || out_size == 0) return;
  if (result.reason == Reason::kHashMismatch) {
    std::snprintf(out, out_size, "%s:%s", ReasonName(result.reason),
                  ComponentName(result.component));
  } else {
    std::snprintf(out, out_size, "%s", ReasonName(result.reason));
  }
}

}  // namespace bundle
}  // namespace edge
