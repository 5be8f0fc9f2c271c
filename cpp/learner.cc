#include "learner.h"

#include <cmath>
#include <stdexcept>

namespace wabbit {
namespace {

constexpr float kXMin = 1.084202e-19f;
constexpr float kX2Min = kXMin * kXMin;
constexpr float kX2Max = FLT_MAX;

// Slot positions in a weight row, as VW lays them out for each update rule.
template <bool Adaptive, bool Normalized>
struct Slots {
  static constexpr size_t adaptive = Adaptive ? 1 : 0;
  static constexpr size_t normalized = Normalized ? adaptive + 1 : 0;
  static constexpr size_t spare = Normalized ? adaptive + 2 : (Adaptive ? 2 : 0);
};

inline float inv_sqrt(float x) { return 1.f / std::sqrt(x); }

inline float finalize_prediction(const OnlineState& s, float p) {
  if (std::isnan(p)) return 0.f;
  if (p > s.max_label) return s.max_label;
  if (p < s.min_label) return s.min_label;
  return p;
}

template <class Loss>
Loss make_loss(const Config& cfg) {
  if constexpr (Loss::kind == LossKind::kLogistic) {
    Loss l;
    l.lo = cfg.logistic_min;
    l.hi = cfg.logistic_max;
    return l;
  } else {
    return Loss{};
  }
}

// Raw prediction: initial + sum of w*x over all features, and the number of features seen.
inline float raw_predict(const Learner& L, const Example& ex, uint32_t& num_features) {
  float sum = ex.initial;
  const WeightTable& W = L.weights_;
  const size_t generated =
      for_each_feature(ex, L.interactions_, [&](float x, uint32_t i) { sum += W.row(i)[0] * x; });
  num_features = static_cast<uint32_t>(ex.num_linear_features() + generated);
  return sum;
}

// The per-example update: VW's gd::learn for one (loss, adaptive, normalized, sqrt_rate, invariant).
template <class Loss, bool Adaptive, bool Normalized, bool SqrtRate, bool Invariant>
Outcome learn_one(Learner& L, Example& ex) {
  using S = Slots<Adaptive, Normalized>;
  OnlineState& st = L.state_;
  const Loss loss = make_loss<Loss>(L.cfg_);
  if (L.set_minmax_ && ex.labelled()) {
    st.min_label = std::min(st.min_label, ex.label);
    st.max_label = std::max(st.max_label, ex.label);
  }
  Outcome out;
  // One pass computes every feature's row (prefetching it) and value; the predict, sensitivity and
  // update passes below then walk this flat list instead of re-deriving interactions.
  std::vector<FeatureRef>& feats = L.scratch_;
  feats.clear();
  {
    WeightTable& W = L.weights_;
    const size_t generated = for_each_feature(ex, L.interactions_, [&](float x, uint32_t i) {
      float* w = W.row(i);
      __builtin_prefetch(w, 1, 3);
      feats.push_back({w, x});
    });
    out.num_features = static_cast<uint32_t>(ex.num_linear_features() + generated);
  }
  float raw = ex.initial;
  for (const FeatureRef& f : feats) raw += f.w[0] * f.x;
  const float pred = finalize_prediction(st, raw);
  out.prediction = pred;
  const bool labelled = ex.labelled();
  const float weight = ex.weight;

  if (labelled && weight > 0.f) {
    const Range now{st.min_label, st.max_label};
    const float y = ex.label;
    float update = 0.f;
    if (loss.loss(now, pred, y) > 0.f) {
      float pred_per_update;
      if constexpr (Adaptive || Normalized) {
        const float grad_squared = weight * loss.square_grad(pred, y);
        if (grad_squared == 0.f) {
          pred_per_update = 1.f;
        } else {
          float ppu = 0.f;
          float norm_x = 0.f;
          const float neg_power_t = L.neg_power_t_;
          const float neg_norm_power = L.neg_norm_power_;
          for (const FeatureRef& f : feats) {
            float* w = f.w;
            float x = f.x;
            float x2 = x * x;
            if (x2 < kX2Min) {
              x = x > 0.f ? kXMin : -kXMin;
              x2 = kX2Min;
            }
            if constexpr (Adaptive) w[S::adaptive] += grad_squared * x2;
            if constexpr (Normalized) {
              const float x_abs = std::fabs(x);
              if (x_abs > w[S::normalized]) {
                if (w[S::normalized] > 0.f) {
                  if constexpr (SqrtRate) {
                    const float rescale = w[S::normalized] / x_abs;
                    w[0] *= Adaptive ? rescale : rescale * rescale;
                  } else {
                    const float rescale = x_abs / w[S::normalized];
                    w[0] *= std::pow(rescale * rescale, neg_norm_power);
                  }
                }
                w[S::normalized] = x_abs;
              }
              float norm_x2 = x2 / (w[S::normalized] * w[S::normalized]);
              if (x2 > kX2Max) norm_x2 = 1.f;
              norm_x += norm_x2;
            }
            float rate = 1.f;
            if constexpr (Adaptive) {
              if constexpr (SqrtRate) rate = inv_sqrt(w[S::adaptive]);
              else rate = std::pow(w[S::adaptive], neg_power_t);
            }
            if constexpr (Normalized) {
              if constexpr (SqrtRate) {
                const float inv_norm = 1.f / w[S::normalized];
                rate *= Adaptive ? inv_norm : inv_norm * inv_norm;
              } else {
                rate *= std::pow(w[S::normalized] * w[S::normalized], neg_norm_power);
              }
            }
            w[S::spare] = rate;
            ppu += x2 * rate;
          }
          if constexpr (Normalized) {
            st.normalized_sum_norm_x += static_cast<double>(weight) * norm_x;
            st.total_weight += weight;
            const float tw = static_cast<float>(st.total_weight);
            const float nsnx = static_cast<float>(st.normalized_sum_norm_x);
            if constexpr (SqrtRate) {
              const float avg = tw / nsnx;
              L.update_multiplier_ = Adaptive ? std::sqrt(avg) : avg;
            } else {
              L.update_multiplier_ = std::pow(nsnx / tw, neg_norm_power);
            }
            ppu *= L.update_multiplier_;
          }
          pred_per_update = ppu;
        }
      } else {
        float sum_sq = 0.f;
        for (const FeatureRef& f : feats) sum_sq += f.x * f.x;
        pred_per_update = sum_sq;
      }
      float update_scale = L.eta_ * weight;
      if constexpr (!Adaptive) {
        const float t = static_cast<float>(st.t + weight - st.weighted_unlabeled);
        update_scale *= std::pow(t, L.neg_power_t_);
      }
      if constexpr (Invariant) update = loss.update(pred, y, update_scale, pred_per_update);
      else update = loss.unsafe_update(pred, y, update_scale);
      if (std::isnan(update)) update = 0.f;

      if (update != 0.f) {
        if constexpr (Normalized) update *= L.update_multiplier_;
        if constexpr (S::spare != 0) {
          for (const FeatureRef& f : feats) f.w[0] += update * (f.x * f.w[S::spare]);
        } else {
          for (const FeatureRef& f : feats) {
            if (f.x < FLT_MAX && f.x > -FLT_MAX) f.w[0] += update * f.x;
          }
        }
      }
    }
    out.loss = loss.loss(now, pred, y) * weight;
  }
  if (!labelled) st.weighted_unlabeled += weight;
  st.t += weight;
  return out;
}

template <class Loss>
Outcome predict_one(Learner& L, Example& ex) {
  OnlineState& st = L.state_;
  const Loss loss = make_loss<Loss>(L.cfg_);
  Outcome out;
  const float raw = raw_predict(L, ex, out.num_features);
  out.prediction = finalize_prediction(st, raw);
  if (ex.labelled() && ex.weight > 0.f) {
    out.loss = loss.loss(Range{st.min_label, st.max_label}, out.prediction, ex.label) * ex.weight;
  }
  if (!ex.labelled()) st.weighted_unlabeled += ex.weight;
  st.t += ex.weight;
  return out;
}

template <class Loss, bool A, bool N, bool Sq>
ExampleFn pick_invariant(bool invariant) {
  return invariant ? &learn_one<Loss, A, N, Sq, true> : &learn_one<Loss, A, N, Sq, false>;
}
template <class Loss, bool A, bool N>
ExampleFn pick_sqrt(bool sqrt_rate, bool invariant) {
  return sqrt_rate ? pick_invariant<Loss, A, N, true>(invariant) : pick_invariant<Loss, A, N, false>(invariant);
}
template <class Loss>
ExampleFn pick_learn(const Config& c) {
  const bool sq = c.power_t == 0.5f;
  if (c.adaptive && c.normalized) return pick_sqrt<Loss, true, true>(sq, c.invariant);
  if (c.adaptive) return pick_sqrt<Loss, true, false>(sq, c.invariant);
  if (c.normalized) return pick_sqrt<Loss, false, true>(sq, c.invariant);
  return pick_sqrt<Loss, false, false>(sq, c.invariant);
}

}  // namespace

uint32_t stride_shift_for(const Config& cfg) { return (cfg.adaptive || cfg.normalized) ? 2u : 0u; }

Learner::Learner(Config cfg) : cfg_(std::move(cfg)) {
  if (!(cfg_.learning_rate > 0.f) || !std::isfinite(cfg_.learning_rate)) {
    throw std::invalid_argument("learning rate must be a positive number");
  }
  if (!std::isfinite(cfg_.power_t) || cfg_.power_t < 0.f) throw std::invalid_argument("power_t must be >= 0");
  if (!std::isfinite(cfg_.initial_t) || cfg_.initial_t < 0.f) throw std::invalid_argument("initial_t must be >= 0");
  if (cfg_.loss == LossKind::kLogistic && !(cfg_.logistic_max > cfg_.logistic_min)) {
    throw std::invalid_argument("logistic_max must be greater than logistic_min");
  }
  weights_.reset(cfg_.bits, stride_shift_for(cfg_));
  interactions_ = compile_interactions(cfg_.interactions);
  neg_power_t_ = -cfg_.power_t;
  // VW computes this while its adaptive flag is still at its default (on), so it is power_t - 1
  // for every rule; it matters only for normalized updates with power_t != 0.5.
  neg_norm_power_ = cfg_.power_t - 1.f;
  eta_ = cfg_.learning_rate;
  state_.t = cfg_.initial_t;
  if (!cfg_.adaptive && !cfg_.normalized) eta_ *= std::pow(static_cast<float>(state_.t), cfg_.power_t);
  if (cfg_.initial_t > 0.f) {
    state_.normalized_sum_norm_x = cfg_.initial_t;
    state_.total_weight = cfg_.initial_t;
    if (cfg_.adaptive) weights_.fill_slot(1, cfg_.initial_t);
  }
  if (cfg_.loss == LossKind::kLogistic) {
    state_.min_label = -50.f;
    state_.max_label = 50.f;
  }
  if (cfg_.has_min_prediction) state_.min_label = cfg_.min_prediction;
  if (cfg_.has_max_prediction) state_.max_label = cfg_.max_prediction;
  set_minmax_ = !(cfg_.has_min_prediction || cfg_.has_max_prediction);
  if (cfg_.loss == LossKind::kLogistic) {
    learn_fn_ = pick_learn<LogisticLoss>(cfg_);
    predict_fn_ = &predict_one<LogisticLoss>;
  } else {
    learn_fn_ = pick_learn<SquaredLoss>(cfg_);
    predict_fn_ = &predict_one<SquaredLoss>;
  }
}

Learner::Learner(const Learner& o)
    : cfg_(o.cfg_),
      state_(o.state_),
      interactions_(o.interactions_),
      eta_(o.eta_),
      neg_power_t_(o.neg_power_t_),
      neg_norm_power_(o.neg_norm_power_),
      update_multiplier_(o.update_multiplier_),
      training_(o.training_),
      set_minmax_(o.set_minmax_),
      learn_fn_(o.learn_fn_),
      predict_fn_(o.predict_fn_) {
  weights_.copy_from(o.weights_);
}

float Learner::predict_const(const Example& ex) const {
  uint32_t n = 0;
  return finalize_prediction(state_, raw_predict(*this, ex, n));
}

void Learner::after_load() {}

}  // namespace wabbit
