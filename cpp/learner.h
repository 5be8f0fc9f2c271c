// The learner: a hashed linear model trained one example at a time with Vowpal Wabbit's gradient
// descent (adaptive, normalized and importance-invariant updates; any subset of them).
//
// The per-example work is one function template instantiated per (loss, update rule) and chosen once
// when the learner is built; inside it, the loops over features are inlined lambdas.
#pragma once

#include <cfloat>
#include <cstdint>
#include <string>
#include <vector>

#include "example.h"
#include "interactions.h"
#include "loss.h"
#include "weights.h"

namespace wabbit {

// Everything that defines the model. Built from VW-style flags by wabbit/options.py (the one flag
// parser); stored in the model file as those flags.
struct Config {
  uint32_t bits = 18;
  LossKind loss = LossKind::kSquared;
  float logistic_min = -1.f;
  float logistic_max = 1.f;
  float learning_rate = 0.5f;  // after VW's defaulting: 0.5 for the default rule, 10 otherwise
  float power_t = 0.5f;
  float initial_t = 0.f;
  bool adaptive = true;
  bool normalized = true;
  bool invariant = true;
  bool constant = true;  // add the constant (bias) feature
  std::vector<std::string> interactions;
  bool has_min_prediction = false;
  bool has_max_prediction = false;
  float min_prediction = 0.f;
  float max_prediction = 0.f;
};

// The online state that makes training resumable (saved with the model).
struct OnlineState {
  double t = 0.;                      // VW's sd->t: weighted examples seen, plus initial_t
  double normalized_sum_norm_x = 0.;  // normalized updates: running sum of weighted norms
  double total_weight = 0.;           // normalized updates: running sum of importance weights
  double weighted_unlabeled = 0.;     // VW subtracts it from t in the non-adaptive learning rate
  float min_label = 0.f;              // prediction range tracked from labels (VW's set_minmax)
  float max_label = 0.f;
};

// What one example's pass produced.
struct Outcome {
  float prediction = 0.f;      // clamped to the label range, as VW reports it
  float loss = 0.f;            // loss * importance weight (0 when unlabelled)
  uint32_t num_features = 0;   // linear + generated
};

// A feature resolved to its weight row, for the passes of one update.
struct FeatureRef {
  float* w;
  float x;
};

class Learner;
using ExampleFn = Outcome (*)(Learner&, Example&);

class Learner {
 public:
  explicit Learner(Config cfg);
  Learner(const Learner& other);
  Learner& operator=(const Learner&) = delete;

  // Learn from ex (when it has a label and positive weight; otherwise only predict). Returns the
  // prediction made before the update.
  Outcome learn(Example& ex) { return learn_fn_(*this, ex); }
  // Predict without changing anything but the clock (VW advances t on test examples too).
  Outcome predict(Example& ex) { return predict_fn_(*this, ex); }
  // Pure prediction: no state change at all; safe for concurrent readers.
  float predict_const(const Example& ex) const;

  const Config& config() const { return cfg_; }
  OnlineState& state() { return state_; }
  const OnlineState& state() const { return state_; }
  WeightTable& weights() { return weights_; }
  const WeightTable& weights() const { return weights_; }
  const std::vector<Interaction>& interactions() const { return interactions_; }
  // Training (-t absent): labels widen the prediction range. Testing: the range stays fixed.
  bool training() const { return training_; }
  void set_training(bool t) { training_ = t; }
  float effective_learning_rate() const { return eta_; }

  // Called after the weights and state have been loaded from a model file.
  void after_load();

  // Template implementation details (public so the templates in learner.cc can reach them).
  Config cfg_;
  OnlineState state_;
  WeightTable weights_;
  std::vector<Interaction> interactions_;
  float eta_ = 0.5f;
  float neg_power_t_ = -0.5f;
  float neg_norm_power_ = -0.5f;
  float update_multiplier_ = 1.f;
  bool training_ = true;
  bool set_minmax_ = true;
  std::vector<FeatureRef> scratch_;  // the current example's features (learning is single-writer)
  ExampleFn learn_fn_ = nullptr;
  ExampleFn predict_fn_ = nullptr;
};

// Slot layout of a weight row for a configuration (VW's): returns the stride shift.
uint32_t stride_shift_for(const Config& cfg);

}  // namespace wabbit
