// The Fieldbench link protocol (docs/protocol.md), device side: constants, message types, error
// codes, COBS + CRC-32 framing with static buffers. Mirrors core/link/*.py byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>

namespace node {
namespace link {

constexpr uint8_t kProtocolVersion = 1;
constexpr uint32_t kHeaderSize = 10;
constexpr uint32_t kCrcSize = 4;
constexpr uint32_t kMaxPayload = 4128;
constexpr uint32_t kMaxRawFrame = kHeaderSize + kMaxPayload + kCrcSize;  // 4142
constexpr uint32_t kMaxEncoded = kMaxRawFrame + kMaxRawFrame / 254 + 1;  // 4159
constexpr uint8_t kFlagSeqRestart = 0x01;
constexpr uint8_t kFlagResponse = 0x02;
constexpr uint32_t kNoRequest = 0xFFFFFFFFu;

enum MsgType : uint8_t {
  kHello = 0x01,
  kInfo = 0x02,
  kError = 0x03,
  kPing = 0x04,
  kSampleBlock = 0x10,
  kFeatureBlock = 0x11,
  kInference = 0x12,
  kStreamStart = 0x20,
  kStreamStop = 0x22,
  kSetCalibrationOffset = 0x24,
  kGetStatus = 0x26,
  kRollback = 0x28,
  kReboot = 0x2A,
  kConfirm = 0x2C,
  kTelemetry = 0x40,
  kOtaBegin = 0x50,
  kOtaChunk = 0x52,
  kOtaStatus = 0x54,
  kOtaEnd = 0x56,
  kOtaCommit = 0x58,
  kOtaAbort = 0x5A,
};

enum ErrorCode : uint16_t {
  kErrNone = 0,
  kErrUnsupportedVersion = 1,
  kErrUnknownType = 2,
  kErrBadPayload = 3,
  kErrBusy = 4,
  kErrInternal = 5,
  kErrOverrun = 6,
  kErrSlotBase = 0x100,    // + node::Reason
  kErrOtaBase = 0x200,     // + OtaError
  kErrBundleBase = 0x280,  // + edge::bundle::Reason
};

enum OtaError : uint16_t {
  kOtaWrongState = 1,
  kOtaOutOfOrder = 2,
  kOtaBadChunk = 3,
  kOtaChunkCrc = 4,
  kOtaWrongTransfer = 5,
  kOtaDigestMismatch = 6,
  kOtaBatteryLow = 7,
  kOtaIncomplete = 8,
  kOtaTooLarge = 9,
  kOtaBadPrefix = 10,
};

enum class OtaPhase : uint8_t { kIdle = 0, kReceiving = 1, kVerified = 2, kCommitted = 3 };

constexpr uint32_t kOtaChunkSize = 4096;
constexpr uint32_t kChunkHeaderSize = 32;
constexpr uint32_t kOtaBeginHeaderSize = 40;
constexpr uint32_t kMaxOtaPrefix = 64 + 2048 + 72;
constexpr uint32_t kOtaStatusSize = 48;
constexpr uint32_t kSlotRecordSize = 96;
constexpr uint32_t kDeviceStatusSize = 16 + 2 * kSlotRecordSize;  // 208

// Little-endian stores/loads.
inline void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void Put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t Get32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

// COBS (docs/protocol.md §1). Encode returns the encoded size (no delimiter), 0 if it does not
// fit in `cap`. Decode works in place (dst may equal src) and returns the decoded size, or -1
// for an invalid encoding; the implicit trailing zero is dropped.
uint32_t CobsEncode(const uint8_t* src, uint32_t len, uint8_t* dst, uint32_t cap);
int32_t CobsDecode(const uint8_t* src, uint32_t len, uint8_t* dst);

enum class FrameFault : uint8_t { kNone = 0, kOversize, kTruncated, kCrc, kVersion };

struct Frame {
  uint8_t type;
  uint8_t flags;
  uint32_t seq;
  const uint8_t* payload;
  uint16_t length;
};

struct RxCounters {
  uint32_t frames = 0;
  uint32_t dropped = 0;  // oversize, truncated, CRC, version
  uint32_t garbage_bytes = 0;
};

// Splits a byte stream at 0x00 into frames; one static buffer of kMaxEncoded bytes, decoded
// in place. Push bytes one at a time; true when `*out` holds a valid frame (valid until the
// next Push).
class FrameReceiver {
 public:
  bool Push(uint8_t byte, Frame* out);
  const RxCounters& counters() const { return counters_; }

 private:
  bool Finish(Frame* out);
  uint8_t buf_[kMaxEncoded];
  uint32_t fill_ = 0;
  bool overflow_ = false;
  RxCounters counters_;
};

// Builds one encoded frame, delimiter included, into `out` (capacity ≥ kMaxEncoded + 1) using
// `raw` (capacity ≥ kMaxRawFrame) as scratch. The payload may already sit at raw + kHeaderSize
// (then pass payload == raw + kHeaderSize). Returns the wire size, 0 if the payload is too big.
uint32_t EncodeFrame(uint8_t type, uint8_t flags, uint32_t seq, const uint8_t* payload,
                     uint32_t length, uint8_t* raw, uint8_t* out);

}  // namespace link
}  // namespace node
