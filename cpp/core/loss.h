// Loss functions with Vowpal Wabbit's conventions and its importance-invariant updates
// (Karampatziakis & Langford, "Online Importance Weight Aware Updates", 2011).
//
// Each loss is a small struct with inline members, so the learner template specialises the hot loop
// per loss. `Range` is the prediction range [min_label, max_label] that VW tracks.
#pragma once

#include <cmath>

namespace wabbit {

struct Range {
  float min_label = 0.f;
  float max_label = 0.f;
};

enum class LossKind {
  kSquared = 0,
  kLogistic = 1,
  kClassic = 2,
  kHinge = 3,
  kQuantile = 4,
  kPoisson = 5,
  kExpectile = 6
};

struct SquaredLoss {
  static constexpr LossKind kind = LossKind::kSquared;

  float loss(const Range& r, float p, float y) const {
    if (p <= r.max_label && p >= r.min_label) return (p - y) * (p - y);
    if (p < r.min_label) {
      if (y == r.min_label) return 0.f;
      return static_cast<float>((y - r.min_label) * (y - r.min_label) + 2. * (y - r.min_label) * (r.min_label - p));
    }
    if (y == r.max_label) return 0.f;
    return static_cast<float>((r.max_label - y) * (r.max_label - y) + 2. * (r.max_label - y) * (p - r.max_label));
  }
  // Importance-invariant step: the closed form of infinitely many infinitesimal updates.
  float update(float p, float y, float scale, float ppu) const {
    if (scale * ppu < 1e-6f) return 2.f * (y - p) * scale;
    return (y - p) * (1.f - std::exp(-2.f * scale * ppu)) / ppu;
  }
  float unsafe_update(float p, float y, float scale) const { return 2.f * (y - p) * scale; }
  float square_grad(float p, float y) const { return 4.f * (p - y) * (p - y); }
  float first_derivative(const Range& r, float p, float y) const {
    if (p < r.min_label)
      p = r.min_label;
    else if (p > r.max_label)
      p = r.max_label;
    return 2.f * (p - y);
  }
};

// Expectile loss (VW: --loss_function expectile --expectile_q q, q in (0, 0.5]): the squared loss
// weighted by q where the prediction is above the label and by 1 - q where it is not. Every member
// is the squared loss's with that weight folded in (the update's through its importance scale).
struct ExpectileLoss {
  static constexpr LossKind kind = LossKind::kExpectile;
  float q = 0.5f;

  float side(float p, float y) const { return y - p < 0.f ? q : 1.f - q; }
  float loss(const Range& r, float p, float y) const { return SquaredLoss{}.loss(r, p, y) * side(p, y); }
  float update(float p, float y, float scale, float ppu) const {
    return SquaredLoss{}.update(p, y, side(p, y) * scale, ppu);
  }
  float unsafe_update(float p, float y, float scale) const {
    return SquaredLoss{}.unsafe_update(p, y, side(p, y) * scale);
  }
  float square_grad(float p, float y) const {
    const float s = side(p, y);
    return SquaredLoss{}.square_grad(p, y) * (s * s);
  }
  float first_derivative(const Range& r, float p, float y) const {
    return SquaredLoss{}.first_derivative(r, p, y) * side(p, y);
  }
};

// Logistic loss on labels in [lo, hi] (VW: --logistic_min/--logistic_max, default -1 and 1): a label
// is mapped to s = (y - lo) / (hi - lo) and the loss is s*l(p, +1) + (1-s)*l(p, -1).
struct LogisticLoss {
  static constexpr LossKind kind = LossKind::kLogistic;
  float lo = -1.f;
  float hi = 1.f;

  float std_label(float y) const { return (y - lo) / (hi - lo); }
  // VW mixes the two sides as s * f(+1) + (1 - s) * f(-1). For the usual labels s is exactly 0 or 1
  // and the other side (always finite: predictions are clamped to [-50, 50]) is multiplied by 0, so
  // computing one side gives the same float and saves the transcendental calls.
  template <class F>
  float mix(float y, F&& f) const {
    const float s = std_label(y);
    if (s == 1.f) return f(1.f);
    if (s == 0.f) return f(-1.f);
    return s * f(1.f) + (1.f - s) * f(-1.f);
  }
  static float loss_sub(float p, float y) { return std::log(1.f + std::exp(-y * p)); }
  float loss(const Range&, float p, float y) const {
    return mix(y, [p](float side) { return loss_sub(p, side); });
  }
  // W(exp(x)) - x, VW's approximation of the Lambert W function (absolute error < 9e-5).
  static float wexpmx(float x) {
    const double w = x >= 1. ? 0.86 * x + 0.01 : std::exp(0.8 * x - 0.65);
    const double r = x >= 1. ? x - std::log(w) - w : 0.2 * x + 0.65 - w;
    const double t = 1. + w;
    const double u = 2. * t * (t + 2. * r / 3.);
    return static_cast<float>(w * (1. + r / t * (u - r) / (u - 2. * r)) - x);
  }
  static float update_sub(float p, float y, float scale, float ppu) {
    const float d = std::exp(y * p);
    if (scale * ppu < 1e-6f) return y * scale / (1.f + d);
    const float x = scale * ppu + y * p + d;
    const float w = wexpmx(x);
    return -(y * w + p) / ppu;
  }
  float update(float p, float y, float scale, float ppu) const {
    return mix(y, [=](float side) { return update_sub(p, side, scale, ppu); });
  }
  static float unsafe_update_sub(float p, float y, float scale) { return y * scale / (1.f + std::exp(y * p)); }
  float unsafe_update(float p, float y, float scale) const {
    return mix(y, [=](float side) { return unsafe_update_sub(p, side, scale); });
  }
  static float first_derivative_sub(float p, float y) { return -y / (1.f + std::exp(y * p)); }
  float first_derivative(const Range&, float p, float y) const {
    return mix(y, [p](float side) { return first_derivative_sub(p, side); });
  }
  float square_grad(float p, float y) const {
    const float d = first_derivative(Range{}, p, y);
    return d * d;
  }
};

// Squared loss without VW's prediction-range adjustment and without the invariant closed form.
struct ClassicLoss {
  static constexpr LossKind kind = LossKind::kClassic;
  float loss(const Range&, float p, float y) const { return (p - y) * (p - y); }
  float update(float p, float y, float scale, float) const { return 2.f * (y - p) * scale; }
  float unsafe_update(float p, float y, float scale) const { return 2.f * (y - p) * scale; }
  float square_grad(float p, float y) const { return 4.f * (p - y) * (p - y); }
  float first_derivative(const Range&, float p, float y) const { return 2.f * (p - y); }
};

// Hinge loss on labels -1/1: max(0, 1 - y p).
struct HingeLoss {
  static constexpr LossKind kind = LossKind::kHinge;
  float loss(const Range&, float p, float y) const {
    const float e = 1.f - y * p;
    return e > 0.f ? e : 0.f;
  }
  float update(float p, float y, float scale, float ppu) const {
    if (y * p >= 1.f) return 0.f;
    const float err = 1.f - y * p;
    return y * (scale * ppu < err ? scale : err / ppu);
  }
  float unsafe_update(float p, float y, float scale) const {
    if (y * p >= 1.f) return 0.f;
    return y * scale;
  }
  float first_derivative(const Range&, float p, float y) const { return (y * p >= 1.f) ? 0.f : -y; }
  float square_grad(float p, float y) const {
    const float d = first_derivative(Range{}, p, y);
    return d * d;
  }
};

// Quantile (pinball) loss with parameter tau (VW: --quantile_tau, default 0.5).
struct QuantileLoss {
  static constexpr LossKind kind = LossKind::kQuantile;
  float tau = 0.5f;
  float loss(const Range&, float p, float y) const {
    const float e = y - p;
    return e > 0.f ? tau * e : -(1.f - tau) * e;
  }
  float update(float p, float y, float scale, float ppu) const {
    const float err = y - p;
    if (err == 0.f) return 0.f;
    float normal = scale * ppu;
    if (err > 0.f) {
      normal = tau * normal;
      return normal < err ? tau * scale : err / ppu;
    }
    normal = -(1.f - tau) * normal;
    return normal > err ? (tau - 1.f) * scale : err / ppu;
  }
  float unsafe_update(float p, float y, float scale) const {
    const float err = y - p;
    if (err == 0.f) return 0.f;
    return err > 0.f ? tau * scale : -(1.f - tau) * scale;
  }
  float first_derivative(const Range&, float p, float y) const {
    const float e = y - p;
    if (e == 0.f) return 0.f;
    return e > 0.f ? -tau : 1.f - tau;
  }
  float square_grad(float p, float y) const {
    const float d = first_derivative(Range{}, p, y);
    return d * d;
  }
};

// Poisson loss (deviance) on counts; the prediction is the log of the rate.
struct PoissonLoss {
  static constexpr LossKind kind = LossKind::kPoisson;
  static constexpr float kMaxExpArg = 44.f;  // exp(x)^2 stays finite in float
  static float clamp(float p) { return p > kMaxExpArg ? kMaxExpArg : (p < -kMaxExpArg ? -kMaxExpArg : p); }
  float loss(const Range&, float p, float y) const {
    const float c = clamp(p);
    const float e = std::exp(c);
    return 2.f * (y * (std::log(y + 1e-6f) - c) - (y - e));
  }
  float update(float p, float y, float scale, float ppu) const {
    const float c = clamp(p);
    const float e = std::exp(c);
    if (y > 0.f) {
      const float arg = y * scale * ppu;
      if (arg > kMaxExpArg) return -(c - std::log(y)) / ppu;
      return y * scale - std::log1p(e * std::expm1(arg) / y) / ppu;
    }
    const float inner = e * scale * ppu;
    if (!std::isfinite(inner)) return -(c + std::log(scale * ppu)) / ppu;
    return -std::log1p(inner) / ppu;
  }
  float unsafe_update(float p, float y, float scale) const { return (y - std::exp(clamp(p))) * scale; }
  float first_derivative(const Range&, float p, float y) const { return std::exp(clamp(p)) - y; }
  float square_grad(float p, float y) const {
    const float d = std::exp(clamp(p)) - y;
    return d * d;
  }
};

}  // namespace wabbit
