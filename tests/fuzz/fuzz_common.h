// Shared by the libFuzzer targets (tests/fuzz/fuzz_*.cc, built and run by tools/fuzz.sh): a small
// learner to learn what a target parsed, and the check that nothing non-finite reached its weights.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/learner.h"

namespace wabbit::fuzz {

// Small tables keep an execution cheap (a fresh learner per input, so a crash replays alone).
inline Config small_config() {
  Config c;
  c.bits = 10;
  return c;
}

// Aborts (a libFuzzer crash) if any stored float of the learner's table is NaN or infinite.
inline void require_finite(const Learner& l, const char* where) {
  const WeightTable& W = l.weights();
  const float* d = W.data();
  const size_t n = W.size_floats();
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(d[i])) {
      std::fprintf(stderr, "%s: non-finite value %g at float %zu of the weight table\n", where,
                   static_cast<double>(d[i]), i);
      std::abort();
    }
  }
}

inline std::string_view as_view(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace wabbit::fuzz
