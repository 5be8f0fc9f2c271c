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

enum class LossKind { kSquared = 0, kLogistic = 1 };

struct SquaredLoss {
  static constexpr LossKind kind = LossKind::kSquared;
  static constexpr const char* name = "squared";

  float loss(const Range& r, float p, float y) const {
    if (p <= r.max_label && p >= r.min_label) return (p - y) * (p - y);
    if (p < r.min_label) {
      if (y == r.min_label) return 0.f;
      return static_cast<float>((y - r.min_label) * (y - r.min_label) +
                                2. * (y - r.min_label) * (r.min_label - p));
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
    if (p < r.min_label) p = r.min_label;
    else if (p > r.max_label) p = r.max_label;
    return 2.f * (p - y);
  }
};

// Logistic loss on labels in [lo, hi] (VW: --logistic_min/--logistic_max, default -1 and 1): a label
// is mapped to s = (y - lo) / (hi - lo) and the loss is s*l(p, +1) + (1-s)*l(p, -1).
struct LogisticLoss {
  static constexpr LossKind kind = LossKind::kLogistic;
  static constexpr const char* name = "logistic";
  float lo = -1.f;
  float hi = 1.f;

  float std_label(float y) const { return (y - lo) / (hi - lo); }
  static float loss_sub(float p, float y) { return std::log(1.f + std::exp(-y * p)); }
  float loss(const Range&, float p, float y) const {
    const float s = std_label(y);
    return s * loss_sub(p, 1.f) + (1.f - s) * loss_sub(p, -1.f);
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
    const float s = std_label(y);
    return s * update_sub(p, 1.f, scale, ppu) + (1.f - s) * update_sub(p, -1.f, scale, ppu);
  }
  static float unsafe_update_sub(float p, float y, float scale) { return y * scale / (1.f + std::exp(y * p)); }
  float unsafe_update(float p, float y, float scale) const {
    const float s = std_label(y);
    return s * unsafe_update_sub(p, 1.f, scale) + (1.f - s) * unsafe_update_sub(p, -1.f, scale);
  }
  static float first_derivative_sub(float p, float y) { return -y / (1.f + std::exp(y * p)); }
  float first_derivative(const Range&, float p, float y) const {
    const float s = std_label(y);
    return s * first_derivative_sub(p, 1.f) + (1.f - s) * first_derivative_sub(p, -1.f);
  }
  float square_grad(float p, float y) const {
    const float d = first_derivative(Range{}, p, y);
    return d * d;
  }
};

}  // namespace wabbit
