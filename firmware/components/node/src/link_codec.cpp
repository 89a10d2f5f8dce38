// COBS + CRC-32 framing of the link protocol (docs/protocol.md §1–2). No heap.
#include <cstring>

#include "node/checksum.h"
#include "node/link_protocol.h"

namespace node {
namespace link {

uint32_t CobsEncode(const uint8_t* src, uint32_t len, uint8_t* dst, uint32_t cap) {
  if (cap < len + len / 254 + 1) return 0;
  uint32_t code_at = 0, out = 1;
  uint8_t code = 1;
  for (uint32_t i = 0; i < len; ++i) {
    if (src[i] != 0) {
      dst[out++] = src[i];
      if (++code != 0xFF) continue;
    }
    dst[code_at] = code;
    code_at = out++;
    code = 1;
  }
  dst[code_at] = code;
  return out;
}

int32_t CobsDecode(const uint8_t* src, uint32_t len, uint8_t* dst) {
  uint32_t in = 0, out = 0;
  while (in < len) {
    const uint8_t code = src[in++];
    if (code == 0) return -1;
    const uint32_t n = code - 1u;
    if (in + n > len) return -1;
    for (uint32_t i = 0; i < n; ++i) {
      if (src[in] == 0) return -1;
      dst[out++] = src[in++];
    }
    if (code != 0xFF && in < len) dst[out++] = 0;
  }
  return static_cast<int32_t>(out);
}

bool FrameReceiver::Push(uint8_t byte, Frame* out) {
  if (byte != 0) {
    if (fill_ < kMaxEncoded) {
      buf_[fill_++] = byte;
    } else {
      overflow_ = true;
      ++counters_.garbage_bytes;
    }
    return false;
  }
  const bool ok = Finish(out);
  fill_ = 0;
  overflow_ = false;
  return ok;
}

bool FrameReceiver::Finish(Frame* out) {
  if (overflow_) {
    ++counters_.dropped;
    counters_.garbage_bytes += fill_;
    return false;
  }
  if (fill_ == 0) return false;
  const int32_t n = CobsDecode(buf_, fill_, buf_);
  const bool bad = n < static_cast<int32_t>(kHeaderSize + kCrcSize) ||
                   Crc32(buf_, static_cast<uint32_t>(n) - kCrcSize) !=
                       Get32(buf_ + static_cast<uint32_t>(n) - kCrcSize) ||
                   buf_[0] != kProtocolVersion ||
                   Get16(buf_ + 8) != static_cast<uint32_t>(n) - kHeaderSize - kCrcSize;
  if (bad) {
    ++counters_.dropped;
    counters_.garbage_bytes += fill_ + 1;
    return false;
  }
  ++counters_.frames;
  out->type = buf_[1];
  out->flags = buf_[2];
  out->seq = Get32(buf_ + 4);
  out->length = Get16(buf_ + 8);
  out->payload = buf_ + kHeaderSize;
  return true;
}

uint32_t EncodeFrame(uint8_t type, uint8_t flags, uint32_t seq, const uint8_t* payload,
                     uint32_t length, uint8_t* raw, uint8_t* out) {
  if (length > kMaxPayload) return 0;
  raw[0] = kProtocolVersion;
  raw[1] = type;
  raw[2] = flags;
  raw[3] = 0;
  Put32(raw + 4, seq);
  Put16(raw + 8, static_cast<uint16_t>(length));
  if (length > 0 && payload != raw + kHeaderSize) std::memmove(raw + kHeaderSize, payload, length);
  const uint32_t body = kHeaderSize + length;
  Put32(raw + body, Crc32(raw, body));
  const uint32_t n = CobsEncode(raw, body + kCrcSize, out, kMaxEncoded);
  if (n == 0) return 0;
  out[n] = 0;
  return n + 1;
}

}  // namespace link
}  // namespace node
