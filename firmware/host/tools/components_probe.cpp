// components_probe: the device components (FBTH / FBCA / FBSV, node/health_check.h) through the
// node's own parser, for the Python round-trip tests (tests/bundle/test_bundle_components*.py).
//
//   components_probe check MODEL THRESHOLDS CALIBRATION SELFTEST
//       loads the four files into a host flash buffer and runs node::BundleApp::Load + SelfTest
//       (the health check minus liveness) with the model digest as the integrity hook; prints
//       one JSON object: failure name, vectors, passed, detail, the parsed threshold (f32 bits),
//       default offset, plan fields, frame and input lengths.
//   components_probe emit DIR
//       writes the components the C++ node tests build (test_node_bundle_support.h: model,
//       thresholds, calibration with offset 3, six raw self-test recordings with the host
//       build's expectations) as DIR/{model.fbm,thresholds.bin,calibration.bin,selftest.bin}.
// Host tool: heap and std containers are fine here.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "test_node_bundle_support.h"

namespace {

std::vector<uint8_t> ReadFile(const char* path, bool* ok) {
  std::ifstream in(path, std::ios::binary);
  *ok = static_cast<bool>(in);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool WriteFile(const std::string& path, const std::vector<uint8_t>& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(out);
}

int Check(char** files) {
  namespace eb = edge::bundle;
  const int kinds[4] = {eb::kComponentModel, eb::kComponentThresholds, eb::kComponentCalibration,
                        eb::kComponentSelfTest};
  std::vector<uint8_t> data[4];
  for (int i = 0; i < 4; ++i) {
    bool ok = false;
    data[i] = ReadFile(files[i], &ok);
    if (!ok) {
      std::fprintf(stderr, "components_probe: cannot read %s\n", files[i]);
      return 2;
    }
  }
  node::SlotComponents comps;
  std::memset(&comps, 0, sizeof comps);
  comps.valid = true;
  uint32_t addr = 0x1000;
  for (int i = 0; i < 4; ++i) {
    comps.addr[kinds[i]] = addr;
    comps.size[kinds[i]] = static_cast<uint32_t>(data[i].size());
    addr += (static_cast<uint32_t>(data[i].size()) + 0xFFFu) & ~0xFFFu;
    addr += 0x1000;
  }
  std::vector<uint8_t> mem(addr, 0xFF);
  for (int i = 0; i < 4; ++i) {
    if (!data[i].empty()) std::memcpy(mem.data() + comps.addr[kinds[i]], data[i].data(), data[i].size());
  }
  node::Sha256 sha;
  sha.Update(data[0].data(), data[0].size());
  sha.Final(comps.model_digest.sha256);
  comps.model_digest.size = static_cast<uint32_t>(data[0].size());
  comps.model_digest.valid = true;

  hostport::HostFlash flash;
  if (flash.UseBuffer(mem.data(), static_cast<uint32_t>(mem.size())) != node::Status::kOk) return 2;
  static bt::Buffers b;
  node::HealthBuffers buf{b.fe_pool, sizeof b.fe_pool, b.rt_pool, sizeof b.rt_pool,
                          b.model, sizeof b.model, b.calib, sizeof b.calib,
                          b.window, 1024, b.samples, 768, b.frames, 256, nullptr, nullptr};
  static node::BundleApp app;
  node::HealthReport report;
  std::memset(&report, 0, sizeof report);
  report.live_decision = -1;
  node::HealthFailure f = app.Load(flash, comps, buf, &report.detail);
  if (f == node::HealthFailure::kNone) f = app.SelfTest(flash, nullptr, &report);
  uint32_t tbits = 0;
  const float t = app.bundle_threshold();
  std::memcpy(&tbits, &t, 4);
  std::printf(
      "{\"failure\": \"%s\", \"vectors\": %u, \"passed\": %u, \"detail\": %d, "
      "\"threshold_bits\": %u, \"default_offset\": %d, \"channels\": %u, \"frame_len\": %u, "
      "\"input_len\": %u}\n",
      node::HealthFailureName(f), static_cast<unsigned>(report.vectors),
      static_cast<unsigned>(report.passed), static_cast<int>(report.detail),
      static_cast<unsigned>(tbits), static_cast<int>(app.default_offset()), app.channels(),
      app.frame_len(), static_cast<unsigned>(app.loaded() ? app.runtime().info().input_len : 0));
  return 0;
}

int Emit(const std::string& dir) {
  bt::Signer signer(1);
  bt::BundleSpec sp;
  sp.vectors = 6;
  sp.offset = 3;
  const bt::BuiltBundle b = bt::BuildBundle(signer, sp);
  namespace eb = edge::bundle;
  const bool ok = WriteFile(dir + "/model.fbm", b.comps[eb::kComponentModel]) &&
                  WriteFile(dir + "/thresholds.bin", b.comps[eb::kComponentThresholds]) &&
                  WriteFile(dir + "/calibration.bin", b.comps[eb::kComponentCalibration]) &&
                  WriteFile(dir + "/selftest.bin", b.comps[eb::kComponentSelfTest]);
  if (!ok) {
    std::fprintf(stderr, "components_probe: cannot write into %s\n", dir.c_str());
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 6 && std::strcmp(argv[1], "check") == 0) return Check(argv + 2);
  if (argc == 3 && std::strcmp(argv[1], "emit") == 0) return Emit(argv[2]);
  std::fprintf(stderr,
               "usage: components_probe check MODEL THRESHOLDS CALIBRATION SELFTEST\n"
               "       components_probe emit DIR\n");
  return 2;
}
