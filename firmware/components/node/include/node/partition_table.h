// ESP-IDF's binary partition table (esp_flash_partitions.h, gen_esp32part.py): 32-byte
// entries {u16 magic 0x50AA, u8 type, u8 subtype, u32 offset, u32 size, char label[16],
// u32 flags} at 0x8000, then an MD5 row (magic 0xEBEB) and 0xFF padding.
#pragma once

#include <cstdint>

#include "node/port.h"

namespace node {

constexpr uint32_t kPartitionTableOffset = 0x8000;
constexpr uint32_t kPartitionTableMaxLen = 0xC00;
constexpr uint16_t kPartitionMagic = 0x50AA;
constexpr uint16_t kPartitionMagicMd5 = 0xEBEB;
constexpr uint8_t kPartTypeApp = 0x00;
constexpr uint8_t kPartTypeData = 0x01;
constexpr uint8_t kSubtypeAppOta0 = 0x10;
constexpr uint8_t kSubtypeDataOta = 0x00;
constexpr uint8_t kSubtypeDataUndefined = 0x06;
constexpr int kMaxPartitions = 16;
constexpr int kSlotCount = 2;

struct Partition {
  uint8_t type;
  uint8_t subtype;
  uint32_t offset;
  uint32_t size;
  char label[17];  // NUL-terminated copy
  uint32_t flags;
};

struct PartitionTable {
  Partition entries[kMaxPartitions];
  int count;
  bool has_md5_row;
  const Partition* Find(const char* label) const;
};

// The partitions the node uses: bundle slot k = app ota_k + data model_k.
struct FlashLayout {
  Partition otadata;
  Partition app[kSlotCount];
  Partition model[kSlotCount];
  int app_count;  // number of ota_N app partitions (ESP-IDF's selection rule divides by it)
  // True when `addr`..`addr+len` lies inside partition p.
  static bool Contains(const Partition& p, uint32_t addr, uint32_t len) {
    return addr >= p.offset && len <= p.size && addr - p.offset <= p.size - len;
  }
};

// Reads and parses the table at kPartitionTableOffset. kVerifyFailed on a malformed table.
Status ReadPartitionTable(FlashPort& flash, PartitionTable* out);
// Parses raw table bytes (len ≤ kPartitionTableMaxLen).
Status ParsePartitionTable(const uint8_t* data, uint32_t len, PartitionTable* out);
// Finds otadata, ota_0/ota_1 and model_0/model_1; kNotFound when one is missing.
Status ResolveLayout(const PartitionTable& table, FlashLayout* out);

}  // namespace node
