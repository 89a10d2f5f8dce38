#include "node/flash_io.h"

namespace node {

Status EraseRange(FlashPort& flash, uint32_t addr, uint32_t len) {
  if (addr % FlashPort::kSectorSize != 0 || len % FlashPort::kSectorSize != 0) {
    return Status::kAlignment;
  }
  if (addr > flash.Size() || len > flash.Size() - addr) return Status::kOutOfRange;
  for (uint32_t a = addr; a < addr + len; a += FlashPort::kSectorSize) {
    const Status s = flash.EraseSector(a);
    if (s != Status::kOk) return s;
  }
  return Status::kOk;
}

Status ProgramRange(FlashPort& flash, uint32_t addr, const void* src, uint32_t len) {
  if (addr > flash.Size() || len > flash.Size() - addr) return Status::kOutOfRange;
  const uint8_t* p = static_cast<const uint8_t*>(src);
  while (len > 0) {
    const uint32_t room = FlashPort::kPageSize - addr % FlashPort::kPageSize;
    const uint32_t n = len < room ? len : room;
    const Status s = flash.ProgramPage(addr, p, n);
    if (s != Status::kOk) return s;
    addr += n;
    p += n;
    len -= n;
  }
  return Status::kOk;
}

Status HashRange(FlashPort& flash, uint32_t addr, uint32_t len, uint8_t out[32]) {
  Sha256 sha;
  uint8_t buf[256];
  while (len > 0) {
    const uint32_t n = len < sizeof(buf) ? len : static_cast<uint32_t>(sizeof(buf));
    const Status s = flash.Read(addr, buf, n);
    if (s != Status::kOk) return s;
    sha.Update(buf, n);
    addr += n;
    len -= n;
  }
  sha.Final(out);
  return Status::kOk;
}

const char* StatusName(Status s) {
  switch (s) {
    case Status::kOk: return "ok";
    case Status::kPowerLost: return "power_lost";
    case Status::kOutOfRange: return "out_of_range";
    case Status::kAlignment: return "alignment";
    case Status::kIoError: return "io_error";
    case Status::kNotFound: return "not_found";
    case Status::kInvalidState: return "invalid_state";
    case Status::kVerifyFailed: return "verify_failed";
    case Status::kRefused: return "refused";
    case Status::kBadArgument: return "bad_argument";
  }
  return "unknown";
}

const char* OtaStateName(OtaState s) {
  switch (s) {
    case OtaState::kNew: return "NEW";
    case OtaState::kPendingVerify: return "PENDING_VERIFY";
    case OtaState::kValid: return "VALID";
    case OtaState::kInvalid: return "INVALID";
    case OtaState::kAborted: return "ABORTED";
    case OtaState::kUndefined: return "UNDEFINED";
  }
  return "UNKNOWN";
}

}  // namespace node
