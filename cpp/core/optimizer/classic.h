// The classic online rules on the learner's features: the perceptron and the passive-aggressive
// classifier and regressor (PA, PA-I, PA-II; Crammer et al. 2006), river being the reference. One
// update rule behind the optimizer concept (core/optimizer/optimizer.h).
#pragma once

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <memory>

#include "core/feature_rows.h"
#include "core/nonfinite_guard.h"
#include "core/scoring.h"
#include "core/streamed_rows.h"

namespace wabbit::detail {

// The perceptron and passive-aggressive rules, as river implements them: the constant feature is
// the intercept (updated with the same step, left out of ||x||^2), and predictions are not clamped.
struct ClassicRules {
  template <class Loss, class Feats>
  static Outcome steps(Learner& L, Example& ex, const Feats& feats, Outcome out) {
    OnlineState& st = L.state_;
    const Config& cfg = L.cfg_;
    const Loss loss = make_loss<Loss>(cfg);
    bool tame_values = true;
    float raw = Scoring::score(L, ex, feats, out.num_features, tame_values);
    const float raw_before = raw;
    if (std::isnan(raw)) raw = 0.f;
    out.prediction = raw;
    out.output = output_of(cfg, raw);
    if (ex.labelled() && ex.weight > 0.f) {
      const float y = ex.label;
      float step = 0.f;
      if (cfg.classic_rule == 1) {
        if (y * raw <= 0.f) step = y * ex.weight;  // perceptron: hinge at threshold 0, learning rate 1
      } else {
        std::array<bool, 256> skip = cfg.ignore_linear;
        skip[kConstantNamespace] = true;
        double norm = 0.;  // in double: PA's step divides by it, and small norms magnify errors
        for_each_feature(ex, L.interactions_, L.cfg_.permutations, &skip,
                         [&](float x, uint32_t) { norm += static_cast<double>(x) * x; });
        const double hinge = cfg.classic_rule == 2 ? std::max(0., 1. - static_cast<double>(y) * raw)
                                                   : std::max(0., std::fabs(static_cast<double>(y) - raw) - cfg.pa_eps);
        double tau = 0.;
        if (cfg.pa_variant == 0)
          tau = norm > 0. ? hinge / norm : 0.;
        else if (cfg.pa_variant == 1)
          tau = norm > 0. ? std::min(static_cast<double>(cfg.pa_c), hinge / norm) : 0.;
        else
          tau = hinge / (norm + 0.5 / cfg.pa_c);
        const float direction = cfg.classic_rule == 2 ? y : (y > raw ? 1.f : (y < raw ? -1.f : 0.f));
        step = static_cast<float>(tau * direction * ex.weight);
      }
      if (step != 0.f) {
        GuardPtr guard;
        if (!Guard::tame(L, ex, raw_before, tame_values) || !std::isfinite(step)) [[unlikely]] {
          guard = Guard::make(L, feats, st.min_label, st.max_label);
        }
        feats.each([&](float* w, float x) { store_w(w, load_w(w) + step * x); });
        if (guard && !guard->keep(ex)) [[unlikely]] {
          out.skipped = L.skip_reason_.c_str();
          return out;
        }
      }
      out.loss = reported_loss(loss, cfg, Range{-FLT_MAX, FLT_MAX}, raw, out.output, y, ex.weight);
    }
    advance_clock(st, ex);
    return out;
  }

  // The rule's entry point (an ExampleFn, see optimizer.h): resolves ex's rows (buffered or
  // streamed) and runs steps over them; no label range: river does not clamp.
  template <class Loss>
  static Outcome learn(Learner& L, Example& ex, MappedRows* rows) {
    L.observe_namespaces(ex);
    Outcome out;
    if (FeatureRows::resolve(L, ex, out.num_features, rows)) return steps<Loss>(L, ex, StreamedFeats{&L, &ex}, out);
    return steps<Loss>(L, ex, BufferedFeats{&L.scratch_}, out);
  }
};

}  // namespace wabbit::detail
