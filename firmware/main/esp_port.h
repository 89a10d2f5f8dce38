// The ESP-IDF port of node::Port: esp_partition (flash), esp_ota_ops (boot control),
// USB-Serial-JTAG (link), esp_timer (clock), eFuse secure version (anti-rollback), ESP_LOG.
#pragma once

#include <cstdint>

#include "node/partition_table.h"
#include "node/port.h"

namespace espport {

// Flash through the partition API: each absolute address is mapped to the partition holding it,
// among otadata, ota_k and model_k as FindLayout cached them; anything else is kOutOfRange.
// (all node writes target otadata, ota_k or model_k; anything else is kOutOfRange).
class PartitionFlash final : public node::FlashPort {
 public:
  uint32_t Size() const override;
  node::Status Read(uint32_t addr, void* dst, uint32_t len) override;
  node::Status EraseSector(uint32_t addr) override;
  node::Status ProgramPage(uint32_t addr, const void* src, uint32_t len) override;
};

class OtaBoot final : public node::BootPort {
 public:
  int RunningSlot() override;
  node::OtaState RunningState() override;
  node::OtaState SlotState(int slot) override;
  node::Status SetBootSlot(int slot) override;
  node::Status MarkRunningValid() override;
  // esp_ota_mark_app_invalid_rollback_and_reboot: does not return when a rollback is possible.
  node::Status MarkRunningInvalid() override;
  uint32_t SecureVersion() override;
  node::Status RaiseSecureVersion(uint32_t version) override;
  // Records the request; the main loop restarts (esp_restart) once the answer that preceded it
  // left the USB FIFO (docs/protocol.md §10.2: at most 100 ms after the response).
  void RequestReboot() override { reboot_requested_ = true; }
  bool reboot_requested() const { return reboot_requested_; }

 private:
  bool reboot_requested_ = false;
};

class UsbJtagLink final : public node::LinkPort {
 public:
  bool Begin();
  int32_t Read(uint8_t* dst, uint32_t cap) override;
  int32_t Write(const uint8_t* src, uint32_t len) override;
};

// A placeholder for the board's accelerometer driver: a 3-axis vibration (1 g on Z, a 25 Hz
// rotation line, LCG noise) at 1600 Hz, paced by esp_timer, in counts of 8000 per g. Read is
// non-blocking: it returns the frames that became due since the last read.
class DemoSensor final : public node::SensorPort {
 public:
  uint32_t Channels() override { return 3; }
  uint32_t RateHz() override { return 1600; }
  int32_t Read(int16_t* dst, uint32_t frames) override;

 private:
  uint64_t start_us_ = 0, taken_ = 0;
  uint32_t lcg_ = 1;
};

class TimerClock final : public node::ClockPort {
 public:
  uint64_t NowUs() override;
  void SleepUs(uint32_t us) override;
};

// No battery gauge is defined for the reference board: reports 100 % (mains powered).
class FixedBattery final : public node::BatteryPort {
 public:
  uint8_t LevelPercent() override { return 100; }
};

class EspLog final : public node::LogPort {
 public:
  void Write(node::LogLevel level, const char* message) override;
};

// The factory MAC (eFuse) and the running app descriptor's version string.
void ReadMac(uint8_t mac[6]);
const char* AppVersion();

// Fills the node layout from esp_partition_find_first (otadata, ota_0/1, model_0/1) and caches
// those partitions for PartitionFlash. Call once at init, before any flash operation.
node::Status FindLayout(node::FlashLayout* layout);

}  // namespace espport
