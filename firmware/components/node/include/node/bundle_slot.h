// Signed bundles in the slots: node::SlotVerifier and node::OtaHooks backed by the bundle
// verifier (edge::bundle::VerifyBundle, docs/bundle-format.md).
//
// A slot holds one bundle file split in two (docs/protocol.md §10.4): ota_k ← the firmware
// component (the ESP-IDF app image the bootloader runs), model_k + 0x1000 ← the rest of the file
// (header ‖ manifest ‖ signature ‖ model ‖ thresholds ‖ calibration ‖ drift baseline ‖
// self-test). model_k's first sector keeps the 128-byte slot manifest (slot.h: app_size = the
// firmware size, data_size = the rest), the OTA journal and the calibration log.
//
// BundleVerifier::VerifySlot (the SlotVerifier) reads the slot manifest for the two sizes, then
// runs VerifyBundle over the reassembled file: header, manifest, ECDSA signature with a trusted
// key, target (chip, board, flash size, partition-table hash), every component's SHA-256 — the
// app image it runs from included — and checks that the slot manifest agrees with the signed
// one. The epoch is compared with the anti-rollback counter by the SlotManager (kEpochTooLow).
// The OTA hooks check the prefix at OTA_BEGIN (everything but the component hashes, plus the
// epoch against the counter and the running firmware's ABI) and the whole staged file at
// OTA_END. Static memory only: one BundleVerifier object holds the ~3.4 KiB verify scratch.
#pragma once

#include <cstddef>
#include <cstdint>

#include "edge_runtime/bundle_verify.h"
#include "node/link_endpoint.h"
#include "node/partition_table.h"
#include "node/port.h"
#include "node/slot.h"

namespace node {

// What this device is and whom it trusts.
struct BundleTrust {
  const edge::bundle::TrustedKey* keys;
  size_t key_count;
  const char* chip;               // "esp32s3"
  const char* board_id;           // nullptr: any board
  uint32_t flash_size;            // 0: any
  uint16_t firmware_abi;          // ABI of the running firmware (checked at OTA_BEGIN/END)
  bool check_partition_hash;      // compare with SHA-256 of the table's 0xC00 bytes at 0x8000
};

// Where a verified slot's components are in flash.
struct SlotComponents {
  bool valid;
  int slot;
  uint32_t addr[edge::bundle::kComponentCount];  // absolute flash address
  uint32_t size[edge::bundle::kComponentCount];
  edge::bundle::ModelDigest model_digest;  // for InferenceRuntime's integrity hook
  uint32_t epoch;
  uint8_t min_battery_level;
};

// The bundle verdict behind a node::Reason (what the link and logs report).
struct BundleVerdict {
  edge::bundle::Reason reason;
  uint8_t component;  // for kHashMismatch
};

class BundleVerifier {
 public:
  BundleVerifier(FlashPort& flash, BootPort& boot, BatteryPort* battery, const FlashLayout& layout,
                 const BundleTrust& trust)
      : flash_(flash), boot_(boot), battery_(battery), layout_(layout), trust_(trust) {}

  // Reads the partition table hash (once; call after the layout is known). kPowerLost etc.
  Status Init();

  // node::SlotVerifier; ctx = BundleVerifier*.
  static Reason VerifySlot(FlashPort& flash, const FlashLayout& layout, int slot,
                           SlotReport* report, Status* io, void* ctx);
  // Hooks for LinkEndpoint (ctx = this).
  OtaHooks hooks() { return OtaHooks{&CheckPrefixHook, &VerifyBundleHook, this}; }

  // The last verification of `slot` (VerifySlot) and where its components are.
  const BundleVerdict& last_verdict(int slot) const { return verdict_[slot & 1]; }
  const SlotComponents& components(int slot) const { return comps_[slot & 1]; }
  // Verifies `slot` and fills components(slot); node::Reason::kNone when it verifies.
  Reason VerifyAndLocate(int slot, SlotReport* report, Status* io);

  uint32_t verifications() const { return verifications_; }

 private:
  static uint16_t CheckPrefixHook(const uint8_t* prefix, uint32_t len, uint32_t bundle_size,
                                  uint32_t min_epoch, OtaPlan* plan, void* ctx);
  static uint16_t VerifyBundleHook(BundleReadFn read, void* read_ctx, uint32_t bundle_size,
                                   uint32_t min_epoch, void* ctx);
  void Context(int slot, uint32_t min_epoch, uint16_t firmware_abi,
               edge::bundle::DeviceContext* dc) const;

  FlashPort& flash_;
  BootPort& boot_;
  BatteryPort* battery_;
  const FlashLayout& layout_;
  const BundleTrust& trust_;
  uint8_t partition_hash_[32] = {};
  bool have_partition_hash_ = false;
  edge::bundle::VerifyScratch scratch_;
  edge::bundle::VerifyResult result_;
  BundleVerdict verdict_[kSlotCount] = {};
  SlotComponents comps_[kSlotCount] = {};
  uint32_t verifications_ = 0;
};

// node::Reason for a bundle verdict (hash of the firmware → kAppHashMismatch, of another
// component → kDataHashMismatch, signature/manifest/key → kBadManifest, ...).
Reason SlotReasonOf(const BundleVerdict& v);

}  // namespace node
