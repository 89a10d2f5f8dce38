#include "host_port/host_flash.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace hostport {

using node::Status;

HostFlash::~HostFlash() { Close(); }

void HostFlash::Close() {
  if (mapped_ && mem_ != nullptr) {
    msync(mem_, size_, MS_SYNC);
    munmap(mem_, size_);
  }
  mem_ = nullptr;
  size_ = 0;
  mapped_ = false;
}

Status HostFlash::OpenFile(const char* path, uint32_t size) {
  Close();
  if (size == 0 || size % kSectorSize != 0 || size > kDefaultSize * 2) return Status::kBadArgument;
  const int fd = open(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0) return Status::kIoError;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Status::kIoError;
  }
  if (static_cast<uint64_t>(st.st_size) < size) {
    // Fill the missing tail with 0xFF (erased NOR).
    uint8_t ff[4096];
    std::memset(ff, 0xFF, sizeof(ff));
    uint64_t pos = static_cast<uint64_t>(st.st_size);
    while (pos < size) {
      const uint64_t n = (size - pos) < sizeof(ff) ? (size - pos) : sizeof(ff);
      if (pwrite(fd, ff, n, static_cast<off_t>(pos)) != static_cast<ssize_t>(n)) {
        close(fd);
        return Status::kIoError;
      }
      pos += n;
    }
  }
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return Status::kIoError;
  mem_ = static_cast<uint8_t*>(p);
  size_ = size;
  mapped_ = true;
  return Status::kOk;
}

Status HostFlash::UseBuffer(uint8_t* buffer, uint32_t size) {
  Close();
  if (buffer == nullptr || size % kSectorSize != 0 || size > kDefaultSize * 2) {
    return Status::kBadArgument;
  }
  mem_ = buffer;
  size_ = size;
  return Status::kOk;
}

Status HostFlash::Read(uint32_t addr, void* dst, uint32_t len) {
  if (power_lost_) return Status::kPowerLost;
  if (mem_ == nullptr || addr > size_ || len > size_ - addr) return Status::kOutOfRange;
  std::memcpy(dst, mem_ + addr, len);
  return Status::kOk;
}

uint64_t HostFlash::NextRandom() {  // splitmix64
  uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void HostFlash::ArmCut(uint64_t nth_op, CutKind kind, uint64_t seed) {
  cut_at_ = nth_op == 0 ? 0 : ops_ + nth_op;
  cut_kind_ = kind;
  rng_ = seed;
  torn_ = false;
}

Status HostFlash::BeforeOp(OpKind kind, bool* torn_now) {
  *torn_now = false;
  if (power_lost_) return Status::kPowerLost;
  ++ops_;
  last_kind_ = kind;
  if (op_log_ != nullptr && ops_ - op_log_base_ <= op_log_cap_) op_log_[ops_ - op_log_base_ - 1] = kind;
  if (cut_at_ != 0 && ops_ == cut_at_) {
    cut_at_ = 0;
    power_lost_ = true;
    *torn_now = (cut_kind_ == CutKind::kTornProgram && kind == OpKind::kProgram) ||
                (cut_kind_ == CutKind::kTornErase && kind == OpKind::kErase);
    torn_ = *torn_now;
    return Status::kPowerLost;
  }
  return Status::kOk;
}

void HostFlash::ClearDirty() { std::memset(dirty_, 0, sizeof(dirty_)); }

Status HostFlash::EraseSector(uint32_t addr) {
  if (mem_ == nullptr || addr >= size_) return power_lost_ ? Status::kPowerLost : Status::kOutOfRange;
  if (addr % kSectorSize != 0) return power_lost_ ? Status::kPowerLost : Status::kAlignment;
  bool torn = false;
  const Status s = BeforeOp(OpKind::kErase, &torn);
  const uint32_t sector = addr / kSectorSize;
  if (s != Status::kOk && !torn) return s;
  dirty_[sector] = 1;
  ++erases_[sector];
  uint8_t* p = mem_ + addr;
  if (torn) {
    // A random subset of the bits goes to 1.
    for (uint32_t i = 0; i < kSectorSize; i += 8) {
      const uint64_t r = NextRandom() & NextRandom();  // roughly a quarter of the bits
      for (int b = 0; b < 8; ++b) p[i + b] = static_cast<uint8_t>(p[i + b] | (r >> (8 * b)));
    }
    return Status::kPowerLost;
  }
  std::memset(p, 0xFF, kSectorSize);
  return Status::kOk;
}

Status HostFlash::ProgramPage(uint32_t addr, const void* src, uint32_t len) {
  if (mem_ == nullptr || addr > size_ || len > size_ - addr) {
    return power_lost_ ? Status::kPowerLost : Status::kOutOfRange;
  }
  if (len == 0) return power_lost_ ? Status::kPowerLost : Status::kOk;
  if (addr / kPageSize != (addr + len - 1) / kPageSize) {
    return power_lost_ ? Status::kPowerLost : Status::kAlignment;
  }
  bool torn = false;
  const Status s = BeforeOp(OpKind::kProgram, &torn);
  if (s != Status::kOk && !torn) return s;
  dirty_[addr / kSectorSize] = 1;
  const uint8_t* in = static_cast<const uint8_t*>(src);
  uint8_t* p = mem_ + addr;
  if (torn) {
    // A random subset of the bits that should be cleared gets cleared.
    for (uint32_t i = 0; i < len; ++i) {
      const uint8_t clear = static_cast<uint8_t>(~in[i] & p[i]);
      const uint8_t some = static_cast<uint8_t>(clear & NextRandom());
      p[i] = static_cast<uint8_t>(p[i] & ~some);
    }
    return Status::kPowerLost;
  }
  for (uint32_t i = 0; i < len; ++i) p[i] = static_cast<uint8_t>(p[i] & in[i]);
  return Status::kOk;
}

}  // namespace hostport
