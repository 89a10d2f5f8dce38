// The host port's NOR flash: 8 MiB (by default) backed by a file (mmap, shared with the Python
// twin's ROM loader) or by a caller buffer (tests). The file is the raw flash image: byte i of
// the file is flash address i.
//
// NOR rules are enforced: erase works on whole 4 KiB sectors and sets them to 0xFF; programming
// ANDs the data in (only clears bits) and must stay inside one 256-byte page.
//
// Fault injection: ArmCut(n, kind) cuts the power before the n-th mutating operation from now
// (1-based). kClean: the operation does not happen. kTornProgram / kTornErase: when the n-th
// operation is of that kind, a random part of it happens (a random subset of the bits it would
// change), then the power is gone. After a cut every operation fails with kPowerLost until
// PowerOn().
#pragma once

#include <cstdint>

#include "node/port.h"

namespace hostport {

enum class CutKind : uint8_t { kClean = 0, kTornProgram = 1, kTornErase = 2 };
enum class OpKind : uint8_t { kErase = 0, kProgram = 1 };

class HostFlash final : public node::FlashPort {
 public:
  static constexpr uint32_t kDefaultSize = 8u * 1024u * 1024u;
  static constexpr uint32_t kMaxSectors = kDefaultSize / kSectorSize;

  HostFlash() = default;
  ~HostFlash();
  HostFlash(const HostFlash&) = delete;
  HostFlash& operator=(const HostFlash&) = delete;

  // Maps `path` (created and filled with 0xFF when missing or shorter than `size`).
  node::Status OpenFile(const char* path, uint32_t size = kDefaultSize);
  // Uses a caller-owned buffer (contents kept).
  node::Status UseBuffer(uint8_t* buffer, uint32_t size);
  void Close();

  uint32_t Size() const override { return size_; }
  node::Status Read(uint32_t addr, void* dst, uint32_t len) override;
  node::Status EraseSector(uint32_t addr) override;
  node::Status ProgramPage(uint32_t addr, const void* src, uint32_t len) override;

  // Fault injection.
  void ArmCut(uint64_t nth_op, CutKind kind, uint64_t seed);
  void Disarm() { cut_at_ = 0; }
  void PowerOn() { power_lost_ = false; }
  bool power_lost() const { return power_lost_; }
  uint64_t ops() const { return ops_; }            // mutating operations since construction
  OpKind last_op_kind() const { return last_kind_; }
  bool cut_was_torn() const { return torn_; }

  // Sectors written (erased or programmed) since the last ClearDirty.
  void ClearDirty();
  bool Dirty(uint32_t sector) const { return sector < kMaxSectors && dirty_[sector] != 0; }
  // Per-sector erase counters (wear).
  uint32_t EraseCount(uint32_t sector) const { return sector < kMaxSectors ? erases_[sector] : 0; }

  // Records the kind of every mutating operation into log[0..cap) (index = ops() - 1 at the
  // time SetOpLog was called); nullptr stops recording.
  void SetOpLog(OpKind* log, uint64_t cap) {
    op_log_ = log;
    op_log_cap_ = cap;
    op_log_base_ = ops_;
  }

  const uint8_t* data() const { return mem_; }
  uint8_t* mutable_data() { return mem_; }

 private:
  node::Status BeforeOp(OpKind kind, bool* torn_now);
  uint64_t NextRandom();

  uint8_t* mem_ = nullptr;
  uint32_t size_ = 0;
  bool mapped_ = false;
  bool power_lost_ = false;
  uint64_t ops_ = 0;
  uint64_t cut_at_ = 0;  // absolute op number (1-based) that is cut; 0 = none
  CutKind cut_kind_ = CutKind::kClean;
  uint64_t rng_ = 1;
  bool torn_ = false;
  OpKind last_kind_ = OpKind::kErase;
  OpKind* op_log_ = nullptr;
  uint64_t op_log_cap_ = 0, op_log_base_ = 0;
  uint8_t dirty_[kMaxSectors] = {};
  uint32_t erases_[kMaxSectors] = {};
};

}  // namespace hostport
