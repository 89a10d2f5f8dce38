// app_main: the Fieldbench node on the ESP32-S3 — the same portable boot flow and link endpoint
// the host twin runs (firmware/host/node/twin_device.cpp), on the ESP-IDF port (esp_port.h).
//
//   1. init: mbedTLS on a static arena (static_alloc.h), the partition layout, USB-Serial-JTAG.
//      Logs go to the UART0 console (sdkconfig.defaults), never to USB-Serial-JTAG, which
//      carries only link frames.
//   2. boot: node::NodeBoot — the slot the bootloader picked is verified as a signed bundle
//      (signature with the compiled-in trusted key, target, every component hash including this
//      app image's, epoch >= the eFuse counter); on a trial (PENDING_VERIFY) the health check
//      runs the bundle's FBSV self-test vectors through features -> INT8 -> decision and a
//      liveness window from the sensor under a watchdog, then confirms and raises the counter —
//      or marks the slot invalid and reboots into the previous bundle. A slot that does not
//      verify is never run.
//   3. serve: the link endpoint (HELLO/INFO, commands, OTA into the inactive slot) and, while
//      streaming, SAMPLE_BLOCK, FEATURE_BLOCK and INFERENCE frames (docs/protocol.md §10.5).
//
// Memory: every buffer below is static; after init nothing allocates (mbedTLS uses the arena).
#include <cstring>

#include "driver/usb_serial_jtag.h"
#include "esp_log.h"
#include "esp_port.h"
#include "esp_system.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "node/boot_verify.h"
#include "node/checksum.h"
#include "node/link_endpoint.h"
#include "node/link_protocol.h"
#include "static_alloc.h"

#if FB_HAVE_TRUSTED_KEY
// The release public key (DER SubjectPublicKeyInfo), embedded from main/trusted_key.der.
extern const uint8_t kTrustedKeyStart[] asm("_binary_trusted_key_der_start");
extern const uint8_t kTrustedKeyEnd[] asm("_binary_trusted_key_der_end");
#endif

namespace {

namespace lk = node::link;

constexpr const char* kTag = "fieldbench";
constexpr uint16_t kFirmwareAbi = 1;
constexpr uint32_t kSamplesPerBlock = 64;
constexpr uint64_t kHealthBudgetUs = 5'000'000;
const char* const kChannelNames[3] = {"accX", "accY", "accZ"};

espport::PartitionFlash g_flash;
espport::OtaBoot g_boot;
espport::UsbJtagLink g_link;
espport::TimerClock g_clock;
espport::FixedBattery g_battery;
espport::DemoSensor g_sensor;
espport::EspLog g_log;
node::FlashLayout g_layout;
node::Port g_port;

edge::bundle::TrustedKey g_keys[1];
node::NodeBootConfig g_config;
node::DeviceIdentity g_id;
uint8_t g_mac[6];

// The running bundle's pipeline buffers (sized for the sample models; the bundle gate checks a
// bundle's budgets against these numbers, docs/device.md).
alignas(16) uint8_t g_fe_pool[16 * 1024];
alignas(16) uint8_t g_rt_pool[32 * 1024];
alignas(16) uint8_t g_model[64 * 1024];
alignas(16) uint8_t g_calib[8 * 1024];
int16_t g_window[2048];
int16_t g_samples[3 * kSamplesPerBlock];
int16_t g_frames[512];

// FEATURE_BLOCK being filled, and the stream's sample counter.
uint8_t g_fblock[lk::kMaxPayload];
uint32_t g_fblock_frames = 0, g_fblock_first = 0, g_fblock_len = 0;
uint8_t g_sblock[12 + 2 * 3 * kSamplesPerBlock];
uint64_t g_stream_sample = 0;
node::LinkEndpoint* g_endpoint = nullptr;

void WatchdogReset(void*) {
  // The trial hung: a reset. The bootloader finds the slot still PENDING_VERIFY, marks it
  // ABORTED and boots the previous bundle.
  ESP_LOGE(kTag, "health check watchdog expired: resetting");
  esp_restart();
}

void FlushFeatures() {
  if (g_fblock_frames == 0) return;
  lk::Put32(g_fblock, g_fblock_first);
  lk::Put16(g_fblock + 4, static_cast<uint16_t>(g_fblock_frames));
  lk::Put16(g_fblock + 6, static_cast<uint16_t>(g_fblock_len));
  g_endpoint->SendUnsolicited(lk::kFeatureBlock, g_fblock, 8 + 2 * g_fblock_frames * g_fblock_len);
  g_fblock_frames = 0;
}

void OnFeatureFrame(void*, uint32_t index, const int16_t* f, uint32_t len) {
  const uint32_t room = (lk::kMaxPayload - 8) / 2;
  if (g_fblock_frames > 0 && (len != g_fblock_len || (g_fblock_frames + 1) * len > room)) {
    FlushFeatures();
  }
  if (len == 0 || len > room) return;
  if (g_fblock_frames == 0) {
    g_fblock_first = index;
    g_fblock_len = len;
  }
  uint8_t* out = g_fblock + 8 + 2 * g_fblock_frames * len;
  for (uint32_t i = 0; i < len; ++i) lk::Put16(out + 2 * i, static_cast<uint16_t>(f[i]));
  ++g_fblock_frames;
}

void OnInference(void*, uint32_t last_frame, int8_t score, int8_t decision) {
  FlushFeatures();  // the window's frames go before its inference
  uint8_t p[8] = {};
  lk::Put32(p, last_frame);
  p[4] = static_cast<uint8_t>(score);
  p[5] = static_cast<uint8_t>(decision < 0 ? 0 : decision);
  g_endpoint->SendUnsolicited(lk::kInference, p, sizeof p);
}

const node::PipelineSink kSink{&OnFeatureFrame, &OnInference, nullptr};

// One sensor block while streaming: SAMPLE_BLOCK, then the same samples through the pipeline.
void StreamOnce(node::BundleApp* app) {
  const int32_t n = g_sensor.Read(g_samples, kSamplesPerBlock);
  if (n <= 0) return;
  for (int i = 0; i < 8; ++i) g_sblock[i] = static_cast<uint8_t>(g_stream_sample >> (8 * i));
  lk::Put16(g_sblock + 8, static_cast<uint16_t>(n));
  g_sblock[10] = 3;
  g_sblock[11] = 1;
  for (int32_t i = 0; i < 3 * n; ++i) lk::Put16(g_sblock + 12 + 2 * i, static_cast<uint16_t>(g_samples[i]));
  g_endpoint->SendUnsolicited(lk::kSampleBlock, g_sblock, 12 + 6 * static_cast<uint32_t>(n));
  g_stream_sample += static_cast<uint32_t>(n);
  if (app == nullptr || app->channels() != 3) return;
  int32_t st = 0;
  if (app->Stream(g_samples, static_cast<uint32_t>(n), kSink, &st) < 0) {
    ESP_LOGE(kTag, "pipeline error %d while streaming: stream restarted", static_cast<int>(st));
    app->StartStream();
  }
  FlushFeatures();
}

void RestartAfterAnswer() {
  // Let the answer that announced the reboot leave the USB FIFO (<= 100 ms, §10.2).
  vTaskDelay(pdMS_TO_TICKS(50));
  esp_restart();
}

}  // namespace

extern "C" void app_main(void) {
  // ---- init (the only phase that may allocate: driver ring buffers) ----
  if (!espport::InstallMbedtlsStaticAllocator()) {
    ESP_LOGE(kTag, "mbedTLS allocator not installable: set CONFIG_MBEDTLS_CUSTOM_MEM_ALLOC");
  }
  if (espport::FindLayout(&g_layout) != node::Status::kOk) {
    ESP_LOGE(kTag, "partition table lacks otadata, ota_0/1 or model_0/1 (see partitions.csv)");
    return;
  }
  if (!g_link.Begin()) ESP_LOGE(kTag, "USB-Serial-JTAG driver not installed: no link");
  size_t key_count = 0;
#if FB_HAVE_TRUSTED_KEY
  g_keys[0].spki_der = kTrustedKeyStart;
  g_keys[0].spki_len = static_cast<uint16_t>(kTrustedKeyEnd - kTrustedKeyStart);
  node::Sha256 sha;
  sha.Update(g_keys[0].spki_der, g_keys[0].spki_len);
  sha.Final(g_keys[0].key_id);
  key_count = 1;
#else
  ESP_LOGW(kTag, "built without main/trusted_key.der: no bundle verifies (safe mode)");
#endif
  g_port = node::Port{&g_flash, &g_boot, &g_link, &g_clock, &g_battery, &g_sensor, &g_log};
  g_config.trust = node::BundleTrust{g_keys, key_count, "esp32s3", nullptr, 0, kFirmwareAbi, true};
  g_config.buffers = node::HealthBuffers{
      g_fe_pool, sizeof g_fe_pool, g_rt_pool, sizeof g_rt_pool, g_model, sizeof g_model,
      g_calib, sizeof g_calib, g_window, sizeof g_window / 2, g_samples, sizeof g_samples / 2,
      g_frames, sizeof g_frames / 2, nullptr, nullptr};
  g_config.health_budget_us = kHealthBudgetUs;
  g_config.watchdog_expire = &WatchdogReset;
  g_config.watchdog_ctx = nullptr;

  // ---- boot ----
  static node::NodeBoot boot(g_port, g_layout, g_config);
  const node::BootSummary summary = boot.Run();
  ESP_LOGI(kTag, "slot %d (%s): %s, reason %s, health %u, app %s", g_boot.RunningSlot(),
           node::OtaStateName(g_boot.RunningState()), node::BootOutcomeName(summary.outcome),
           node::ReasonName(summary.reason), summary.health,
           boot.app().loaded() ? "loaded" : "not loaded");
  if (g_boot.reboot_requested() || summary.outcome == node::BootOutcome::kPowerLost) {
    esp_restart();  // revert or switch: the device never runs a slot that did not verify
  }
  ESP_LOGI(kTag, "mbedTLS arena peak %u of %u bytes, %u refusals",
           static_cast<unsigned>(espport::MbedtlsArenaPeak()),
           static_cast<unsigned>(espport::kMbedtlsArenaBytes),
           static_cast<unsigned>(espport::MbedtlsArenaFailures()));

  // ---- serve ----
  espport::ReadMac(g_mac);
  g_id.chip = 1;
  std::memcpy(g_id.mac, g_mac, 6);
  g_id.firmware_version = espport::AppVersion();
  g_id.firmware_abi = kFirmwareAbi;
  g_id.units = "g";
  g_id.channel_names = kChannelNames;
  g_id.samples_per_block = kSamplesPerBlock;
  g_id.fixed_point_scale = 8000.0f;
  static node::LinkEndpoint endpoint(g_port, g_layout, boot.slots(), g_id, boot.verifier().hooks(),
                                     boot.summary());
  endpoint.set_confirm(&node::NodeBoot::ConfirmHook, &boot);
  g_endpoint = &endpoint;
  endpoint.Start();
  bool was_streaming = false;
  for (;;) {
    endpoint.Poll();  // the link read waits one tick at most
    if (g_boot.reboot_requested()) RestartAfterAnswer();
    node::BundleApp* app = boot.app().loaded() ? &boot.app() : nullptr;
    const bool streaming = endpoint.streaming();
    if (streaming && !was_streaming) {
      g_stream_sample = 0;
      g_fblock_frames = 0;
      if (app != nullptr) app->StartStream();
    }
    was_streaming = streaming;
    if (streaming) StreamOnce(app);
  }
}
