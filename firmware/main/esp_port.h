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
  void RequestReboot() override;  // esp_restart(), does not return
};

class UsbJtagLink final : public node::LinkPort {
 public:
  bool Begin();
  int32_t Read(uint8_t* dst, uint32_t cap) override;
  int32_t Write(const uint8_t* src, uint32_t len) override;
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

// Fills the node layout from esp_partition_find_first (otadata, ota_0/1, model_0/1) and caches
// those partitions for PartitionFlash. Call once at init, before any flash operation.
node::Status FindLayout(node::FlashLayout* layout);

}  // namespace espport
