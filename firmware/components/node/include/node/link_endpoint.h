// The device's link endpoint: frames in, one answer per request out (docs/protocol.md §4, §10).
// Serves HELLO/INFO, GET_STATUS, ROLLBACK, REBOOT, CONFIRM, SET_CALIBRATION_OFFSET, STREAM_*,
// and the OTA receiver (OTA_BEGIN/CHUNK/STATUS/END/COMMIT/ABORT) that stages a bundle into the
// inactive slot through the SlotManager, with a progress journal in the slot's first sector so
// a transfer resumes after a reboot. Static buffers only (one object, ~17 KiB), no heap.
//
// Slot layout of a bundle (file = prefix ‖ firmware ‖ rest, prefix = header ‖ manifest ‖
// signature): ota_k ← firmware; model_k + 0x1000 ← prefix ‖ rest. model_k's first sector:
//   0x000 slot manifest (128 B, SlotManager)      0x100 OTA journal record (64 B)
//   0x200 progress bitmap (bit i cleared = bundle bytes [4096 i, 4096 i + 4096) stored)
//   0x400 calibration log (4-byte records: i16 offset, u16 ~offset; last valid one wins)
#pragma once

#include <cstdint>

#include "node/link_protocol.h"
#include "node/partition_table.h"
#include "node/port.h"
#include "node/slot_manager.h"

namespace node {

constexpr uint32_t kJournalOffset = 0x100;
constexpr uint32_t kJournalSize = 64;
constexpr uint32_t kJournalMagic = 0x544F4246u;  // "FBOT"
constexpr uint32_t kBitmapOffset = 0x200;
constexpr uint32_t kBitmapSize = 0x200;
constexpr uint32_t kCalibrationOffset = 0x400;
constexpr uint32_t kCalibrationRecords = (0x1000 - kCalibrationOffset) / 4;

// Reads the calibration log of `slot` (kCalibrationOffset in model_k's first sector): *value is
// the last valid record (0 if none), *records_used the records written; true when a valid record
// exists. Shared by the link endpoint and the boot flow (boot_verify.h).
bool ReadCalibrationLog(FlashPort& flash, const FlashLayout& layout, int slot, int16_t* value,
                        uint32_t* records_used);

// What a bundle's prefix (header ‖ manifest ‖ signature) says, once checked.
struct OtaPlan {
  uint32_t firmware_size;
  uint32_t epoch;
  uint8_t min_battery;
  char bundle_id[33];
};

// Reads `len` bytes at bundle-file `offset` of a staged bundle (edge::bundle::ReadFn shape).
typedef bool (*BundleReadFn)(void* ctx, uint32_t offset, uint8_t* dst, uint32_t len);

// The bundle verifier seam. Both return 0 when fine, else a link error code (0x280 + b for
// edge::bundle reasons, 0x200 + OtaError, 0x100 + Reason).
struct OtaHooks {
  uint16_t (*check_prefix)(const uint8_t* prefix, uint32_t len, uint32_t bundle_size,
                           uint32_t min_epoch, OtaPlan* plan, void* ctx);
  uint16_t (*verify_bundle)(BundleReadFn read, void* read_ctx, uint32_t bundle_size,
                            uint32_t min_epoch, void* ctx);
  void* ctx;
};

struct DeviceIdentity {
  uint8_t chip;  // 1 ESP32-S3, 2 host twin
  uint8_t mac[6];
  const char* firmware_version;
  uint16_t firmware_abi;
  const char* units;
  const char* const* channel_names;  // sensor->Channels() names
  uint16_t samples_per_block;
  float fixed_point_scale;
};

// What this boot found (set by the boot flow before serving the link).
struct BootSummary {
  BootOutcome outcome = BootOutcome::kRunning;
  Reason reason = Reason::kNone;
  uint8_t health = 0;  // 0 not run, 1 passed, 2 failed
};

// CONFIRM on a trial: runs the health check and confirms or reverts (NodeBoot::ConfirmHook).
typedef BootOutcome (*ConfirmFn)(void* ctx, Reason* why);

class LinkEndpoint {
 public:
  LinkEndpoint(const Port& port, const FlashLayout& layout, SlotManager& slots,
               const DeviceIdentity& id, const OtaHooks& hooks, const BootSummary& boot)
      : port_(port), layout_(layout), slots_(slots), id_(id), hooks_(hooks), boot_(boot) {}

  // Without a confirm hook, CONFIRM on a trial is refused (TRIAL_IN_PROGRESS).
  void set_confirm(ConfirmFn fn, void* ctx) {
    confirm_ = fn;
    confirm_ctx_ = ctx;
  }
  // Sends a device → host frame of its own (FEATURE_BLOCK, INFERENCE, TELEMETRY) with the
  // endpoint's sequence counter; payload may be tx_buffer(). False when it does not fit.
  bool SendUnsolicited(uint8_t type, const uint8_t* payload, uint32_t len);
  // Scratch for building an unsolicited payload in place (link::kMaxPayload bytes).
  uint8_t* tx_buffer() { return tx_payload(); }

  // Sends the resync delimiter and the unsolicited INFO after boot.
  void Start();
  // Reads what the link has and answers every complete request. Returns frames handled.
  uint32_t Poll();
  // Feeds bytes directly (tests); answers go to the link port.
  uint32_t Feed(const uint8_t* data, uint32_t len);

  bool streaming() const { return streaming_; }
  link::OtaPhase ota_phase() const { return phase_; }
  uint32_t durable_offset() const { return durable_; }
  const link::RxCounters& rx_counters() const { return rx_.counters(); }
  uint32_t errors_sent() const { return errors_sent_; }
  // Calibration offset persisted for the bundle in `slot` (0 if none).
  int16_t CalibrationOffset(int slot, uint32_t* records_used = nullptr);

  // Bundle-file view of the staged slot (for the verify hook).
  static bool ReadStaged(void* ctx, uint32_t offset, uint8_t* dst, uint32_t len);

 private:
  void Handle(const link::Frame& f);
  void Send(uint8_t type, uint8_t flags, uint32_t payload_len);  // payload in tx_payload()
  void SendError(uint32_t request_seq, uint16_t code, const char* message);
  void SendInfo(uint8_t flags);
  void Respond(const link::Frame& req, uint32_t body_len);  // body at tx_payload() + 4
  uint8_t* tx_payload() { return raw_ + link::kHeaderSize; }
  uint32_t PutStatus(uint8_t* out);
  uint32_t PutOtaStatus(uint8_t* out);
  void RespondOta(const link::Frame& req) { Respond(req, PutOtaStatus(tx_payload() + 4)); }

  void OtaBegin(const link::Frame& f);
  void OtaChunk(const link::Frame& f);
  void OtaEnd(const link::Frame& f);
  void OtaCommit(const link::Frame& f);
  void SetCalibration(const link::Frame& f);
  bool WriteRange(uint32_t offset, const uint8_t* data, uint32_t len, Reason* why);
  Status ReadBundle(uint32_t offset, uint8_t* dst, uint32_t len);
  Status LoadJournal(int slot, uint8_t* record);  // kNotFound when none
  uint32_t JournalDurable(int slot, uint32_t size);
  Status MarkDurable(uint32_t sector_index);
  void ResetOta();

  const Port& port_;
  const FlashLayout& layout_;
  SlotManager& slots_;
  const DeviceIdentity& id_;
  OtaHooks hooks_;
  const BootSummary& boot_;
  ConfirmFn confirm_ = nullptr;
  void* confirm_ctx_ = nullptr;

  link::FrameReceiver rx_;
  uint8_t raw_[link::kMaxRawFrame];
  uint8_t wire_[link::kMaxEncoded + 1];
  uint8_t io_[256];
  uint32_t tx_seq_ = 0;
  bool started_ = false;
  bool streaming_ = false;
  uint32_t errors_sent_ = 0;

  link::OtaPhase phase_ = link::OtaPhase::kIdle;
  int target_ = -1;
  uint32_t size_ = 0, prefix_ = 0, firmware_ = 0, durable_ = 0;
  uint8_t sha_[32] = {};
  OtaPlan plan_ = {};
};

}  // namespace node
