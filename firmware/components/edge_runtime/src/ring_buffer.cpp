#include "edge_runtime/ring_buffer.h"

#include <cstring>

namespace edge {

void RingBuffer::Attach(int16_t* storage, size_t capacity, size_t channels) {
  data_ = storage;
  capacity_ = capacity;
  channels_ = channels;
  Clear();
}

void RingBuffer::Clear() {
  head_ = 0;
  if (data_ != nullptr) std::memset(data_, 0, capacity_ * channels_ * sizeof(int16_t));
}

void RingBuffer::Push(const int16_t* frame) {
  int16_t* dst = data_ + head_ * channels_;
  for (size_t c = 0; c < channels_; ++c) dst[c] = frame[c];
  head_ = (head_ + 1 == capacity_) ? 0 : head_ + 1;
}

void RingBuffer::CopyLatest(size_t channel, size_t len, int16_t* dst) const {
  // Oldest wanted frame is `len` frames behind head_ (mod capacity).
  size_t idx = head_ >= len ? head_ - len : head_ + capacity_ - len;
  for (size_t i = 0; i < len; ++i) {
    dst[i] = data_[idx * channels_ + channel];
    idx = (idx + 1 == capacity_) ? 0 : idx + 1;
  }
}

}  // namespace edge
