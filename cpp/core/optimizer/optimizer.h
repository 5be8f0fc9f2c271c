// The optimizer concept: an update rule is a struct whose `learn<Loss>` is the whole per-example
// pass (score, update, online clock) for one loss, an ExampleFn. Each rule lives in its own header:
//   gradient_descent.h  VW's gd: adaptive, normalized, invariant, plain SGD (and L1/L2)
//   ftrl.h              FTRL-Proximal
//   coin.h              coin betting (--coin)
//   freegrad.h          FreeGrad (--freegrad)
//   classic.h           perceptron, passive-aggressive
// The learner picks one instantiation per (loss, rule) when it is built (pick_learn), so the loops
// over features are plain loops: no virtual call, allocation or lock per feature. Adding a rule is
// one header with such a struct, a branch in pick_rule and the flag that selects it.
// Included only by learner.cc.
#pragma once

#include <concepts>
#include <stdexcept>

#include "core/optimizer/classic.h"
#include "core/optimizer/coin.h"
#include "core/optimizer/freegrad.h"
#include "core/optimizer/ftrl.h"
#include "core/optimizer/gradient_descent.h"

namespace wabbit::detail {

template <class Rule, class Loss>
concept UpdateRule = requires(Learner& L, Example& ex, MappedRows* rows) {
  { Rule::template learn<Loss>(L, ex, rows) } -> std::same_as<Outcome>;
};

// The entry point of rule `Rule` for loss `Loss`.
template <class Rule, class Loss>
  requires UpdateRule<Rule, Loss>
constexpr ExampleFn entry() {
  return &Rule::template learn<Loss>;
}

template <class Loss>
ExampleFn pick_rule(const Config& c) {
  if (c.classic_rule != 0) return entry<ClassicRules, Loss>();
  if (c.ftrl) return entry<Ftrl, Loss>();
  if (c.coin) return entry<Coin, Loss>();
  if (c.freegrad) return entry<FreeGrad, Loss>();
  const bool sq = c.power_t == 0.5f;  // the square root instead of pow (bit for bit the same)
  if (c.adaptive && c.normalized) {
    return sq ? entry<GradientDescent<true, true, true>, Loss>() : entry<GradientDescent<true, true, false>, Loss>();
  }
  if (c.adaptive) {
    return sq ? entry<GradientDescent<true, false, true>, Loss>() : entry<GradientDescent<true, false, false>, Loss>();
  }
  if (c.normalized) {
    return sq ? entry<GradientDescent<false, true, true>, Loss>() : entry<GradientDescent<false, true, false>, Loss>();
  }
  return sq ? entry<GradientDescent<false, false, true>, Loss>() : entry<GradientDescent<false, false, false>, Loss>();
}

// The learning function for a configuration: its loss and update rule.
inline ExampleFn pick_learn(const Config& c) {
  switch (c.loss) {
    case LossKind::kSquared:
      return pick_rule<SquaredLoss>(c);
    case LossKind::kLogistic:
      return pick_rule<LogisticLoss>(c);
    case LossKind::kClassic:
      return pick_rule<ClassicLoss>(c);
    case LossKind::kHinge:
      return pick_rule<HingeLoss>(c);
    case LossKind::kQuantile:
      return pick_rule<QuantileLoss>(c);
    case LossKind::kPoisson:
      return pick_rule<PoissonLoss>(c);
    case LossKind::kExpectile:
      return pick_rule<ExpectileLoss>(c);
  }
  throw std::invalid_argument("unknown loss");
}

// The loss reported for an example by predict() (the learning functions compute their own).
template <class Loss>
float loss_of(const Config& cfg, const Range& r, float pred, float out, float y, float w) {
  return reported_loss(make_loss<Loss>(cfg), cfg, r, pred, out, y, w);
}

inline float example_loss(const Config& cfg, const Range& r, float pred, float out, float y, float w) {
  switch (cfg.loss) {
    case LossKind::kSquared:
      return loss_of<SquaredLoss>(cfg, r, pred, out, y, w);
    case LossKind::kLogistic:
      return loss_of<LogisticLoss>(cfg, r, pred, out, y, w);
    case LossKind::kClassic:
      return loss_of<ClassicLoss>(cfg, r, pred, out, y, w);
    case LossKind::kHinge:
      return loss_of<HingeLoss>(cfg, r, pred, out, y, w);
    case LossKind::kQuantile:
      return loss_of<QuantileLoss>(cfg, r, pred, out, y, w);
    case LossKind::kPoisson:
      return loss_of<PoissonLoss>(cfg, r, pred, out, y, w);
    case LossKind::kExpectile:
      return loss_of<ExpectileLoss>(cfg, r, pred, out, y, w);
  }
  return 0.f;
}

}  // namespace wabbit::detail
