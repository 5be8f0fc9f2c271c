// DDM: one drift detector (the interface and the shared pieces: drift/detector.h).
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

// DDM (Gama et al. 2004): the error rate p and its binomial deviation s; warning and drift
// when p + s rises the given number of s_min above the best p_min + s_min seen.
class Ddm : public detail::FlatState<Ddm> {
 public:
  struct Params {
    int64_t warm_start = 30;
    double warning_threshold = 2.0;
    double drift_threshold = 3.0;
  };

  explicit Ddm(const Params& p) : p_(p) {
    warm_start_ = static_cast<double>(p.warm_start);
    reset();
  }

  const Params& params() const { return p_; }

  bool update(double x) {
    if (drift_) reset();
    p_mean_.add(x);
    const double p = p_mean_.mean;
    const double n = p_mean_.n;
    const double s = std::sqrt(p * (1 - p) / n);
    if (n > warm_start_) {
      if (p + s <= ps_min_) {
        p_min_ = p;
        s_min_ = s;
        ps_min_ = p_min_ + s_min_;
      }
      warning_ = p + s > p_min_ + p_.warning_threshold * s_min_;
      if (p + s > p_min_ + p_.drift_threshold * s_min_) {
        drift_ = true;
        warning_ = false;
      }
    }
    return drift_;
  }
  bool drift_detected() const { return drift_; }
  bool warning_detected() const { return warning_; }

  void reset() {
    p_mean_ = {};
    p_min_ = s_min_ = 0.0;
    ps_min_ = std::numeric_limits<double>::infinity();
    drift_ = warning_ = false;
  }

 private:
  // The state vector (state(), set_state(): detail::FlatState):
  // [n, mean, p_min, s_min, ps_min, drift, warning]
  friend class detail::FlatState<Ddm>;
  static constexpr const char* kStateName = "DDM";
  template <class Self>
  static auto fields(Self& d) {
    return std::tie(d.p_mean_, d.p_min_, d.s_min_, d.ps_min_, d.drift_, d.warning_);
  }

  Params p_;
  double warm_start_ = 0.0;
  detail::RunningMean p_mean_;
  double p_min_ = 0.0, s_min_ = 0.0, ps_min_ = 0.0;
  bool drift_ = false, warning_ = false;
};

}  // namespace wabbit::drift
