#include "edge_runtime/pool.h"

namespace edge {

Pool::Pool(void* mem, size_t bytes) {
  if (mem == nullptr) return;
  const uintptr_t addr = reinterpret_cast<uintptr_t>(mem);
  const uintptr_t aligned = (addr + (kAlign - 1)) & ~static_cast<uintptr_t>(kAlign - 1);
  const size_t skip = static_cast<size_t>(aligned - addr);
  if (skip > bytes) {
    overflowed_ = true;
    return;
  }
  base_ = static_cast<unsigned char*>(mem) + skip;
  capacity_ = bytes - skip;
}

void* Pool::TakeBytes(size_t bytes) {
  const size_t size = RoundUp(bytes);
  if (base_ == nullptr) {  // measuring
    used_ += size;
    return nullptr;
  }
  if (size > capacity_ - used_) {
    overflowed_ = true;
    return nullptr;
  }
  void* p = base_ + used_;
  used_ += size;
  return p;
}

}  // namespace edge
