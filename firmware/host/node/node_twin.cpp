// node_twin: the firmware's boot path on a flash image file, for the twin and the Python tests.
//
//   node_twin boot --flash FILE [--efuse FILE]   power on: bootloader + boot flow until stable
//   node_twin info --flash FILE [--efuse FILE]   report partition table, otadata and both slots
//   node_twin serve --flash FILE [options]        run the virtual ESP32-S3 (twin_device.h)
//
// boot/info print one JSON object on stdout. Exit 0 when the flash holds a usable layout, 2
// otherwise. serve prints one JSON event per line: {"event": "listening", "port": ...} first,
// then boots and control answers; it reads control lines on stdin (twin_device.h) and stops at
// "quit" or when stdin closes (the parent that started it went away).
#include <poll.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "host_port/host_flash.h"
#include "host_port/host_port.h"
#include "node/otadata.h"
#include "node/slot_manager.h"
#include "twin_device.h"

namespace {

const char kServeUsage[] =
    "usage: node_twin serve --flash FILE [--efuse FILE] [--listen PORT | --pty] "
    "[--trust KEY.der]... [--board ID] [--sensor k=v,...] [--battery N] [--speed X] "
    "[--mac HEX12] [--no-stdin]\n";

bool ParseMac(const char* hex, uint8_t out[6]) {
  if (std::strlen(hex) != 12) return false;
  for (int i = 0; i < 6; ++i) {
    char byte[3] = {hex[2 * i], hex[2 * i + 1], 0};
    char* end = nullptr;
    const long v = std::strtol(byte, &end, 16);
    if (*end != 0) return false;
    out[i] = static_cast<uint8_t>(v);
  }
  return true;
}

int Serve(int argc, char** argv) {
  twin::TwinOptions opt;
  bool use_stdin = true;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has = i + 1 < argc;
    if (a == "--pty") {
      opt.pty = true;
    } else if (a == "--no-stdin") {
      use_stdin = false;
    } else if (!has) {
      std::fprintf(stderr, "%s", kServeUsage);
      return 2;
    } else if (a == "--flash") {
      opt.flash_path = argv[++i];
    } else if (a == "--efuse") {
      opt.efuse_path = argv[++i];
    } else if (a == "--listen") {
      opt.listen_port = std::atoi(argv[++i]);
    } else if (a == "--trust") {
      opt.trust_files.push_back(argv[++i]);
    } else if (a == "--board") {
      opt.board_id = argv[++i];
    } else if (a == "--sensor") {
      opt.sensor = argv[++i];
    } else if (a == "--battery") {
      opt.battery = static_cast<uint8_t>(std::atoi(argv[++i]));
    } else if (a == "--speed") {
      opt.speed = std::atof(argv[++i]);
    } else if (a == "--mac") {
      if (!ParseMac(argv[++i], opt.mac)) {
        std::fprintf(stderr, "--mac takes 12 hex digits\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "%s", kServeUsage);
      return 2;
    }
  }
  if (opt.flash_path.empty() || opt.speed <= 0) {
    std::fprintf(stderr, "%s", kServeUsage);
    return 2;
  }
  static twin::TwinDevice device(opt);
  std::string error;
  if (!device.Open(&error)) {
    std::printf("{\"event\": \"error\", \"error\": \"%s\"}\n", error.c_str());
    return 2;
  }
  std::printf("{\"event\": \"listening\", \"port\": \"%s\", \"pid\": %d}\n",
              device.port_name(), static_cast<int>(getpid()));
  std::fflush(stdout);
  device.Boot();
  std::string pending;
  for (;;) {
    if (!device.Step(10, use_stdin ? 0 : -1)) continue;
    char buf[512];
    const ssize_t n = read(0, buf, sizeof buf);
    if (n <= 0) return 0;  // stdin closed: the parent went away
    pending.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string line = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      bool quit = false;
      const std::string answer = device.Control(line, &quit);
      if (quit) return 0;
      std::printf("%s\n", answer.c_str());
      std::fflush(stdout);
    }
  }
}

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
  if (std::strcmp(cmd, "serve") == 0) return Serve(argc, argv);
  const char* flash_path = nullptr;
  const char* efuse_path = nullptr;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--flash") == 0) flash_path = argv[i + 1];
    if (std::strcmp(argv[i], "--efuse") == 0) efuse_path = argv[i + 1];
  }
  if (flash_path == nullptr || (std::strcmp(cmd, "boot") != 0 && std::strcmp(cmd, "info") != 0)) {
    std::fprintf(stderr, "usage: node_twin boot|info --flash FILE [--efuse FILE]\n%s", kServeUsage);
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
