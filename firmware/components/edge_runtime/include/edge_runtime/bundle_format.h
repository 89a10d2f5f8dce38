// The deployment bundle container: the ONE source of truth for its binary layout.
//
// core/bundle/format.py mirrors every constant here with `struct`; tests/bundle parses this file
// and fails when the two disagree. docs/bundle-format.md explains the design.
//
// A bundle file is, in this order (all integers little-endian):
//
//   BundleHeader      64 bytes, fixed; CRC-32 of its first 60 bytes in its last 4
//   manifest          header.manifest_size bytes: canonical TLVs (tags strictly increasing)
//   signature         header.signature_size bytes: ECDSA P-256 / SHA-256 over the manifest bytes,
//                     strict DER, low-S
//   payload           header.payload_size bytes: the components, in component-tag order, each
//                     exactly as long as the manifest says, nothing between them
//
// The header is NOT signed: every field that matters is repeated in the signed manifest and the
// verifier rejects a header that disagrees (HEADER_MISMATCH). The header's CRC only catches
// accidental damage early and cheaply; the signature is what proves authenticity.
#ifndef EDGE_RUNTIME_BUNDLE_FORMAT_H_
#define EDGE_RUNTIME_BUNDLE_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace edge {
namespace bundle {

// ---- container header -----------------------------------------------------------------------

constexpr uint32_t kMagic = 0x4E554246u;  // bytes "FBUN"
constexpr uint16_t kFormatVersion = 1;
constexpr uint32_t kHeaderSize = 64;
constexpr uint32_t kHeaderCrcOffset = 60;  // CRC-32/ISO-HDLC of bytes [0, 60)
constexpr uint32_t kMaxManifestSize = 2048;
constexpr uint32_t kMinManifestSize = 4;
constexpr uint32_t kMaxSignatureSize = 72;  // DER ECDSA P-256: 8..72 bytes
constexpr uint32_t kMinSignatureSize = 8;

// The seed's ModelBundleHeader (magic, four u16 versions, checksum) plus format version and sizes.
// Decoded field by field from bytes (DecodeHeader), never by casting a pointer.
struct BundleHeader {
  uint32_t magic;                // 0
  uint16_t format_version;       // 4
  uint16_t header_size;          // 6   == kHeaderSize
  uint16_t fw_version;           // 8   the seed's four component version numbers
  uint16_t model_version;        // 10
  uint16_t threshold_version;    // 12
  uint16_t calibration_version;  // 14
  uint32_t manifest_size;        // 16
  uint32_t signature_size;       // 20
  uint32_t payload_size;         // 24
  uint32_t flags;                // 28  must be 0
  uint8_t reserved[28];          // 32  must be 0
  uint32_t checksum;             // 60  CRC-32 of bytes [0, 60)
};
static_assert(offsetof(BundleHeader, format_version) == 4, "layout");
static_assert(offsetof(BundleHeader, fw_version) == 8, "layout");
static_assert(offsetof(BundleHeader, calibration_version) == 14, "layout");
static_assert(offsetof(BundleHeader, manifest_size) == 16, "layout");
static_assert(offsetof(BundleHeader, payload_size) == 24, "layout");
static_assert(offsetof(BundleHeader, flags) == 28, "layout");
static_assert(offsetof(BundleHeader, reserved) == 32, "layout");
static_assert(offsetof(BundleHeader, checksum) == kHeaderCrcOffset, "layout");
static_assert(sizeof(BundleHeader) == kHeaderSize, "layout");

// ---- manifest TLVs ----------------------------------------------------------------------------
//
// Each TLV: u16 tag, u16 length, `length` value bytes. Tags strictly increasing (sorted, unique),
// so one logical manifest has exactly one encoding. Unknown tags are rejected. Value types:
//   str   printable ASCII 0x20..0x7E, 1..kMaxString bytes
//   uN    fixed-width little-endian integer, length must be exactly N/8
//   h32   32 raw bytes (SHA-256 digest or key id)
//   abi   u16 abi_min, u16 abi_max, u16 firmware_abi (6 bytes)
//   vers  u16 fw, u16 model, u16 threshold, u16 calibration (8 bytes; must equal the header's)
//   list  u8 count, then count × (u8 len, printable ASCII), count <= kMaxListItems
//   comp  u32 size, 32-byte SHA-256 (36 bytes)
constexpr uint32_t kTlvHeaderSize = 4;
constexpr uint32_t kMaxString = 128;
constexpr uint32_t kMaxListItems = 8;
constexpr uint32_t kComponentTlvSize = 36;

enum Tag : uint16_t {
  kTagBundleId = 0x0001,            // str   required, non-empty
  kTagFirmwareVersion = 0x0002,     // str   required
  kTagModelVersion = 0x0003,        // str   required
  kTagThresholdVersion = 0x0004,    // str   required
  kTagCalibrationVersion = 0x0005,  // str   required
  kTagRollbackTarget = 0x0006,      // str   optional
  kTagVersionNumbers = 0x0007,      // vers  required
  kTagToolVersion = 0x0008,         // str   required
  kTagProfile = 0x0009,             // str   required
  kTagEpoch = 0x0010,               // u32   required: anti-rollback epoch
  kTagExpires = 0x0011,             // u64   optional: unix seconds
  kTagKeyId = 0x0012,               // h32   required: SHA-256 of the signer's SPKI DER
  kTagChip = 0x0020,                // str   required ("esp32s3")
  kTagBoardId = 0x0021,             // str   required
  kTagFlashSize = 0x0022,           // u32   required, bytes
  kTagPartitionHash = 0x0023,       // h32   required: SHA-256 of the partition table binary
  kTagFirmwareAbi = 0x0024,         // abi   required
  kTagTargetEnvironment = 0x0030,   // list  required (may be empty)
  kTagMinBatteryLevel = 0x0031,     // u8    required, percent 0..100
  kTagMaxLatencyMs = 0x0032,        // u32   required
  kTagPeakRamBudget = 0x0033,       // u32   required, bytes
  kTagThresholdPolicy = 0x0034,     // u8    required (ThresholdPolicy)
  kTagCalibrationPolicy = 0x0035,   // u8    required (CalibrationPolicy)
  kTagRollbackPolicy = 0x0036,      // u8    required (RollbackPolicy)
  kTagModelPoolBytes = 0x0037,      // u32   required: measured runtime pool of the model
  kTagModelLatencyUs = 0x0038,      // u32   required: estimated latency per inference
  kTagGateOverride = 0x0039,        // str   optional: present only when the gate was overridden
  kTagReportSha256 = 0x003A,        // h32   optional: SHA-256 of the validation report
  kTagComponentFirst = 0x0040,      // comp  0x40..0x45 required, one per Component
};

enum ThresholdPolicy : uint8_t { kThresholdStatic = 0, kThresholdDynamic = 1 };
enum CalibrationPolicy : uint8_t { kCalibrationFixed = 0, kCalibrationDynamic = 1 };
enum RollbackPolicy : uint8_t { kRollbackManual = 0, kRollbackDualBankAuto = 1 };
constexpr uint8_t kMaxPolicyValue = 1;

// Components, in payload order; tag = kTagComponentFirst + index.
enum Component : uint8_t {
  kComponentFirmware = 0,
  kComponentModel = 1,
  kComponentThresholds = 2,
  kComponentCalibration = 3,
  kComponentDriftBaseline = 4,
  kComponentSelfTest = 5,
  kComponentCount = 6,
};

// Lower-case names used in reason strings ("HASH_MISMATCH:model") and in the Python mirror.
const char* ComponentName(uint8_t component);

// ---- verdicts ---------------------------------------------------------------------------------
//
// The checks run in this order; the first failing one is the verdict (docs/bundle-format.md).
enum class Reason : uint8_t {
  kOk = 0,
  kTruncated = 1,            // shorter than the header, or than the sizes it declares
  kBadMagic = 2,             // not a bundle
  kBadFormatVersion = 3,     // a bundle of another format version
  kBadChecksum = 4,          // header CRC mismatch (accidental damage)
  kMalformedHeader = 5,      // sizes out of range, flags or reserved bytes not zero
  kTooLarge = 6,             // bundle or a component larger than the device accepts
  kTrailingData = 7,         // bytes after the declared end
  kMalformedManifest = 8,    // TLV structure, order, type or a required field
  kUnknownKey = 9,           // key id not among the trusted keys
  kMalformedSignature = 10,  // not strict DER, r/s out of range, or high-S
  kBadSignature = 11,        // the signature does not verify
  kHeaderMismatch = 12,      // header versions/sizes disagree with the signed manifest
  kWrongTarget = 13,         // chip, board, flash size or partition layout differ
  kIncompatibleFirmware = 14,
  kEpochTooLow = 15,  // downgrade below the device's anti-rollback epoch
  kExpired = 16,
  kHashMismatch = 17,  // a component's SHA-256 differs (see the component index)
  kIoError = 18,       // the source could not be read
  kCount = 19,
};

// "OK", "TRUNCATED", ... exactly the Python reason codes (without the ":component" suffix).
const char* ReasonName(Reason reason);

// ---- helpers shared by the verifier, the tools and the tests ----------------------------------

uint32_t Crc32(const uint8_t* data, size_t len, uint32_t crc = 0);

inline uint16_t LoadU16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t LoadU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
inline uint64_t LoadU64(const uint8_t* p) {
  return static_cast<uint64_t>(LoadU32(p)) | (static_cast<uint64_t>(LoadU32(p + 4)) << 32);
}

// Decodes the 64 header bytes field by field (no checks).
void DecodeHeader(const uint8_t bytes[kHeaderSize], BundleHeader* out);
// Encodes a header, computing its checksum (the `checksum` field of `in` is ignored).
void EncodeHeader(const BundleHeader& in, uint8_t bytes[kHeaderSize]);

}  // namespace bundle
}  // namespace edge

#endif  // EDGE_RUNTIME_BUNDLE_FORMAT_H_
