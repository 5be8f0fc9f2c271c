// What every drift detector shares: the interface (below), the batch loop run_many, the check of
// its input, river's running mean, and state()/set_state() derived from one list of fields.
//
// Each detector (one header each: adwin.h, page_hinkley.h, ddm.h, eddm.h, hddm_a.h, hddm_w.h)
// behaves as river 0.26.1's detector of the same name, alarm for alarm: the arithmetic keeps
// river's order of operations (its Rust ADWIN and its Python detectors) so that every double
// rounds the same way. As in river, a detector that raised an alarm starts afresh at the next value.
//
// Interface shared by every detector (no virtual calls; the loops are templates):
//   bool update(double x)          one value; true when drift is detected at it
//   bool drift_detected() const    whether the last value raised an alarm
//   bool warning_detected() const  whether the last value is in the warning zone (false if none)
//   void reset()                   forget everything, keep the parameters
//   std::vector<double> state() const / void set_state(const std::vector<double>&)
//                                  the complete mutable state as numbers (for pickling)
// and run_many() feeds a whole array. No Python in these files.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>
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
  template <class Self>
  static auto fields(Self& m) {
    return std::tie(m.n, m.mean);
  }
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

// A field's numbers in a state vector: a double as itself, a flag as 0/1, a count as a double
// (exact below 2^53), a struct with its own fields() as those fields in order.
template <class T>
void put_field(std::vector<double>& s, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    s.push_back(flag(v));
  } else if constexpr (std::is_same_v<T, double>) {
    s.push_back(v);
  } else if constexpr (std::is_integral_v<T>) {
    s.push_back(static_cast<double>(v));
  } else {
    std::apply([&](const auto&... f) { (put_field(s, f), ...); }, T::fields(v));
  }
}

template <class T>
void get_field(StateReader& r, T& v) {
  constexpr double kMaxCount = 9007199254740992.0;  // 2^53: every count a double holds exactly
  if constexpr (std::is_same_v<T, bool>) {
    v = r.next_bool();
  } else if constexpr (std::is_same_v<T, double>) {
    v = r.next();
  } else if constexpr (std::is_integral_v<T>) {
    v = static_cast<T>(r.next_count(kMaxCount));
  } else {
    std::apply([&](auto&... f) { (get_field(r, f), ...); }, T::fields(v));
  }
}

// state() and set_state() written once. A detector derives from FlatState<Itself>, befriends it,
// and names its mutable state once, in order, as
//   static constexpr const char* kStateName = "DDM";
//   template <class Self> static auto fields(Self& d) { return std::tie(d.a_, d.b_, ...); }
// The state vector is those fields in that order (flags 0/1, counts exact); set_state reads all of
// it, refusing a vector of the wrong length or a bad flag or count, before changing anything.
template <class Detector>
class FlatState {
 public:
  std::vector<double> state() const {
    std::vector<double> s;
    std::apply([&](const auto&... f) { (put_field(s, f), ...); }, Detector::fields(self()));
    return s;
  }
  void set_state(const std::vector<double>& s) {
    StateReader r(s, Detector::kStateName);
    auto fields = Detector::fields(self());
    DecayedTuple<decltype(fields)> values;  // read into a copy: a bad vector changes nothing
    std::apply([&](auto&... f) { (get_field(r, f), ...); }, values);
    r.done();
    fields = values;
  }

 private:
  template <class Tuple>
  struct Decay;
  template <class... T>
  struct Decay<std::tuple<T...>> {
    using type = std::tuple<std::remove_cvref_t<T>...>;
  };
  template <class Tuple>
  using DecayedTuple = typename Decay<Tuple>::type;

  const Detector& self() const { return static_cast<const Detector&>(*this); }
  Detector& self() { return static_cast<Detector&>(*this); }
};

}  // namespace detail

}  // namespace wabbit::drift
