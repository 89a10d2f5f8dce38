// The twin's trusted keys (twin_hooks.h).
#include "twin_hooks.h"

#include <cstdio>

#include "node/checksum.h"

namespace twin {

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

}  // namespace twin
