// Drift detectors over a stream of numbers: ADWIN, Page-Hinkley, DDM, EDDM, HDDM_A, HDDM_W.
//
// Each detector behaves as river 0.26.1's detector of the same name, alarm for alarm: the
// arithmetic below keeps river's order of operations (its Rust ADWIN and its Python
// detectors) so that every double rounds the same way. As in river, a detector that raised
// an alarm starts afresh at the next value.
//
// Interface shared by every detector (no virtual calls; the loops are templates):
//   bool update(double x)          one value; true when drift is detected at it
//   bool drift_detected() const    whether the last value raised an alarm
//   bool warning_detected() const  whether the last value is in the warning zone (false if none)
//   void reset()                   forget everything, keep the parameters
//   std::vector<double> state() const / void set_state(const std::vector<double>&)
//                                  the complete mutable state as numbers (for pickling)
// and run_many() feeds a whole array. No Python in this file.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace wabbit::drift {

// Checks a batch before any of it reaches a detector, so a bad value changes nothing.
inline void check_finite(const double* x, size_t n) {
  // First a branch-free pass (x * 0 is 0 for a finite x and NaN otherwise; four lanes, so that
  // it vectorises), then find the value.
  double lanes[4] = {0.0, 0.0, 0.0, 0.0};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (size_t k = 0; k < 4; ++k) lanes[k] += x[i + k] * 0.0;
  }
  for (; i < n; ++i) lanes[0] += x[i] * 0.0;
  if (lanes[0] + lanes[1] + lanes[2] + lanes[3] == 0.0) return;
  for (i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) {
      throw std::invalid_argument("value at index " + std::to_string(i) + " is not finite (" + std::to_string(x[i]) +
                                  "); drift detectors take finite numbers");
    }
  }
}

inline void check_finite(double x) {
  if (!std::isfinite(x)) throw std::invalid_argument("drift detectors take finite numbers, got " + std::to_string(x));
}

// Feeds x[0..n) to a detector; appends the indices of alarms (and, if asked, of values that
// left the detector in its warning zone). Equivalent to n calls of update().
template <class Detector>
void run_many(Detector& d, const double* x, size_t n, std::vector<int64_t>& drifts, std::vector<int64_t>* warnings) {
  check_finite(x, n);
  if constexpr (requires { d.run(x, n, drifts); }) {
    if (warnings == nullptr) return d.run(x, n, drifts);  // a faster loop with the same results
  }
  if constexpr (std::is_trivially_copyable_v<Detector>) {
    // A local copy cannot alias x, so its state stays in registers through the loop.
    Detector local = d;
    for (size_t i = 0; i < n; ++i) {
      if (local.update(x[i])) drifts.push_back(static_cast<int64_t>(i));
      if (warnings != nullptr && local.warning_detected()) warnings->push_back(static_cast<int64_t>(i));
    }
    d = local;
  } else {
    for (size_t i = 0; i < n; ++i) {
      if (d.update(x[i])) drifts.push_back(static_cast<int64_t>(i));
      if (warnings != nullptr && d.warning_detected()) warnings->push_back(static_cast<int64_t>(i));
    }
  }
}

namespace detail {

// river.stats.Mean with unit weights: n += 1; mean += (1 / n) * (x - mean).
struct RunningMean {
  double n = 0.0;
  double mean = 0.0;
  void add(double x) {
    n += 1.0;
    mean += (1.0 / n) * (x - mean);
  }
};

// Reads a state vector back, refusing anything that does not fit.
class StateReader {
 public:
  StateReader(const std::vector<double>& s, const char* what) : s_(s), what_(what) {}
  double next() {
    if (pos_ >= s_.size()) fail("too short");
    return s_[pos_++];
  }
  bool next_bool() {
    const double v = next();
    if (v != 0.0 && v != 1.0) fail("a flag is neither 0 nor 1");
    return v == 1.0;
  }
  // A non-negative integer held exactly by a double.
  uint64_t next_count(double max) {
    const double v = next();
    if (!(v >= 0.0 && v <= max) || v != std::floor(v)) fail("a count is out of range");
    return static_cast<uint64_t>(v);
  }
  void done() const {
    if (pos_ != s_.size()) fail("too long");
  }
  [[noreturn]] void fail(const char* why) const {
    throw std::invalid_argument(std::string("bad ") + what_ + " state: " + why);
  }

 private:
  const std::vector<double>& s_;
  const char* what_;
  size_t pos_ = 0;
};

inline double flag(bool b) { return b ? 1.0 : 0.0; }

}  // namespace detail

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

// Page-Hinkley (Page 1954): cumulative deviations from the running mean, with a forgetting
// factor, tested against their running extremes.
class PageHinkley {
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

  // [n, mean, sum_increase, sum_decrease, min_increase, max_decrease, drift]
  std::vector<double> state() const {
    return {mean_.n, mean_.mean, sum_increase_, sum_decrease_, min_increase_, max_decrease_, detail::flag(drift_)};
  }
  void set_state(const std::vector<double>& s) {
    detail::StateReader r(s, "PageHinkley");
    detail::RunningMean m;
    m.n = r.next();
    m.mean = r.next();
    const double si = r.next(), sd = r.next(), mi = r.next(), md = r.next();
    const bool drift = r.next_bool();
    r.done();
    mean_ = m;
    sum_increase_ = si;
    sum_decrease_ = sd;
    min_increase_ = mi;
    max_decrease_ = md;
    drift_ = drift;
  }

 private:
  Params p_;
  double min_instances_ = 0.0;
  detail::RunningMean mean_;
  double sum_increase_ = 0.0, sum_decrease_ = 0.0, min_increase_ = 0.0, max_decrease_ = 0.0;
  bool drift_ = false;
};

// DDM (Gama et al. 2004): the error rate p and its binomial deviation s; warning and drift
// when p + s rises the given number of s_min above the best p_min + s_min seen.
class Ddm {
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

  // [n, mean, p_min, s_min, ps_min, drift, warning]
  std::vector<double> state() const {
    return {p_mean_.n, p_mean_.mean, p_min_, s_min_, ps_min_, detail::flag(drift_), detail::flag(warning_)};
  }
  void set_state(const std::vector<double>& s) {
    detail::StateReader r(s, "DDM");
    detail::RunningMean m;
    m.n = r.next();
    m.mean = r.next();
    const double pm = r.next(), sm = r.next(), psm = r.next();
    const bool drift = r.next_bool(), warning = r.next_bool();
    r.done();
    p_mean_ = m;
    p_min_ = pm;
    s_min_ = sm;
    ps_min_ = psm;
    drift_ = drift;
    warning_ = warning;
  }

 private:
  Params p_;
  double warm_start_ = 0.0;
  detail::RunningMean p_mean_;
  double p_min_ = 0.0, s_min_ = 0.0, ps_min_ = 0.0;
  bool drift_ = false, warning_ = false;
};

// EDDM (Baena-García et al. 2006): the mean p' and deviation s' of the distance between two
// errors (x == 1); warning and drift when p' + 2 s' falls below alpha / beta times its maximum.
class Eddm {
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

  // [dist_n, dist_mean, sum_sq, n, last_error, n_errors, p2s_max, drift, warning]
  std::vector<double> state() const {
    return {dist_.n,
            dist_.mean,
            sum_sq_,
            static_cast<double>(n_),
            static_cast<double>(last_error_),
            static_cast<double>(n_errors_),
            p2s_max_,
            detail::flag(drift_),
            detail::flag(warning_)};
  }
  void set_state(const std::vector<double>& s) {
    constexpr double kMax = 9007199254740992.0;
    detail::StateReader r(s, "EDDM");
    detail::RunningMean m;
    m.n = r.next();
    m.mean = r.next();
    const double sq = r.next();
    const auto n = static_cast<int64_t>(r.next_count(kMax));
    const auto last = static_cast<int64_t>(r.next_count(kMax));
    const auto errors = static_cast<int64_t>(r.next_count(kMax));
    const double p2s_max = r.next();
    const bool drift = r.next_bool(), warning = r.next_bool();
    r.done();
    dist_ = m;
    sum_sq_ = sq;
    n_ = n;
    last_error_ = last;
    n_errors_ = errors;
    p2s_max_ = p2s_max;
    drift_ = drift;
    warning_ = warning;
  }

 private:
  Params p_;
  detail::RunningMean dist_;
  double sum_sq_ = 0.0;
  int64_t n_ = 0, last_error_ = 0, n_errors_ = 0;
  double p2s_max_ = -1.0;
  bool drift_ = false, warning_ = false;
};

// HDDM_A (Frías-Blanco et al. 2014, as in MOA): Hoeffding bounds on the difference between
// the global mean and the mean up to the cut point where it was lowest (highest, two-sided).
class HddmA {
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

  // [z.n, z.mean, x_min.n, x_min.mean, x_max.n, x_max.mean, drift, warning]
  std::vector<double> state() const {
    return {z_.n, z_.mean, x_min_.n, x_min_.mean, x_max_.n, x_max_.mean, detail::flag(drift_), detail::flag(warning_)};
  }
  void set_state(const std::vector<double>& s) {
    detail::StateReader r(s, "HDDM_A");
    detail::RunningMean z, lo, hi;
    z.n = r.next();
    z.mean = r.next();
    lo.n = r.next();
    lo.mean = r.next();
    hi.n = r.next();
    hi.mean = r.next();
    const bool drift = r.next_bool(), warning = r.next_bool();
    r.done();
    z_ = z;
    x_min_ = lo;
    x_max_ = hi;
    drift_ = drift;
    warning_ = warning;
  }

 private:
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

// HDDM_W (Frías-Blanco et al. 2014, as in MOA): McDiarmid bounds on exponentially weighted
// means before and after the cut point.
class HddmW {
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

  // [5 x (ewma, is_init, ibc) for total, s1_incr, s2_incr, s1_decr, s2_decr;
  //  incr_cutpoint, decr_cutpoint, drift, warning]
  std::vector<double> state() const {
    std::vector<double> s;
    for (const Sample* x : {&total_, &s1_incr_, &s2_incr_, &s1_decr_, &s2_decr_}) {
      s.insert(s.end(), {x->ewma, detail::flag(x->is_init), x->ibc});
    }
    s.insert(s.end(), {incr_cutpoint_, decr_cutpoint_, detail::flag(drift_), detail::flag(warning_)});
    return s;
  }
  void set_state(const std::vector<double>& s) {
    detail::StateReader r(s, "HDDM_W");
    Sample samples[5];
    for (Sample& x : samples) {
      x.ewma = r.next();
      x.is_init = r.next_bool();
      x.ibc = r.next();
    }
    const double ic = r.next(), dc = r.next();
    const bool drift = r.next_bool(), warning = r.next_bool();
    r.done();
    total_ = samples[0];
    s1_incr_ = samples[1];
    s2_incr_ = samples[2];
    s1_decr_ = samples[3];
    s2_decr_ = samples[4];
    incr_cutpoint_ = ic;
    decr_cutpoint_ = dc;
    drift_ = drift;
    warning_ = warning;
  }

 private:
  // river's SampleInfo: an exponentially weighted mean (the first value starts it) and its
  // independent bound condition.
  struct Sample {
    double ewma = 0.0;
    bool is_init = false;
    double ibc = 1.0;
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
