// Bundle slots: slot k = app partition ota_k + data partition model_k.
//
// model_k holds, in its first sector, the slot manifest this component defines until the signed
// bundle manifest (issue 6) takes its place; the data payload starts at model_k + 0x1000.
// Verification is a seam: SlotVerifier is a callback, DefaultVerifySlot checks the manifest CRC,
// the app image (structure, checksum, appended SHA-256, chip id) and the SHA-256 of both the app
// bytes and the data bytes against the manifest. The bundle verifier replaces it.
#pragma once

#include <cstdint>

#include "node/app_image.h"
#include "node/partition_table.h"
#include "node/port.h"

namespace node {

constexpr uint32_t kSlotManifestMagic = 0x4C534246u;  // "FBSL"
constexpr uint16_t kSlotManifestVersion = 1;
constexpr uint32_t kSlotManifestSize = 128;
constexpr uint32_t kSlotDataOffset = 0x1000;

// Layout (little-endian): u32 magic, u16 version, u16 size (128), u32 app_size, u32 data_size,
// u32 epoch, u32 flags, char bundle_version[32], u8 app_sha256[32], u8 data_sha256[32],
// u32 reserved (0xFFFFFFFF), u32 crc32 (zlib CRC-32 of bytes 0..123).
struct SlotManifest {
  uint32_t app_size;
  uint32_t data_size;
  uint32_t epoch;
  uint32_t flags;
  char bundle_version[33];
  uint8_t app_sha256[32];
  uint8_t data_sha256[32];
};

void EncodeSlotManifest(const SlotManifest& m, uint8_t out[kSlotManifestSize]);
bool DecodeSlotManifest(const uint8_t in[kSlotManifestSize], SlotManifest* m);

// Why something was refused or does not verify; sent as-is in typed link errors.
enum class Reason : uint8_t {
  kNone = 0,
  kTrialInProgress = 1,   // the running bundle has not been confirmed yet
  kNoSuchSlot = 2,
  kSlotEmpty = 3,         // no manifest in model_k
  kBadManifest = 4,
  kAppImageInvalid = 5,   // header / checksum / appended SHA-256
  kAppHashMismatch = 6,
  kDataHashMismatch = 7,
  kWrongTarget = 8,       // image for another chip
  kEpochTooLow = 9,       // below the anti-rollback counter
  kSlotInvalidated = 10,  // otadata says the bundle failed its trial (INVALID / ABORTED)
  kTooLarge = 11,
  kNotStaging = 12,
  kOutOfOrder = 13,
  kIncomplete = 14,
  kFlashError = 15,
  kSameSlot = 16,
};
const char* ReasonName(Reason r);

struct SlotReport {
  SlotManifest manifest;
  AppImageInfo app;
};

typedef Reason (*SlotVerifier)(FlashPort& flash, const FlashLayout& layout, int slot,
                               SlotReport* report, Status* io, void* ctx);

Reason DefaultVerifySlot(FlashPort& flash, const FlashLayout& layout, int slot,
                         SlotReport* report, Status* io, void* ctx);

}  // namespace node
