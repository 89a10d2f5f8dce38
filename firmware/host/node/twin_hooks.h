// The twin's "fused" public keys: the DER SubjectPublicKeyInfo files given with --trust, loaded
// once at start into static storage and handed to the firmware's bundle verifier
// (node::BundleTrust, bundle_slot.h). The bundle checks themselves — OTA_BEGIN's prefix,
// OTA_END's staged bundle, every boot's slot verification — are the firmware's own
// (node::BundleVerifier on edge::bundle::VerifyBundle): the twin adds nothing to them.
#pragma once

#include <cstdint>

#include "edge_runtime/bundle_verify.h"

namespace twin {

struct TrustStore {
  static constexpr int kMaxKeys = 8;
  edge::bundle::TrustedKey keys[kMaxKeys];
  uint8_t der[kMaxKeys][160];
  int count = 0;
  // Adds the DER public key in `path`; false when unreadable or too large.
  bool AddDerFile(const char* path);
};

}  // namespace twin
