// HDDM_A: one drift detector (the interface and the shared pieces: drift/detector.h).
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

// HDDM_A (Frías-Blanco et al. 2014, as in MOA): Hoeffding bounds on the difference between
// the global mean and the mean up to the cut point where it was lowest (highest, two-sided).
class HddmA : public detail::FlatState<HddmA> {
 public:
  struct Params {
    double drift_confidence = 0.001;
    double warning_confidence = 0.005;
    bool two_sided_test = false;
  };

  explicit HddmA(const Params& p)
      : p_(p),
        log_inv_drift_(std::log(1.0 / p.drift_confidence)),
        log2_drift_(std::log(2.0 / p.drift_confidence)),
        log2_warning_(std::log(2.0 / p.warning_confidence)) {
    reset();
  }

  const Params& params() const { return p_; }

  bool update(double x) {
    if (drift_) reset();
    z_.add(x);
    if (x_min_.n == 0) x_min_ = z_;
    if (x_max_.n == 0) x_max_ = z_;
    const double eps_z = hoeffding_bound(z_.n);
    double eps_x = hoeffding_bound(x_min_.n);
    if (x_min_.mean + eps_x >= z_.mean + eps_z) x_min_ = z_;
    eps_x = hoeffding_bound(x_max_.n);
    if (x_max_.mean - eps_x <= z_.mean - eps_z) x_max_ = z_;

    if (mean_changed(x_min_, z_, log2_drift_, x_min_.n)) {
      warning_ = false;
      drift_ = true;
    } else if (mean_changed(x_min_, z_, log2_warning_, x_min_.n)) {
      warning_ = true;
      drift_ = false;
    } else {
      warning_ = drift_ = false;
    }
    if (p_.two_sided_test) {
      if (mean_changed(z_, x_max_, log2_drift_, x_max_.n))
        drift_ = true;
      else if (mean_changed(z_, x_max_, log2_warning_, x_max_.n))
        warning_ = true;
    }
    return drift_;
  }
  bool drift_detected() const { return drift_; }
  bool warning_detected() const { return warning_; }

  void reset() {
    z_ = x_min_ = x_max_ = {};
    drift_ = warning_ = false;
  }

 private:
  // The state vector (state(), set_state(): detail::FlatState):
  // [z.n, z.mean, x_min.n, x_min.mean, x_max.n, x_max.mean, drift, warning]
  friend class detail::FlatState<HddmA>;
  static constexpr const char* kStateName = "HDDM_A";
  template <class Self>
  static auto fields(Self& d) {
    return std::tie(d.z_, d.x_min_, d.x_max_, d.drift_, d.warning_);
  }

  // The logarithms of constants are computed once (the same doubles as river computes each time).
  double hoeffding_bound(double n) const { return std::sqrt(1.0 / (2 * n) * log_inv_drift_); }

  // Whether `high`'s mean exceeds `low`'s by more than the bound at confidence c (given as
  // ln(2 / c)) for a cut at `cut_n` of z's values (the x_min of an increase, the x_max of a decrease).
  bool mean_changed(const detail::RunningMean& low, const detail::RunningMean& high, double log2_confidence,
                    double cut_n) const {
    if (cut_n == z_.n) return false;
    const double m = (z_.n - cut_n) / cut_n * (1.0 / z_.n);
    const double eps = std::sqrt(m / 2 * log2_confidence);
    return high.mean - low.mean >= eps;
  }

  Params p_;
  double log_inv_drift_, log2_drift_, log2_warning_;
  detail::RunningMean z_, x_min_, x_max_;
  bool drift_ = false, warning_ = false;
};

}  // namespace wabbit::drift
