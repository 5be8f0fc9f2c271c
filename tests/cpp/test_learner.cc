// The learner (cpp/core/learner.h), without Python: single updates checked against hand
// computations of Vowpal Wabbit's formulas (gd.cc, loss_functions.cc), and the constant feature's
// hash. Each example is parsed from VW text, so the features are those VW would build.
#define WABBIT_TEST_MAIN
#include <cmath>

#include "check.h"
#include "core/example.h"
#include "core/learner.h"
#include "formats/vw_text.h"

using namespace wabbit;

namespace {

Example parsed(const Learner& learner, const char* line) {
  Example ex;
  CHECK(parse_vw_line(line, ex).status == ParseStatus::kExample);
  learner.prepare(ex);
  return ex;
}

// The one weight a one-feature example (no constant) touches, through the prediction: w * x / x.
float only_weight(const Learner& learner, const char* line, float x) {
  Example ex = parsed(learner, line);
  return learner.score_const(ex) / x;
}

}  // namespace

// VW's constant (bias) feature is the fixed index 11650396 (VW's constant.h), in its own namespace
// slot, with value 1; learning an example with no other feature moves only that row.
TEST(the_constant_feature_is_vw_index_11650396) {
  Config cfg;
  Learner learner(cfg);
  Example ex = parsed(learner, "1 |f");
  const FeatureGroup& c = ex.groups[kConstantNamespace];
  CHECK_EQ(c.index.size(), size_t{1});
  CHECK_EQ(c.index[0], 11650396u);
  CHECK_EQ(c.value[0], 1.f);
  learner.learn(ex);
  CHECK(learner.weights().row(11650396u)[0] != 0.f);
  CHECK_EQ(learner.weights().row(11650397u)[0], 0.f);
}

// Plain SGD (--sgd, power_t 0 so the rate is constant), squared loss, one feature x = 2, label 1:
// the label range widens to [0, 1], the prediction is 0, VW's unsafe update is
// 2 (y - p) eta = 2 * 1 * 0.1 = 0.2, and the weight moves by update * x = 0.4.
TEST(one_sgd_step_with_squared_loss) {
  Config cfg;
  cfg.adaptive = cfg.normalized = cfg.invariant = false;
  cfg.constant = false;
  cfg.learning_rate = 0.1f;
  cfg.power_t = 0.f;
  Learner learner(cfg);
  Example ex = parsed(learner, "1 |f a:2");
  const Outcome o = learner.learn(ex);
  CHECK_EQ(o.prediction, 0.f);
  CHECK_NEAR(o.loss, 1.0, 1e-7);  // (y - p)^2
  CHECK_NEAR(only_weight(learner, "1 |f a:2", 2.f), 0.4, 1e-6);
  CHECK_EQ(learner.state().t, 1.0);
}

// The default rule (adaptive, normalized, invariant; eta 0.5, power_t 0.5), squared loss, one
// feature x = 1, label 1, from a fresh model: gradient^2 = 4 (p - y)^2 = 4, so the adaptive sum
// is 4 and the rate 1/sqrt(4) = 0.5 (normalizer 1); pred_per_update = x^2 * rate = 0.5; the
// normalized multiplier sqrt(total_weight / sum_norm_x) = 1. The invariant update for squared
// loss is (y - p) (1 - exp(-2 eta pred_per_update)) / pred_per_update = 2 (1 - e^-0.5), and the
// weight moves by update * x * rate = 1 - e^-0.5.
TEST(the_default_rule_first_update_is_vws) {
  Config cfg;
  cfg.constant = false;
  Learner learner(cfg);
  Example ex = parsed(learner, "1 |f a");
  learner.learn(ex);
  CHECK_NEAR(only_weight(learner, "1 |f a", 1.f), 1.0 - std::exp(-0.5), 1e-6);
  CHECK_EQ(learner.state().total_weight, 1.0);
  CHECK_EQ(learner.state().normalized_sum_norm_x, 1.0);
}

// An example that is not labelled is predicted, never learned: the weights stay zero while the
// clock (t) advances, as VW's does.
TEST(an_unlabelled_example_only_advances_the_clock) {
  Config cfg;
  Learner learner(cfg);
  Example ex = parsed(learner, "|f a b c");
  learner.learn(ex);
  CHECK_EQ(only_weight(learner, "|f a", 1.f), 0.f);
  CHECK_EQ(learner.state().t, 1.0);
  CHECK_EQ(learner.state().weighted_unlabeled, 1.0);
}

// A value whose square overflows float (1e20^2 > FLT_MAX) would make the adaptive sum infinite
// (VW writes inf there): the update is refused (Outcome::skipped) and the model, clock included,
// is left exactly as it was. (The prediction, 0.39, is below the label, so there is an update.)
TEST(a_non_finite_update_is_refused_and_changes_nothing) {
  Config cfg;
  Learner learner(cfg);
  Example ok = parsed(learner, "1 |f a:1");
  learner.learn(ok);
  const float before = only_weight(learner, "1 |f a:1", 1.f);
  const double t_before = learner.state().t;
  Example huge = parsed(learner, "1 |f b:1e20");
  const Outcome o = learner.learn(huge);
  CHECK(o.skipped != nullptr);
  CHECK_EQ(only_weight(learner, "1 |f a:1", 1.f), before);
  CHECK_EQ(learner.state().t, t_before);
}

TEST(a_bad_configuration_is_refused) {
  Config cfg;
  cfg.learning_rate = 0.f;
  CHECK_THROWS(std::invalid_argument, Learner{cfg});
  Config tau;
  tau.quantile_tau = 1.f;
  CHECK_THROWS(std::invalid_argument, Learner{tau});
}
