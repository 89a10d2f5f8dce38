// ESP-IDF app images (esp_app_format.h): esp_image_header_t (24 bytes, magic 0xE9), up to 16
// segments {u32 load_addr, u32 data_len, data}, zero padding to 15 mod 16, one XOR checksum byte
// (seed 0xEF, over the segment data), then — when header byte 23 (hash_appended) is 1 — the
// SHA-256 of everything before it. esp_app_desc_t (256 bytes, magic 0xABCD5432) opens the
// first segment's data, i.e. image offset 32.
#pragma once

#include <cstdint>

#include "node/partition_table.h"
#include "node/port.h"

namespace node {

constexpr uint8_t kImageMagic = 0xE9;
constexpr uint8_t kImageChecksumSeed = 0xEF;
constexpr uint32_t kAppDescMagic = 0xABCD5432u;
constexpr uint16_t kChipIdEsp32s3 = 9;
constexpr int kMaxSegments = 16;

struct AppImageInfo {
  uint32_t length;          // bytes from the header to the end of the appended hash
  uint32_t segment_count;
  uint16_t chip_id;
  bool has_app_desc;
  uint32_t secure_version;  // esp_app_desc_t.secure_version
  char version[33];         // esp_app_desc_t.version
  char project_name[33];
  uint8_t sha256[32];       // the appended digest (all zero when not appended)
};

// Walks the image in `app`, checks structure, checksum and appended hash. kVerifyFailed on any
// mismatch; kPowerLost/kIoError from reads are passed through.
Status CheckAppImage(FlashPort& flash, const Partition& app, AppImageInfo* info);
// Adapter for RunBootloader.
bool AppImageBootable(FlashPort& flash, const Partition& app, void* ctx);

}  // namespace node
