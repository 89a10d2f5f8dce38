// Counts heap allocations of a host probe (fe_probe, rt_probe): malloc/calloc/realloc through the
// linker's --wrap and every operator new. Link alloc_counter.cpp into the probe with
//   -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc -Wl,--wrap=free
#pragma once

namespace fb::probe {

// Counting is off until turned on; turning it off keeps the count.
void CountAllocations(bool on);
long Allocations();
void ResetAllocations();

}  // namespace fb::probe
