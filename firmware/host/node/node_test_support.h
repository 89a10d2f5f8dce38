// Host-only helpers for the node tests: the partition table of firmware/partitions.csv in
// binary form, ESP-IDF app images and slot payloads, provisioning of a blank flash. Heap and std
// containers are fine here (test code); the library under test uses neither.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "host_port/host_flash.h"
#include "node/checksum.h"
#include "node/flash_io.h"
#include "node/otadata.h"
#include "node/slot.h"

namespace nodetest {

#define NT_CHECK(cond)                                                        \
  do {                                                                        \
    if (!(cond)) {                                                            \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::exit(1);                                                           \
    }                                                                         \
  } while (0)

struct PartRow {
  const char* label;
  uint8_t type, subtype;
  uint32_t offset, size;
};
// firmware/partitions.csv (core/device/partitions.py generates the same bytes; a Python test
// compares them through the twin executable).
inline const std::vector<PartRow>& Rows() {
  static const std::vector<PartRow> rows = {
      {"nvs", 1, 0x02, 0x9000, 0x4000},        {"otadata", 1, 0x00, 0xD000, 0x2000},
      {"phy_init", 1, 0x01, 0xF000, 0x1000},   {"ota_0", 0, 0x10, 0x10000, 0x280000},
      {"ota_1", 0, 0x11, 0x290000, 0x280000},  {"model_0", 1, 0x06, 0x510000, 0x178000},
      {"model_1", 1, 0x06, 0x688000, 0x178000},
  };
  return rows;
}

// MD5 is only needed to build the table's MD5 row; a tiny RFC 1321 implementation.
inline void Md5(const uint8_t* msg, size_t len, uint8_t out[16]) {
  static const uint32_t k[64] = {
      0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
      0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
      0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
      0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
      0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
      0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
      0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
      0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
  static const int r[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                            5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                            4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                            6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
  uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  std::vector<uint8_t> m(msg, msg + len);
  m.push_back(0x80);
  while (m.size() % 64 != 56) m.push_back(0);
  const uint64_t bits = uint64_t{len} * 8;
  for (int i = 0; i < 8; ++i) m.push_back(static_cast<uint8_t>(bits >> (8 * i)));
  for (size_t off = 0; off < m.size(); off += 64) {
    uint32_t w[16];
    for (int i = 0; i < 16; ++i) w[i] = node::LoadLe32(&m[off + 4 * i]);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; ++i) {
      uint32_t f;
      int g;
      if (i < 16) { f = (b & c) | (~b & d); g = i; }
      else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
      else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
      else { f = c ^ (b | ~d); g = (7 * i) % 16; }
      const uint32_t t = d;
      d = c;
      c = b;
      const uint32_t x = a + f + k[i] + w[g];
      b = b + ((x << r[i]) | (x >> (32 - r[i])));
      a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
  }
  for (int i = 0; i < 4; ++i) node::StoreLe32(out + 4 * i, h[i]);
}

inline std::vector<uint8_t> PartitionTableBytes() {
  std::vector<uint8_t> t;
  for (const PartRow& r : Rows()) {
    uint8_t e[32] = {0xAA, 0x50, r.type, r.subtype};
    node::StoreLe32(e + 4, r.offset);
    node::StoreLe32(e + 8, r.size);
    std::strncpy(reinterpret_cast<char*>(e + 12), r.label, 16);
    t.insert(t.end(), e, e + 32);
  }
  uint8_t md5row[32];
  std::memset(md5row, 0xFF, sizeof(md5row));
  md5row[0] = md5row[1] = 0xEB;
  Md5(t.data(), t.size(), md5row + 16);
  t.insert(t.end(), md5row, md5row + 32);
  t.resize(0xC00, 0xFF);
  return t;
}

// An ESP-IDF app image: DROM segment opening with esp_app_desc_t, an IROM segment, checksum,
// appended SHA-256.
inline std::vector<uint8_t> AppImage(const std::string& version, uint32_t secure_version,
                                     uint32_t payload, uint32_t seed, uint16_t chip_id = 9) {
  std::vector<uint8_t> desc(256, 0);
  node::StoreLe32(desc.data(), 0xABCD5432u);
  node::StoreLe32(desc.data() + 4, secure_version);
  std::memcpy(desc.data() + 16, version.data(), version.size() < 31 ? version.size() : 31);
  std::memcpy(desc.data() + 48, "fieldbench_node", 15);
  std::memcpy(desc.data() + 80, "00:00:00", 8);
  std::memcpy(desc.data() + 96, "Jan  1 2025", 11);
  std::memcpy(desc.data() + 112, "v5.3", 4);
  desc[180] = 16;  // mmu_page_size log2 (64 KiB)
  std::vector<uint8_t> rodata = desc;
  uint32_t x = seed * 2654435761u + 1;
  for (uint32_t i = 0; i < payload / 2; ++i) {
    x = x * 1103515245u + 12345u;
    rodata.push_back(static_cast<uint8_t>(x >> 16));
  }
  while (rodata.size() % 4) rodata.push_back(0);
  std::vector<uint8_t> code;
  for (uint32_t i = 0; i < payload - payload / 2; ++i) {
    x = x * 1103515245u + 12345u;
    code.push_back(static_cast<uint8_t>(x >> 16));
  }
  while (code.size() % 4) code.push_back(0);
  std::vector<uint8_t> img(24, 0);
  img[0] = 0xE9;
  img[1] = 2;
  img[2] = 2;     // DIO
  img[3] = 0x3F;  // 8 MB, 80 MHz
  node::StoreLe32(&img[4], 0x40375000u);
  img[8] = 0xEE;
  node::StoreLe16(&img[12], chip_id);
  node::StoreLe16(&img[15], 0);   // min_chip_rev_full
  node::StoreLe16(&img[17], 99);  // max_chip_rev_full (v0.99)
  img[23] = 1;
  auto seg = [&](uint32_t addr, const std::vector<uint8_t>& d) {
    uint8_t h[8];
    node::StoreLe32(h, addr);
    node::StoreLe32(h + 4, static_cast<uint32_t>(d.size()));
    img.insert(img.end(), h, h + 8);
    img.insert(img.end(), d.begin(), d.end());
  };
  seg(0x3C000020u, rodata);
  seg(0x42000020u + ((static_cast<uint32_t>(rodata.size()) + 0xFFFF) & ~0xFFFFu), code);
  uint8_t ck = 0xEF;
  for (uint8_t b : rodata) ck ^= b;
  for (uint8_t b : code) ck ^= b;
  while (img.size() % 16 != 15) img.push_back(0);
  img.push_back(ck);
  uint8_t digest[32];
  node::Sha256 sha;
  sha.Update(img.data(), img.size());
  sha.Final(digest);
  img.insert(img.end(), digest, digest + 32);
  return img;
}

struct Bundle {
  std::string version;
  uint32_t epoch;
  std::vector<uint8_t> app, data;
  node::SlotManifest manifest;
};

inline Bundle MakeBundle(const std::string& version, uint32_t epoch, uint32_t app_payload,
                         uint32_t data_len, uint32_t seed) {
  Bundle b;
  b.version = version;
  b.epoch = epoch;
  b.app = AppImage(version, epoch, app_payload, seed);
  uint32_t x = seed + 7;
  for (uint32_t i = 0; i < data_len; ++i) {
    x = x * 22695477u + 1u;
    b.data.push_back(static_cast<uint8_t>(x >> 16));
  }
  std::memset(&b.manifest, 0, sizeof(b.manifest));
  b.manifest.app_size = static_cast<uint32_t>(b.app.size());
  b.manifest.data_size = data_len;
  b.manifest.epoch = epoch;
  std::snprintf(b.manifest.bundle_version, sizeof(b.manifest.bundle_version), "%s", version.c_str());
  node::Sha256 sha;
  sha.Update(b.app.data(), b.app.size());
  sha.Final(b.manifest.app_sha256);
  sha.Update(b.data.data(), b.data.size());
  sha.Final(b.manifest.data_sha256);
  return b;
}

// Writes the table and `bundle` into slot `slot` directly (factory provisioning), and an
// otadata entry selecting it as VALID with sequence `seq` in copy `copy` (seq 0 = blank otadata).
inline void Provision(uint8_t* mem, const Bundle& b, int slot, uint32_t seq, int copy) {
  const std::vector<uint8_t> table = PartitionTableBytes();
  std::memcpy(mem + 0x8000, table.data(), table.size());
  const PartRow& app = Rows()[3 + slot];
  const PartRow& model = Rows()[5 + slot];
  std::memcpy(mem + app.offset, b.app.data(), b.app.size());
  uint8_t raw[node::kSlotManifestSize];
  node::EncodeSlotManifest(b.manifest, raw);
  std::memcpy(mem + model.offset, raw, sizeof(raw));
  std::memcpy(mem + model.offset + node::kSlotDataOffset, b.data.data(), b.data.size());
  if (seq != 0) {
    node::OtaEntry e;
    std::memset(&e, 0xFF, sizeof(e));
    e.seq = seq;
    e.state = static_cast<uint32_t>(node::OtaState::kValid);
    e.crc = node::OtaSeqCrc(seq);
    node::EncodeOtaEntry(e, mem + 0xD000 + 0x1000 * copy);
  }
}

}  // namespace nodetest
