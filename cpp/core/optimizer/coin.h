// Coin betting (VW's --coin): a parameter-free rule, COCOB without the sigmoid (Orabona & Pal,
// "Training deep networks without learning rates through coin betting", 2017), as VW computes it.
// One update rule behind the optimizer concept (core/optimizer/optimizer.h).
#pragma once

#include <cmath>

#include "core/feature_rows.h"
#include "core/nonfinite_guard.h"
#include "core/scoring.h"
#include "core/streamed_rows.h"

namespace wabbit::detail {

// A coin-betting row (8 floats, 6 used, VW's layout): the weight a prediction reads, the sum of
// negative gradients, the sum of |gradient|, the largest |x| seen, the wealth won, and the largest
// |gradient| seen (at least beta once one is).
constexpr size_t kCoinTheta = 1;
constexpr size_t kCoinSumAbsGrad = 2;
constexpr size_t kCoinMaxX = 3;
constexpr size_t kCoinWealth = 4;
constexpr size_t kCoinMaxGrad = 5;

// Per coordinate, the bet is w = (alpha + wealth) / (L m (L m + sum|g|)) * theta, with L the largest
// gradient and m the largest |x| seen. The score is the sum of the bets over the example, divided
// by the running average of the squared norm of x (each value scaled by its feature's m), and the
// stored weight is the bet after the update divided by the same average. alpha is --ftrl_alpha
// (default 4), beta --ftrl_beta (default 1: the smallest L once a gradient is seen).
struct Coin {
  __attribute__((always_inline)) static float bet(float alpha, float wealth, float max_grad, float max_x, float g1,
                                                  float theta) {
    return (alpha + wealth) / (max_grad * max_x * (max_grad * max_x + g1)) * theta;
  }

  template <class Loss, class Feats>
  static Outcome steps(Learner& L, Example& ex, const Feats& feats, Outcome out) {
    OnlineState& st = L.state_;
    const Config& cfg = L.cfg_;
    const Loss loss = make_loss<Loss>(cfg);
    bool tame_values = true;
    // What is reported: VW's --coin does not return its prediction from learn, so VW first predicts
    // with the stored weights (the label range before this label), as FTRL does (ftrl.h).
    const float raw = Scoring::score(L, ex, feats, out.num_features, tame_values);
    out.output = output_of(cfg, finalize_prediction(st, raw));
    out.prediction = finalize_prediction(st, raw);
    if (!ex.labelled()) {
      advance_clock(st, ex);
      return out;
    }
    const float min_before = st.min_label;
    const float max_before = st.max_label;
    Scoring::widen_range(L, ex);
    const float reported = finalize_prediction(st, raw);  // what the reported loss is computed on
    out.prediction = reported;
    GuardPtr guard;
    if (!Guard::tame(L, ex, raw, tame_values)) [[unlikely]]
      guard = Guard::make(L, feats, min_before, max_before);
    const float alpha = cfg.ftrl_alpha * L.rate_factor_;
    const float beta = cfg.ftrl_beta;
    // The bet of this example, from the state before it.
    float score = 0.f;
    float norm_x = 0.f;
    feats.each([&](float* w, float x) {
      const float max_grad = load_w(w + kCoinMaxGrad);
      float max_x = load_w(w + kCoinMaxX);
      const float ax = std::fabs(x);
      if (ax > max_x) max_x = ax;
      float b = 0.f;
      if (max_grad * max_x > 0.f) {
        b = bet(alpha, load_w(w + kCoinWealth), max_grad, max_x, load_w(w + kCoinSumAbsGrad), load_w(w + kCoinTheta));
      }
      score += b * x;
      if (max_x > 0.f) {
        const float xn = x / max_x;
        norm_x += xn * xn;
      }
    });
    const float weight = ex.weight;
    store_d(&st.normalized_sum_norm_x, st.normalized_sum_norm_x + static_cast<double>(weight) * norm_x);
    store_d(&st.total_weight, st.total_weight + weight);
    const float avg = static_cast<float>((st.normalized_sum_norm_x + 1e-6) / st.total_weight);
    const float pred = finalize_prediction(st, score / avg);
    const Range range{st.min_label, st.max_label};
    const float y = ex.label;
    const float update = loss.first_derivative(range, pred, y) * weight;
    const float abs_update = std::fabs(update);
    feats.each([&](float* w, float x) {
      const float ax = std::fabs(x);
      const float gradient = update * x;
      float max_x = load_w(w + kCoinMaxX);
      if (ax > max_x) {
        max_x = ax;
        store_w(w + kCoinMaxX, max_x);
      }
      float max_grad = load_w(w + kCoinMaxGrad);
      if (abs_update > max_grad) {
        max_grad = abs_update > beta ? abs_update : beta;
        store_w(w + kCoinMaxGrad, max_grad);
      }
      const float theta = load_w(w + kCoinTheta);
      const float g1 = load_w(w + kCoinSumAbsGrad);
      const float wealth = load_w(w + kCoinWealth);
      // the bet again, with the largest |x| and gradient this example may have raised
      const float b = max_grad * max_x > 0.f ? bet(alpha, wealth, max_grad, max_x, g1, theta) : 0.f;
      store_w(w + kCoinTheta, theta - gradient);
      store_w(w + kCoinSumAbsGrad, g1 + std::fabs(gradient));
      store_w(w + kCoinWealth, wealth + (-gradient * b));
      store_w(w, b / avg);
    });
    if (guard && !guard->keep(ex)) [[unlikely]] {
      out.skipped = L.skip_reason_.c_str();
      return out;
    }
    if (weight > 0.f) out.loss = reported_loss(loss, cfg, range, pred, out.output, y, weight);
    advance_clock(st, ex);
    return out;
  }

  // The rule's entry point (an ExampleFn, see optimizer.h).
  template <class Loss>
  static Outcome learn(Learner& L, Example& ex, MappedRows* rows) {
    L.observe_namespaces(ex);
    Outcome out;
    if (FeatureRows::resolve(L, ex, out.num_features, rows)) return steps<Loss>(L, ex, StreamedFeats{&L, &ex}, out);
    return steps<Loss>(L, ex, BufferedFeats{&L.scratch_}, out);
  }
};

}  // namespace wabbit::detail
