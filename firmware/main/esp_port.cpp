#include "esp_port.h"

#include <cstring>

#include "driver/usb_serial_jtag.h"
#include "esp_app_desc.h"
#include "esp_efuse.h"
#include "esp_mac.h"
#include "esp_flash.h"
#include "esp_log.h"
#include "esp_ota_ops.h"
#include "esp_partition.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "sdkconfig.h"

namespace espport {

namespace {
constexpr const char* kTag = "node";

// The partitions the node may touch, cached by FindLayout at init: flash operations then never
// call esp_partition_find (whose iterator is heap-allocated).
const esp_partition_t* g_parts[1 + 2 * node::kSlotCount];
int g_part_count = 0;

const esp_partition_t* PartitionAt(uint32_t addr, uint32_t len) {
  for (int i = 0; i < g_part_count; ++i) {
    const esp_partition_t* p = g_parts[i];
    if (addr >= p->address && len <= p->size && addr - p->address <= p->size - len) return p;
  }
  return nullptr;
}

node::Status FromEsp(esp_err_t err) {
  return err == ESP_OK ? node::Status::kOk : node::Status::kIoError;
}

const esp_partition_t* AppSlot(int slot) {
  return esp_partition_find_first(
      ESP_PARTITION_TYPE_APP,
      static_cast<esp_partition_subtype_t>(ESP_PARTITION_SUBTYPE_APP_OTA_MIN + slot), nullptr);
}

void CopyPartition(const esp_partition_t* p, node::Partition* out) {
  out->type = static_cast<uint8_t>(p->type);
  out->subtype = static_cast<uint8_t>(p->subtype);
  out->offset = p->address;
  out->size = p->size;
  std::strncpy(out->label, p->label, sizeof(out->label) - 1);
  out->label[sizeof(out->label) - 1] = '\0';
  out->flags = p->encrypted ? 1u : 0u;
}
}  // namespace

uint32_t PartitionFlash::Size() const { return esp_flash_default_chip->size; }

node::Status PartitionFlash::Read(uint32_t addr, void* dst, uint32_t len) {
  const esp_partition_t* p = PartitionAt(addr, len);
  if (p == nullptr) return node::Status::kOutOfRange;
  return FromEsp(esp_partition_read(p, addr - p->address, dst, len));
}

node::Status PartitionFlash::EraseSector(uint32_t addr) {
  if (addr % kSectorSize != 0) return node::Status::kAlignment;
  const esp_partition_t* p = PartitionAt(addr, kSectorSize);
  if (p == nullptr) return node::Status::kOutOfRange;
  return FromEsp(esp_partition_erase_range(p, addr - p->address, kSectorSize));
}

node::Status PartitionFlash::ProgramPage(uint32_t addr, const void* src, uint32_t len) {
  if (len == 0) return node::Status::kOk;
  if (addr / kPageSize != (addr + len - 1) / kPageSize) return node::Status::kAlignment;
  const esp_partition_t* p = PartitionAt(addr, len);
  if (p == nullptr) return node::Status::kOutOfRange;
  return FromEsp(esp_partition_write(p, addr - p->address, src, len));
}

int OtaBoot::RunningSlot() {
  const esp_partition_t* p = esp_ota_get_running_partition();
  if (p == nullptr || p->subtype < ESP_PARTITION_SUBTYPE_APP_OTA_MIN ||
      p->subtype >= ESP_PARTITION_SUBTYPE_APP_OTA_MAX) {
    return -1;
  }
  return p->subtype - ESP_PARTITION_SUBTYPE_APP_OTA_MIN;
}

node::OtaState OtaBoot::SlotState(int slot) {
  const esp_partition_t* p = AppSlot(slot);
  esp_ota_img_states_t state;
  if (p == nullptr || esp_ota_get_state_partition(p, &state) != ESP_OK) {
    return node::OtaState::kUndefined;
  }
  return static_cast<node::OtaState>(state);
}

node::OtaState OtaBoot::RunningState() { return SlotState(RunningSlot()); }

node::Status OtaBoot::SetBootSlot(int slot) {
  const esp_partition_t* p = AppSlot(slot);
  if (p == nullptr) return node::Status::kNotFound;
  return FromEsp(esp_ota_set_boot_partition(p));
}

node::Status OtaBoot::MarkRunningValid() {
  return FromEsp(esp_ota_mark_app_valid_cancel_rollback());
}

node::Status OtaBoot::MarkRunningInvalid() {
  return FromEsp(esp_ota_mark_app_invalid_rollback_and_reboot());
}

uint32_t OtaBoot::SecureVersion() {
#if CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK
  return esp_efuse_read_secure_version();
#else
  return 0;  // anti-rollback disabled in sdkconfig: no counter to compare against
#endif
}

node::Status OtaBoot::RaiseSecureVersion(uint32_t version) {
#if CONFIG_BOOTLOADER_APP_ANTI_ROLLBACK
  return FromEsp(esp_efuse_update_secure_version(version));
#else
  (void)version;
  return node::Status::kOk;
#endif
}


bool UsbJtagLink::Begin() {
  usb_serial_jtag_driver_config_t cfg = USB_SERIAL_JTAG_DRIVER_CONFIG_DEFAULT();
  return usb_serial_jtag_driver_install(&cfg) == ESP_OK;
}

int32_t UsbJtagLink::Read(uint8_t* dst, uint32_t cap) {
  // Blocks at most one tick: the main loop's pacing when the host is quiet.
  return usb_serial_jtag_read_bytes(dst, cap, 1);
}

int32_t UsbJtagLink::Write(const uint8_t* src, uint32_t len) {
  return usb_serial_jtag_write_bytes(src, len, pdMS_TO_TICKS(50));
}

int32_t DemoSensor::Read(int16_t* dst, uint32_t frames) {
  const uint64_t now = static_cast<uint64_t>(esp_timer_get_time());
  if (start_us_ == 0) start_us_ = now;
  const uint64_t due = (now - start_us_) * RateHz() / 1000000u;
  uint32_t n = due > taken_ ? static_cast<uint32_t>(due - taken_ < frames ? due - taken_ : frames) : 0;
  for (uint32_t i = 0; i < n; ++i, ++taken_) {
    // 25 Hz line as a triangle wave (no libm on the hot path): period 64 samples at 1600 Hz.
    const int32_t phase = static_cast<int32_t>(taken_ % 64);
    const int32_t tri = (phase < 32 ? phase : 64 - phase) * 50 - 800;
    for (uint32_t c = 0; c < 3; ++c) {
      lcg_ = lcg_ * 1664525u + 1013904223u;
      const int32_t noise = static_cast<int32_t>(lcg_ >> 24) - 128;
      const int32_t base = c == 2 ? 8000 : 0;
      dst[i * 3 + c] = static_cast<int16_t>(base + (c == 0 ? tri : tri / 2) + noise);
    }
  }
  return static_cast<int32_t>(n);
}

void ReadMac(uint8_t mac[6]) {
  if (esp_read_mac(mac, ESP_MAC_BASE) != ESP_OK) std::memset(mac, 0, 6);
}

const char* AppVersion() { return esp_app_get_description()->version; }

uint64_t TimerClock::NowUs() { return static_cast<uint64_t>(esp_timer_get_time()); }

void TimerClock::SleepUs(uint32_t us) {
  const TickType_t ticks = pdMS_TO_TICKS(us / 1000);
  vTaskDelay(ticks > 0 ? ticks : 1);
}

void EspLog::Write(node::LogLevel level, const char* message) {
  switch (level) {
    case node::LogLevel::kError: ESP_LOGE(kTag, "%s", message); break;
    case node::LogLevel::kWarn: ESP_LOGW(kTag, "%s", message); break;
    case node::LogLevel::kInfo: ESP_LOGI(kTag, "%s", message); break;
    case node::LogLevel::kDebug: ESP_LOGD(kTag, "%s", message); break;
  }
}

node::Status FindLayout(node::FlashLayout* layout) {
  std::memset(layout, 0, sizeof(*layout));
  const esp_partition_t* ota = esp_partition_find_first(
      ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_DATA_OTA, nullptr);
  if (ota == nullptr) return node::Status::kNotFound;
  CopyPartition(ota, &layout->otadata);
  g_part_count = 0;
  g_parts[g_part_count++] = ota;
  layout->app_count = static_cast<int>(esp_ota_get_app_partition_count());
  for (int k = 0; k < node::kSlotCount; ++k) {
    const esp_partition_t* app = AppSlot(k);
    char label[8] = {'m', 'o', 'd', 'e', 'l', '_', static_cast<char>('0' + k), '\0'};
    const esp_partition_t* model =
        esp_partition_find_first(ESP_PARTITION_TYPE_DATA, ESP_PARTITION_SUBTYPE_ANY, label);
    if (app == nullptr || model == nullptr) return node::Status::kNotFound;
    CopyPartition(app, &layout->app[k]);
    CopyPartition(model, &layout->model[k]);
    g_parts[g_part_count++] = app;
    g_parts[g_part_count++] = model;
  }
  return node::Status::kOk;
}

}  // namespace espport
