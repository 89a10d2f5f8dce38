// node_twin: the firmware's boot path on a flash image file, for the twin and the Python tests.
//
//   node_twin boot --flash FILE [--efuse FILE]   power on: bootloader + boot flow until stable
//   node_twin info --flash FILE [--efuse FILE]   report partition table, otadata and both slots
//
// Prints one JSON object on stdout. Exit 0 when the flash holds a usable layout, 2 otherwise.
#include <cstdio>
#include <cstring>
#include <string>

#include "host_port/host_flash.h"
#include "host_port/host_port.h"
#include "node/otadata.h"
#include "node/slot_manager.h"

namespace {

void Hex(const uint8_t* d, int n, char* out) {
  for (int i = 0; i < n; ++i) std::snprintf(out + 2 * i, 3, "%02x", d[i]);
}

bool AlwaysHealthy(const node::SlotReport&, void*) { return true; }

void PrintSlots(hostport::HostBoard& board) {
  node::SlotManager mgr(board.flash(), board.boot(), board.layout());
  std::printf("\"slots\": [");
  for (int k = 0; k < node::kSlotCount; ++k) {
    node::SlotReport rep;
    node::Status io;
    const node::Reason r = mgr.Verify(k, &rep, &io);
    char sha[65] = {};
    Hex(rep.manifest.app_sha256, 32, sha);
    std::printf("%s{\"slot\": %d, \"verify\": \"%s\", \"bundle_version\": \"%s\", \"epoch\": %u, "
                "\"app_version\": \"%s\", \"app_size\": %u, \"data_size\": %u, "
                "\"app_sha256\": \"%s\", \"ota_state\": \"%s\"}",
                k ? ", " : "", k, node::ReasonName(r), rep.manifest.bundle_version,
                rep.manifest.epoch, rep.app.version, rep.manifest.app_size,
                rep.manifest.data_size, sha, node::OtaStateName(board.boot().SlotState(k)));
  }
  std::printf("]");
}

}  // namespace

int main(int argc, char** argv) {
  const char* cmd = argc > 1 ? argv[1] : "";
  const char* flash_path = nullptr;
  const char* efuse_path = nullptr;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--flash") == 0) flash_path = argv[i + 1];
    if (std::strcmp(argv[i], "--efuse") == 0) efuse_path = argv[i + 1];
  }
  if (flash_path == nullptr || (std::strcmp(cmd, "boot") != 0 && std::strcmp(cmd, "info") != 0)) {
    std::fprintf(stderr, "usage: node_twin boot|info --flash FILE [--efuse FILE]\n");
    return 2;
  }
  static hostport::HostFlash flash;
  if (flash.OpenFile(flash_path) != node::Status::kOk) {
    std::printf("{\"error\": \"cannot open flash image %s\"}\n", flash_path);
    return 2;
  }
  std::string efuse_default = std::string(flash_path) + ".efuse";
  hostport::VirtualEfuse efuse(efuse_path != nullptr ? efuse_path : efuse_default.c_str());
  hostport::HostBoard board(flash, efuse);
  node::PartitionTable table;
  if (node::ReadPartitionTable(flash, &table) != node::Status::kOk ||
      board.LoadLayout() != node::Status::kOk) {
    std::printf("{\"error\": \"no usable partition table at 0x8000\"}\n");
    return 2;
  }
  std::printf("{\"partitions\": [");
  for (int i = 0; i < table.count; ++i) {
    const node::Partition& p = table.entries[i];
    std::printf("%s{\"label\": \"%s\", \"type\": %u, \"subtype\": %u, \"offset\": %u, \"size\": %u}",
                i ? ", " : "", p.label, p.type, p.subtype, p.offset, p.size);
  }
  std::printf("], \"md5_row\": %s, ", table.has_md5_row ? "true" : "false");
  node::OtaEntry e[2];
  node::ReadOtaData(flash, board.layout(), e);
  std::printf("\"otadata\": [");
  for (int i = 0; i < 2; ++i) {
    std::printf("%s{\"seq\": %u, \"state\": %u, \"valid\": %s}", i ? ", " : "", e[i].seq,
                e[i].state, node::OtaEntryValid(e[i]) ? "true" : "false");
  }
  std::printf("], \"secure_version\": %u, ", efuse.Read());
  if (std::strcmp(cmd, "boot") == 0) {
    int boots = 0;
    const char* outcome = "no_valid_bundle";
    int slot = -1;
    for (; boots < 8; ++boots) {
      if (board.PowerOn(&slot) != node::Status::kOk) {
        slot = -1;
        break;
      }
      node::SlotManager mgr(flash, board.boot(), board.layout());
      node::SlotReport rep;
      node::Reason why;
      const node::BootOutcome o = mgr.OnBoot(AlwaysHealthy, nullptr, &rep, &why);
      outcome = node::BootOutcomeName(o);
      if (!board.boot().reboot_requested()) break;
    }
    std::printf("\"boot\": {\"running_slot\": %d, \"state\": \"%s\", \"outcome\": \"%s\", "
                "\"boots\": %d}, ",
                slot, slot >= 0 ? node::OtaStateName(board.boot().RunningState()) : "UNDEFINED",
                outcome, boots + 1);
  }
  PrintSlots(board);
  std::printf("}\n");
  return 0;
}
