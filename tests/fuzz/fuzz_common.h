// Shared by the libFuzzer targets (tests/fuzz/fuzz_*.cc, built and run by tools/fuzz.sh): a small
// learner to learn what a target parsed, and the check that nothing non-finite reached its weights.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "core/learner.h"

// The target's own loops over the weight table are not instrumented for coverage: they would make
// libFuzzer trace a compare per float (most of an execution's time), and they find nothing.
#if defined(__clang__)
#define WABBIT_FUZZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define WABBIT_FUZZ_NO_COVERAGE
#endif

namespace wabbit::fuzz {

// Small tables keep an execution cheap.
inline Config small_config() {
  Config c;
  c.bits = 10;
  return c;
}

// A learner of small_config() made once and reset (weights, online state, the models' offset) before
// each use: every input starts from the same fresh model, as if the learner were new, so a crash
// replays alone, without paying a learner's construction per input.
inline Learner& fresh_learner() {
  static Learner learner(small_config());
  learner.reset();
  learner.set_offset(0);
  return learner;
}

// Aborts (a libFuzzer crash) if any stored float of the learner's table is NaN or infinite.
WABBIT_FUZZ_NO_COVERAGE inline void require_finite(const Learner& l, const char* where) {
  const WeightTable& W = l.weights();
  const float* d = W.data();
  const size_t n = W.size_floats();
  uint32_t all = 0;  // the OR of every float's exponent field that is all ones (inf or NaN)
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, d + i, 4);
    all |= (bits & 0x7f800000u) == 0x7f800000u ? 1u : 0u;
  }
  if (all == 0) return;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(d[i])) {
      std::fprintf(stderr, "%s: non-finite value %g at float %zu of the weight table (slot %zu of row %zu)\n", where,
                   static_cast<double>(d[i]), i, i % W.stride(), i / W.stride());
      std::abort();
    }
  }
}

inline std::string_view as_view(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace wabbit::fuzz
