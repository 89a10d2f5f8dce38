// node::OtaHooks over edge::bundle::VerifyBundle (twin_hooks.h).
#include "twin_hooks.h"

#include <cstdio>
#include <cstring>

#include "node/checksum.h"
#include "node/link_protocol.h"

namespace twin {

namespace lk = node::link;
namespace eb = edge::bundle;

bool TrustStore::AddDerFile(const char* path) {
  if (count >= kMaxKeys) return false;
  FILE* f = std::fopen(path, "rb");
  if (f == nullptr) return false;
  const size_t n = std::fread(der[count], 1, sizeof der[count], f);
  const bool more = std::fgetc(f) != EOF;
  std::fclose(f);
  if (n == 0 || more) return false;
  node::Sha256 sha;
  sha.Update(der[count], n);
  sha.Final(keys[count].key_id);
  keys[count].spki_der = der[count];
  keys[count].spki_len = static_cast<uint16_t>(n);
  ++count;
  return true;
}

namespace {

eb::VerifyScratch g_scratch;  // one verification at a time (the twin is single-threaded)

eb::DeviceContext Device(const VerifierContext& c, uint32_t min_epoch) {
  eb::DeviceContext d{};
  d.chip = "esp32s3";
  d.board_id = c.board_id;
  d.flash_size = c.flash_size;
  d.firmware_abi = c.firmware_abi;
  d.min_epoch = min_epoch;
  d.max_app_size = c.max_app_size;
  d.max_data_size = c.max_data_size;
  d.keys = c.trust.keys;
  d.key_count = static_cast<size_t>(c.trust.count);
  return d;
}

uint16_t BundleError(eb::Reason r) {
  return static_cast<uint16_t>(lk::kErrBundleBase + static_cast<uint16_t>(r));
}

// A bundle source that only holds the prefix: reading a component means every check before
// the hashes has passed.
struct PrefixSource {
  const uint8_t* data;
  uint32_t len;
  bool payload_reached;
};

bool ReadPrefix(void* ctx, uint32_t offset, uint8_t* dst, uint32_t len) {
  PrefixSource* s = static_cast<PrefixSource*>(ctx);
  if (offset > s->len || len > s->len - offset) {
    s->payload_reached = true;
    return false;
  }
  std::memcpy(dst, s->data + offset, len);
  return true;
}

uint16_t CheckPrefix(const uint8_t* prefix, uint32_t len, uint32_t bundle_size, uint32_t min_epoch,
                     node::OtaPlan* plan, void* ctx) {
  const VerifierContext& c = *static_cast<VerifierContext*>(ctx);
  if (len < eb::kHeaderSize) return lk::kErrOtaBase + lk::kOtaBadPrefix;
  eb::BundleHeader h;
  eb::DecodeHeader(prefix, &h);
  if (h.magic != eb::kMagic) return BundleError(eb::Reason::kBadMagic);
  if (uint64_t{eb::kHeaderSize} + h.manifest_size + h.signature_size != len) {
    return lk::kErrOtaBase + lk::kOtaBadPrefix;
  }
  PrefixSource src{prefix, len, false};
  const eb::BundleSource source{&ReadPrefix, &src, bundle_size};
  const eb::DeviceContext dev = Device(c, min_epoch);
  eb::VerifyResult res;
  const eb::Reason r = eb::VerifyBundle(source, dev, &g_scratch, &res);
  if (r != eb::Reason::kIoError || !src.payload_reached) {
    return r == eb::Reason::kOk ? static_cast<uint16_t>(lk::kErrOtaBase + lk::kOtaBadPrefix)
                                : BundleError(r);
  }
  const eb::ManifestView& m = res.manifest;
  plan->firmware_size = m.components[eb::kComponentFirmware].size;
  plan->epoch = m.epoch;
  plan->min_battery = m.min_battery_level;
  const uint32_t n = m.bundle_id.length < 32 ? m.bundle_id.length : 32;
  std::memcpy(plan->bundle_id, g_scratch.manifest + m.bundle_id.offset, n);
  plan->bundle_id[n] = '\0';
  return 0;
}

uint16_t VerifyStaged(node::BundleReadFn read, void* read_ctx, uint32_t size, uint32_t min_epoch,
                      void* ctx) {
  const VerifierContext& c = *static_cast<VerifierContext*>(ctx);
  const eb::BundleSource source{read, read_ctx, size};
  const eb::DeviceContext dev = Device(c, min_epoch);
  eb::VerifyResult res;
  const eb::Reason r = eb::VerifyBundle(source, dev, &g_scratch, &res);
  return r == eb::Reason::kOk ? 0 : BundleError(r);
}

}  // namespace

node::OtaHooks MakeOtaHooks(VerifierContext* ctx) { return node::OtaHooks{&CheckPrefix, &VerifyStaged, ctx}; }

}  // namespace twin
