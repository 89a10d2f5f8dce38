#include "host_port/host_port.h"

#include <cstdlib>
#include <cstring>

#include "node/app_image.h"

namespace hostport {

using node::Status;

VirtualEfuse::VirtualEfuse(const char* path) {
  if (path == nullptr) return;
  std::snprintf(path_, sizeof(path_), "%s", path);
  if (FILE* f = std::fopen(path_, "r")) {
    unsigned long v = 0;
    if (std::fscanf(f, "%lu", &v) == 1) value_ = static_cast<uint32_t>(v);
    std::fclose(f);
  }
}

Status VirtualEfuse::Write(uint32_t v) {
  if (v < value_) return Status::kRefused;  // fuses only ever burn upward
  value_ = v;
  if (path_[0] == '\0') return Status::kOk;
  FILE* f = std::fopen(path_, "w");
  if (f == nullptr) return Status::kIoError;
  std::fprintf(f, "%lu\n", static_cast<unsigned long>(v));
  std::fclose(f);
  return Status::kOk;
}

int32_t StubSensor::Read(int16_t* dst, uint32_t frames) {
  for (uint32_t n = 0; n < frames; ++n, ++t_) {
    for (uint32_t c = 0; c < 3; ++c) {
      lcg_ = lcg_ * 1664525u + 1013904223u;
      const int noise = static_cast<int>(lcg_ >> 22) - 512;
      const uint32_t period = 32u << c;
      const int tone = ((t_ / (period / 2)) % 2 == 0) ? 4000 : -4000;
      dst[n * 3 + c] = static_cast<int16_t>(tone + noise);
    }
  }
  return static_cast<int32_t>(frames);
}

void StderrLog::Write(node::LogLevel level, const char* message) {
  if (!enabled_) return;
  static const char* const kNames[] = {"E", "W", "I", "D"};
  std::fprintf(stderr, "%s node: %s\n", kNames[static_cast<int>(level) & 3], message);
}

Status HostBoard::LoadLayout() {
  node::PartitionTable table;
  const Status s = node::ReadPartitionTable(flash_, &table);
  if (s != Status::kOk) return s;
  return node::ResolveLayout(table, &layout_);
}

Status HostBoard::PowerOn(int* slot) {
  flash_.PowerOn();
  Status s = Status::kOk;
  *slot = node::RunBootloader(flash_, layout_, node::AppImageBootable, nullptr, &s);
  if (s != Status::kOk) return s;
  if (*slot < 0) return Status::kNotFound;
  boot_.SetRunningSlot(*slot);
  return Status::kOk;
}

}  // namespace hostport
