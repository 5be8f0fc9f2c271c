// FreeGrad (VW's --freegrad): the diagonal, parameter-free rule of Mhammedi & Koolen, "Lipschitz
// and comparator-norm adaptivity in online learning" (COLT 2020), with optional FreeRange restarts
// and Cutkosky's projection onto a ball (2020), as VW computes them. One update rule behind the
// optimizer concept (core/optimizer/optimizer.h).
#pragma once

#include <cmath>

#include "core/feature_rows.h"
#include "core/nonfinite_guard.h"
#include "core/scoring.h"
#include "core/streamed_rows.h"

namespace wabbit::detail {

// A FreeGrad row (8 floats, 6 used, VW's layout): the weight a test prediction reads (the one the
// last update started from), the sum of gradients G, the sum of squared gradients V, the first
// gradient's magnitude h1 (the hint), the largest gradient magnitude ht, and the sum of |g| / ht.
constexpr size_t kFgSum = 1;
constexpr size_t kFgSquares = 2;
constexpr size_t kFgH1 = 3;
constexpr size_t kFgHt = 4;
constexpr size_t kFgRatios = 5;

struct FreeGrad {
  // The weight of a coordinate (Eq. 9 of the paper): 0 until a gradient is seen, then
  // -G eps (2V + ht|G|) h1^2 / (2 (V + ht|G|)^2 sqrt(V)) exp(G^2 / (2V + 2 ht|G|)).
  __attribute__((always_inline)) static float weight_of(const float* w, float eps) {
    const float h1 = load_w(w + kFgH1);
    if (!(h1 > 0.f)) return 0.f;
    const float ht = load_w(w + kFgHt);
    const float g = load_w(w + kFgSum);
    const float abs_g = std::fabs(g);
    const float v = load_w(w + kFgSquares);
    return -g * eps * (2.f * v + ht * abs_g) * std::pow(h1, 2.f) /
           (2.f * std::pow(v + ht * abs_g, 2.f) * std::sqrt(v)) *
           std::exp(std::pow(abs_g, 2.f) / (2.f * v + 2.f * ht * abs_g));
  }

  template <class Loss, class Feats>
  static Outcome steps(Learner& L, Example& ex, const Feats& feats, Outcome out, float min_before, float max_before) {
    OnlineState& st = L.state_;
    const Config& cfg = L.cfg_;
    const Loss loss = make_loss<Loss>(cfg);
    bool tame_values = true;
    const float raw = Scoring::score(L, ex, feats, out.num_features, tame_values);
    if (!ex.labelled()) {  // VW predicts an unlabelled example with the stored weights
      out.prediction = finalize_prediction(st, raw);
      out.output = output_of(cfg, out.prediction);
      advance_clock(st, ex);
      return out;
    }
    GuardPtr guard;
    if (!Guard::tame(L, ex, raw, tame_values)) [[unlikely]]
      guard = Guard::make(L, feats, min_before, max_before);
    const float eps = cfg.fepsilon * L.rate_factor_;
    const float weight = ex.weight;
    store_d(&st.total_weight, st.total_weight + weight);
    // The prediction: the weights from the sums so far, projected onto the ball when asked.
    float score = 0.f;
    float norm2 = 0.f;
    feats.each([&](float* w, float x) {
      const float wp = weight_of(w, eps);
      norm2 += std::pow(wp, 2.f);
      score += wp * x;
    });
    const float norm = std::sqrt(norm2);
    const float radius = cfg.fg_radius < 0.f ? eps * std::sqrt(st.fg_grad_norms) : cfg.fg_radius;
    if (cfg.fg_project && norm > radius) score *= radius / norm;
    const float pred = finalize_prediction(st, score);
    out.prediction = pred;
    out.output = output_of(cfg, pred);
    const Range range{st.min_label, st.max_label};
    const float y = ex.label;
    const float update = loss.first_derivative(range, pred, y);  // the importance weight enters below
    float g_dot_w = 0.f;
    if (cfg.fg_project) feats.each([&](float* w, float x) { g_dot_w += update * x * weight_of(w, eps); });
    const float lipschitz = cfg.flipschitz_const;
    float clipped_norm2 = 0.f;
    feats.each([&](float* w, float x) {
      const float gradient = update * x;
      const float wp = weight_of(w, eps);
      // (0/0 when the feature's only gradient came with importance weight 0: VW stores a NaN, which
      // only its test-time predictions read; the weight stored here is 0 then)
      if (load_w(w + kFgH1) > 0.f) store_w(w, std::isnan(wp) ? 0.f : wp);
      float tilde = gradient;
      // Cutkosky's reduction for a varying constraint: the gradient tilted toward the ball
      if (cfg.fg_project && norm > radius && g_dot_w < 0.f) tilde = gradient - (g_dot_w * wp) / std::pow(norm, 2.f);
      if (tilde == 0.f) return;
      const float h1 = load_w(w + kFgH1);
      const float ht = load_w(w + kFgHt);
      float clipped = tilde;
      const float abs_tilde = std::fabs(tilde);
      if (h1 == 0.f) {  // the first gradient (or the given Lipschitz bound) is the hint
        const float hint = lipschitz == 0.f ? abs_tilde : lipschitz;
        store_w(w + kFgH1, hint);
        store_w(w + kFgHt, hint);
        store_w(w + kFgSquares, load_w(w + kFgSquares) + weight * std::pow(abs_tilde, 2.f));
      } else if (abs_tilde > ht) {  // clip to the largest magnitude seen so far, and raise it
        clipped *= ht / abs_tilde;
        store_w(w + kFgHt, abs_tilde);
      }
      clipped_norm2 += std::pow(clipped, 2.f);
      const float new_ht = load_w(w + kFgHt);
      const float ratios = load_w(w + kFgRatios);
      const float g_step = clipped + (weight - 1.f) * tilde;
      const float v_step = std::pow(clipped, 2.f) + (weight - 1.f) * std::pow(tilde, 2.f);
      if (cfg.fg_restart && new_ht / load_w(w + kFgH1) > ratios + 2.f) {  // FreeRange: restart, keeping the hint
        store_w(w + kFgH1, new_ht);
        store_w(w + kFgSum, g_step);
        store_w(w + kFgSquares, v_step);
      } else {
        store_w(w + kFgSum, load_w(w + kFgSum) + g_step);
        store_w(w + kFgSquares, load_w(w + kFgSquares) + v_step);
      }
      if (ht > 0.f) store_w(w + kFgRatios, ratios + (std::fabs(clipped) / ht + (weight - 1.f) * abs_tilde / new_ht));
    });
    const float clipped_norm = std::sqrt(clipped_norm2);
    if (clipped_norm > st.fg_max_grad_norm) st.fg_max_grad_norm = clipped_norm;
    if (st.fg_max_grad_norm > 0.f) st.fg_grad_norms += weight * clipped_norm / st.fg_max_grad_norm;
    if (guard && !guard->keep(ex)) [[unlikely]] {
      out.skipped = L.skip_reason_.c_str();
      return out;
    }
    if (weight > 0.f) out.loss = reported_loss(loss, cfg, range, pred, out.output, y, weight);
    advance_clock(st, ex);
    return out;
  }

  // The rule's entry point (an ExampleFn, see optimizer.h): widens the label range first, as VW does
  // for a rule that returns its prediction from learn (gradient_descent.h).
  template <class Loss>
  static Outcome learn(Learner& L, Example& ex, MappedRows* rows) {
    const float min_before = L.state_.min_label;
    const float max_before = L.state_.max_label;
    Scoring::widen_range(L, ex);
    L.observe_namespaces(ex);
    Outcome out;
    if (FeatureRows::resolve(L, ex, out.num_features, rows)) {
      return steps<Loss>(L, ex, StreamedFeats{&L, &ex}, out, min_before, max_before);
    }
    return steps<Loss>(L, ex, BufferedFeats{&L.scratch_}, out, min_before, max_before);
  }
};

}  // namespace wabbit::detail
