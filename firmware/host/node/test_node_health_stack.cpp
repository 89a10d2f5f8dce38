// Stack high-water marks and heap use of the node's entry points on the host build: each runs on
// a pthread whose stack is a painted static buffer (64 KiB); the binary wraps malloc / calloc /
// realloc / free and operator new (like rt_probe) and counts allocations during each entry point.
//
// Entry points: boot (NodeBoot::Run of a trial: verification + health check + confirm), health
// check (BundleApp::Check), link dispatch (HELLO, GET_STATUS: both slots verified), OTA_BEGIN,
// OTA chunk, OTA_END (whole-bundle verification), inference (one window of samples through the
// front end and the INT8 runtime).
// Checked: no heap in the OTA chunk, health check and inference paths; every allocation that does
// happen (mbedTLS's bignums inside the ECDSA verify — on the device they go to a static
// MBEDTLS_MEMORY_BUFFER_ALLOC_C buffer) is freed before the entry point returns; every
// high-water mark is below the 16 KiB budget of a node task.
#include <pthread.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "test_node_bundle_support.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocs{0}, g_frees{0};
}  // namespace

// malloc & co. are interposed (glibc's __libc_* underneath), so that allocations inside the
// shared mbedTLS library are counted too — a --wrap would only see the statically linked code.
extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t n, size_t size);
void* __libc_realloc(void* p, size_t size);
void __libc_free(void* p);
void* malloc(size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1);
  return __libc_malloc(size);
}
void* calloc(size_t n, size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1);
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocs.fetch_add(1);
  return __libc_realloc(p, size);
}
void free(void* p) {
  if (p != nullptr && g_counting.load(std::memory_order_relaxed)) g_frees.fetch_add(1);
  __libc_free(p);
}
}

void* operator new(size_t size) {
  void* p = malloc(size == 0 ? 1 : size);
  if (p == nullptr) std::abort();
  return p;
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }
void operator delete[](void* p, size_t) noexcept { free(p); }

using namespace bt;

namespace {

constexpr size_t kStackBytes = 64 * 1024;
constexpr size_t kBudget = 16 * 1024;
constexpr unsigned char kPaint = 0xA5;
alignas(64) unsigned char g_stack[kStackBytes];

struct Job {
  void (*fn)(void*);
  void* ctx;
};

void* RunJob(void* arg) {
  Job* j = static_cast<Job*>(arg);
  g_counting.store(true);
  j->fn(j->ctx);
  g_counting.store(false);
  return nullptr;
}

struct Figure {
  std::string name;
  size_t stack;
  long allocs, frees;
};
std::vector<Figure> g_figures;

void Measure(const char* name, void (*fn)(void*), void* ctx) {
  std::memset(g_stack, kPaint, sizeof g_stack);
  g_allocs = 0;
  g_frees = 0;
  Job job{fn, ctx};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, g_stack, sizeof g_stack);
  pthread_t t;
  NT_CHECK(pthread_create(&t, &attr, RunJob, &job) == 0);
  pthread_join(t, nullptr);
  pthread_attr_destroy(&attr);
  size_t untouched = 0;
  while (untouched < sizeof g_stack && g_stack[untouched] == kPaint) ++untouched;
  g_figures.push_back({name, sizeof g_stack - untouched, g_allocs.load(), g_frees.load()});
}

struct Ctx {
  Board* board;
  Host* host;
  node::NodeBoot* boot;
  std::vector<uint8_t> frame;
  const BuiltBundle* bundle;
  node::BootSummary summary;
  node::HealthReport report;
  node::HealthFailure failure;
  int16_t samples[3 * 400];
  int32_t windows;
};

std::vector<uint8_t> Encode(uint8_t type, const std::vector<uint8_t>& payload, uint32_t seq) {
  std::vector<uint8_t> raw(lk::kMaxRawFrame), wire(lk::kMaxEncoded + 1);
  const uint32_t n = lk::EncodeFrame(type, 0, seq, payload.data(), static_cast<uint32_t>(payload.size()),
                                     raw.data(), wire.data());
  NT_CHECK(n > 0);
  wire.resize(n);
  return wire;
}

void FeedFrame(void* p) {
  Ctx* c = static_cast<Ctx*>(p);
  c->host->ep().Feed(c->frame.data(), static_cast<uint32_t>(c->frame.size()));
}

}  // namespace

int main() {
  const Signer signer(1);
  static Ctx c;
  Board board(signer);
  c.board = &board;
  BundleSpec sa, sb;
  sb.id = "bundle-B";
  sb.epoch = 2;
  sb.seed = 2;
  const BuiltBundle a = BuildBundle(signer, sa), b = BuildBundle(signer, sb);
  ProvisionBundle(board.mem(), a, 0, 1, 0);
  board.LoadLayout();
  NT_CHECK(board.BootUntilStable().version == "bundle-A");

  // Link dispatch and OTA on the running firmware (objects built before: init).
  {
    Host host(board);
    c.host = &host;
    c.bundle = &b;
    uint32_t seq = 100;
    c.frame = Encode(lk::kHello, {1, 1, 0, 0}, seq++);
    Measure("link dispatch: HELLO (INFO + status, both slots verified)", FeedFrame, &c);
    c.frame = Encode(lk::kGetStatus, {}, seq++);
    Measure("link dispatch: GET_STATUS", FeedFrame, &c);
    c.frame = Encode(lk::kOtaBegin, Host::Begin(b), seq++);
    Measure("OTA_BEGIN (prefix verified)", FeedFrame, &c);
    c.frame = Encode(lk::kOtaChunk, Host::Chunk(b, 0), seq++);
    Measure("OTA chunk (program, read back, journal)", FeedFrame, &c);
    NT_CHECK(host.ep().durable_offset() == 4096);
    for (uint32_t off = 4096; off < b.file.size(); off += 4096) {
      c.frame = Encode(lk::kOtaChunk, Host::Chunk(b, off), seq++);
      FeedFrame(&c);
    }
    c.frame = Encode(lk::kOtaEnd, {}, seq++);
    Measure("OTA_END (whole bundle verified, slot manifest)", FeedFrame, &c);
    NT_CHECK(host.ep().ota_phase() == lk::OtaPhase::kVerified);
    NT_CHECK(host.Request(lk::kOtaCommit, {}).error() == 0);
  }
  // The trial boot of B: bootloader, then the boot flow on the painted stack.
  int slot = -1;
  NT_CHECK(board.board().PowerOn(&slot) == node::Status::kOk && slot == 1);
  static node::NodeBoot* nb = new node::NodeBoot(board.port(), board.board().layout(), board.config());
  c.boot = nb;
  Measure("boot (verify + health check + confirm)", [](void* p) {
    Ctx* cx = static_cast<Ctx*>(p);
    cx->summary = cx->boot->Run();
  }, &c);
  NT_CHECK(c.summary.outcome == node::BootOutcome::kConfirmed && board.efuse().Read() == 2);
  Measure("health check (self-test vectors + liveness)", [](void* p) {
    Ctx* cx = static_cast<Ctx*>(p);
    cx->failure = cx->boot->app().Check(*cx->board->port().flash, cx->boot->verifier().components(1),
                                        cx->board->config().buffers, cx->board->port().sensor, nullptr,
                                        &cx->report);
  }, &c);
  NT_CHECK(c.failure == node::HealthFailure::kNone && c.report.passed == c.report.vectors);
  nb->ApplyPersistedCalibration();
  NT_CHECK(board.sensor().Read(c.samples, 400) == 400);
  Measure("inference (features -> INT8 -> decision, one window)", [](void* p) {
    Ctx* cx = static_cast<Ctx*>(p);
    int8_t d = -1;
    int32_t st = 0;
    cx->windows = cx->boot->app().Process(cx->samples, 400, &d, &st);
  }, &c);
  NT_CHECK(c.windows == 1);

  bool ok = true;
  std::printf("node entry points on a painted %zu KiB stack (budget %zu KiB):\n", kStackBytes / 1024, kBudget / 1024);
  for (const Figure& f : g_figures) {
    std::printf("  %-58s stack %6zu B  heap allocs %4ld (freed %ld)\n", f.name.c_str(), f.stack, f.allocs, f.frees);
    ok = ok && f.stack < kBudget && f.allocs == f.frees;
    const bool must_be_heap_free = f.name.rfind("OTA chunk", 0) == 0 || f.name.rfind("health", 0) == 0 ||
                                   f.name.rfind("inference", 0) == 0;
    if (must_be_heap_free && f.allocs != 0) ok = false;
  }
  NT_CHECK(ok);
  std::printf("test_node_health_stack: ok\n");
  return 0;
}
