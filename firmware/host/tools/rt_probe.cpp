// rt_probe: measures the INT8 runtime on the host, like fe_probe for the feature front-end.
//
//   rt_probe [--blob FILE]... [--runs N] [--no-timing] [--write-blobs DIR]
//
// Without --blob it uses the three built-in sample models (model_builder.h). For each model it
// prints one JSON line: pool_bytes, arena_bytes, macs, heap_allocs_during_inference (malloc /
// calloc / realloc and operator new counted while inferring; the binary links with -Wl,--wrap),
// stack_high_water_bytes (the runs happen on a pthread whose stack is a painted static buffer),
// ns_per_inference and an FNV-1a checksum of the decisions and outputs. Deterministic (fixed LCG
// windows) so that valgrind --tool=callgrind can count instructions per inference.
// --write-blobs writes the sample blobs (fuzz seeds). Test/bench support: NOT device code.
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
#include "edge_runtime/inference_runtime.h"
#include "model_builder.h"


namespace {


struct Job {
  edge::InferenceRuntime* rt = nullptr;
  const int16_t* windows = nullptr;
  size_t window_len = 0, runs = 0;
  bool idle = false, timing = true;
  uint64_t fnv = 1469598103934665603ull;
  int64_t ns = 0;
  int32_t status = FB_MODEL_OK;
};

void* RunJob(void* arg) {
  Job* j = static_cast<Job*>(arg);
  const auto t0 = std::chrono::steady_clock::now();
  fb::probe::CountAllocations(true);
  for (size_t k = 0; !j->idle && k < j->runs && j->status == FB_MODEL_OK; ++k) {
    int8_t d = -1;
    j->status = j->rt->run(j->windows + k * j->window_len, j->window_len, &d);
    j->fnv = (j->fnv ^ static_cast<uint8_t>(d)) * 1099511628211ull;
  }
  fb::probe::CountAllocations(false);
  const auto t1 = std::chrono::steady_clock::now();
  j->ns = j->timing ? std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count() : 0;
  return nullptr;
}

bool ReadFile(const std::string& path, std::vector<uint8_t>* out) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  uint8_t buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out->insert(out->end(), buf, buf + n);
  std::fclose(f);
  return true;
}

int Probe(const std::string& name, const std::vector<uint8_t>& blob, size_t runs, bool timing,
          size_t idle_stack) {
  size_t pool_bytes = 0;
  int32_t st = edge::InferenceRuntime::required_pool_bytes(blob.data(), blob.size(), &pool_bytes);
  if (st != FB_MODEL_OK) {
    std::fprintf(stderr, "rt_probe: %s: invalid blob (status %d)\n", name.c_str(), st);
    return 1;
  }
  std::vector<uint8_t> pool(pool_bytes);
  edge::InferenceRuntime rt;
  st = rt.init(blob.data(), blob.size(), pool.data(), pool.size());
  if (st == FB_MODEL_OK) {
    rt.set_integrity_verifier(&edge::CrcOnlyVerifier, nullptr);
    st = rt.verify_bundle_integrity();
  }
  if (st != FB_MODEL_OK) {
    std::fprintf(stderr, "rt_probe: %s: init failed (status %d)\n", name.c_str(), st);
    return 1;
  }
  const size_t n_in = rt.info().input_len;
  std::vector<int16_t> windows(n_in * runs);
  fbtest::Lcg lcg(12345u);
  for (auto& v : windows) v = static_cast<int16_t>(lcg.Int(-3000, 3000));
  Job job;
  job.rt = &rt;
  job.windows = windows.data();
  job.window_len = n_in;
  job.runs = runs;
  job.timing = timing;
  fb::probe::ResetAllocations();
  const size_t used = fb::probe::RunOnPaintedStack(RunJob, &job);
  if (job.status != FB_MODEL_OK) {
    std::fprintf(stderr, "rt_probe: %s: run failed (status %d)\n", name.c_str(), job.status);
    return 1;
  }
  std::printf(
      "{\"model\": \"%s\", \"pool_bytes\": %zu, \"arena_bytes\": %u, \"blob_bytes\": %zu, "
      "\"macs\": %u, \"heap_allocs_during_inference\": %ld, \"stack_high_water_bytes\": %zu, "
      "\"stack_idle_thread_bytes\": %zu, \"stack_inference_bytes\": %zu, \"runs\": %zu, "
      "\"ns_per_inference\": %.1f, \"fnv1a\": %llu}\n",
      name.c_str(), pool_bytes, rt.info().arena_bytes, blob.size(), rt.info().macs,
      fb::probe::Allocations(), used, idle_stack, used > idle_stack ? used - idle_stack : 0, runs,
      timing ? static_cast<double>(job.ns) / static_cast<double>(runs) : 0.0,
      static_cast<unsigned long long>(job.fnv));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> blobs;
  std::string write_dir;
  long runs = 100;
  bool timing = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--blob" && i + 1 < argc) {
      blobs.push_back(argv[++i]);
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::strtol(argv[++i], nullptr, 10);
    } else if (a == "--no-timing") {
      timing = false;
    } else if (a == "--write-blobs" && i + 1 < argc) {
      write_dir = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: rt_probe [--blob FILE]... [--runs N] [--no-timing] "
                   "[--write-blobs DIR]\n");
      return 2;
    }
  }
  if (runs < 1) return 2;
  const std::pair<const char*, fbtest::ModelBuilder> samples[] = {
      {"sample_autoencoder", fbtest::SampleAutoencoder()},
      {"sample_conv_classifier", fbtest::SampleConvClassifier()},
      {"sample_mixed_ops", fbtest::SampleMixedOps()}};
  if (!write_dir.empty()) {
    for (const auto& s : samples) {
      const auto b = s.second.Build();
      const std::string path = write_dir + "/" + s.first + ".fbim";
      FILE* f = std::fopen(path.c_str(), "wb");
      if (f == nullptr || std::fwrite(b.data(), 1, b.size(), f) != b.size()) return 1;
      std::fclose(f);
    }
    return 0;
  }
  // Warm-up thread (glibc's first thread start does one-time work) and the idle baseline: the
  // stack a thread touches without inferring (thread descriptor, TLS, clock reads).
  Job idle;
  idle.idle = true;
  (void)fb::probe::RunOnPaintedStack(RunJob, &idle);
  const size_t idle_stack = fb::probe::RunOnPaintedStack(RunJob, &idle);
  int rc = 0;
  if (blobs.empty()) {
    for (const auto& s : samples) rc |= Probe(s.first, s.second.Build(), runs, timing, idle_stack);
  }
  for (const std::string& path : blobs) {
    std::vector<uint8_t> b;
    if (!ReadFile(path, &b)) {
      std::fprintf(stderr, "rt_probe: cannot read %s\n", path.c_str());
      return 1;
    }
    rc |= Probe(path, b, static_cast<size_t>(runs), timing, idle_stack);
  }
  return rc;
}
