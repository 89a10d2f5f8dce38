// edge::RingBuffer: the last `capacity` sample frames of an interleaved multi-channel stream.
//
// Storage is interleaved (frame-major) like the input, so a push is one contiguous copy per
// sample frame; extraction de-interleaves one channel of the latest L frames in time order
// (spec section 3, "extractWindow").
#ifndef EDGE_RUNTIME_RING_BUFFER_H_
#define EDGE_RUNTIME_RING_BUFFER_H_

#include <cstddef>
#include <cstdint>

namespace edge {

class RingBuffer {
 public:
  RingBuffer() = default;

  // `storage` holds capacity * channels int16 (from the pool); it is cleared here.
  void Attach(int16_t* storage, size_t capacity, size_t channels);
  void Clear();

  // Appends one sample frame (`channels` values).
  void Push(const int16_t* frame);

  // Copies the latest `len` samples of `channel` (oldest first) into dst. len <= capacity.
  // Samples never written read as 0 (the buffer starts cleared).
  void CopyLatest(size_t channel, size_t len, int16_t* dst) const;

  size_t capacity() const { return capacity_; }

 private:
  int16_t* data_ = nullptr;
  size_t capacity_ = 0;
  size_t channels_ = 0;
  size_t head_ = 0;  // index of the next frame to write, always < capacity_
};

}  // namespace edge

#endif  // EDGE_RUNTIME_RING_BUFFER_H_
