// Signed bundles in the slots (bundle_slot.h). No heap, no exceptions.
#include "node/bundle_slot.h"

#include <cstring>

#include "node/app_image.h"
#include "node/checksum.h"
#include "node/flash_io.h"
#include "node/link_protocol.h"

namespace node {

namespace eb = edge::bundle;

namespace {

constexpr uint32_t kMaxPrefix = eb::kHeaderSize + eb::kMaxManifestSize + eb::kMaxSignatureSize;

// A bundle file reassembled from a slot: [0, prefix) and [prefix + fw, size) in model_k + 0x1000,
// [prefix, prefix + fw) in ota_k.
struct SlotView {
  FlashPort* flash;
  uint32_t app_base, data_base, prefix, firmware, size;
  Status io;
};

bool ReadSlotView(void* ctx, uint32_t o, uint8_t* dst, uint32_t n) {
  SlotView* v = static_cast<SlotView*>(ctx);
  if (o > v->size || n > v->size - o) return false;
  const uint32_t end = o + n, fw_end = v->prefix + v->firmware;
  struct Seg {
    uint32_t from, to, addr;  // flash address of bundle offset 0 for this segment
  } segs[3] = {{o, end < v->prefix ? end : v->prefix, v->data_base},
               {o > v->prefix ? o : v->prefix, end < fw_end ? end : fw_end, v->app_base - v->prefix},
               {o > fw_end ? o : fw_end, end, v->data_base - v->firmware}};
  for (const Seg& s : segs) {
    if (s.from >= s.to) continue;
    const Status st = v->flash->Read(s.addr + s.from, dst + (s.from - o), s.to - s.from);
    if (st != Status::kOk) {
      v->io = st;
      return false;
    }
  }
  return true;
}

// OTA_BEGIN's prefix as a bundle source: reads beyond the prefix fail (and are recorded), so a
// VerifyBundle that gets as far as hashing the components has accepted everything else.
struct PrefixView {
  const uint8_t* prefix;
  uint32_t len;
  bool read_beyond;
};

bool ReadPrefix(void* ctx, uint32_t o, uint8_t* dst, uint32_t n) {
  PrefixView* v = static_cast<PrefixView*>(ctx);
  if (o > v->len || n > v->len - o) {
    v->read_beyond = true;
    return false;
  }
  std::memcpy(dst, v->prefix + o, n);
  return true;
}

uint16_t BundleError(eb::Reason r) {
  return static_cast<uint16_t>(link::kErrBundleBase + static_cast<uint16_t>(r));
}

}  // namespace

Reason SlotReasonOf(const BundleVerdict& v) {
  switch (v.reason) {
    case eb::Reason::kOk: return Reason::kNone;
    case eb::Reason::kHashMismatch:
      return v.component == eb::kComponentFirmware ? Reason::kAppHashMismatch
                                                   : Reason::kDataHashMismatch;
    case eb::Reason::kWrongTarget:
    case eb::Reason::kIncompatibleFirmware: return Reason::kWrongTarget;
    case eb::Reason::kEpochTooLow: return Reason::kEpochTooLow;
    case eb::Reason::kTooLarge: return Reason::kTooLarge;
    case eb::Reason::kIoError: return Reason::kFlashError;
    default: return Reason::kBadManifest;  // header, manifest, key, signature, expiry
  }
}

Status BundleVerifier::Init() {
  have_partition_hash_ = false;
  if (!trust_.check_partition_hash) return Status::kOk;
  const Status s = HashRange(flash_, kPartitionTableOffset, kPartitionTableMaxLen, partition_hash_);
  if (s == Status::kOk) have_partition_hash_ = true;
  return s;
}

void BundleVerifier::Context(int slot, uint32_t min_epoch, uint16_t firmware_abi,
                             eb::DeviceContext* dc) const {
  std::memset(dc, 0, sizeof(*dc));
  dc->chip = trust_.chip;
  dc->board_id = trust_.board_id;
  dc->flash_size = trust_.flash_size;
  dc->partition_hash = have_partition_hash_ ? partition_hash_ : nullptr;
  dc->firmware_abi = firmware_abi;
  dc->min_epoch = min_epoch;
  dc->now_unix = 0;  // no trusted clock on the node
  dc->max_app_size = layout_.app[slot].size;
  // model_k: manifest sector, then the prefix and the non-firmware components.
  dc->max_data_size = layout_.model[slot].size - kSlotDataOffset - kMaxPrefix;
  dc->keys = trust_.keys;
  dc->key_count = trust_.key_count;
}

Reason BundleVerifier::VerifySlot(FlashPort& flash, const FlashLayout& layout, int slot,
                                  SlotReport* report, Status* io, void* ctx) {
  (void)flash;
  (void)layout;
  return static_cast<BundleVerifier*>(ctx)->VerifyAndLocate(slot, report, io);
}

Reason BundleVerifier::VerifyAndLocate(int slot, SlotReport* report, Status* io) {
  *io = Status::kOk;
  std::memset(report, 0, sizeof(*report));
  if (slot < 0 || slot >= kSlotCount) return Reason::kNoSuchSlot;
  ++verifications_;
  SlotComponents& comps = comps_[slot];
  BundleVerdict& verdict = verdict_[slot];
  comps.valid = false;
  verdict.reason = eb::Reason::kOk;
  verdict.component = 0;
  const Partition& app = layout_.app[slot];
  const Partition& model = layout_.model[slot];
  uint8_t raw[kSlotManifestSize];
  Status s = flash_.Read(model.offset, raw, sizeof(raw));
  if (s != Status::kOk) {
    *io = s;
    return Reason::kFlashError;
  }
  bool blank = true;
  for (uint8_t b : raw) blank = blank && b == 0xFF;
  if (blank) return Reason::kSlotEmpty;
  SlotManifest& m = report->manifest;
  if (!DecodeSlotManifest(raw, &m)) return Reason::kBadManifest;
  if (m.app_size == 0 || m.app_size > app.size || m.data_size > model.size - kSlotDataOffset) {
    return Reason::kTooLarge;
  }
  // The prefix size from the (unsigned) header; VerifyBundle checks it against the signed manifest.
  uint8_t head[eb::kHeaderSize];
  s = flash_.Read(model.offset + kSlotDataOffset, head, sizeof(head));
  if (s != Status::kOk) {
    *io = s;
    return Reason::kFlashError;
  }
  eb::BundleHeader h;
  eb::DecodeHeader(head, &h);
  if (h.magic != eb::kMagic || h.manifest_size > eb::kMaxManifestSize ||
      h.signature_size > eb::kMaxSignatureSize || m.data_size < eb::kHeaderSize) {
    verdict.reason = eb::Reason::kBadMagic;
    return Reason::kBadManifest;
  }
  SlotView view{&flash_, app.offset, model.offset + kSlotDataOffset,
                eb::kHeaderSize + h.manifest_size + h.signature_size, m.app_size,
                m.app_size + m.data_size, Status::kOk};
  if (view.prefix > m.data_size) return Reason::kBadManifest;
  eb::DeviceContext dc;
  Context(slot, 0, 0, &dc);
  const eb::BundleSource src{&ReadSlotView, &view, view.size};
  const eb::Reason r = eb::VerifyBundle(src, dc, &scratch_, &result_);
  verdict.reason = r;
  verdict.component = result_.component;
  if (view.io != Status::kOk) {
    *io = view.io;
    return Reason::kFlashError;
  }
  if (r != eb::Reason::kOk) return SlotReasonOf(verdict);
  const eb::ManifestView& mv = result_.manifest;
  // The slot manifest must describe exactly the signed bundle.
  char id[33] = {};
  const uint32_t id_len = mv.bundle_id.length < 32 ? mv.bundle_id.length : 32;
  std::memcpy(id, scratch_.manifest + mv.bundle_id.offset, id_len);
  if (mv.components[eb::kComponentFirmware].offset != view.prefix ||
      mv.components[eb::kComponentFirmware].size != m.app_size || mv.epoch != m.epoch ||
      std::strncmp(id, m.bundle_version, 32) != 0) {
    return Reason::kBadManifest;
  }
  // The bootloader's view of the firmware component: a well-formed ESP32-S3 app image.
  s = CheckAppImage(flash_, app, &report->app);
  if (s == Status::kVerifyFailed) return Reason::kAppImageInvalid;
  if (s != Status::kOk) {
    *io = s;
    return Reason::kFlashError;
  }
  if (report->app.length != m.app_size) return Reason::kAppImageInvalid;
  if (report->app.chip_id != kChipIdEsp32s3) return Reason::kWrongTarget;
  std::memcpy(m.app_sha256, mv.components[eb::kComponentFirmware].sha256, 32);
  for (int c = 0; c < eb::kComponentCount; ++c) {
    const uint32_t off = mv.components[c].offset;
    comps.addr[c] = c == eb::kComponentFirmware ? app.offset : view.data_base + off - view.firmware;
    comps.size[c] = mv.components[c].size;
  }
  eb::ModelDigestFromResult(result_, &comps.model_digest);
  comps.epoch = mv.epoch;
  comps.min_battery_level = mv.min_battery_level;
  comps.slot = slot;
  comps.valid = true;
  return Reason::kNone;
}

uint16_t BundleVerifier::CheckPrefixHook(const uint8_t* prefix, uint32_t len, uint32_t bundle_size,
                                         uint32_t min_epoch, OtaPlan* plan, void* ctx) {
  BundleVerifier* self = static_cast<BundleVerifier*>(ctx);
  const uint16_t bad_prefix = static_cast<uint16_t>(link::kErrOtaBase + link::kOtaBadPrefix);
  if (len < eb::kHeaderSize) return bad_prefix;
  eb::BundleHeader h;
  eb::DecodeHeader(prefix, &h);
  if (h.magic != eb::kMagic) return BundleError(eb::Reason::kBadMagic);
  if (h.manifest_size <= eb::kMaxManifestSize && h.signature_size <= eb::kMaxSignatureSize &&
      eb::kHeaderSize + h.manifest_size + h.signature_size != len) {
    return bad_prefix;
  }
  PrefixView view{prefix, len, false};
  eb::DeviceContext dc;
  const int running = self->boot_.RunningSlot();
  self->Context(running >= 0 ? 1 - running : 0, min_epoch, self->trust_.firmware_abi, &dc);
  const eb::BundleSource src{&ReadPrefix, &view, bundle_size};
  const eb::Reason r = eb::VerifyBundle(src, dc, &self->scratch_, &self->result_);
  // IO_ERROR from a read past the prefix: every check but the component hashes passed.
  const bool passed = r == eb::Reason::kOk || (r == eb::Reason::kIoError && view.read_beyond);
  if (!passed) return BundleError(r);
  const eb::ManifestView& mv = self->result_.manifest;
  if (mv.components[eb::kComponentFirmware].offset != len) return bad_prefix;
  plan->firmware_size = mv.components[eb::kComponentFirmware].size;
  plan->epoch = mv.epoch;
  plan->min_battery = mv.min_battery_level;
  const uint32_t n = mv.bundle_id.length < 32 ? mv.bundle_id.length : 32;
  std::memcpy(plan->bundle_id, self->scratch_.manifest + mv.bundle_id.offset, n);
  plan->bundle_id[n] = '\0';
  return 0;
}

uint16_t BundleVerifier::VerifyBundleHook(BundleReadFn read, void* read_ctx, uint32_t bundle_size,
                                          uint32_t min_epoch, void* ctx) {
  BundleVerifier* self = static_cast<BundleVerifier*>(ctx);
  const int running = self->boot_.RunningSlot();
  eb::DeviceContext dc;
  self->Context(running >= 0 ? 1 - running : 0, min_epoch, self->trust_.firmware_abi, &dc);
  const eb::BundleSource src{read, read_ctx, bundle_size};
  const eb::Reason r = eb::VerifyBundle(src, dc, &self->scratch_, &self->result_);
  return r == eb::Reason::kOk ? 0 : BundleError(r);
}

}  // namespace node
