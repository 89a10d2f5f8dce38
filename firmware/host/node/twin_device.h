// The twin's application side: the firmware's portable code (boot path, slot manager, link
// endpoint with the OTA receiver) run as a virtual ESP32-S3 on the host port — the 8 MB flash
// file, a virtual eFuse, a simulated clock and battery, the vibration simulator — and served on
// a TCP port or a pty so that pyserial, the CLI, the GUI and the tests reach it by port name.
//
// A reboot (REBOOT, ROLLBACK, OTA_COMMIT, a failed trial, a watchdog reset, or "reboot" on the
// control input) really re-runs the boot path in-process: the second-stage bootloader's otadata
// selection (NEW -> PENDING_VERIFY, PENDING_VERIFY -> ABORTED), then the firmware's boot flow
// node::NodeBoot — the selected slot verified as a signed bundle (signature, target, every
// component hash including the app image it runs from, epoch >= the anti-rollback counter), on
// a trial the health check (the bundle's FBSV self-test vectors through features -> INT8 ->
// decision, then liveness on the simulated sensor, under a watchdog) and the confirmation with
// the counter raised, or the revert — then a fresh link endpoint that sends its INFO with
// SEQ_RESTART. The link (TCP connection or pty) stays open across reboots, like a UART.
//
// While streaming, every sensor block is sent as SAMPLE_BLOCK and, when a bundle runs, goes
// through the bundle's fixed-point features and INT8 model on the static pool: FEATURE_BLOCK and
// INFERENCE frames follow (docs/protocol.md §10.5).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "host_port/host_flash.h"
#include "host_port/host_link.h"
#include "host_port/host_port.h"
#include "host_port/sim_sensor.h"
#include "node/boot_verify.h"
#include "node/link_endpoint.h"
#include "node/slot_manager.h"
#include "twin_hooks.h"

namespace twin {

// The link as the endpoint sees it: every frame the endpoint writes is re-numbered from one
// per-boot counter that the sample stream shares, so the host sees one gap-free sequence.
class SequencedLink final : public node::LinkPort {
 public:
  explicit SequencedLink(hostport::HostLink& link) : link_(link) {}
  void Restart() {
    seq_ = 0;
    fill_ = 0;
  }
  int32_t Read(uint8_t* dst, uint32_t cap) override { return link_.Read(dst, cap); }
  int32_t Write(const uint8_t* src, uint32_t len) override;
  // A frame of the twin's own (sample blocks).
  void SendFrame(uint8_t type, const uint8_t* payload, uint32_t len);
  uint32_t frames_sent() const { return frames_; }

 private:
  void Forward();
  hostport::HostLink& link_;
  uint32_t seq_ = 0, fill_ = 0, frames_ = 0;
  uint8_t acc_[node::link::kMaxEncoded + 1];
  uint8_t raw_[node::link::kMaxRawFrame + 8];
  uint8_t wire_[node::link::kMaxEncoded + 2];
};

struct TwinOptions {
  std::string flash_path;
  std::string efuse_path;  // empty: <flash>.efuse
  int listen_port = 0;     // TCP port on 127.0.0.1 (0: any free one)
  bool pty = false;
  std::vector<std::string> trust_files;  // DER SubjectPublicKeyInfo
  std::string board_id;                  // empty: any board
  std::string sensor;                    // "key=value,..." (sim_sensor.h)
  uint8_t battery = 100;
  double speed = 1.0;  // simulated seconds per real second
  uint8_t mac[6] = {0x02, 0xFB, 0x7E, 0x00, 0x00, 0x01};
};

// The static buffers of the running bundle's pipeline and its health check (HealthBuffers).
struct TwinBuffers {
  alignas(16) uint8_t fe_pool[32768];
  alignas(16) uint8_t rt_pool[65536];
  alignas(16) uint8_t model[65536];  // unused while the flash file is mapped
  alignas(16) uint8_t calib[32768];
  int16_t window[4096];
  int16_t samples[768];
  int16_t frames[1024];
};

class TwinDevice {
 public:
  explicit TwinDevice(const TwinOptions& opt);
  // Opens the flash, loads the partition layout, trusts the keys, opens the link. On failure
  // returns false with a sentence in *error.
  bool Open(std::string* error);
  // Power on: bootloader + OnBoot until stable; then a fresh endpoint sends INFO.
  void Boot();
  // One step of the run loop: waits up to `max_wait_ms` for the host, answers requests,
  // streams samples that are due, reboots when asked. Returns true when `control_fd` is
  // readable (the caller reads a control line).
  bool Step(int max_wait_ms, int control_fd);
  // Applies one control line ("sensor k=v,...", "battery N", "reboot", "status"); returns a
  // JSON event line, or an empty string for "quit".
  std::string Control(const std::string& line, bool* quit);

  const char* port_name() const { return link_.name(); }
  int running_slot() { return board_.boot().RunningSlot(); }
  const char* last_outcome() const { return node::BootOutcomeName(summary_.outcome); }
  uint32_t boots() const { return boots_; }
  uint32_t feature_frames_sent() const { return features_sent_; }
  uint32_t inferences_sent() const { return inferences_sent_; }

 private:
  static void WatchdogReset(void* ctx);
  static void OnFeatureFrame(void* ctx, uint32_t index, const int16_t* f, uint32_t len);
  static void OnInference(void* ctx, uint32_t last_frame, int8_t score, int8_t decision);
  void FlushFeatures();
  void StreamSamples();
  std::string HealthJson() const;

  TwinOptions opt_;
  hostport::HostFlash flash_;
  hostport::VirtualEfuse efuse_;
  hostport::HostBoard board_;
  hostport::SimClock clock_;
  hostport::SimBattery battery_;
  hostport::SimSensor sensor_;
  hostport::StderrLog log_{true};
  hostport::HostLink link_;
  SequencedLink seq_link_{link_};
  TrustStore trust_;
  TwinBuffers buffers_;
  node::NodeBootConfig config_{};
  node::Port port_{};
  node::DeviceIdentity id_{};
  node::BootSummary summary_;  // when no NodeBoot ran (the bootloader found nothing)
  std::optional<node::NodeBoot> node_;
  std::optional<node::SlotManager> bare_slots_;  // safe mode without a NodeBoot
  std::optional<node::LinkEndpoint> endpoint_;
  node::PipelineSink sink_{};
  bool watchdog_fired_ = false;
  uint32_t watchdog_resets_ = 0;
  // FEATURE_BLOCK being filled: u32 first_frame, u16 count, u16 per frame, int16 features.
  uint8_t fblock_[node::link::kMaxPayload];
  uint32_t fblock_frames_ = 0, fblock_first_ = 0, fblock_len_ = 0;
  uint32_t features_sent_ = 0, inferences_sent_ = 0;
  char firmware_version_[33] = {};
  uint32_t boots_ = 0;
  bool was_streaming_ = false;
  uint64_t stream_start_us_ = 0, stream_sent_ = 0, real_last_us_ = 0;
};

}  // namespace twin
