// edge::Pool: a bump allocator over one caller-provided block of memory.
//
// The device library never calls malloc/new: every buffer is carved from the pool once, at init.
// A Pool constructed over nullptr only measures, which is how fb_fe_pool_bytes() computes the
// exact size fb_fe_init() will use (both run the same layout code, so they cannot disagree).
#ifndef EDGE_RUNTIME_POOL_H_
#define EDGE_RUNTIME_POOL_H_

#include <cstddef>
#include <cstdint>

namespace edge {

class Pool {
 public:
  // Every block starts on this boundary (enough for uint64_t and pointers on all targets).
  static constexpr size_t kAlign = 8;

  // Measuring pool: Take() returns nullptr but accounts sizes.
  Pool() = default;
  // Carving pool over [mem, mem + bytes). The first block is aligned by pointer arithmetic.
  Pool(void* mem, size_t bytes);

  // Returns `count` uninitialised T, aligned to kAlign, or nullptr when measuring / exhausted.
  template <typename T>
  T* Take(size_t count) {
    static_assert(alignof(T) <= kAlign, "Pool alignment too small for T");
    return static_cast<T*>(TakeBytes(count * sizeof(T)));
  }

  void* TakeBytes(size_t bytes);

  // Bytes taken so far, including the padding that rounds each block to kAlign.
  size_t used() const { return used_; }
  bool overflowed() const { return overflowed_; }

  // Pool size that guarantees `used` bytes fit whatever the alignment of the caller's pointer.
  static size_t RequiredFor(size_t used) { return used + (kAlign - 1); }

 private:
  static size_t RoundUp(size_t v) { return (v + (kAlign - 1)) & ~(kAlign - 1); }

  unsigned char* base_ = nullptr;  // aligned start, nullptr when measuring
  size_t capacity_ = 0;            // bytes available from base_
  size_t used_ = 0;
  bool overflowed_ = false;
};

}  // namespace edge

#endif  // EDGE_RUNTIME_POOL_H_
