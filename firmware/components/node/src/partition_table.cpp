#include "node/partition_table.h"

#include <cstring>

#include "node/flash_io.h"

namespace node {

const Partition* PartitionTable::Find(const char* label) const {
  for (int i = 0; i < count; ++i) {
    if (std::strcmp(entries[i].label, label) == 0) return &entries[i];
  }
  return nullptr;
}

Status ParsePartitionTable(const uint8_t* data, uint32_t len, PartitionTable* out) {
  std::memset(out, 0, sizeof(*out));
  for (uint32_t off = 0; off + 32 <= len; off += 32) {
    const uint8_t* e = data + off;
    const uint16_t magic = LoadLe16(e);
    if (magic == 0xFFFF) return out->count > 0 ? Status::kOk : Status::kVerifyFailed;
    if (magic == kPartitionMagicMd5) {
      out->has_md5_row = true;
      continue;
    }
    if (magic != kPartitionMagic) return Status::kVerifyFailed;
    if (out->count >= kMaxPartitions) return Status::kVerifyFailed;
    Partition& p = out->entries[out->count++];
    p.type = e[2];
    p.subtype = e[3];
    p.offset = LoadLe32(e + 4);
    p.size = LoadLe32(e + 8);
    std::memcpy(p.label, e + 12, 16);
    p.label[16] = '\0';
    p.flags = LoadLe32(e + 28);
  }
  return out->count > 0 ? Status::kOk : Status::kVerifyFailed;
}

Status ReadPartitionTable(FlashPort& flash, PartitionTable* out) {
  uint8_t buf[kPartitionTableMaxLen];
  const Status s = flash.Read(kPartitionTableOffset, buf, sizeof(buf));
  if (s != Status::kOk) return s;
  return ParsePartitionTable(buf, sizeof(buf), out);
}

Status ResolveLayout(const PartitionTable& table, FlashLayout* out) {
  std::memset(out, 0, sizeof(*out));
  bool have_otadata = false;
  bool have_app[kSlotCount] = {};
  bool have_model[kSlotCount] = {};
  for (int i = 0; i < table.count; ++i) {
    const Partition& p = table.entries[i];
    if (p.type == kPartTypeData && p.subtype == kSubtypeDataOta) {
      out->otadata = p;
      have_otadata = true;
    } else if (p.type == kPartTypeApp && p.subtype >= kSubtypeAppOta0 &&
               p.subtype < kSubtypeAppOta0 + 16) {
      ++out->app_count;
      const int k = p.subtype - kSubtypeAppOta0;
      if (k < kSlotCount) {
        out->app[k] = p;
        have_app[k] = true;
      }
    } else if (p.type == kPartTypeData && std::strncmp(p.label, "model_", 6) == 0 &&
               p.label[6] >= '0' && p.label[6] < '0' + kSlotCount && p.label[7] == '\0') {
      const int k = p.label[6] - '0';
      out->model[k] = p;
      have_model[k] = true;
    }
  }
  if (!have_otadata || out->otadata.size != 2 * FlashPort::kSectorSize) return Status::kNotFound;
  for (int k = 0; k < kSlotCount; ++k) {
    if (!have_app[k] || !have_model[k]) return Status::kNotFound;
  }
  return Status::kOk;
}

}  // namespace node
