// fe_probe: measures the device library on the host for the two standard recipes.
//
//   fe_probe --recipe audio|vibration [--hops N] [--no-timing]
//
// Prints one JSON line: pool_bytes, heap_allocs_during_extraction (malloc/calloc/realloc and
// every operator new counted while streaming; the binary links with -Wl,--wrap for the C
// allocators and replaces the global operator new), stack_high_water_bytes (the streaming run
// happens on a pthread whose stack is a painted static buffer), hops and ns_per_hop.
// Deterministic (fixed LCG signal) so it can run under valgrind --tool=callgrind.
// Test/bench support only: NOT part of the device library.
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "probe_support.h"
#include "edge_runtime/feature_capi.h"
#include "plan_builder.h"


// ---- the measured run --------------------------------------------------------------------------
namespace {


struct Job {
  fb_fe_handle* h = nullptr;
  const int16_t* signal = nullptr;
  size_t channels = 0, seg_len = 0, hop = 0, hops = 0, frame_len = 0;
  int16_t* out = nullptr;  // one frame
  bool idle = false;       // warm-up run: same thread setup, no extraction
  uintptr_t entry_sp = 0;
  bool timing = true;
  long frames = 0;
  int64_t ns = 0;
  int32_t status = FB_OK;
};

void* RunJob(void* arg) {
  Job* j = static_cast<Job*>(arg);
  // Stack depth at entry of the thread function: everything below it that gets touched is the
  // extraction (plus the clock reads around it).
  volatile unsigned char marker = 0;
  j->entry_sp = reinterpret_cast<uintptr_t>(&marker);
  const auto t0 = std::chrono::steady_clock::now();
  fb::probe::CountAllocations(true);
  if (j->idle) {
    fb::probe::CountAllocations(false);
    j->ns = (std::chrono::steady_clock::now() - t0).count();
    return nullptr;
  }
  // First push fills one segment, then one hop per call: exactly `hops` frames.
  size_t got = 0;
  j->status = fb_fe_push(j->h, j->signal, j->seg_len, j->out, 1, &got);
  j->frames += static_cast<long>(got);
  for (size_t k = 1; k < j->hops && j->status == FB_OK; ++k) {
    const int16_t* src = j->signal + (j->seg_len + (k - 1) * j->hop) * j->channels;
    j->status = fb_fe_push(j->h, src, j->hop, j->out, 1, &got);
    j->frames += static_cast<long>(got);
  }
  fb::probe::CountAllocations(false);
  const auto t1 = std::chrono::steady_clock::now();
  j->ns = j->timing ? std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count() : 0;
  return nullptr;
}

int Usage() {
  std::fprintf(stderr, "usage: fe_probe --recipe audio|vibration [--hops N] [--no-timing]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string recipe;
  long hops = 1000;
  bool timing = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--recipe" && i + 1 < argc) {
      recipe = argv[++i];
    } else if (a == "--hops" && i + 1 < argc) {
      hops = std::strtol(argv[++i], nullptr, 10);
    } else if (a == "--no-timing") {
      timing = false;
    } else {
      return Usage();
    }
  }
  if ((recipe != "audio" && recipe != "vibration") || hops < 1) return Usage();

  const fbtest::OwnedPlan owned(recipe == "audio" ? fbtest::AudioRecipe()
                                                  : fbtest::VibrationRecipe());
  const fb_fe_plan plan = owned.plan();
  size_t pool_bytes = 0;
  if (owned.band_error || fb_fe_pool_bytes(&plan, &pool_bytes) != FB_OK) {
    std::fprintf(stderr, "fe_probe: invalid plan\n");
    return 1;
  }
  std::vector<unsigned char> pool(pool_bytes);
  fb_fe_handle* h = nullptr;
  if (fb_fe_init(&plan, pool.data(), pool.size(), &h) != FB_OK) return 1;
  size_t frame_len = 0, seg_len = 0;
  fb_fe_frame_len(h, &frame_len);
  fb_fe_segment_len(h, &seg_len);

  // Deterministic test signal: LCG noise plus a square wave, per channel.
  const size_t ch = plan.channels, hop = plan.hop_length;
  const size_t total = seg_len + static_cast<size_t>(hops - 1) * hop;
  std::vector<int16_t> signal(total * ch);
  uint32_t lcg = 12345u;
  for (size_t i = 0; i < signal.size(); ++i) {
    lcg = lcg * 1664525u + 1013904223u;
    const int noise = static_cast<int>(lcg >> 20) - 2048;
    const int square = ((i / ch) / (8 + 3 * (i % ch))) % 2 == 0 ? 6000 : -6000;
    signal[i] = static_cast<int16_t>(noise + square);
  }
  std::vector<int16_t> out(frame_len);

  // One warm-up thread first: glibc's first thread start does one-time work that would
  // otherwise be charged to the measured run.
  Job idle;
  idle.idle = true;
  uintptr_t lowest = 0;
  (void)fb::probe::RunOnPaintedStack(RunJob, &idle, &lowest);

  Job job;
  job.h = h;
  job.signal = signal.data();
  job.channels = ch;
  job.seg_len = seg_len;
  job.hop = hop;
  job.hops = static_cast<size_t>(hops);
  job.frame_len = frame_len;
  job.out = out.data();
  job.timing = timing;
  const size_t used = fb::probe::RunOnPaintedStack(RunJob, &job, &lowest);
  const size_t below_entry = job.entry_sp > lowest ? job.entry_sp - lowest : 0;
  if (job.status != FB_OK || job.frames != hops) {
    std::fprintf(stderr, "fe_probe: extraction failed (status %d, %ld frames)\n", job.status,
                 job.frames);
    return 1;
  }
  uint64_t checksum = 1469598103934665603ull;  // FNV-1a of the last frame
  for (int16_t v : out) checksum = (checksum ^ static_cast<uint16_t>(v)) * 1099511628211ull;

  std::printf(
      "{\"recipe\": \"%s\", \"pool_bytes\": %zu, \"heap_allocs_during_extraction\": %ld, "
      "\"stack_high_water_bytes\": %zu, \"stack_below_thread_entry_bytes\": %zu, "
      "\"hops\": %ld, \"ns_per_hop\": %.1f, "
      "\"frame_len\": %zu, \"segment_len\": %zu, \"last_frame_fnv1a\": %llu}\n",
      recipe.c_str(), pool_bytes, fb::probe::Allocations(), used, below_entry, hops,
      timing ? static_cast<double>(job.ns) / static_cast<double>(hops) : 0.0, frame_len, seg_len,
      static_cast<unsigned long long>(checksum));
  return 0;
}
