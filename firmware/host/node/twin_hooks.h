// The twin's bundle checks behind node::OtaHooks, on E's real verifier (edge::bundle::
// VerifyBundle): OTA_BEGIN's prefix (header, manifest, signature, target, ABI, epoch, sizes)
// and OTA_END's whole staged bundle (every component hash too). The trusted keys are the
// twin's "fused" keys, loaded from DER SubjectPublicKeyInfo files at start.
//
// When the firmware's own hooks (issue 7: boot verification, N2) land in the node component,
// the twin can take them instead; this file is the only place that decides.
#pragma once

#include <cstdint>

#include "edge_runtime/bundle_verify.h"
#include "node/link_endpoint.h"

namespace twin {

struct TrustStore {
  static constexpr int kMaxKeys = 8;
  edge::bundle::TrustedKey keys[kMaxKeys];
  uint8_t der[kMaxKeys][160];
  int count = 0;
  // Adds the DER public key in `path`; false when unreadable or too large.
  bool AddDerFile(const char* path);
};

struct VerifierContext {
  TrustStore trust;
  const char* board_id = nullptr;  // nullptr: any board
  uint32_t flash_size = 8u * 1024u * 1024u;
  uint16_t firmware_abi = 1;
  uint32_t max_app_size = 0;
  uint32_t max_data_size = 0;
};

node::OtaHooks MakeOtaHooks(VerifierContext* ctx);

}  // namespace twin
