// app_main: the boot flow of the Fieldbench node on the ESP32-S3.
//
// The ESP-IDF bootloader has already chosen the slot from otadata (rollback enabled: a NEW
// bundle gets one trial boot as PENDING_VERIFY). Here the node verifies the running slot,
// runs the health check on a trial and confirms it (esp_ota_mark_app_valid_cancel_rollback,
// then the anti-rollback counter) or marks it invalid and reboots into the previous bundle.
// Only then does the application (the feature front-end) start.
#include "esp_log.h"
#include "esp_port.h"
#include "feature_demo.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "node/slot_manager.h"

namespace {

constexpr const char* kTag = "fieldbench";

espport::PartitionFlash g_flash;
espport::OtaBoot g_boot;
espport::UsbJtagLink g_link;
espport::TimerClock g_clock;
espport::FixedBattery g_battery;
espport::EspLog g_log;
node::FlashLayout g_layout;
node::SlotReport g_running;

// Health check until the bundle self-test arrives (issue 7, later session): the slot verified
// and the device is alive enough to get here.
bool Healthy(const node::SlotReport& running, void* /*ctx*/) {
  return running.manifest.app_size > 0;
}

}  // namespace

extern "C" void app_main(void) {
  if (espport::FindLayout(&g_layout) != node::Status::kOk) {
    ESP_LOGE(kTag, "partition table lacks otadata, ota_0/1 or model_0/1 (see partitions.csv)");
    return;
  }
  node::SlotManager slots(g_flash, g_boot, g_layout);
  node::Reason why = node::Reason::kNone;
  const node::BootOutcome outcome = slots.OnBoot(Healthy, nullptr, &g_running, &why);
  ESP_LOGI(kTag, "slot %d (%s): %s, bundle %s, reason %s", g_boot.RunningSlot(),
           node::OtaStateName(g_boot.RunningState()), node::BootOutcomeName(outcome),
           g_running.manifest.bundle_version, node::ReasonName(why));
  if (outcome != node::BootOutcome::kRunning && outcome != node::BootOutcome::kConfirmed) {
    // No verified bundle to run (safe mode): the link endpoint will still answer here.
    return;
  }
  RunFeatureDemo();
}
