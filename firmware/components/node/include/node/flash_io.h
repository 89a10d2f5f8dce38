// Range helpers over a FlashPort: erases whole sectors, programs page by page.
#pragma once

#include <cstdint>

#include "node/checksum.h"
#include "node/port.h"

namespace node {

// Erases every sector of [addr, addr + len); both must be sector aligned.
Status EraseRange(FlashPort& flash, uint32_t addr, uint32_t len);
// Programs [addr, addr + len) split at page boundaries (one ProgramPage per page touched).
Status ProgramRange(FlashPort& flash, uint32_t addr, const void* src, uint32_t len);
// SHA-256 of [addr, addr + len) read in small chunks (stack buffer only).
Status HashRange(FlashPort& flash, uint32_t addr, uint32_t len, uint8_t out[32]);

// Little-endian field access for the on-flash structures (no reliance on host byte order).
inline uint32_t LoadLe32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
inline uint16_t LoadLe16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}
inline void StoreLe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}
inline void StoreLe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

}  // namespace node
