// Test helper: a plan + pool + handle in one RAII object (host only; uses the heap).
#ifndef FIELDBENCH_HOST_FE_SESSION_H_
#define FIELDBENCH_HOST_FE_SESSION_H_

#include <cstdint>
#include <vector>

#include "edge_runtime/feature_capi.h"
#include "plan_builder.h"

namespace fbtest {

struct Session {
  explicit Session(const fb_fe_plan& p) : plan(p) {
    status = fb_fe_pool_bytes(&plan, &pool_bytes);
    if (status != FB_OK) return;
    pool.resize(pool_bytes);
    status = fb_fe_init(&plan, pool.data(), pool.size(), &h);
    if (status != FB_OK) return;
    fb_fe_frame_len(h, &frame_len);
    fb_fe_segment_len(h, &seg_len);
  }
  // Feature frames of every complete segment of an interleaved recording (spec section 3).
  std::vector<int16_t> Batch(const std::vector<int16_t>& rec, size_t* n_frames) const {
    const size_t ch = plan.channels;
    const size_t total = rec.size() / ch;
    size_t n = total >= seg_len ? 1 + (total - seg_len) / plan.hop_length : 0;
    std::vector<int16_t> segs;
    segs.reserve(n * seg_len * ch);
    for (size_t k = 0; k < n; ++k) {
      const size_t off = k * plan.hop_length * ch;
      segs.insert(segs.end(), rec.begin() + static_cast<long>(off),
                  rec.begin() + static_cast<long>(off + seg_len * ch));
    }
    std::vector<int16_t> out(n * frame_len);
    if (n > 0) fb_fe_extract_batch(h, segs.data(), n, out.data());
    *n_frames = n;
    return out;
  }
  fb_fe_plan plan;
  std::vector<unsigned char> pool;
  size_t pool_bytes = 0, frame_len = 0, seg_len = 0;
  fb_fe_handle* h = nullptr;
  int32_t status = FB_ERR_NULL;
};

}  // namespace fbtest

#endif  // FIELDBENCH_HOST_FE_SESSION_H_
