// Container header codec, CRC-32 and names (see bundle_format.h).
#include "edge_runtime/bundle_format.h"

namespace edge {
namespace bundle {
namespace {

void StoreU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void StoreU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

constexpr const char* kComponentNames[kComponentCount] = {
    "firmware", "model", "thresholds", "calibration", "drift_baseline", "selftest"};

constexpr const char* kReasonNames[static_cast<int>(Reason::kCount)] = {
    "OK",
    "TRUNCATED",
    "BAD_MAGIC",
    "BAD_FORMAT_VERSION",
    "BAD_CHECKSUM",
    "MALFORMED_HEADER",
    "TOO_LARGE",
    "TRAILING_DATA",
    "MALFORMED_MANIFEST",
    "UNKNOWN_KEY",
    "MALFORMED_SIGNATURE",
    "BAD_SIGNATURE",
    "HEADER_MISMATCH",
    "WRONG_TARGET",
    "INCOMPATIBLE_FIRMWARE",
    "EPOCH_TOO_LOW",
    "EXPIRED",
    "HASH_MISMATCH",
    "IO_ERROR",
};

}  // namespace

const char* ComponentName(uint8_t component) {
  return component < kComponentCount ? kComponentNames[component] : "unknown";
}

const char* ReasonName(Reason reason) {
  const int i = static_cast<int>(reason);
  return i < static_cast<int>(Reason::kCount) ? kReasonNames[i] : "UNKNOWN";
}

// CRC-32/ISO-HDLC (zlib's crc32): reflected polynomial 0xEDB88320, bitwise (no 1 KiB table in
// flash; the header is 60 bytes).
uint32_t Crc32(const uint8_t* data, size_t len, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < len; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void DecodeHeader(const uint8_t b[kHeaderSize], BundleHeader* h) {
  h->magic = LoadU32(b + 0);
  h->format_version = LoadU16(b + 4);
  h->header_size = LoadU16(b + 6);
  h->fw_version = LoadU16(b + 8);
  h->model_version = LoadU16(b + 10);
  h->threshold_version = LoadU16(b + 12);
  h->calibration_version = LoadU16(b + 14);
  h->manifest_size = LoadU32(b + 16);
  h->signature_size = LoadU32(b + 20);
  h->payload_size = LoadU32(b + 24);
  h->flags = LoadU32(b + 28);
  for (uint32_t i = 0; i < sizeof(h->reserved); ++i) h->reserved[i] = b[32 + i];
  h->checksum = LoadU32(b + kHeaderCrcOffset);
}

void EncodeHeader(const BundleHeader& h, uint8_t b[kHeaderSize]) {
  StoreU32(b + 0, h.magic);
  StoreU16(b + 4, h.format_version);
  StoreU16(b + 6, h.header_size);
  StoreU16(b + 8, h.fw_version);
  StoreU16(b + 10, h.model_version);
  StoreU16(b + 12, h.threshold_version);
  StoreU16(b + 14, h.calibration_version);
  StoreU32(b + 16, h.manifest_size);
  StoreU32(b + 20, h.signature_size);
  StoreU32(b + 24, h.payload_size);
  StoreU32(b + 28, h.flags);
  for (uint32_t i = 0; i < sizeof(h.reserved); ++i) b[32 + i] = h.reserved[i];
  StoreU32(b + kHeaderCrcOffset, Crc32(b, kHeaderCrcOffset));
}

}  // namespace bundle
}  // namespace edge
