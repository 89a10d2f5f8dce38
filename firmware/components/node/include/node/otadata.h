// ESP-IDF's otadata: two 4 KiB sectors, each starting with one esp_ota_select_entry_t
// {u32 ota_seq, u8 seq_label[20], u32 ota_state, u32 crc}; crc = CRC-32 of ota_seq only
// (esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4)). The valid entry with the larger ota_seq wins and
// selects app ota_[(ota_seq - 1) % app_count]. Every change erases one sector and programs 32
// bytes, exactly as esp_ota_ops.c and the bootloader do.
//
// OtaDataBoot implements BootPort on top of these rules for the host port (on the device,
// esp_ota_ops does the same), and RunBootloader is the second-stage bootloader's selection with
// CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE: PENDING_VERIFY found at boot -> ABORTED (rollback),
// NEW -> PENDING_VERIFY (one trial boot).
#pragma once

#include <cstdint>

#include "node/partition_table.h"
#include "node/port.h"

namespace node {

struct OtaEntry {
  uint32_t seq;
  uint8_t label[20];
  uint32_t state;
  uint32_t crc;
};
constexpr uint32_t kOtaEntrySize = 32;

uint32_t OtaSeqCrc(uint32_t seq);
void EncodeOtaEntry(const OtaEntry& e, uint8_t out[kOtaEntrySize]);
void DecodeOtaEntry(const uint8_t in[kOtaEntrySize], OtaEntry* e);
// ESP-IDF's bootloader_common_ota_select_valid.
bool OtaEntryValid(const OtaEntry& e);
// bootloader_common_get_active_otadata: index of the valid entry with the larger seq, or -1.
int ActiveOtaEntry(const OtaEntry entries[2]);

Status ReadOtaData(FlashPort& flash, const FlashLayout& layout, OtaEntry entries[2]);
// Erases sector `copy` of otadata and programs the entry (two mutating operations).
Status WriteOtaEntry(FlashPort& flash, const FlashLayout& layout, int copy, const OtaEntry& e);

// Checks the app image in slot k well enough for the bootloader's fallback (header, checksum,
// appended SHA-256). Provided by the caller (normally CheckAppImage).
typedef bool (*AppImageCheck)(FlashPort& flash, const Partition& app, void* ctx);

// The bootloader's choice. Returns the slot it boots, -1 when nothing is bootable
// (*status carries kPowerLost when the cut hit the bootloader's own otadata writes).
int RunBootloader(FlashPort& flash, const FlashLayout& layout, AppImageCheck check, void* ctx,
                  Status* status);

// BootPort over otadata (host port; the device uses esp_ota_ops). The anti-rollback counter is
// held by a small store the port provides (virtual eFuse on the host).
class SecureVersionStore {
 public:
  virtual uint32_t Read() = 0;
  virtual Status Write(uint32_t v) = 0;

 protected:
  ~SecureVersionStore() = default;
};

class OtaDataBoot final : public BootPort {
 public:
  OtaDataBoot(FlashPort& flash, const FlashLayout& layout, SecureVersionStore& efuse)
      : flash_(flash), layout_(layout), efuse_(efuse) {}
  // Called by the platform after the bootloader chose `slot`.
  void SetRunningSlot(int slot) {
    running_ = slot;
    reboot_requested_ = false;
  }
  bool reboot_requested() const { return reboot_requested_; }

  int RunningSlot() override { return running_; }
  OtaState RunningState() override { return SlotState(running_); }
  OtaState SlotState(int slot) override;
  Status SetBootSlot(int slot) override;
  Status MarkRunningValid() override;
  Status MarkRunningInvalid() override;
  uint32_t SecureVersion() override { return efuse_.Read(); }
  Status RaiseSecureVersion(uint32_t version) override;
  void RequestReboot() override { reboot_requested_ = true; }

 private:
  Status RewriteRunning(OtaState state);
  FlashPort& flash_;
  const FlashLayout& layout_;
  SecureVersionStore& efuse_;
  int running_ = -1;
  bool reboot_requested_ = false;
};

}  // namespace node
