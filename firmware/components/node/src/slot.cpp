#include "node/slot.h"

#include <cstring>

#include "node/checksum.h"
#include "node/flash_io.h"

namespace node {

void EncodeSlotManifest(const SlotManifest& m, uint8_t out[kSlotManifestSize]) {
  std::memset(out, 0, kSlotManifestSize);
  StoreLe32(out, kSlotManifestMagic);
  StoreLe16(out + 4, kSlotManifestVersion);
  StoreLe16(out + 6, static_cast<uint16_t>(kSlotManifestSize));
  StoreLe32(out + 8, m.app_size);
  StoreLe32(out + 12, m.data_size);
  StoreLe32(out + 16, m.epoch);
  StoreLe32(out + 20, m.flags);
  for (int i = 0; i < 32 && m.bundle_version[i] != '\0'; ++i) {
    out[24 + i] = static_cast<uint8_t>(m.bundle_version[i]);
  }
  std::memcpy(out + 56, m.app_sha256, 32);
  std::memcpy(out + 88, m.data_sha256, 32);
  StoreLe32(out + 120, 0xFFFFFFFFu);
  StoreLe32(out + 124, Crc32(out, 124));
}

bool DecodeSlotManifest(const uint8_t in[kSlotManifestSize], SlotManifest* m) {
  if (LoadLe32(in) != kSlotManifestMagic || LoadLe16(in + 4) != kSlotManifestVersion ||
      LoadLe16(in + 6) != kSlotManifestSize || LoadLe32(in + 124) != Crc32(in, 124)) {
    return false;
  }
  m->app_size = LoadLe32(in + 8);
  m->data_size = LoadLe32(in + 12);
  m->epoch = LoadLe32(in + 16);
  m->flags = LoadLe32(in + 20);
  std::memcpy(m->bundle_version, in + 24, 32);
  m->bundle_version[32] = '\0';
  std::memcpy(m->app_sha256, in + 56, 32);
  std::memcpy(m->data_sha256, in + 88, 32);
  return true;
}

Reason DefaultVerifySlot(FlashPort& flash, const FlashLayout& layout, int slot,
                         SlotReport* report, Status* io, void* /*ctx*/) {
  *io = Status::kOk;
  std::memset(report, 0, sizeof(*report));
  if (slot < 0 || slot >= kSlotCount) return Reason::kNoSuchSlot;
  const Partition& app = layout.app[slot];
  const Partition& model = layout.model[slot];
  uint8_t raw[kSlotManifestSize];
  Status s = flash.Read(model.offset, raw, sizeof(raw));
  if (s != Status::kOk) {
    *io = s;
    return Reason::kFlashError;
  }
  bool blank = true;
  for (uint8_t b : raw) blank = blank && b == 0xFF;
  if (blank) return Reason::kSlotEmpty;
  SlotManifest& m = report->manifest;
  if (!DecodeSlotManifest(raw, &m)) return Reason::kBadManifest;
  if (m.app_size > app.size || m.data_size > model.size - kSlotDataOffset) {
    return Reason::kTooLarge;
  }
  s = CheckAppImage(flash, app, &report->app);
  if (s == Status::kVerifyFailed) return Reason::kAppImageInvalid;
  if (s != Status::kOk) {
    *io = s;
    return Reason::kFlashError;
  }
  if (report->app.length != m.app_size) return Reason::kAppImageInvalid;
  if (report->app.chip_id != kChipIdEsp32s3) return Reason::kWrongTarget;
  uint8_t digest[32];
  s = HashRange(flash, app.offset, m.app_size, digest);
  if (s != Status::kOk) {
    *io = s;
    return Reason::kFlashError;
  }
  if (!DigestEqual(digest, m.app_sha256, 32)) return Reason::kAppHashMismatch;
  s = HashRange(flash, model.offset + kSlotDataOffset, m.data_size, digest);
  if (s != Status::kOk) {
    *io = s;
    return Reason::kFlashError;
  }
  if (!DigestEqual(digest, m.data_sha256, 32)) return Reason::kDataHashMismatch;
  return Reason::kNone;
}

const char* ReasonName(Reason r) {
  switch (r) {
    case Reason::kNone: return "none";
    case Reason::kTrialInProgress: return "trial_in_progress";
    case Reason::kNoSuchSlot: return "no_such_slot";
    case Reason::kSlotEmpty: return "slot_empty";
    case Reason::kBadManifest: return "bad_manifest";
    case Reason::kAppImageInvalid: return "app_image_invalid";
    case Reason::kAppHashMismatch: return "app_hash_mismatch";
    case Reason::kDataHashMismatch: return "data_hash_mismatch";
    case Reason::kWrongTarget: return "wrong_target";
    case Reason::kEpochTooLow: return "epoch_too_low";
    case Reason::kSlotInvalidated: return "slot_invalidated";
    case Reason::kTooLarge: return "too_large";
    case Reason::kNotStaging: return "not_staging";
    case Reason::kOutOfOrder: return "out_of_order";
    case Reason::kIncomplete: return "incomplete";
    case Reason::kFlashError: return "flash_error";
    case Reason::kSameSlot: return "same_slot";
  }
  return "unknown";
}

}  // namespace node
