// Heap-allocation counting and painted-stack runs for the host probes (see probe_support.h).
#include "probe_support.h"

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocs{0};
inline void Count() {
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace

extern "C" {
void* __real_malloc(size_t size);
void* __real_calloc(size_t n, size_t size);
void* __real_realloc(void* p, size_t size);
void __real_free(void* p);
void* __wrap_malloc(size_t size) {
  Count();
  return __real_malloc(size);
}
void* __wrap_calloc(size_t n, size_t size) {
  Count();
  return __real_calloc(n, size);
}
void* __wrap_realloc(void* p, size_t size) {
  Count();
  return __real_realloc(p, size);
}
void __wrap_free(void* p) { __real_free(p); }
}

void* operator new(size_t size) {
  Count();
  void* p = __real_malloc(size == 0 ? 1 : size);
  if (p == nullptr) std::abort();
  return p;
}
void* operator new[](size_t size) { return operator new(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  Count();
  return __real_malloc(size == 0 ? 1 : size);
}
void* operator new[](size_t size, const std::nothrow_t& nt) noexcept {
  return operator new(size, nt);
}
void operator delete(void* p) noexcept { __real_free(p); }
void operator delete[](void* p) noexcept { __real_free(p); }
void operator delete(void* p, size_t) noexcept { __real_free(p); }
void operator delete[](void* p, size_t) noexcept { __real_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { __real_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { __real_free(p); }

namespace fb::probe {
void CountAllocations(bool on) { g_counting.store(on); }
long Allocations() { return g_allocs.load(); }
void ResetAllocations() { g_allocs.store(0); }

namespace {
constexpr unsigned char kPaint = 0xA5;
alignas(64) unsigned char g_stack[256 * 1024];
}  // namespace

size_t RunOnPaintedStack(void* (*fn)(void*), void* arg, uintptr_t* lowest) {
  std::memset(g_stack, kPaint, sizeof(g_stack));
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, g_stack, sizeof(g_stack));
  pthread_t t;
  if (pthread_create(&t, &attr, fn, arg) != 0) {
    std::fprintf(stderr, "probe: pthread_create failed\n");
    std::exit(2);
  }
  pthread_join(t, nullptr);
  pthread_attr_destroy(&attr);
  // The stack grows down from the top of g_stack: untouched bytes are at the bottom.
  size_t untouched = 0;
  while (untouched < sizeof(g_stack) && g_stack[untouched] == kPaint) ++untouched;
  if (lowest != nullptr) *lowest = reinterpret_cast<uintptr_t>(g_stack + untouched);
  return sizeof(g_stack) - untouched;
}
}  // namespace fb::probe
