// bundle_verify: the device's bundle verifier (edge_runtime) on the host, for tests and benches.
//
//   bundle_verify [--context CTX] FILE...          one line per file: "<REASON>\t<file>"
//   bundle_verify --context CTX --base BUNDLE --script SCRIPT
//        one verdict line per case; the cases mutate BUNDLE in memory, so a corpus of thousands of
//        cases runs in one process. Script lines:
//          ok                    the base bundle unchanged
//          flip OFFSET MASK      XOR byte OFFSET with MASK (decimal)
//          trunc LENGTH          keep the first LENGTH bytes
//          append COUNT          add COUNT zero bytes
//          patch OFFSET HEX      overwrite bytes from OFFSET
//          file PATH             a bundle file instead of the base
//          ctx KEY=VALUE         change the device context for the following cases (no output)
//          bench COUNT           verify the base COUNT times; prints "BENCH <microseconds each>"
//   bundle_verify --dump FILE                      header fields and manifest facts, KEY=VALUE
//   bundle_verify --encode-header FW MODEL THR CAL MANIFEST SIGNATURE PAYLOAD
//                                                  the 64 header bytes as hex (format tests)
//
// CTX is KEY=VALUE lines: chip, board_id, flash_size, partition_hash (hex), firmware_abi,
// min_epoch, now, max_bundle_size, max_app_size, max_data_size, key (hex SPKI DER, repeatable),
// clear_keys=1.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "edge_runtime/bundle_format.h"
#include "edge_runtime/bundle_verify.h"
#include "mbedtls/sha256.h"
#include "mbedtls/version.h"

namespace {

using edge::bundle::BundleSource;
using edge::bundle::DeviceContext;
using edge::bundle::TrustedKey;
using edge::bundle::VerifyResult;
using edge::bundle::VerifyScratch;

struct Memory {
  const std::vector<uint8_t>* bytes;
};

bool ReadMemory(void* ctx, uint32_t offset, uint8_t* dst, uint32_t len) {
  const auto* m = static_cast<Memory*>(ctx);
  if (uint64_t{offset} + len > m->bytes->size()) return false;
  std::memcpy(dst, m->bytes->data() + offset, len);
  return true;
}

bool FromHex(const std::string& hex, std::vector<uint8_t>* out) {
  if (hex.size() % 2 != 0) return false;
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    char* end = nullptr;
    const std::string byte = hex.substr(i, 2);
    const long v = std::strtol(byte.c_str(), &end, 16);
    if (end != byte.c_str() + 2) return false;
    out->push_back(static_cast<uint8_t>(v));
  }
  return true;
}

bool ReadFile(const std::string& path, std::vector<uint8_t>* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

// The context with owned storage behind its pointers.
struct Context {
  std::string chip = "esp32s3";
  std::string board_id;
  bool any_board = true;
  std::vector<uint8_t> partition_hash;
  std::vector<std::vector<uint8_t>> key_der;
  std::vector<TrustedKey> keys;
  DeviceContext device{};

  bool Set(const std::string& line) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) return false;
    const std::string k = line.substr(0, eq), v = line.substr(eq + 1);
    const unsigned long long n = std::strtoull(v.c_str(), nullptr, 10);
    if (k == "chip")
      chip = v;
    else if (k == "board_id") {
      board_id = v;
      any_board = v.empty();
    } else if (k == "flash_size")
      device.flash_size = static_cast<uint32_t>(n);
    else if (k == "partition_hash") {
      if (!FromHex(v, &partition_hash)) return false;
    } else if (k == "firmware_abi")
      device.firmware_abi = static_cast<uint16_t>(n);
    else if (k == "min_epoch")
      device.min_epoch = static_cast<uint32_t>(n);
    else if (k == "now")
      device.now_unix = n;
    else if (k == "max_bundle_size")
      device.max_bundle_size = static_cast<uint32_t>(n);
    else if (k == "max_app_size")
      device.max_app_size = static_cast<uint32_t>(n);
    else if (k == "max_data_size")
      device.max_data_size = static_cast<uint32_t>(n);
    else if (k == "key") {
      std::vector<uint8_t> der;
      if (!FromHex(v, &der)) return false;
      key_der.push_back(der);
    } else if (k == "clear_keys")
      key_der.clear();
    else
      return false;
    return true;
  }

  // Key ids are computed here, independently of Python: SHA-256 of the SPKI DER.
  bool Finish() {
    keys.clear();
    for (const auto& der : key_der) {
      if (der.empty() || der.size() > 0xFFFF) return false;
      TrustedKey key{};
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
      if (mbedtls_sha256(der.data(), der.size(), key.key_id, 0) != 0) return false;
#else
      if (mbedtls_sha256_ret(der.data(), der.size(), key.key_id, 0) != 0) return false;
#endif
      key.spki_der = der.data();
      key.spki_len = static_cast<uint16_t>(der.size());
      keys.push_back(key);
    }
    device.chip = chip.empty() ? nullptr : chip.c_str();
    device.board_id = any_board ? nullptr : board_id.c_str();
    device.partition_hash = partition_hash.size() == 32 ? partition_hash.data() : nullptr;
    device.keys = keys.data();
    device.key_count = keys.size();
    return true;
  }
};

std::string Verify(const std::vector<uint8_t>& bytes, const Context& ctx, VerifyScratch* scratch,
                   VerifyResult* result) {
  Memory mem{&bytes};
  const BundleSource src{ReadMemory, &mem, static_cast<uint32_t>(bytes.size())};
  edge::bundle::VerifyBundle(src, ctx.device, scratch, result);
  char text[64];
  edge::bundle::FormatReason(*result, text, sizeof(text));
  return text;
}

int Usage() {
  std::fprintf(stderr,
               "usage: see the comment at the top of firmware/host/tools/bundle_verify.cpp\n");
  return 2;
}

int RunScript(const std::vector<uint8_t>& base, Context& ctx, const std::string& script_path) {
  std::ifstream script(script_path);
  if (!script) return Usage();
  static VerifyScratch scratch;
  static VerifyResult result;
  std::string line, cmd;
  std::vector<uint8_t> work, other;
  while (std::getline(script, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    in >> cmd;
    if (cmd == "ctx") {
      std::string kv;
      in >> kv;
      if (!ctx.Set(kv) || !ctx.Finish()) {
        std::fprintf(stderr, "bad ctx line: %s\n", line.c_str());
        return 2;
      }
      continue;
    }
    if (cmd == "bench") {
      long count = 0;
      in >> count;
      const auto t0 = std::chrono::steady_clock::now();
      for (long i = 0; i < count; ++i) Verify(base, ctx, &scratch, &result);
      const double us =
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      std::printf("BENCH %.3f %s\n", count > 0 ? us / count : 0.0,
                  edge::bundle::ReasonName(result.reason));
      continue;
    }
    work = base;
    if (cmd == "flip") {
      unsigned long off = 0, mask = 0;
      in >> off >> mask;
      if (off < work.size()) work[off] ^= static_cast<uint8_t>(mask);
    } else if (cmd == "trunc") {
      unsigned long len = 0;
      in >> len;
      if (len < work.size()) work.resize(len);
    } else if (cmd == "append") {
      unsigned long n = 0;
      in >> n;
      work.resize(work.size() + n, 0);
    } else if (cmd == "patch") {
      unsigned long off = 0;
      std::string hex;
      in >> off >> hex;
      std::vector<uint8_t> bytes;
      if (!FromHex(hex, &bytes)) return Usage();
      if (off + bytes.size() > work.size()) work.resize(off + bytes.size(), 0);
      std::memcpy(work.data() + off, bytes.data(), bytes.size());
    } else if (cmd == "file") {
      std::string path;
      in >> path;
      if (!ReadFile(path, &work)) {
        std::printf("IO_ERROR\n");
        continue;
      }
    } else if (cmd != "ok") {
      std::fprintf(stderr, "bad script line: %s\n", line.c_str());
      return 2;
    }
    std::printf("%s\n", Verify(work, ctx, &scratch, &result).c_str());
  }
  return 0;
}

int Dump(const std::string& path, Context& ctx) {
  std::vector<uint8_t> bytes;
  if (!ReadFile(path, &bytes) || bytes.size() < edge::bundle::kHeaderSize) return 2;
  edge::bundle::BundleHeader h;
  edge::bundle::DecodeHeader(bytes.data(), &h);
  std::printf("magic=%u\nformat_version=%u\nheader_size=%u\nversions=%u,%u,%u,%u\n", h.magic,
              h.format_version, h.header_size, h.fw_version, h.model_version, h.threshold_version,
              h.calibration_version);
  std::printf("manifest_size=%u\nsignature_size=%u\npayload_size=%u\nchecksum=%u\n",
              h.manifest_size, h.signature_size, h.payload_size, h.checksum);
  static VerifyScratch scratch;
  static VerifyResult result;
  std::printf("reason=%s\n", Verify(bytes, ctx, &scratch, &result).c_str());
  const auto& m = result.manifest;
  std::printf("epoch=%u\nexpires=%llu\nabi=%u,%u,%u\nflash_size=%u\n", m.epoch,
              static_cast<unsigned long long>(m.expires), m.abi_min, m.abi_max, m.firmware_abi,
              m.flash_size);
  std::printf("min_battery_level=%u\nmax_latency_ms=%u\npeak_ram_budget=%u\n", m.min_battery_level,
              m.max_latency_ms, m.peak_ram_budget);
  std::printf("policies=%u,%u,%u\ngate_overridden=%d\n", m.threshold_policy, m.calibration_policy,
              m.rollback_policy, m.gate_overridden ? 1 : 0);
  std::printf("bundle_id=%.*s\n", m.bundle_id.length,
              reinterpret_cast<const char*>(scratch.manifest + m.bundle_id.offset));
  for (int i = 0; i < edge::bundle::kComponentCount; ++i) {
    std::printf("component.%s=%u\n", edge::bundle::ComponentName(static_cast<uint8_t>(i)),
                m.components[i].size);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Context ctx;
  std::string base_path, script_path;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--context" && i + 1 < argc) {
      std::ifstream f(argv[++i]);
      std::string line;
      if (!f) return Usage();
      while (std::getline(f, line)) {
        if (line.empty() || line[0] == '#') continue;
        if (!ctx.Set(line)) {
          std::fprintf(stderr, "bad context line: %s\n", line.c_str());
          return 2;
        }
      }
    } else if (a == "--base" && i + 1 < argc) {
      base_path = argv[++i];
    } else if (a == "--script" && i + 1 < argc) {
      script_path = argv[++i];
    } else if (a == "--dump" && i + 1 < argc) {
      if (!ctx.Finish()) return 2;
      return Dump(argv[++i], ctx);
    } else if (a == "--encode-header" && i + 7 < argc) {
      edge::bundle::BundleHeader h{};
      h.magic = edge::bundle::kMagic;
      h.format_version = edge::bundle::kFormatVersion;
      h.header_size = edge::bundle::kHeaderSize;
      h.fw_version = static_cast<uint16_t>(std::atoi(argv[i + 1]));
      h.model_version = static_cast<uint16_t>(std::atoi(argv[i + 2]));
      h.threshold_version = static_cast<uint16_t>(std::atoi(argv[i + 3]));
      h.calibration_version = static_cast<uint16_t>(std::atoi(argv[i + 4]));
      h.manifest_size = static_cast<uint32_t>(std::strtoul(argv[i + 5], nullptr, 10));
      h.signature_size = static_cast<uint32_t>(std::strtoul(argv[i + 6], nullptr, 10));
      h.payload_size = static_cast<uint32_t>(std::strtoul(argv[i + 7], nullptr, 10));
      uint8_t bytes[edge::bundle::kHeaderSize];
      edge::bundle::EncodeHeader(h, bytes);
      for (uint8_t b : bytes) std::printf("%02x", b);
      std::printf("\n");
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      return Usage();
    } else {
      files.push_back(a);
    }
  }
  if (!ctx.Finish()) return 2;
  if (!script_path.empty()) {
    std::vector<uint8_t> base;
    if (!base_path.empty() && !ReadFile(base_path, &base)) return Usage();
    return RunScript(base, ctx, script_path);
  }
  if (files.empty()) return Usage();
  static VerifyScratch scratch;
  static VerifyResult result;
  for (const auto& path : files) {
    std::vector<uint8_t> bytes;
    const std::string reason =
        ReadFile(path, &bytes) ? Verify(bytes, ctx, &scratch, &result) : std::string("IO_ERROR");
    std::printf("%s\t%s\n", reason.c_str(), path.c_str());
  }
  return 0;
}
