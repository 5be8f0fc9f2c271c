// ADWIN: one drift detector (the interface and the shared pieces: drift/detector.h).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "drift/detector.h"

namespace wabbit::drift {

// ADWIN (Bifet & Gavaldà 2007), ADWIN2's exponential histogram: level i keeps up to
// max_buckets + 1 summaries (sum, variance) of 2^i values each, oldest first. Every `clock`
// values (once the window holds more than grace_period) each cut between summaries is tested;
// a cut whose two sides differ by more than epsilon drops the oldest summary and the test is
// repeated.
class Adwin {
 public:
  struct Params {
    double delta = 0.002;
    int64_t clock = 32;
    int64_t max_buckets = 5;
    int64_t min_window_length = 5;
    int64_t grace_period = 10;
  };

  explicit Adwin(const Params& p) : p_(p) {
    if (!(p.delta > 0.0 && p.delta < 1.0)) throw std::invalid_argument("delta must be in (0, 1)");
    if (p.clock < 1) throw std::invalid_argument("clock must be >= 1");
    if (p.max_buckets < 1) throw std::invalid_argument("max_buckets must be >= 1");
    cap_ = static_cast<size_t>(p.max_buckets) + 1;
    min_len_ = static_cast<double>(p.min_window_length);
    grace_ = static_cast<double>(p.grace_period);
    reset();
  }

  const Params& params() const { return p_; }

  bool update(double x) {
    if (drift_) reset();
    insert(&x, 1);
    drift_ = detect_change();
    return drift_;
  }

  // update() for each of x[0..n), appending the indices of the alarms. Between two clock ticks
  // ADWIN only inserts, so the values up to the next tick are inserted together.
  void run(const double* x, size_t n, std::vector<int64_t>& drifts) {
    size_t i = 0;
    while (i < n) {
      if (drift_) reset();
      const auto to_tick = static_cast<uint64_t>(p_.clock - tick_ % p_.clock);  // values until the next test
      const size_t m = static_cast<size_t>(std::min<uint64_t>({to_tick - 1, n - i, kBatch}));
      if (m > 0) {
        insert(x + i, m);
        tick_ += static_cast<int64_t>(m);
        i += m;
        drift_ = false;
        continue;
      }
      insert(x + i, 1);
      drift_ = detect_change();
      if (drift_) drifts.push_back(static_cast<int64_t>(i));
      ++i;
    }
  }

  bool drift_detected() const { return drift_; }
  bool warning_detected() const { return false; }

  void reset() {
    count_.assign(1, 0);
    head_.assign(1, 0);
    sum_.assign(cap_, 0.0);
    var_.assign(cap_, 0.0);
    total_ = variance_ = width_ = 0.0;
    tick_ = 0;
    n_detections_ = 0;
    drift_ = false;
  }

  double width() const { return width_; }
  double total() const { return total_; }
  // The window's sum of squared deviations from its mean (river's ADWIN.variance).
  double variance() const { return variance_; }
  int64_t n_detections() const { return n_detections_; }

  // [total, variance, width, tick, n_detections, drift, n_levels, then per level: count,
  //  count sums, count variances]
  std::vector<double> state() const {
    std::vector<double> s = {total_,
                             variance_,
                             width_,
                             static_cast<double>(tick_),
                             static_cast<double>(n_detections_),
                             detail::flag(drift_),
                             static_cast<double>(count_.size())};
    for (size_t l = 0; l < count_.size(); ++l) {
      s.push_back(static_cast<double>(count_[l]));
      for (size_t k = 0; k < count_[l]; ++k) s.push_back(sum_[slot(l, k)]);
      for (size_t k = 0; k < count_[l]; ++k) s.push_back(var_[slot(l, k)]);
    }
    return s;
  }
  void set_state(const std::vector<double>& s) {
    constexpr double kMaxCount = 9007199254740992.0;  // 2^53
    detail::StateReader r(s, "ADWIN");
    const double total = r.next(), variance = r.next(), width = r.next();
    const auto tick = static_cast<int64_t>(r.next_count(kMaxCount));
    const auto n_det = static_cast<int64_t>(r.next_count(kMaxCount));
    const bool drift = r.next_bool();
    const auto n_levels = static_cast<size_t>(r.next_count(64.0));
    if (n_levels < 1) r.fail("no levels");
    std::vector<size_t> count(n_levels, 0);
    std::vector<double> sum(n_levels * cap_, 0.0), var(n_levels * cap_, 0.0);
    for (size_t l = 0; l < n_levels; ++l) {
      count[l] = static_cast<size_t>(r.next_count(static_cast<double>(cap_)));
      for (size_t k = 0; k < count[l]; ++k) sum[l * cap_ + k] = r.next();
      for (size_t k = 0; k < count[l]; ++k) var[l * cap_ + k] = r.next();
    }
    r.done();
    if (n_levels > 1 && count.back() == 0) r.fail("the last level is empty");
    count_ = std::move(count);
    head_.assign(n_levels, 0);
    sum_ = std::move(sum);
    var_ = std::move(var);
    total_ = total;
    variance_ = variance;
    width_ = width;
    tick_ = tick;
    n_detections_ = n_det;
    drift_ = drift;
  }

 private:
  // Level l is a ring of cap_ slots in sum_/var_ from l * cap_; its k-th oldest summary is at
  // slot(l, k).
  size_t slot(size_t level, size_t k) const {
    size_t i = head_[level] + k;
    if (i >= cap_) i -= cap_;
    return level * cap_ + i;
  }
  static double level_size(size_t level) { return static_cast<double>(uint64_t{1} << level); }
  // 2^-l for each level: x / 2^l == x * 2^-l exactly (both are the rounding of the same real).
  static constexpr auto kInverseLevelSize = [] {
    std::array<double, 64> a{};
    double v = 1.0;
    for (double& x : a) {
      x = v;
      v *= 0.5;
    }
    return a;
  }();
  static double inverse_level_size(size_t level) { return kInverseLevelSize[level]; }

  void add_level() {
    count_.push_back(0);
    head_.push_back(0);
    sum_.resize(sum_.size() + cap_, 0.0);
    var_.resize(var_.size() + cap_, 0.0);
  }

  void push(size_t level, double sum, double var) {
    if (level == count_.size()) add_level();
    const size_t at = slot(level, count_[level]++);
    sum_[at] = sum;
    var_[at] = var;
  }

  void drop_front(size_t level, size_t k) {  // the oldest k summaries of a level
    head_[level] += k;
    if (head_[level] >= cap_) head_[level] -= cap_;
    count_[level] -= k;
  }

  // Inserts x[0..m), m <= kBatch. For each value: width += 1, variance += (w - 1) d^2 / w with
  // d = x - total / (w - 1), total += x. The increments depend on the running total only, so
  // they are computed first, in a loop the compiler can vectorise, and then added in order.
  void insert(const double* x, size_t m) {
    double before[kBatch], w[kBatch], inc[kBatch];
    double total = total_, width = width_;
    for (size_t j = 0; j < m; ++j) {
      before[j] = total;
      width += 1.0;
      w[j] = width;
      total += x[j];
    }
    for (size_t j = 0; j < m; ++j) {
      const double d = x[j] - before[j] / (w[j] - 1.0);
      inc[j] = (w[j] - 1.0) * d * d / w[j];
    }
    double variance = variance_;  // a local: the stores into the levels cannot touch it
    for (size_t j = 0; j < m; ++j) {
      variance += w[j] > 1.0 ? inc[j] : 0.0;
      push(0, x[j], 0.0);
      if (count_[0] == cap_) compress();
    }
    variance_ = variance;
    total_ = total;
    width_ = width;
  }

  // A full level merges its two oldest summaries into one of the next level, and so on up.
  void compress() {
    for (size_t l = 0; count_[l] == cap_; ++l) {
      if (l + 1 == count_.size()) add_level();
      double* sums = sum_.data();
      double* vars = var_.data();
      size_t* count = count_.data();
      size_t* head = head_.data();
      const size_t base = l * cap_;
      const size_t h0 = head[l];
      const size_t h1 = h0 + 1 == cap_ ? 0 : h0 + 1;
      const double t0 = sums[base + h0], t1 = sums[base + h1];
      const double v0 = vars[base + h0], v1 = vars[base + h1];
      const double mu1 = t0 * inverse_level_size(l);
      const double mu2 = t1 * inverse_level_size(l);
      const double merged_var = v0 + v1 + level_size(l) * 0.5 * (mu1 - mu2) * (mu1 - mu2);
      head[l] = h1 + 1 == cap_ ? 0 : h1 + 1;  // drop the two oldest
      count[l] -= 2;
      size_t at = head[l + 1] + count[l + 1];  // append to the next level
      if (at >= cap_) at -= cap_;
      sums[base + cap_ + at] = t0 + t1;
      vars[base + cap_ + at] = merged_var;
      if (++count[l + 1] < cap_) break;
    }
  }

  // Drops the oldest summary (the front of the last level).
  void drop_oldest() {
    const size_t last = count_.size() - 1;
    const double n = level_size(last);
    const double u = sum_[slot(last, 0)];
    const double v = var_[slot(last, 0)];
    const double mu = u * inverse_level_size(last);
    width_ -= n;
    total_ -= u;
    const double mu_window = total_ / width_;
    variance_ -= v + n * width_ * (mu - mu_window) * (mu - mu_window) / (n + width_);
    drop_front(last, 1);
    // With max_buckets == 1 a merge can leave a middle level empty, so more than one level may
    // end up empty here (river 0.26.1 pops only one and panics at the next deletion).
    while (count_.size() > 1 && count_.back() == 0) {
      count_.pop_back();
      head_.pop_back();
      sum_.resize(sum_.size() - cap_);
      var_.resize(var_.size() - cap_);
    }
  }

  bool detect_change() {
    ++tick_;
    if (tick_ % p_.clock != 0 || !(width_ > grace_)) return false;
    bool detected = false;
    while (cut_found()) {
      detected = true;
      drop_oldest();  // and test again; the window keeps at least the newer side of the cut
    }
    if (detected) ++n_detections_;
    return detected;
  }

  // Whether some cut of the window, from the oldest summary towards the newest (the cut after
  // the newest is not one), splits it into parts whose means differ by more than
  //   epsilon = sqrt(2 m var/width dp) + 2/3 dp m,
  //   m = 1/(n0 - min + 1) + 1/(n1 - min + 1),  dp = ln(2 ln(width) / delta).
  bool cut_found() {
    // 1. The sizes and sums of the two parts at each cut, accumulated in river's order.
    const size_t most = sum_.size();
    if (n0_.size() < most) {
      for (auto* v : {&n0_, &n1_, &u0_, &u1_, &open_}) v->resize(most);
    }
    double *pn0 = n0_.data(), *pn1 = n1_.data(), *pu0 = u0_.data(), *pu1 = u1_.data();
    size_t nc = 0;
    double n0 = 0.0, n1 = width_, u0 = 0.0, u1 = total_;
    for (size_t l = count_.size(); l-- > 0;) {
      const double size = level_size(l);
      const size_t count = count_[l];
      const double* sums = &sum_[l * cap_];
      size_t at = head_[l];
      for (size_t k = 0; k < count; ++k) {
        const double sum = sums[at];
        if (++at == cap_) at = 0;
        n0 += size;
        n1 -= size;
        u0 += sum;
        u1 -= sum;
        if (l == 0 && k == count - 1) break;
        pn0[nc] = n0;
        pn1[nc] = n1;
        pu0[nc] = u0;
        pu1[nc] = u1;
        ++nc;
      }
    }
    // 2. Every cut's mean difference and epsilon's cheap part t = 2/3 dp m (the same doubles
    // river computes; dp and var/width are fixed by the width). A cut is settled when
    // |delta| <= t (epsilon = s + t >= t in floating point too) or, with t >= 0, when
    // delta^2 <= 0.9 s^2: then |delta| < sqrt(s^2) exactly, so |delta| <= rounded s <= epsilon.
    // No division depends on another and nothing branches, so this loop vectorises.
    const double dp = std::log(2.0 * std::log(width_) / p_.delta);
    const double var_w = variance_ / width_;
    const double two_thirds_dp = 2.0 / 3.0 * dp;
    const double min_len = min_len_;
    double* open = open_.data();
    for (size_t j = 0; j < nc; ++j) {
      const double delta = (pu0[j] / pn0[j]) - (pu1[j] / pn1[j]);
      const double m = 1.0 / (pn0[j] - min_len + 1.0) + 1.0 / (pn1[j] - min_len + 1.0);
      const double t = two_thirds_dp * m;
      const double s2 = 2.0 * m * var_w * dp;
      const bool by_t = std::fabs(delta) <= t;
      const bool by_s = (t >= 0.0) & (s2 >= 1e-300) & (s2 <= 1e300) & (delta * delta <= 0.9 * s2);
      const bool long_enough = (pn1[j] >= min_len) & (pn0[j] >= min_len);
      open[j] = (long_enough & !(by_t | by_s)) ? 1.0 : 0.0;
    }
    uint64_t any_open = 0;  // an integer reduction (reorderable, so vectorised) of the flags' bits
    for (size_t j = 0; j < nc; ++j) {
      uint64_t bits;
      std::memcpy(&bits, &open[j], sizeof bits);
      any_open |= bits;
    }
    if (any_open == 0) return false;
    // 3. The open cuts, in order, with river's test.
    for (size_t j = 0; j < nc; ++j) {
      if (open[j] == 0.0) continue;
      const double delta = (pu0[j] / pn0[j]) - (pu1[j] / pn1[j]);
      const double m = 1.0 / (pn0[j] - min_len + 1.0) + 1.0 / (pn1[j] - min_len + 1.0);
      const double epsilon = std::sqrt(2.0 * m * var_w * dp) + two_thirds_dp * m;
      if (std::fabs(delta) > epsilon) return true;
    }
    return false;
  }

  static constexpr size_t kBatch = 64;  // values inserted together between two tests
  Params p_;
  size_t cap_ = 0;
  double min_len_ = 0.0, grace_ = 0.0;
  std::vector<double> n0_, n1_, u0_, u1_, open_;  // scratch of cut_found(), one entry per cut
  std::vector<size_t> count_, head_;              // per level: summaries, ring start
  std::vector<double> sum_, var_;                 // per level, cap_ slots each
  double total_ = 0.0, variance_ = 0.0, width_ = 0.0;
  int64_t tick_ = 0, n_detections_ = 0;
  bool drift_ = false;
};

}  // namespace wabbit::drift
