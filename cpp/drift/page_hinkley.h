// Page-Hinkley: one drift detector (the interface and the shared pieces: drift/detector.h).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <tuple>
#include <vector>

#include "drift/detector.h"

namespace wabbit::drift {

// Page-Hinkley (Page 1954): cumulative deviations from the running mean, with a forgetting
// factor, tested against their running extremes.
class PageHinkley : public detail::FlatState<PageHinkley> {
 public:
  enum class Mode { kUp, kDown, kBoth };
  struct Params {
    int64_t min_instances = 30;
    double delta = 0.005;
    double threshold = 50.0;
    double alpha = 1 - 0.0001;
    Mode mode = Mode::kBoth;
  };

  explicit PageHinkley(const Params& p) : p_(p) {
    min_instances_ = static_cast<double>(p.min_instances);
    reset();
  }

  const Params& params() const { return p_; }

  bool update(double x) {
    if (drift_) reset();
    mean_.add(x);
    const double dev = x - mean_.mean;
    sum_increase_ = p_.alpha * sum_increase_ + dev - p_.delta;
    sum_decrease_ = p_.alpha * sum_decrease_ + dev + p_.delta;
    if (sum_increase_ < min_increase_) min_increase_ = sum_increase_;
    if (sum_decrease_ > max_decrease_) max_decrease_ = sum_decrease_;
    if (mean_.n >= min_instances_) {
      const bool up = sum_increase_ - min_increase_ > p_.threshold;
      const bool down = max_decrease_ - sum_decrease_ > p_.threshold;
      drift_ = p_.mode == Mode::kUp ? up : p_.mode == Mode::kDown ? down : (up || down);
    }
    return drift_;
  }
  bool drift_detected() const { return drift_; }
  bool warning_detected() const { return false; }

  void reset() {
    mean_ = {};
    sum_increase_ = sum_decrease_ = 0.0;
    min_increase_ = std::numeric_limits<double>::infinity();
    max_decrease_ = -1.0;
    drift_ = false;
  }

 private:
  // The state vector (state(), set_state(): detail::FlatState):
  // [n, mean, sum_increase, sum_decrease, min_increase, max_decrease, drift]
  friend class detail::FlatState<PageHinkley>;
  static constexpr const char* kStateName = "PageHinkley";
  template <class Self>
  static auto fields(Self& d) {
    return std::tie(d.mean_, d.sum_increase_, d.sum_decrease_, d.min_increase_, d.max_decrease_, d.drift_);
  }

  Params p_;
  double min_instances_ = 0.0;
  detail::RunningMean mean_;
  double sum_increase_ = 0.0, sum_decrease_ = 0.0, min_increase_ = 0.0, max_decrease_ = 0.0;
  bool drift_ = false;
};

}  // namespace wabbit::drift
