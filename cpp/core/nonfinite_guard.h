// The refusal of non-finite updates (the guard): an update that would make a weight or the online
// state non-finite is undone and the example reported as skipped. Included only by learner.cc.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/learner.h"

namespace wabbit::detail {

// Non-finite updates are refused. Feature values near float's limits (a raw nanosecond timestamp,
// 1e20, 1e-45), huge labels or importance weights can make an update overflow: x^2 = inf in the
// adaptive sums, inf * 0 = NaN in the rates, a step that overflows the weight. VW writes those
// values into the model; we refuse the example instead, leaving the model as it was, and the
// caller reports it like a malformed line. Where every number stays finite the update is VW's,
// bit for bit: the guard only watches.
//
// The common example pays a scan of its linear values (bit tests, vectorised) and a few scalar
// compares. An example outside the tame range (values whose products up to the interaction order
// keep x^2 far from float's limits; labels, weights, scores and the prediction range within 2^20)
// takes the guarded path: the rows it touches are saved before the update and checked after it; if
// any slot or the online state is not finite, the rows and the state are put back.
constexpr float kTameScalar = 1048576.f;  // 2^20

// An adaptive sum starts at 0 on a row an example first touches: there the squared gradient times a
// tame value's square (>= 2^-60) is the whole sum, and if that product underflows to 0 the row's rate
// is 1/sqrt(0) = inf (a tiny importance weight, or a prediction a hair from its label). Below 2^-89
// the product can reach 0 (float's least is 2^-149), so such an example takes the guarded path. (An
// infinite rate makes VW's invariant step 0, but it is left in the row's rate slot, and a
// non-invariant step multiplies it into the weight.)
constexpr float kTinyGradSquared = 0x1p-89f;
inline bool tiny_grad_squared(float grad_squared) { return grad_squared != 0.f && grad_squared < kTinyGradSquared; }

// Whether every value's magnitude lies in [lo, hi]: the smallest and largest are kept (one
// andps, minss and maxss a value) and compared once.
inline bool values_tame(const Example& ex, float lo, float hi) {
  float small = lo;
  float big = hi;
  for (unsigned char s : ex.order) {
    const FeatureGroup& g = ex.groups[s];
    const float* v = g.value.data();
    const size_t n = g.size();
    for (size_t k = 0; k < n; ++k) {
      const float a = std::fabs(v[k]);
      small = a < small ? a : small;
      big = a > big ? a : big;
    }
  }
  return small == lo && big == hi;
}

inline bool finite_state(const OnlineState& s) {
  return std::isfinite(s.t) && std::isfinite(s.normalized_sum_norm_x) && std::isfinite(s.total_weight) &&
         std::isfinite(s.weighted_unlabeled) && std::isfinite(s.gravity) && std::isfinite(s.contraction) &&
         std::isfinite(s.min_label) && std::isfinite(s.max_label) && std::isfinite(s.fg_grad_norms) &&
         std::isfinite(s.fg_max_grad_norm);
}

class Guard;

namespace {
// Owns the guard of one update, if any. Its deleter is internal (see BufferedFeats in
// feature_rows.h), so the owner's destructor, a null test in the common case, is inlined.
struct GuardDelete {
  void operator()(Guard* g) const;
};
}  // namespace
using GuardPtr = std::unique_ptr<Guard, GuardDelete>;

// The guarded path: the touched rows (each once) and the online state, saved before an update.
class Guard {
 public:
  // Whether ex (with raw score `raw`) is certain to update finitely: tame values, labels, weights,
  // score and label range, and no extreme rate.
  __attribute__((always_inline)) static bool tame(const Learner& L, const Example& ex, float raw, bool tame_values) {
    return tame_values && !L.guard_always_ && std::fabs(ex.label) <= kTameScalar && ex.weight <= kTameScalar &&
           std::fabs(ex.initial) <= kTameScalar && std::fabs(raw) <= kTameScalar * kTameScalar &&
           std::fabs(load_w(&L.state_.min_label)) <= kTameScalar &&
           std::fabs(load_w(&L.state_.max_label)) <= kTameScalar;
  }

  // Out of line, so the learning functions carry only a pointer test for it.
  template <class Feats>
  __attribute__((noinline, cold)) static GuardPtr make(Learner& L, const Feats& feats, float min_before,
                                                       float max_before) {
    GuardPtr g(new Guard(L, min_before, max_before));
    g->save(feats);
    return g;
  }

  // `range_before`: the label range before this example widened it.
  Guard(Learner& L, float min_before, float max_before) : L_(L), state_(L.state_), multiplier_(L.update_multiplier_) {
    state_.min_label = min_before;
    state_.max_label = max_before;
  }
  template <class Feats>
  void save(const Feats& feats) {
    const uint32_t stride = L_.weights_.stride();
    feats.each([&](float* w, float) {
      if (!seen_.insert(w).second) return;
      rows_.push_back(w);
      for (uint32_t k = 0; k < stride; ++k) values_.push_back(load_w(w + k));
    });
  }
  // Whether the update left everything finite; if not, puts the rows and the state back and
  // words the reason for ex.
  __attribute__((noinline)) bool keep(const Example& ex) {
    const uint32_t stride = L_.weights_.stride();
    bool finite = finite_state(L_.state_) && std::isfinite(L_.update_multiplier_);
    for (size_t r = 0; finite && r < rows_.size(); ++r) {
      for (uint32_t k = 0; k < stride; ++k) finite &= std::isfinite(load_w(rows_[r] + k));
    }
    if (finite) return true;
    for (size_t r = 0; r < rows_.size(); ++r) {
      for (uint32_t k = 0; k < stride; ++k) store_w(rows_[r] + k, values_[r * stride + k]);
    }
    L_.state_ = state_;
    L_.update_multiplier_ = multiplier_;
    float hi = 0.f;
    float lo = FLT_MAX;
    for (unsigned char s : ex.order) {
      for (float v : ex.groups[s].value) {
        hi = std::max(hi, std::fabs(v));
        if (v != 0.f) lo = std::min(lo, std::fabs(v));
      }
    }
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "the update would make weights non-finite (feature values from %g to %g, label %g, "
                  "importance weight %g: too large or too small for float arithmetic); example skipped",
                  static_cast<double>(lo == FLT_MAX ? 0.f : lo), static_cast<double>(hi), static_cast<double>(ex.label),
                  static_cast<double>(ex.weight));
    L_.skip_reason_ = buf;
    return false;
  }

 private:
  Learner& L_;
  OnlineState state_;
  float multiplier_;
  std::unordered_set<float*> seen_;
  std::vector<float*> rows_;
  std::vector<float> values_;
};

namespace {
inline void GuardDelete::operator()(Guard* g) const { delete g; }
}  // namespace

}  // namespace wabbit::detail
