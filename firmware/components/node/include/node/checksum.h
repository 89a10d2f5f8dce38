// CRC-32 (IEEE, zlib's) and SHA-256, table-free enough for a boot path, no heap.
#pragma once

#include <cstddef>
#include <cstdint>

namespace node {

// zlib.crc32(data, init): the bit-reflected IEEE CRC with the complement on entry and exit.
// ESP-IDF's otadata CRC is Crc32(&ota_seq, 4, 0xFFFFFFFF) (esp_rom_crc32_le(UINT32_MAX, ...)).
uint32_t Crc32(const void* data, size_t len, uint32_t init = 0);

class Sha256 {
 public:
  static constexpr size_t kDigestSize = 32;
  Sha256() { Reset(); }
  void Reset();
  void Update(const void* data, size_t len);
  void Final(uint8_t out[kDigestSize]);

 private:
  void Block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  uint64_t total_;
  size_t fill_;
};

// Constant-time compare of two digests.
bool DigestEqual(const uint8_t* a, const uint8_t* b, size_t len);

}  // namespace node
