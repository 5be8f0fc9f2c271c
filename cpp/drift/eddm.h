// EDDM: one drift detector (the interface and the shared pieces: drift/detector.h).
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

// EDDM (Baena-García et al. 2006): the mean p' and deviation s' of the distance between two
// errors (x == 1); warning and drift when p' + 2 s' falls below alpha / beta times its maximum.
class Eddm : public detail::FlatState<Eddm> {
 public:
  struct Params {
    int64_t warm_start = 30;
    double alpha = 0.95;
    double beta = 0.9;
  };

  explicit Eddm(const Params& p) : p_(p) {
    if (p.alpha < p.beta) throw std::invalid_argument("'alpha' must be greater or equal to 'beta'.");
    reset();
  }

  const Params& params() const { return p_; }

  bool update(double x) {
    if (drift_) reset();
    n_ += 1;
    if (x == 1.0) {
      n_errors_ += 1;
      // Welford's update (river.stats.Var, ddof=1) of the distance since the last error.
      const double d = static_cast<double>(n_ - last_error_);
      const double mean_old = dist_.mean;
      dist_.add(d);
      sum_sq_ += (d - mean_old) * (d - dist_.mean);
      if (n_ > p_.warm_start) {
        const double var = dist_.n > 1.0 ? sum_sq_ / (dist_.n - 1.0) : 0.0;
        const double p2s = dist_.mean + 2 * std::pow(var, 0.5);
        if (p2s > p2s_max_) {
          p2s_max_ = p2s;
        } else if (n_errors_ > p_.warm_start) {
          const double level = p2s / p2s_max_;
          if (level < p_.beta)
            drift_ = true;
          else if (level < p_.alpha)
            warning_ = true;
          else
            warning_ = false;
        }
      }
      last_error_ = n_;
    }
    return drift_;
  }
  bool drift_detected() const { return drift_; }
  bool warning_detected() const { return warning_; }

  void reset() {
    dist_ = {};
    sum_sq_ = 0.0;
    n_ = last_error_ = n_errors_ = 0;
    p2s_max_ = -1.0;
    drift_ = warning_ = false;
  }

 private:
  // The state vector (state(), set_state(): detail::FlatState):
  // [dist_n, dist_mean, sum_sq, n, last_error, n_errors, p2s_max, drift, warning]
  friend class detail::FlatState<Eddm>;
  static constexpr const char* kStateName = "EDDM";
  template <class Self>
  static auto fields(Self& d) {
    return std::tie(d.dist_, d.sum_sq_, d.n_, d.last_error_, d.n_errors_, d.p2s_max_, d.drift_, d.warning_);
  }

  Params p_;
  detail::RunningMean dist_;
  double sum_sq_ = 0.0;
  int64_t n_ = 0, last_error_ = 0, n_errors_ = 0;
  double p2s_max_ = -1.0;
  bool drift_ = false, warning_ = false;
};

}  // namespace wabbit::drift
