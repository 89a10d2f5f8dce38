#include "node/otadata.h"

#include <cstring>

#include "node/checksum.h"
#include "node/flash_io.h"

namespace node {

uint32_t OtaSeqCrc(uint32_t seq) {
  uint8_t b[4];
  StoreLe32(b, seq);
  return Crc32(b, 4, 0xFFFFFFFFu);
}

void EncodeOtaEntry(const OtaEntry& e, uint8_t out[kOtaEntrySize]) {
  StoreLe32(out, e.seq);
  std::memcpy(out + 4, e.label, 20);
  StoreLe32(out + 24, e.state);
  StoreLe32(out + 28, e.crc);
}

void DecodeOtaEntry(const uint8_t in[kOtaEntrySize], OtaEntry* e) {
  e->seq = LoadLe32(in);
  std::memcpy(e->label, in + 4, 20);
  e->state = LoadLe32(in + 24);
  e->crc = LoadLe32(in + 28);
}

bool OtaEntryValid(const OtaEntry& e) {
  return e.seq != 0xFFFFFFFFu && e.state != static_cast<uint32_t>(OtaState::kInvalid) &&
         e.state != static_cast<uint32_t>(OtaState::kAborted) && e.crc == OtaSeqCrc(e.seq);
}

int ActiveOtaEntry(const OtaEntry entries[2]) {
  const bool v0 = OtaEntryValid(entries[0]);
  const bool v1 = OtaEntryValid(entries[1]);
  if (v0 && v1) return entries[0].seq >= entries[1].seq ? 0 : 1;
  if (v0) return 0;
  if (v1) return 1;
  return -1;
}

Status ReadOtaData(FlashPort& flash, const FlashLayout& layout, OtaEntry entries[2]) {
  for (int i = 0; i < 2; ++i) {
    uint8_t raw[kOtaEntrySize];
    const Status s =
        flash.Read(layout.otadata.offset + static_cast<uint32_t>(i) * FlashPort::kSectorSize, raw,
                   kOtaEntrySize);
    if (s != Status::kOk) return s;
    DecodeOtaEntry(raw, &entries[i]);
  }
  return Status::kOk;
}

Status WriteOtaEntry(FlashPort& flash, const FlashLayout& layout, int copy, const OtaEntry& e) {
  const uint32_t addr = layout.otadata.offset + static_cast<uint32_t>(copy) * FlashPort::kSectorSize;
  Status s = flash.EraseSector(addr);
  if (s != Status::kOk) return s;
  uint8_t raw[kOtaEntrySize];
  EncodeOtaEntry(e, raw);
  return flash.ProgramPage(addr, raw, kOtaEntrySize);
}

namespace {
int SlotOf(const FlashLayout& layout, uint32_t seq) {
  return layout.app_count > 0 ? static_cast<int>((seq - 1) % static_cast<uint32_t>(layout.app_count))
                              : -1;
}
// The entry (copy index) that speaks for `slot`: the one with the larger seq among entries with
// a good CRC that map to it; -1 when none.
int EntryForSlot(const FlashLayout& layout, const OtaEntry e[2], int slot) {
  int best = -1;
  for (int i = 0; i < 2; ++i) {
    if (e[i].seq == 0xFFFFFFFFu || e[i].crc != OtaSeqCrc(e[i].seq)) continue;
    if (SlotOf(layout, e[i].seq) != slot) continue;
    if (best < 0 || e[i].seq > e[best].seq) best = i;
  }
  return best;
}
}  // namespace

int RunBootloader(FlashPort& flash, const FlashLayout& layout, AppImageCheck check, void* ctx,
                  Status* status) {
  *status = Status::kOk;
  OtaEntry e[2];
  Status s = ReadOtaData(flash, layout, e);
  if (s != Status::kOk) {
    *status = s;
    return -1;
  }
  // An app left PENDING_VERIFY did not confirm itself during its one trial boot: ABORTED.
  for (int i = 0; i < 2; ++i) {
    if (e[i].seq != 0xFFFFFFFFu &&
        e[i].state == static_cast<uint32_t>(OtaState::kPendingVerify)) {
      e[i].state = static_cast<uint32_t>(OtaState::kAborted);
      s = WriteOtaEntry(flash, layout, i, e[i]);
      if (s != Status::kOk) {
        *status = s;
        return -1;
      }
    }
  }
  int boot_index = 0;  // no factory app: "No factory image, trying OTA 0"
  const int active = ActiveOtaEntry(e);
  if (active >= 0) {
    boot_index = SlotOf(layout, e[active].seq);
    if (e[active].state == static_cast<uint32_t>(OtaState::kNew)) {
      e[active].state = static_cast<uint32_t>(OtaState::kPendingVerify);
      s = WriteOtaEntry(flash, layout, active, e[active]);
      if (s != Status::kOk) {
        *status = s;
        return -1;
      }
    }
  }
  // try_load_partition: the chosen slot, then the others downwards, then from the top.
  for (int n = 0; n < kSlotCount; ++n) {
    const int k = (boot_index - n + kSlotCount) % kSlotCount;
    if (check(flash, layout.app[k], ctx)) return k;
  }
  return -1;
}

OtaState OtaDataBoot::SlotState(int slot) {
  OtaEntry e[2];
  if (slot < 0 || ReadOtaData(flash_, layout_, e) != Status::kOk) return OtaState::kUndefined;
  const int i = EntryForSlot(layout_, e, slot);
  return i < 0 ? OtaState::kUndefined : static_cast<OtaState>(e[i].state);
}

Status OtaDataBoot::SetBootSlot(int slot) {
  if (slot < 0 || slot >= layout_.app_count) return Status::kBadArgument;
  OtaEntry e[2];
  Status s = ReadOtaData(flash_, layout_, e);
  if (s != Status::kOk) return s;
  const int active = ActiveOtaEntry(e);
  OtaEntry next;
  std::memset(&next, 0xFF, sizeof(next));
  const uint32_t n = static_cast<uint32_t>(layout_.app_count);
  int copy = 0;
  next.seq = static_cast<uint32_t>(slot) + 1;
  if (active >= 0) {
    // The smallest seq ≡ slot + 1 (mod n) above the active one, in the other copy.
    while (next.seq <= e[active].seq) next.seq += n;
    copy = 1 - active;
  }
  next.state = static_cast<uint32_t>(OtaState::kNew);
  next.crc = OtaSeqCrc(next.seq);
  return WriteOtaEntry(flash_, layout_, copy, next);
}

Status OtaDataBoot::RewriteRunning(OtaState state) {
  OtaEntry e[2];
  Status s = ReadOtaData(flash_, layout_, e);
  if (s != Status::kOk) return s;
  const int active = ActiveOtaEntry(e);
  if (active < 0) return Status::kOk;  // blank otadata: nothing to confirm (as ESP-IDF)
  if (SlotOf(layout_, e[active].seq) != running_) return Status::kInvalidState;
  if (e[active].state == static_cast<uint32_t>(state)) return Status::kOk;
  e[active].state = static_cast<uint32_t>(state);
  return WriteOtaEntry(flash_, layout_, active, e[active]);
}

Status OtaDataBoot::MarkRunningValid() { return RewriteRunning(OtaState::kValid); }
Status OtaDataBoot::MarkRunningInvalid() { return RewriteRunning(OtaState::kInvalid); }

Status OtaDataBoot::RaiseSecureVersion(uint32_t version) {
  if (version <= efuse_.Read()) return Status::kOk;  // monotonic: never lowered
  return efuse_.Write(version);
}

}  // namespace node
