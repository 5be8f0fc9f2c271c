// HDDM_W: one drift detector (the interface and the shared pieces: drift/detector.h).
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

// HDDM_W (Frías-Blanco et al. 2014, as in MOA): McDiarmid bounds on exponentially weighted
// means before and after the cut point.
class HddmW : public detail::FlatState<HddmW> {
 public:
  struct Params {
    double drift_confidence = 0.001;
    double warning_confidence = 0.005;
    double lambda_val = 0.05;
    bool two_sided_test = false;
  };

  explicit HddmW(const Params& p) : p_(p) {
    if (!(p.lambda_val >= 0.0 && p.lambda_val <= 1.0)) throw std::invalid_argument("lambda_val must be in [0, 1]");
    log_inv_drift_ = std::log(1 / p.drift_confidence);
    log_inv_warning_ = std::log(1 / p.warning_confidence);
    reset();
  }

  const Params& params() const { return p_; }

  bool update(double x) {
    if (drift_) reset();
    add(total_, x);

    double eps = bound(total_.ibc, log_inv_drift_);
    if (total_.ewma + eps < incr_cutpoint_) {
      incr_cutpoint_ = total_.ewma + eps;
      s1_incr_ = total_;
      s2_incr_ = {};
    } else {
      add(s2_incr_, x);
    }
    if (mean_changed(s1_incr_, s2_incr_, log_inv_drift_)) {
      warning_ = false;
      drift_ = true;
    } else if (mean_changed(s1_incr_, s2_incr_, log_inv_warning_)) {
      warning_ = true;
      drift_ = false;
    } else {
      warning_ = drift_ = false;
    }

    eps = bound(total_.ibc, log_inv_drift_);
    if (total_.ewma - eps > decr_cutpoint_) {
      decr_cutpoint_ = total_.ewma - eps;
      s1_decr_ = total_;
      s2_decr_ = {};
    } else {
      add(s2_decr_, x);
    }
    if (p_.two_sided_test) {
      if (mean_changed(s2_decr_, s1_decr_, log_inv_drift_))
        drift_ = true;
      else if (mean_changed(s2_decr_, s1_decr_, log_inv_warning_))
        warning_ = true;
    }
    return drift_;
  }
  bool drift_detected() const { return drift_; }
  bool warning_detected() const { return warning_; }

  void reset() {
    total_ = s1_incr_ = s2_incr_ = s1_decr_ = s2_decr_ = {};
    incr_cutpoint_ = std::numeric_limits<double>::infinity();
    decr_cutpoint_ = -std::numeric_limits<double>::infinity();
    drift_ = warning_ = false;
  }

 private:
  // The state vector (state(), set_state(): detail::FlatState):
  // [5 x (ewma, is_init, ibc) for total, s1_incr, s2_incr, s1_decr, s2_decr;
  //  incr_cutpoint, decr_cutpoint, drift, warning]
  friend class detail::FlatState<HddmW>;
  static constexpr const char* kStateName = "HDDM_W";
  template <class Self>
  static auto fields(Self& d) {
    return std::tie(d.total_, d.s1_incr_, d.s2_incr_, d.s1_decr_, d.s2_decr_, d.incr_cutpoint_, d.decr_cutpoint_,
                    d.drift_, d.warning_);
  }

  // river's SampleInfo: an exponentially weighted mean (the first value starts it) and its
  // independent bound condition.
  struct Sample {
    double ewma = 0.0;
    bool is_init = false;
    double ibc = 1.0;
    template <class Self>
    static auto fields(Self& s) {
      return std::tie(s.ewma, s.is_init, s.ibc);
    }
  };

  void add(Sample& s, double x) const {
    s.ewma = s.is_init ? p_.lambda_val * x + (1.0 - p_.lambda_val) * s.ewma : x;
    s.is_init = true;
    s.ibc = p_.lambda_val * p_.lambda_val + std::pow(1 - p_.lambda_val, 2) * s.ibc;
  }

  // McDiarmid's bound at confidence c, given as ln(1 / c) (computed once: the same doubles as
  // river computes each time).
  static double bound(double ibc, double log_inv_confidence) { return std::sqrt(ibc * log_inv_confidence / 2); }

  // Whether b's mean exceeds a's by more than the bound.
  static bool mean_changed(const Sample& a, const Sample& b, double log_inv_confidence) {
    if (!(a.is_init && b.is_init)) return false;
    return b.ewma - a.ewma > bound(a.ibc + b.ibc, log_inv_confidence);
  }

  Params p_;
  double log_inv_drift_ = 0.0, log_inv_warning_ = 0.0;
  Sample total_, s1_incr_, s2_incr_, s1_decr_, s2_decr_;
  double incr_cutpoint_ = 0.0, decr_cutpoint_ = 0.0;
  bool drift_ = false, warning_ = false;
};

}  // namespace wabbit::drift
