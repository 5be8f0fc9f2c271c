// Prediction: the raw score of an example while learning and while testing (-t), its clamping to
// the label range, the reported output (--link, --binary) and loss, and the online clock. Included
// only by learner.cc.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/feature_rows.h"
#include "core/nonfinite_guard.h"

namespace wabbit::detail {

inline float finalize_prediction(const OnlineState& s, float p) {
  if (std::isnan(p)) return 0.f;
  if (p > s.max_label) return s.max_label;
  if (p < s.min_label) return s.min_label;
  return p;
}

// What is reported for a prediction: VW's scorer link, then --binary's sign.
inline float output_of(const Config& c, float p) {
  float out = p;
  switch (c.link) {
    case Link::kIdentity:
      break;
    case Link::kLogistic:
      out = 1.f / (1.f + std::exp(-p));
      break;
    case Link::kPoisson:
      out = std::exp(p);
      break;
    case Link::kGlf1:
      out = 2.f / (1.f + std::exp(-p)) - 1.f;
      break;
  }
  if (c.binary) out = out > 0.f ? 1.f : -1.f;
  return out;
}

template <class Loss>
Loss make_loss(const Config& cfg) {
  Loss l{};
  if constexpr (Loss::kind == LossKind::kLogistic) {
    l.lo = cfg.logistic_min;
    l.hi = cfg.logistic_max;
  } else if constexpr (Loss::kind == LossKind::kQuantile) {
    l.tau = cfg.quantile_tau;
  } else if constexpr (Loss::kind == LossKind::kExpectile) {
    l.q = cfg.expectile_q;
  }
  return l;
}

// The loss VW reports for an example (--binary reports 0/1 error on -1/1 labels).
template <class Loss>
float reported_loss(const Loss& loss, const Config& c, const Range& r, float pred, float out, float y, float w) {
  if (c.binary && std::fabs(y) == 1.f) return y == out ? 0.f : w;
  return loss.loss(r, pred, y) * w;
}
inline void advance_clock(OnlineState& st, const Example& ex) {
  if (!ex.labelled()) store_d(&st.weighted_unlabeled, st.weighted_unlabeled + ex.weight);
  store_d(&st.t, st.t + ex.weight);  // (relaxed: save() may read the state meanwhile)
}

// The scores and the label range, over a Learner's weights and online state.
struct Scoring {
  // The raw score while learning: initial + sum of w*x, with L1 truncation and L2 contraction as
  // VW's predict applies them (VW scales initial + sum by the contraction while training).
  //
  // `tame_values` tells whether every feature value lies in the guard's tame range (see Guard): for a
  // buffered example it is folded into the sum over the linear features (a min and a max each).
  template <class Feats>
  __attribute__((always_inline)) static float score(Learner& L, const Example& ex, const Feats& feats,
                                                    uint32_t& num_features, bool& tame_values) {
    float raw = ex.initial;
    const bool trunc = L.cfg_.l1 > 0.f && !ftrl_family(L.cfg_);
    const float g = static_cast<float>(L.state_.gravity);
    if constexpr (Feats::kStreamed) {
      size_t generated = 0;
      if (trunc) {
        generated = feats.each([&](float* w, float x) { raw += trunc_weight(load_w(w), g) * x; }, true);
      } else {
        generated = feats.each([&](float* w, float x) { raw += load_w(w) * x; }, true);
      }
      num_features = static_cast<uint32_t>(ex.num_linear_features() + generated);
      tame_values = values_tame(ex, L.guard_lo_, L.guard_hi_);
    } else {
      const FeatureRef* p = feats.buf->begin();
      const FeatureRef* end = feats.buf->end();
      const FeatureRef* linear_end = p + std::min(feats.buf->linear, feats.buf->size());
      float small = L.guard_lo_;
      float big = L.guard_hi_;
      if (trunc) {
        for (; p != linear_end; ++p) {
          raw += trunc_weight(load_w(p->w), g) * p->x;
          const float a = std::fabs(p->x);
          small = a < small ? a : small;
          big = a > big ? a : big;
        }
        for (; p != end; ++p) raw += trunc_weight(load_w(p->w), g) * p->x;
      } else {
        for (; p != linear_end; ++p) {
          raw += load_w(p->w) * p->x;
          const float a = std::fabs(p->x);
          small = a < small ? a : small;
          big = a > big ? a : big;
        }
        for (; p != end; ++p) raw += load_w(p->w) * p->x;
      }
      tame_values =
          L.guard_scan_ ? values_tame(ex, L.guard_lo_, L.guard_hi_) : small == L.guard_lo_ && big == L.guard_hi_;
    }
    if (!ftrl_family(L.cfg_)) raw *= static_cast<float>(L.state_.contraction);
    return raw;
  }

  // The raw score when testing (-t): VW has folded the contraction into the weights when loading,
  // so only the sum is scaled, then initial added. A narrow example's rows are all found (and
  // prefetched) before the sum; a wide one's are summed as they are walked, storing none.
  __attribute__((always_inline)) static float test_score(Learner& L, const Example& ex, uint32_t& num_features) {
    WeightTable& W = L.weights_;
    HotRows* hot = L.hot_;
    const uint32_t offset = L.offset_;
    const bool trunc = L.cfg_.l1 > 0.f && !ftrl_family(L.cfg_);
    const float g = static_cast<float>(L.state_.gravity);
    const size_t linear = ex.num_linear_features();
    float raw = 0.f;
    size_t generated = 0;
    if (buffered(ex, L.interactions_)) {
      FeatureBuffer& feats = L.scratch_;
      FeatureRef* out = feats.reserve(feature_bound(ex, linear, L.interactions_));
      generated =
          for_each_feature(ex, L.interactions_, L.cfg_.permutations, &L.cfg_.ignore_linear, [&](float x, uint32_t i) {
            float* w = W.row(i + offset);
            if (hot != nullptr) w = hot->redirect((i + offset) & W.mask(), w);
            __builtin_prefetch(w, 1, 3);
            *out++ = {w, x};
          });
      feats.n = static_cast<size_t>(out - feats.buf.data());
      if (trunc) {
        for (const FeatureRef& f : feats) raw += trunc_weight(load_w(f.w), g) * f.x;
      } else {
        for (const FeatureRef& f : feats) raw += load_w(f.w) * f.x;
      }
    } else {
      generated =
          for_each_feature(ex, L.interactions_, L.cfg_.permutations, &L.cfg_.ignore_linear, [&](float x, uint32_t i) {
            float* w = W.row(i + offset);
            if (hot != nullptr) w = hot->redirect((i + offset) & W.mask(), w);
            const float v = load_w(w);
            raw += (trunc ? trunc_weight(v, g) : v) * x;
          });
    }
    num_features = static_cast<uint32_t>(linear + generated);
    if (!ftrl_family(L.cfg_)) raw *= static_cast<float>(L.state_.contraction);
    return ex.initial + raw;
  }

  // The label range is read by concurrent predictions (predict_const), hence the atomic stores.
  __attribute__((always_inline)) static void widen_range(Learner& L, const Example& ex) {
    if (L.set_minmax_ && ex.labelled()) {
      if (ex.label < L.state_.min_label) store_w(&L.state_.min_label, ex.label);
      if (ex.label > L.state_.max_label) store_w(&L.state_.max_label, ex.label);
    }
  }
};

}  // namespace wabbit::detail
