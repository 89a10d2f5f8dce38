// The host port: the pieces of node::Port a PC provides to the twin and the tests. Flash is in
// host_flash.h; this header adds the virtual eFuse (anti-rollback counter), a simulated clock,
// battery, sensor stub and log, and HostBoard, which ties them to the portable boot logic
// (node::RunBootloader + node::OtaDataBoot) the way the ESP32-S3's ROM and bootloader do.
#pragma once

#include <cstdint>
#include <cstdio>

#include "host_port/host_flash.h"
#include "node/otadata.h"
#include "node/partition_table.h"
#include "node/port.h"

namespace hostport {

// Anti-rollback counter; persisted in a small text file when a path is given (the twin keeps it
// next to the flash image as <flash>.efuse), in memory otherwise.
class VirtualEfuse final : public node::SecureVersionStore {
 public:
  explicit VirtualEfuse(const char* path = nullptr);
  uint32_t Read() override { return value_; }
  node::Status Write(uint32_t v) override;
  // Test aid: a fresh device (real fuses cannot be reset). Memory only.
  void ResetForTest(uint32_t v) { value_ = v; }

 private:
  char path_[512] = {};
  uint32_t value_ = 0;
};

class SimClock final : public node::ClockPort {
 public:
  uint64_t NowUs() override { return now_us_; }
  void SleepUs(uint32_t us) override { now_us_ += us; }
  void Advance(uint64_t us) { now_us_ += us; }

 private:
  uint64_t now_us_ = 0;
};

class SimBattery final : public node::BatteryPort {
 public:
  uint8_t LevelPercent() override { return level_; }
  void Set(uint8_t level) { level_ = level > 100 ? 100 : level; }

 private:
  uint8_t level_ = 100;
};

// Deterministic 3-axis vibration stub (the full simulator arrives with the twin's sensor work):
// a 50 Hz square-ish tone per axis plus LCG noise.
class StubSensor final : public node::SensorPort {
 public:
  uint32_t Channels() override { return 3; }
  uint32_t RateHz() override { return 1600; }
  int32_t Read(int16_t* dst, uint32_t frames) override;

 private:
  uint32_t lcg_ = 1, t_ = 0;
};

class StderrLog final : public node::LogPort {
 public:
  explicit StderrLog(bool enabled = true) : enabled_(enabled) {}
  void Write(node::LogLevel level, const char* message) override;

 private:
  bool enabled_;
};

// One simulated board: flash, partition layout, boot control. PowerOn() plays the ROM + second
// stage bootloader (otadata selection with rollback), leaving boot() reporting the running slot.
class HostBoard {
 public:
  HostBoard(HostFlash& flash, node::SecureVersionStore& efuse)
      : flash_(flash), boot_(flash, layout_, efuse) {}
  node::Status LoadLayout();
  // Returns kOk with *slot >= 0 when an app was chosen; kPowerLost when a cut hit the
  // bootloader's own writes; kNotFound when nothing is bootable.
  node::Status PowerOn(int* slot);
  node::OtaDataBoot& boot() { return boot_; }
  const node::FlashLayout& layout() const { return layout_; }
  HostFlash& flash() { return flash_; }

 private:
  HostFlash& flash_;
  node::FlashLayout layout_ = {};
  node::OtaDataBoot boot_;
};

}  // namespace hostport
