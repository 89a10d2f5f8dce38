// The device's link endpoint and OTA receiver (docs/protocol.md §10). No heap, no exceptions.
#include "node/link_endpoint.h"

#include <cstring>

#include "node/checksum.h"
#include "node/flash_io.h"
#include "node/slot.h"

namespace node {

using namespace link;  // NOLINT: protocol constants

namespace {

uint32_t PutString(uint8_t* out, const char* s) {
  uint32_t n = s == nullptr ? 0 : static_cast<uint32_t>(std::strlen(s));
  if (n > 64) n = 64;
  out[0] = static_cast<uint8_t>(n);
  if (n > 0) std::memcpy(out + 1, s, n);
  return n + 1;
}

void PutPadded(uint8_t* out, const char* s, uint32_t n) {
  std::memset(out, 0, n);
  const uint32_t len = s == nullptr ? 0 : static_cast<uint32_t>(std::strlen(s));
  std::memcpy(out, s, len < n ? len : n);
}

uint16_t SlotError(Reason r) { return static_cast<uint16_t>(kErrSlotBase + static_cast<uint16_t>(r)); }
uint16_t OtaErr(OtaError e) { return static_cast<uint16_t>(kErrOtaBase + e); }

uint32_t Min(uint32_t a, uint32_t b) { return a < b ? a : b; }
uint32_t Max(uint32_t a, uint32_t b) { return a > b ? a : b; }

}  // namespace

void LinkEndpoint::Start() {
  const uint8_t zero = 0;
  port_.link->Write(&zero, 1);
  SendInfo(0);
}

uint32_t LinkEndpoint::Poll() {
  uint8_t buf[256];
  uint32_t handled = 0;
  for (;;) {
    const int32_t n = port_.link->Read(buf, sizeof buf);
    if (n <= 0) return handled;
    handled += Feed(buf, static_cast<uint32_t>(n));
  }
}

uint32_t LinkEndpoint::Feed(const uint8_t* data, uint32_t len) {
  uint32_t handled = 0;
  Frame f;
  for (uint32_t i = 0; i < len; ++i) {
    if (rx_.Push(data[i], &f)) {
      Handle(f);
      ++handled;
    }
  }
  return handled;
}

void LinkEndpoint::Send(uint8_t type, uint8_t flags, uint32_t payload_len) {
  if (!started_) {
    flags |= kFlagSeqRestart;
    started_ = true;
  }
  const uint32_t n = EncodeFrame(type, flags, tx_seq_++, tx_payload(), payload_len, raw_, wire_);
  uint32_t sent = 0;
  while (sent < n) {
    const int32_t w = port_.link->Write(wire_ + sent, n - sent);
    if (w <= 0) return;  // link gone: the host re-asks
    sent += static_cast<uint32_t>(w);
  }
}

bool LinkEndpoint::SendUnsolicited(uint8_t type, const uint8_t* payload, uint32_t len) {
  if (len > kMaxPayload) return false;
  if (payload != tx_payload()) std::memmove(tx_payload(), payload, len);
  Send(type, 0, len);
  return true;
}

void LinkEndpoint::SendError(uint32_t request_seq, uint16_t code, const char* message) {
  uint8_t* p = tx_payload();
  Put32(p, request_seq);
  Put16(p + 4, code);
  Put16(p + 6, 0);
  uint32_t n = message == nullptr ? 0 : static_cast<uint32_t>(std::strlen(message));
  if (n > 200) n = 200;
  if (n > 0) std::memcpy(p + 8, message, n);
  ++errors_sent_;
  Send(kError, kFlagResponse, 8 + n);
}

void LinkEndpoint::Respond(const Frame& req, uint32_t body_len) {
  Put32(tx_payload(), req.seq);
  Send(static_cast<uint8_t>(req.type + 1), kFlagResponse, 4 + body_len);
}

void LinkEndpoint::SendInfo(uint8_t flags) {
  uint8_t* p = tx_payload();
  std::memset(p, 0, 24);
  const uint32_t channels = port_.sensor != nullptr ? port_.sensor->Channels() : 0;
  p[0] = kProtocolVersion;
  p[1] = id_.chip;
  p[2] = static_cast<uint8_t>(channels);
  p[3] = 1;  // int16
  std::memcpy(p + 4, id_.mac, 6);
  Put32(p + 12, (port_.sensor != nullptr ? port_.sensor->RateHz() : 0) * 1000u);
  uint32_t scale_bits;
  std::memcpy(&scale_bits, &id_.fixed_point_scale, 4);
  Put32(p + 16, scale_bits);
  Put16(p + 20, id_.samples_per_block);
  uint32_t n = 24;
  n += PutString(p + n, id_.firmware_version);
  SlotReport report;
  Status io;
  const int running = port_.boot->RunningSlot();
  const bool ok = running >= 0 && slots_.Verify(running, &report, &io) == Reason::kNone;
  n += PutString(p + n, ok ? report.manifest.bundle_version : "");
  n += PutString(p + n, id_.units);
  for (uint32_t c = 0; c < channels; ++c) {
    n += PutString(p + n, id_.channel_names != nullptr ? id_.channel_names[c] : "");
  }
  p[n] = 1;  // extension: device status
  Put16(p + n + 1, static_cast<uint16_t>(kDeviceStatusSize));
  n += 3;
  n += PutStatus(p + n);
  Send(kInfo, flags, n);
}

bool ReadCalibrationLog(FlashPort& flash, const FlashLayout& layout, int slot, int16_t* value,
                        uint32_t* records_used) {
  uint8_t io[256];
  bool found = false;
  *value = 0;
  uint32_t used = 0;
  const uint32_t base = layout.model[slot].offset + kCalibrationOffset;
  for (uint32_t i = 0; i < kCalibrationRecords; i += 64) {
    if (flash.Read(base + 4 * i, io, 256) != Status::kOk) break;
    bool blank = false;
    for (uint32_t k = 0; k < 64; ++k) {
      const uint8_t* r = io + 4 * k;
      const uint16_t v = Get16(r), check = Get16(r + 2);
      if (v == 0xFFFF && check == 0xFFFF) {
        blank = true;
        break;
      }
      ++used;
      if (static_cast<uint16_t>(~v) == check) {
        *value = static_cast<int16_t>(v);
        found = true;
      }
    }
    if (blank) break;
  }
  if (records_used != nullptr) *records_used = used;
  return found;
}

int16_t LinkEndpoint::CalibrationOffset(int slot, uint32_t* records_used) {
  int16_t value = 0;
  ReadCalibrationLog(*port_.flash, layout_, slot, &value, records_used);
  return value;
}

uint32_t LinkEndpoint::PutStatus(uint8_t* out) {
  std::memset(out, 0, kDeviceStatusSize);
  const int running = port_.boot->RunningSlot();
  const OtaState run_state = port_.boot->RunningState();
  out[0] = 1;
  out[1] = running >= 0 ? static_cast<uint8_t>(running) : 0xFF;
  out[2] = static_cast<uint8_t>(boot_.outcome);
  out[3] = static_cast<uint8_t>(boot_.reason);
  out[4] = port_.battery != nullptr ? port_.battery->LevelPercent() : 100;
  out[5] = static_cast<uint8_t>(phase_);
  out[6] = boot_.health;
  out[7] = static_cast<uint8_t>((boot_.outcome == BootOutcome::kNoValidBundle ? 1 : 0) |
                                (run_state != OtaState::kValid && running >= 0 ? 2 : 0));
  Put32(out + 8, port_.boot->SecureVersion());
  Put16(out + 12, id_.firmware_abi);
  for (int k = 0; k < kSlotCount; ++k) {
    uint8_t* r = out + 16 + kSlotRecordSize * static_cast<uint32_t>(k);
    SlotReport report;
    std::memset(&report, 0, sizeof report);
    Status io;
    const Reason why = slots_.Verify(k, &report, &io);
    const OtaState st = k == running ? run_state : port_.boot->SlotState(k);
    r[0] = static_cast<uint8_t>(k);
    r[1] = st == OtaState::kUndefined ? 0xFF : static_cast<uint8_t>(st);
    r[2] = static_cast<uint8_t>(why);
    const bool has = why != Reason::kSlotEmpty && why != Reason::kBadManifest;
    r[3] = static_cast<uint8_t>((k == running ? 1 : 0) | (has ? 4 : 0));
    if (has) {
      Put32(r + 4, report.manifest.epoch);
      Put32(r + 8, report.manifest.app_size);
      Put32(r + 12, report.manifest.data_size);
      PutPadded(r + 20, report.manifest.bundle_version, 32);
      if (why == Reason::kNone) PutPadded(r + 52, report.app.version, 32);
      Put16(r + 16, static_cast<uint16_t>(CalibrationOffset(k)));
      uint8_t rec[kJournalSize];
      if (LoadJournal(k, rec) == Status::kOk) std::memcpy(r + 84, rec + 16, 8);
    }
  }
  return kDeviceStatusSize;
}

uint32_t LinkEndpoint::PutOtaStatus(uint8_t* out) {
  std::memset(out, 0, kOtaStatusSize);
  out[0] = static_cast<uint8_t>(phase_);
  out[1] = phase_ == OtaPhase::kIdle ? 0xFF : static_cast<uint8_t>(target_);
  if (phase_ != OtaPhase::kIdle) {
    Put32(out + 4, size_);
    Put32(out + 8, durable_);
    std::memcpy(out + 16, sha_, 32);
  }
  Put32(out + 12, kOtaChunkSize);
  return kOtaStatusSize;
}

void LinkEndpoint::Handle(const Frame& f) {
  const uint8_t t = f.type;
  if (f.flags & kFlagResponse) return;  // answers are never requests
  switch (t) {
    case kHello:
      if (f.length != 4) return SendError(f.seq, kErrBadPayload, "HELLO is 4 bytes");
      if (f.payload[0] > kProtocolVersion || f.payload[1] < kProtocolVersion) {
        return SendError(f.seq, kErrUnsupportedVersion, "protocol version 1 only");
      }
      streaming_ = true;
      return SendInfo(kFlagResponse);
    case kPing:
      return Send(kPing, kFlagResponse, 0);
    case kSetCalibrationOffset:
      return SetCalibration(f);
    case kOtaBegin:
      return OtaBegin(f);
    case kOtaChunk:
      return OtaChunk(f);
    default:
      break;
  }
  const bool empty_request = t == kStreamStart || t == kStreamStop || t == kGetStatus ||
                             t == kRollback || t == kReboot || t == kConfirm ||
                             t == kOtaStatus || t == kOtaEnd || t == kOtaCommit || t == kOtaAbort;
  if (!empty_request) {
    // Device → host types and unknown ones: answer only what looks like a request.
    if (t >= 0x20 && (t & 1) == 0 && t != kTelemetry) {
      SendError(f.seq, kErrUnknownType, "request type not implemented");
    }
    return;
  }
  if (f.length != 0) return SendError(f.seq, kErrBadPayload, "this request has no payload");
  switch (t) {
    case kStreamStart:
      streaming_ = true;
      return Respond(f, 0);
    case kStreamStop:
      streaming_ = false;
      return Respond(f, 0);
    case kGetStatus:
      return Respond(f, PutStatus(tx_payload() + 4));
    case kConfirm: {
      if (port_.boot->RunningState() == OtaState::kValid) return Respond(f, PutStatus(tx_payload() + 4));
      if (confirm_ == nullptr) {
        return SendError(f.seq, SlotError(Reason::kTrialInProgress),
                         "the running bundle confirms itself after its health check at boot");
      }
      if (phase_ != OtaPhase::kIdle) ResetOta();
      Reason why = Reason::kNone;
      const BootOutcome o = confirm_(confirm_ctx_, &why);
      if (o == BootOutcome::kConfirmed || o == BootOutcome::kRunning) {
        return Respond(f, PutStatus(tx_payload() + 4));
      }
      if (o == BootOutcome::kPowerLost) return;  // the device reset mid-way: no answer
      if (o == BootOutcome::kRevertRequested) {
        return SendError(f.seq, SlotError(Reason::kSlotInvalidated),
                         "health check failed: bundle marked INVALID, rebooting into the previous one");
      }
      return SendError(f.seq, SlotError(why == Reason::kNone ? Reason::kSlotInvalidated : why),
                       "health check failed and no other bundle verifies: still on trial");
    }
    case kRollback: {
      if (phase_ != OtaPhase::kIdle) ResetOta();
      Reason why = Reason::kNone;
      const Status s = slots_.Rollback(&why);
      if (s != Status::kOk) return SendError(f.seq, SlotError(why), ReasonName(why));
      Respond(f, PutStatus(tx_payload() + 4));
      port_.boot->RequestReboot();
      return;
    }
    case kReboot:
      Respond(f, 0);
      port_.boot->RequestReboot();
      return;
    case kOtaStatus:
      return RespondOta(f);
    case kOtaAbort:
      ResetOta();
      return RespondOta(f);
    case kOtaEnd:
      return OtaEnd(f);
    case kOtaCommit:
      return OtaCommit(f);
    default:
      return;
  }
}

void LinkEndpoint::ResetOta() {
  phase_ = OtaPhase::kIdle;
  target_ = -1;
  size_ = prefix_ = firmware_ = durable_ = 0;
  std::memset(sha_, 0, sizeof sha_);
}

void LinkEndpoint::SetCalibration(const Frame& f) {
  if (f.length != 4) return SendError(f.seq, kErrBadPayload, "SET_CALIBRATION_OFFSET is 4 bytes");
  int slot = f.payload[0] == 0xFF ? port_.boot->RunningSlot() : f.payload[0];
  if (slot < 0 || slot >= kSlotCount) return SendError(f.seq, SlotError(Reason::kNoSuchSlot), "no such slot");
  SlotReport report;
  Status io;
  const Reason why = slots_.Verify(slot, &report, &io);
  if (why == Reason::kSlotEmpty || why == Reason::kBadManifest) {
    return SendError(f.seq, SlotError(Reason::kSlotEmpty), "no bundle in this slot");
  }
  if (phase_ != OtaPhase::kIdle && slot == target_) {
    return SendError(f.seq, kErrBusy, "the slot is being written by an OTA transfer");
  }
  uint32_t used = 0;
  CalibrationOffset(slot, &used);
  if (used >= kCalibrationRecords) {
    return SendError(f.seq, SlotError(Reason::kTooLarge), "calibration log full: reinstall the bundle");
  }
  const uint16_t v = Get16(f.payload + 2);
  uint8_t rec[4];
  Put16(rec, v);
  Put16(rec + 2, static_cast<uint16_t>(~v));
  const Status s = port_.flash->ProgramPage(
      layout_.model[slot].offset + kCalibrationOffset + 4 * used, rec, 4);
  if (s != Status::kOk) return SendError(f.seq, SlotError(Reason::kFlashError), StatusName(s));
  uint8_t* body = tx_payload() + 4;
  Put16(body, v);
  Put16(body + 2, static_cast<uint16_t>(kCalibrationRecords - used - 1));
  Respond(f, 4);
}

// ---- OTA --------------------------------------------------------------------------------------

Status LinkEndpoint::LoadJournal(int slot, uint8_t* record) {
  const Status s = port_.flash->Read(layout_.model[slot].offset + kJournalOffset, record, kJournalSize);
  if (s != Status::kOk) return s;
  if (Get32(record) != kJournalMagic || Crc32(record, 60) != Get32(record + 60)) return Status::kNotFound;
  return Status::kOk;
}

uint32_t LinkEndpoint::JournalDurable(int slot, uint32_t size) {
  const uint32_t sectors = (size + kOtaChunkSize - 1) / kOtaChunkSize;
  const uint32_t base = layout_.model[slot].offset + kBitmapOffset;
  uint32_t done = 0;
  for (uint32_t byte = 0; byte * 8 < sectors; ++byte) {
    uint8_t b = 0xFF;
    if (port_.flash->Read(base + byte, &b, 1) != Status::kOk) break;
    uint32_t bit = 0;
    while (bit < 8 && !(b & (1u << bit))) ++bit;
    done += bit;
    if (bit < 8) break;
  }
  if (done > sectors) done = sectors;
  return Min(done * kOtaChunkSize, size);
}

Status LinkEndpoint::MarkDurable(uint32_t index) {
  const uint8_t b = static_cast<uint8_t>(~(1u << (index % 8)));
  return port_.flash->ProgramPage(layout_.model[target_].offset + kBitmapOffset + index / 8, &b, 1);
}

void LinkEndpoint::OtaBegin(const Frame& f) {
  if (f.length < kOtaBeginHeaderSize ||
      f.length != kOtaBeginHeaderSize + Get16(f.payload + 38) || Get16(f.payload + 38) > kMaxOtaPrefix) {
    return SendError(f.seq, kErrBadPayload, "OTA_BEGIN: header and prefix sizes disagree");
  }
  ResetOta();
  const uint8_t* p = f.payload;
  const uint32_t size = Get32(p);
  const uint8_t slot = p[36];
  const bool restart = (p[37] & 1) != 0;
  const uint32_t prefix_len = Get16(p + 38);
  const int running = port_.boot->RunningSlot();
  if (running < 0) return SendError(f.seq, SlotError(Reason::kNoSuchSlot), "no running slot");
  const int target = 1 - running;
  if (slot != 0xFF && slot != target) {
    return SendError(f.seq, SlotError(slot == running ? Reason::kSameSlot : Reason::kNoSuchSlot),
                     "OTA writes the inactive slot only");
  }
  if (port_.boot->RunningState() != OtaState::kValid && port_.boot->RunningState() != OtaState::kUndefined) {
    return SendError(f.seq, SlotError(Reason::kTrialInProgress), "the running bundle is on trial");
  }
  OtaPlan plan;
  std::memset(&plan, 0, sizeof plan);
  const uint16_t code = hooks_.check_prefix(p + kOtaBeginHeaderSize, prefix_len, size,
                                            port_.boot->SecureVersion(), &plan, hooks_.ctx);
  if (code != 0) return SendError(f.seq, code, "the bundle is refused");
  if (plan.firmware_size == 0 || prefix_len + plan.firmware_size > size ||
      plan.firmware_size > layout_.app[target].size ||
      size - plan.firmware_size > layout_.model[target].size - kSlotDataOffset ||
      (size + kOtaChunkSize - 1) / kOtaChunkSize > kBitmapSize * 8) {
    return SendError(f.seq, OtaErr(kOtaTooLarge), "the bundle does not fit the slot");
  }
  const uint8_t battery = port_.battery != nullptr ? port_.battery->LevelPercent() : 100;
  if (battery < plan.min_battery) return SendError(f.seq, OtaErr(kOtaBatteryLow), "battery below minBatteryLevel");

  uint8_t rec[kJournalSize];
  std::memset(rec, 0xFF, sizeof rec);
  Put32(rec, kJournalMagic);
  Put32(rec + 4, size);
  Put32(rec + 8, prefix_len);
  Put32(rec + 12, plan.firmware_size);
  std::memcpy(rec + 16, p + 4, 32);
  Put32(rec + 48, plan.epoch);
  Put32(rec + 52, 0);
  Put32(rec + 56, 0);
  Put32(rec + 60, Crc32(rec, 60));
  uint8_t old[kJournalSize];
  const uint32_t data_size = size - plan.firmware_size;
  Reason why = Reason::kNone;
  Status s;
  uint32_t durable = 0;
  if (!restart && LoadJournal(target, old) == Status::kOk && std::memcmp(old, rec, 60) == 0) {
    durable = JournalDurable(target, size);
    const uint32_t app_w = durable > prefix_len ? Min(durable - prefix_len, plan.firmware_size) : 0;
    const uint32_t data_w = Min(durable, prefix_len) + (durable > prefix_len + plan.firmware_size
                                                            ? durable - prefix_len - plan.firmware_size
                                                            : 0);
    s = slots_.ResumeStaging(plan.firmware_size, data_size, app_w, data_w, &why);
  } else {
    s = slots_.BeginStaging(plan.firmware_size, data_size, &why);
    if (s == Status::kOk) s = ProgramRange(*port_.flash, layout_.model[target].offset + kJournalOffset, rec, kJournalSize);
    if (s != Status::kOk && why == Reason::kNone) why = Reason::kFlashError;
  }
  if (s != Status::kOk) return SendError(f.seq, SlotError(why), StatusName(s));
  phase_ = OtaPhase::kReceiving;
  target_ = target;
  size_ = size;
  prefix_ = prefix_len;
  firmware_ = plan.firmware_size;
  durable_ = durable;
  std::memcpy(sha_, p + 4, 32);
  plan_ = plan;
  RespondOta(f);
}

bool LinkEndpoint::WriteRange(uint32_t o, const uint8_t* d, uint32_t n, Reason* why) {
  const uint32_t end = o + n;
  const uint32_t fw_end = prefix_ + firmware_;
  struct Seg {
    uint32_t from, to;
    StageRegion region;
    uint32_t shift;  // region offset = bundle offset - shift
  } segs[3] = {{o, Min(end, prefix_), StageRegion::kData, 0},
               {Max(o, prefix_), Min(end, fw_end), StageRegion::kApp, prefix_},
               {Max(o, fw_end), end, StageRegion::kData, firmware_}};
  for (const Seg& sg : segs) {
    if (sg.from >= sg.to) continue;
    const Status s = slots_.StageWrite(sg.region, sg.from - sg.shift, d + (sg.from - o), sg.to - sg.from, why);
    if (s != Status::kOk) return false;
    // Read back what was programmed.
    const uint32_t base = sg.region == StageRegion::kApp
                              ? layout_.app[target_].offset
                              : layout_.model[target_].offset + kSlotDataOffset;
    for (uint32_t x = sg.from; x < sg.to; x += sizeof io_) {
      const uint32_t len = Min(static_cast<uint32_t>(sizeof io_), sg.to - x);
      if (port_.flash->Read(base + x - sg.shift, io_, len) != Status::kOk ||
          std::memcmp(io_, d + (x - o), len) != 0) {
        *why = Reason::kFlashError;
        return false;
      }
    }
  }
  return true;
}

void LinkEndpoint::OtaChunk(const Frame& f) {
  if (phase_ != OtaPhase::kReceiving) return SendError(f.seq, OtaErr(kOtaWrongState), "no OTA transfer is open");
  if (f.length < kChunkHeaderSize) return SendError(f.seq, kErrBadPayload, "OTA_CHUNK shorter than its header");
  const uint8_t* p = f.payload;
  const uint32_t off = Get32(p), len = Get16(p + 4);
  if (len != f.length - kChunkHeaderSize) return SendError(f.seq, kErrBadPayload, "OTA_CHUNK length field");
  if (Get32(p + 12) != size_ || std::memcmp(p + 16, sha_, 8) != 0) {
    return SendError(f.seq, OtaErr(kOtaWrongTransfer), "chunk of another transfer");
  }
  if (off % kOtaChunkSize != 0 || off >= size_ || len != Min(kOtaChunkSize, size_ - off)) {
    return SendError(f.seq, OtaErr(kOtaBadChunk), "chunks are 4096 bytes at 4096-byte offsets");
  }
  if (Crc32(p + kChunkHeaderSize, len) != Get32(p + 8)) return SendError(f.seq, OtaErr(kOtaChunkCrc), "chunk CRC");
  if (off < durable_) return RespondOta(f);  // duplicate: already stored
  if (off > durable_) {
    char msg[48] = "expected offset ";
    uint32_t v = durable_, n = 0;
    char digits[12];
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    uint32_t m = 16;
    while (n > 0) msg[m++] = digits[--n];
    msg[m] = 0;
    return SendError(f.seq, OtaErr(kOtaOutOfOrder), msg);
  }
  Reason why = Reason::kNone;
  if (!WriteRange(off, p + kChunkHeaderSize, len, &why)) {
    // The slot manager's region positions may now be ahead of the journal: resume from it.
    const uint32_t d = durable_;
    const uint32_t app_w = d > prefix_ ? Min(d - prefix_, firmware_) : 0;
    const uint32_t data_w = Min(d, prefix_) + (d > prefix_ + firmware_ ? d - prefix_ - firmware_ : 0);
    Reason ignored;
    slots_.ResumeStaging(firmware_, size_ - firmware_, app_w, data_w, &ignored);
    return SendError(f.seq, SlotError(why), ReasonName(why));
  }
  if (MarkDurable(off / kOtaChunkSize) != Status::kOk) {
    return SendError(f.seq, SlotError(Reason::kFlashError), "journal write failed");
  }
  durable_ = Min(off + kOtaChunkSize, size_);
  RespondOta(f);
}

Status LinkEndpoint::ReadBundle(uint32_t o, uint8_t* dst, uint32_t n) {
  const uint32_t end = o + n, fw_end = prefix_ + firmware_;
  const uint32_t data_base = layout_.model[target_].offset + kSlotDataOffset;
  const uint32_t app_base = layout_.app[target_].offset;
  struct Seg {
    uint32_t from, to, addr;
  } segs[3] = {{o, Min(end, prefix_), data_base},
               {Max(o, prefix_), Min(end, fw_end), app_base - prefix_},
               {Max(o, fw_end), end, data_base - firmware_}};
  for (const Seg& sg : segs) {
    if (sg.from >= sg.to) continue;
    const Status s = port_.flash->Read(sg.addr + sg.from, dst + (sg.from - o), sg.to - sg.from);
    if (s != Status::kOk) return s;
  }
  return Status::kOk;
}

bool LinkEndpoint::ReadStaged(void* ctx, uint32_t offset, uint8_t* dst, uint32_t len) {
  LinkEndpoint* self = static_cast<LinkEndpoint*>(ctx);
  if (offset > self->size_ || len > self->size_ - offset) return false;
  return self->ReadBundle(offset, dst, len) == Status::kOk;
}

void LinkEndpoint::OtaEnd(const Frame& f) {
  if (phase_ == OtaPhase::kVerified) return RespondOta(f);
  if (phase_ != OtaPhase::kReceiving) return SendError(f.seq, OtaErr(kOtaWrongState), "no OTA transfer is open");
  if (durable_ != size_) return SendError(f.seq, OtaErr(kOtaIncomplete), "chunks are missing");
  Sha256 whole, app, data;
  for (uint32_t o = 0; o < size_; o += sizeof io_) {
    const uint32_t n = Min(static_cast<uint32_t>(sizeof io_), size_ - o);
    if (ReadBundle(o, io_, n) != Status::kOk) return SendError(f.seq, SlotError(Reason::kFlashError), "read back");
    whole.Update(io_, n);
    // Split this piece between the app and data digests.
    const uint32_t fw_from = Max(o, prefix_), fw_to = Min(o + n, prefix_ + firmware_);
    if (fw_from < fw_to) {
      if (fw_from > o) data.Update(io_, fw_from - o);
      app.Update(io_ + (fw_from - o), fw_to - fw_from);
      if (o + n > fw_to) data.Update(io_ + (fw_to - o), o + n - fw_to);
    } else {
      data.Update(io_, n);
    }
  }
  SlotManifest m;
  std::memset(&m, 0, sizeof m);
  uint8_t digest[32];
  whole.Final(digest);
  if (!DigestEqual(digest, sha_, 32)) {
    return SendError(f.seq, OtaErr(kOtaDigestMismatch), "the stored bundle's SHA-256 differs from OTA_BEGIN's");
  }
  const uint16_t code = hooks_.verify_bundle(&LinkEndpoint::ReadStaged, this, size_,
                                             port_.boot->SecureVersion(), hooks_.ctx);
  if (code != 0) return SendError(f.seq, code, "the stored bundle does not verify");
  app.Final(m.app_sha256);
  data.Final(m.data_sha256);
  m.app_size = firmware_;
  m.data_size = size_ - firmware_;
  m.epoch = plan_.epoch;
  m.flags = 0;
  std::memcpy(m.bundle_version, plan_.bundle_id, 32);
  m.bundle_version[32] = 0;
  Reason why = Reason::kNone;
  const Status s = slots_.FinishStaging(m, &why);
  if (s != Status::kOk) return SendError(f.seq, SlotError(why), ReasonName(why));
  phase_ = OtaPhase::kVerified;
  RespondOta(f);
}

void LinkEndpoint::OtaCommit(const Frame& f) {
  if (phase_ != OtaPhase::kVerified) return SendError(f.seq, OtaErr(kOtaWrongState), "OTA_END has not verified a bundle");
  Reason why = Reason::kNone;
  const Status s = slots_.Commit(&why);
  if (s != Status::kOk) return SendError(f.seq, SlotError(why), ReasonName(why));
  phase_ = OtaPhase::kCommitted;
  RespondOta(f);
  port_.boot->RequestReboot();
}

}  // namespace node
