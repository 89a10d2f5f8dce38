// The port interface: everything the portable node logic needs from a platform.
//
// Two implementations exist: the ESP-IDF port (firmware/main: esp_partition, esp_ota_ops,
// USB-Serial-JTAG, esp_timer) and the host port (firmware/ports/host: file-backed NOR flash with
// power-cut injection, simulated clock, battery and sensor) that the twin and the tests use.
// C++17, no heap, no exceptions, no RTTI: every operation returns a Status.
#pragma once

#include <cstddef>
#include <cstdint>

namespace node {

enum class Status : int32_t {
  kOk = 0,
  kPowerLost = 1,      // the (simulated) supply failed: nothing after this point happened
  kOutOfRange = 2,     // address or length outside the device / partition
  kAlignment = 3,      // erase not on a sector boundary, program crossing a page boundary
  kIoError = 4,        // the platform reported a failure
  kNotFound = 5,       // partition, slot or entry missing
  kInvalidState = 6,   // command not allowed in the current state
  kVerifyFailed = 7,   // contents do not verify (hash, image format, manifest)
  kRefused = 8,        // a policy refused the operation (reason given separately)
  kBadArgument = 9,
};

const char* StatusName(Status s);

// NOR flash as the SPI chip exposes it: erase sets a 4 KiB sector to 0xFF, program can only
// clear bits and never crosses a 256-byte page. Addresses are absolute flash offsets.
class FlashPort {
 public:
  static constexpr uint32_t kSectorSize = 4096;
  static constexpr uint32_t kPageSize = 256;

  virtual uint32_t Size() const = 0;
  virtual Status Read(uint32_t addr, void* dst, uint32_t len) = 0;
  // Erases the one sector starting at `addr` (must be sector aligned): one mutating operation.
  virtual Status EraseSector(uint32_t addr) = 0;
  // Programs `len` bytes that lie inside one page: one mutating operation.
  virtual Status ProgramPage(uint32_t addr, const void* src, uint32_t len) = 0;

 protected:
  ~FlashPort() = default;
};

// ESP-IDF's esp_ota_img_states_t.
enum class OtaState : uint32_t {
  kNew = 0,
  kPendingVerify = 1,
  kValid = 2,
  kInvalid = 3,
  kAborted = 4,
  kUndefined = 0xFFFFFFFFu,
};

const char* OtaStateName(OtaState s);

// Boot control: what ESP-IDF's esp_ota_ops and the second-stage bootloader provide.
class BootPort {
 public:
  // The app slot (ota_k index) the device booted from; -1 when unknown.
  virtual int RunningSlot() = 0;
  // The otadata state of the running slot (kUndefined when otadata is blank).
  virtual OtaState RunningState() = 0;
  // The state otadata records for another slot (kUndefined when no entry names it).
  virtual OtaState SlotState(int slot) = 0;
  // esp_ota_set_boot_partition: selects `slot` for the next boot (state NEW with rollback on).
  virtual Status SetBootSlot(int slot) = 0;
  // esp_ota_mark_app_valid_cancel_rollback.
  virtual Status MarkRunningValid() = 0;
  // esp_ota_mark_app_invalid_rollback (without the reboot; call RequestReboot after).
  virtual Status MarkRunningInvalid() = 0;
  // Anti-rollback counter (eFuse secure version on the device).
  virtual uint32_t SecureVersion() = 0;
  virtual Status RaiseSecureVersion(uint32_t version) = 0;
  // Asks for a reboot. On the device it does not return; on the host it sets a flag that the
  // twin's run loop acts on, and the caller returns.
  virtual void RequestReboot() = 0;

 protected:
  ~BootPort() = default;
};

// Byte stream to the desktop (USB-Serial-JTAG on the device, pty/socket on the twin).
class LinkPort {
 public:
  // Non-blocking: returns the number of bytes read (0 when none), negative on error.
  virtual int32_t Read(uint8_t* dst, uint32_t cap) = 0;
  // Returns the number of bytes accepted, negative on error.
  virtual int32_t Write(const uint8_t* src, uint32_t len) = 0;

 protected:
  ~LinkPort() = default;
};

class ClockPort {
 public:
  virtual uint64_t NowUs() = 0;  // monotonic microseconds since boot
  virtual void SleepUs(uint32_t us) = 0;

 protected:
  ~ClockPort() = default;
};

class BatteryPort {
 public:
  virtual uint8_t LevelPercent() = 0;  // 0..100

 protected:
  ~BatteryPort() = default;
};

class SensorPort {
 public:
  virtual uint32_t Channels() = 0;
  virtual uint32_t RateHz() = 0;
  // Reads up to `frames` interleaved frames into dst (frames * Channels() int16); returns the
  // number of frames written, negative on error.
  virtual int32_t Read(int16_t* dst, uint32_t frames) = 0;

 protected:
  ~SensorPort() = default;
};

enum class LogLevel : uint8_t { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

class LogPort {
 public:
  virtual void Write(LogLevel level, const char* message) = 0;

 protected:
  ~LogPort() = default;
};

// Everything together; the portable logic receives one of these.
struct Port {
  FlashPort* flash;
  BootPort* boot;
  LinkPort* link;
  ClockPort* clock;
  BatteryPort* battery;
  SensorPort* sensor;
  LogPort* log;
};

}  // namespace node
