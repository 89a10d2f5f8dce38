// What the host probes (fe_probe, rt_probe) measure: heap allocations — malloc/calloc/realloc
// through the linker's --wrap and every operator new; link probe_support.cpp into the probe with
//   -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc -Wl,--wrap=free
// — and the stack high-water mark of a job run on a painted stack.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fb::probe {

// Counting is off until turned on; turning it off keeps the count.
void CountAllocations(bool on);
long Allocations();
void ResetAllocations();

// Runs fn(arg) on a thread whose 256 KiB stack is painted first; returns the bytes of it ever
// written (glibc also keeps the thread descriptor and TLS at its top). *lowest, when given,
// receives the lowest written address. Exits with status 2 if the thread cannot start.
size_t RunOnPaintedStack(void* (*fn)(void*), void* arg, uintptr_t* lowest = nullptr);

}  // namespace fb::probe
