// Little-endian record access into a model blob (model_format.h). Internal to the runtime.
// Records are copied out with memcpy: the blob may sit at any alignment (flash, Python bytes).
#ifndef EDGE_RUNTIME_SRC_RUNTIME_MODEL_ACCESS_H_
#define EDGE_RUNTIME_SRC_RUNTIME_MODEL_ACCESS_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edge_runtime/model_format.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the model blob reader assumes a little-endian target"
#endif

namespace edge {
namespace model {

inline fb_model_header LoadHeader(const uint8_t* blob) {
  fb_model_header h;
  memcpy(&h, blob, sizeof h);
  return h;
}

inline fb_model_tensor LoadTensor(const uint8_t* blob, uint32_t index) {
  fb_model_tensor t;
  memcpy(&t, blob + FB_MODEL_HEADER_BYTES + index * FB_MODEL_TENSOR_BYTES, sizeof t);
  return t;
}

inline fb_model_layer LoadLayer(const uint8_t* blob, uint32_t n_tensors, uint32_t index) {
  fb_model_layer l;
  memcpy(&l,
         blob + FB_MODEL_HEADER_BYTES + n_tensors * FB_MODEL_TENSOR_BYTES +
             index * FB_MODEL_LAYER_BYTES,
         sizeof l);
  return l;
}

inline float LoadF32(const uint8_t* p) {
  float f;
  memcpy(&f, p, sizeof f);
  return f;
}

inline int32_t LoadI32(const uint8_t* p) {
  int32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

inline uint32_t F32Bits(float f) {
  uint32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

// Finite (not inf/NaN).
inline bool IsFinite(float f) { return (F32Bits(f) & 0x7F800000u) != 0x7F800000u; }
// Finite, > 0 and normal (no subnormal scales).
inline bool IsPositiveNormal(float f) {
  const uint32_t b = F32Bits(f);
  const uint32_t e = b & 0x7F800000u;
  return (b & 0x80000000u) == 0 && e != 0 && e != 0x7F800000u;
}

// Element count in 64 bits (dims are u16, rank <= 4: cannot overflow).
inline uint64_t Numel(const fb_model_tensor& t) {
  uint64_t n = 1;
  for (uint32_t i = 0; i < t.rank && i < FB_MODEL_MAX_RANK; ++i) n *= t.dims[i];
  return n;
}

// CRC-32/ISO-HDLC (zlib.crc32), bitwise: small code, no table in RAM.
uint32_t Crc32(const uint8_t* data, size_t len);

}  // namespace model
}  // namespace edge

#endif  // EDGE_RUNTIME_SRC_RUNTIME_MODEL_ACCESS_H_
