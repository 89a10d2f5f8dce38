// A tiny assertion harness for the host ctest executables (no external framework).
#ifndef FIELDBENCH_HOST_TEST_UTIL_H_
#define FIELDBENCH_HOST_TEST_UTIL_H_

#include <cstdio>
#include <cstdlib>

namespace fbtest {
inline int& Failures() {
  static int failures = 0;
  return failures;
}
}  // namespace fbtest

#define FB_CHECK(cond)                                                              \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++fbtest::Failures();                                                         \
    }                                                                               \
  } while (0)

#define FB_CHECK_EQ(a, b)                                                                          \
  do {                                                                                             \
    const long long fb_a_ = static_cast<long long>(a);                                             \
    const long long fb_b_ = static_cast<long long>(b);                                             \
    if (fb_a_ != fb_b_) {                                                                          \
      std::fprintf(stderr, "%s:%d: CHECK_EQ failed: %s (%lld) != %s (%lld)\n", __FILE__, __LINE__, \
                   #a, fb_a_, #b, fb_b_);                                                          \
      ++fbtest::Failures();                                                                        \
    }                                                                                              \
  } while (0)

#define FB_TEST_MAIN_END()                                              \
  do {                                                                  \
    if (fbtest::Failures() != 0) {                                      \
      std::fprintf(stderr, "%d check(s) failed\n", fbtest::Failures()); \
      return EXIT_FAILURE;                                              \
    }                                                                   \
    std::printf("ok\n");                                                \
    return EXIT_SUCCESS;                                                \
  } while (0)

#endif  // FIELDBENCH_HOST_TEST_UTIL_H_
