// FTRL-Proximal as VW's --ftrl implements it. One update rule behind the optimizer concept
// (core/optimizer/optimizer.h).
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

// FTRL-Proximal's row: weight, z (dual), sum of squared gradients.
constexpr size_t kFtrlZ = 1;
constexpr size_t kFtrlG2 = 2;

// FTRL-Proximal (McMahan et al., KDD 2013) as VW's --ftrl implements it: per coordinate,
// z += g - sigma * w, n += g^2, w = 0 if |z| <= l1, else -(z - sign(z) l1) / (l2 + (beta + sqrt n) / alpha).
struct Ftrl {
  template <class Loss, class Feats>
  static Outcome steps(Learner& L, Example& ex, const Feats& feats, Outcome out) {
    OnlineState& st = L.state_;
    const Config& cfg = L.cfg_;
    const Loss loss = make_loss<Loss>(cfg);
    bool tame_values = true;
    const float raw = Scoring::score(L, ex, feats, out.num_features, tame_values);
    // VW's FTRL does not return its prediction from learn, so VW predicts first (reporting the score
    // clamped to the labels seen before this one) and then learns (widening the range with this
    // label, and computing the loss and gradient on the score clamped to the new range).
    out.output = output_of(cfg, finalize_prediction(st, raw));
    const float min_before = st.min_label;
    const float max_before = st.max_label;
    Scoring::widen_range(L, ex);
    const float pred = finalize_prediction(st, raw);
    out.prediction = pred;
    if (ex.labelled() && ex.weight > 0.f) {
      const Range range{st.min_label, st.max_label};
      const float y = ex.label;
      const float update = loss.first_derivative(range, pred, y) * ex.weight;
      const float alpha = cfg.ftrl_alpha * L.rate_factor_;
      const float beta = cfg.ftrl_beta;
      const float l1 = cfg.l1;
      const float l2 = cfg.l2;
      GuardPtr guard;
      if (!Guard::tame(L, ex, raw, tame_values)) [[unlikely]]
        guard = Guard::make(L, feats, min_before, max_before);
      feats.each([&](float* w, float x) {
        const float gradient = update * x;
        const float g2 = load_w(w + kFtrlG2);
        const float ng2 = g2 + gradient * gradient;
        const float sqrt_ng2 = std::sqrt(ng2);
        const float sigma = (sqrt_ng2 - std::sqrt(g2)) / alpha;
        const float z = load_w(w + kFtrlZ) + (gradient - sigma * load_w(w));
        store_w(w + kFtrlZ, z);
        store_w(w + kFtrlG2, ng2);
        const float sign = z > 0.f ? 1.f : (z < 0.f ? -1.f : 0.f);
        const float abs_z = z * sign;
        if (abs_z <= l1) {
          store_w(w, 0.f);
        } else {
          const float step = 1.f / (l2 + (beta + sqrt_ng2) / alpha);
          store_w(w, step * sign * (l1 - abs_z));
        }
      });
      if (guard && !guard->keep(ex)) [[unlikely]] {
        out.skipped = L.skip_reason_.c_str();
        return out;
      }
      out.loss = reported_loss(loss, cfg, range, pred, out.output, y, ex.weight);
    }
    advance_clock(st, ex);
    return out;
  }

  // The rule's entry point (an ExampleFn, see optimizer.h): resolves ex's rows (buffered or
  // streamed) and runs steps over them; FTRL widens the range after predicting (see steps).
  template <class Loss>
  static Outcome learn(Learner& L, Example& ex, MappedRows* rows) {
    L.observe_namespaces(ex);
    Outcome out;
    if (FeatureRows::resolve(L, ex, out.num_features, rows)) return steps<Loss>(L, ex, StreamedFeats{&L, &ex}, out);
    return steps<Loss>(L, ex, BufferedFeats{&L.scratch_}, out);
  }
};

}  // namespace wabbit::detail
