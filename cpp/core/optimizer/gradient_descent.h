// VW's gradient descent (gd.cc), every variant: the adaptive (AdaGrad), normalized and
// importance-invariant updates in any combination, plain SGD with a decaying rate, and VW's lazy
// truncated-gradient L1 and L2. One update rule behind the optimizer concept (core/optimizer/optimizer.h).
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

// The per-example update: VW's gd::learn for one (loss, adaptive, normalized, sqrt_rate), over
// the example's features as `feats` gives them (buffered or streamed: the same order).
template <bool Adaptive, bool Normalized, bool SqrtRate>
struct GradientDescent {
  using S = Slots<Adaptive, Normalized>;

  template <class Loss, class Feats>
  __attribute__((flatten)) static Outcome steps(Learner& L, Example& ex, const Feats& feats, Outcome out,
                                                float min_before, float max_before) {
    OnlineState& st = L.state_;
    const Config& cfg = L.cfg_;
    const Loss loss = make_loss<Loss>(cfg);
    bool tame_values = true;
    const float raw = Scoring::score(L, ex, feats, out.num_features, tame_values);
    const float pred = finalize_prediction(st, raw);
    out.prediction = pred;
    out.output = output_of(cfg, pred);
    const float weight = ex.weight;

    if (ex.labelled() && weight > 0.f) {
      const Range range{st.min_label, st.max_label};
      const float y = ex.label;
      const float example_loss = loss.loss(range, pred, y);  // computed once: it needs log and exp
      if (example_loss > 0.f) {
        float grad_squared = 0.f;
        if constexpr (Adaptive || Normalized) grad_squared = weight * loss.square_grad(pred, y);
        GuardPtr guard;
        if (!Guard::tame(L, ex, raw, tame_values) || (Adaptive && tiny_grad_squared(grad_squared))) [[unlikely]]
          guard = Guard::make(L, feats, min_before, max_before);
        float pred_per_update;
        if constexpr (Adaptive || Normalized) {
          if (grad_squared == 0.f) {
            pred_per_update = 1.f;
          } else {
            float ppu = 0.f;
            float norm_x = 0.f;
            const float neg_power_t = L.neg_power_t_;
            const float neg_norm_power = L.neg_norm_power_;
            feats.each([&](float* w, float x) {
              float nx = 0.f;
              if constexpr (Normalized) nx = load_w(w + S::normalized);
              if constexpr (Adaptive && Normalized && SqrtRate) {
                // A binary feature whose normalizer is already 1 (most features of a click log):
                // x2, x2 / nx^2 and 1 / nx are exactly 1, so this is the general step below, bit for bit.
                if (x == 1.f && nx == 1.f) {
                  const float g2 = load_w(w + S::adaptive) + grad_squared;
                  store_w(w + S::adaptive, g2);
                  const float rate = inv_sqrt(g2);
                  store_w(w + S::spare, rate);
                  norm_x += 1.f;
                  ppu += rate;
                  return;
                }
              }
              float x2 = x * x;
              if (x2 < kX2Min) [[unlikely]] {
                x = x > 0.f ? kXMin : -kXMin;
                x2 = kX2Min;
              }
              // Each slot is loaded once and stored once (relaxed atomics: see weights.h).
              float g2 = 0.f;
              if constexpr (Adaptive) {
                g2 = load_w(w + S::adaptive) + grad_squared * x2;
                store_w(w + S::adaptive, g2);
              }
              if constexpr (Normalized) {
                const float x_abs = std::fabs(x);
                if (x_abs > nx) [[unlikely]] {
                  if (nx > 0.f) {
                    if constexpr (SqrtRate) {
                      const float rescale = nx / x_abs;
                      store_w(w, load_w(w) * (Adaptive ? rescale : rescale * rescale));
                    } else {
                      const float rescale = x_abs / nx;
                      store_w(w, load_w(w) * std::pow(rescale * rescale, neg_norm_power));
                    }
                  }
                  nx = x_abs;
                  store_w(w + S::normalized, nx);
                }
                // x2 / (nx * nx) is exactly 1 when this feature set the maximum (nx * nx is then
                // the same product as x2): skip the division, the common case for 0/1 features. An
                // overflowing x2 counts 1.
                norm_x += nx == x_abs || x2 > kX2Max ? 1.f : x2 / (nx * nx);
              }
              float rate = 1.f;
              if constexpr (Adaptive) {
                if constexpr (SqrtRate)
                  rate = inv_sqrt(g2);
                else
                  rate = std::pow(g2, neg_power_t);
              }
              if constexpr (Normalized) {
                if constexpr (SqrtRate) {
                  const float inv_norm = nx == 1.f ? 1.f : 1.f / nx;  // exact either way; skips a division
                  rate *= Adaptive ? inv_norm : inv_norm * inv_norm;
                } else {
                  rate *= std::pow(nx * nx, neg_norm_power);
                }
              }
              // VW keeps the rate in the row (a feature that occurs twice uses the last one).
              store_w(w + S::spare, rate);
              ppu += x2 * rate;
            });
            if constexpr (Normalized) {
              store_d(&st.normalized_sum_norm_x, st.normalized_sum_norm_x + static_cast<double>(weight) * norm_x);
              store_d(&st.total_weight, st.total_weight + weight);
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
          feats.each([&](float*, float x) { sum_sq += x * x; });
          pred_per_update = sum_sq;
        }
        float update_scale = L.eta_ * weight;
        if constexpr (!Adaptive) {
          const float t = static_cast<float>(st.t + weight - st.weighted_unlabeled);
          update_scale *= std::pow(t, L.neg_power_t_);
        }
        float update = cfg.invariant ? loss.update(pred, y, update_scale, pred_per_update)
                                     : loss.unsafe_update(pred, y, update_scale);
        if ((cfg.l1 > 0.f || cfg.l2 > 0.f) && std::fabs(update) > 1e-8f) {
          // VW's lazy regularisation: shrink (L2) and truncate (L1) all weights implicitly.
          const double dev1 = loss.first_derivative(range, pred, y);
          const double eta_bar = std::fabs(dev1) > 1e-8 ? -update / dev1 : 0.0;
          if (std::fabs(dev1) > 1e-8) store_d(&st.contraction, st.contraction * (1. - cfg.l2 * eta_bar));
          update /= static_cast<float>(st.contraction);
          store_d(&st.gravity, st.gravity + eta_bar * cfg.l1);
        }
        if (std::isnan(update)) update = 0.f;

        if (update != 0.f) {
          if constexpr (Normalized) update *= L.update_multiplier_;
          if constexpr (S::spare != 0) {
            feats.each([&](float* w, float x) { store_w(w, load_w(w) + update * (x * load_w(w + S::spare))); });
          } else {
            feats.each([&](float* w, float x) {
              if (x < FLT_MAX && x > -FLT_MAX) store_w(w, load_w(w) + update * x);
            });
          }
        }
        if (guard && !guard->keep(ex)) [[unlikely]] {
          out.skipped = L.skip_reason_.c_str();
          return out;
        }
        if (st.contraction < 1e-9 || st.gravity > 1e3) L.sync_weights();
      }
      out.loss = cfg.binary ? reported_loss(loss, cfg, range, pred, out.output, y, weight) : example_loss * weight;
    }
    advance_clock(st, ex);
    return out;
  }

  // The rule's entry point (an ExampleFn, see optimizer.h): resolves ex's rows (buffered or
  // streamed) and runs steps over them; widens the label range first (VW's gd does, before predicting).
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
