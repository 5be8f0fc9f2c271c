// The learner: a hashed linear model trained one example at a time, with Vowpal Wabbit's gradient
// descent (adaptive, normalized and importance-invariant updates, any subset; truncated-gradient L1
// and L2), FTRL-Proximal, coin betting or FreeGrad.
//
// The per-example work is one function template instantiated per (loss, update rule) and chosen once
// when the learner is built; inside it, the loops over features are plain loops over a flat list.
// The update rules are in core/optimizer/ (one header each, behind the concept in optimizer.h);
// the rows they walk in core/feature_rows.h and core/streamed_rows.h, the score in core/scoring.h,
// the refusal of non-finite updates in core/nonfinite_guard.h. Those, and this class's members
// (learner.cc), are the only code that reaches the learner's private state.
#pragma once

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/example.h"
#include "core/interactions.h"
#include "core/loss.h"
#include "core/weights.h"

namespace wabbit {

// The online state that makes training resumable (saved with the model).
struct OnlineState {
  double t = 0.;                      // VW's sd->t: weighted examples seen, plus initial_t
  double normalized_sum_norm_x = 0.;  // normalized updates: running sum of weighted norms
  double total_weight = 0.;           // normalized updates: running sum of importance weights
  double weighted_unlabeled = 0.;     // VW subtracts it from t in the non-adaptive learning rate
  double gravity = 0.;                // accumulated L1 truncation not yet applied to the weights
  double contraction = 1.;            // accumulated L2 shrinkage not yet applied to the weights
  float min_label = 0.f;              // prediction range tracked from labels (VW's set_minmax)
  float max_label = 0.f;
  float fg_grad_norms = 1.f;     // FreeGrad: sum of weighted clipped gradient norms over the largest (from 1)
  float fg_max_grad_norm = 0.f;  // FreeGrad: the largest clipped gradient norm
  // --standardize_labels: the labels' importance-weighted count, mean and sum of squared deviations
  double label_weight = 0.;
  double label_mean = 0.;
  double label_m2 = 0.;
  // --center_features: the learned examples' importance-weighted count (the features' running
  // sums are Learner::feature_sums())
  double feature_weight = 0.;
};

// --standardize_labels: the labels' running mean and deviation (1 until two distinct labels).
inline double label_deviation(const OnlineState& s) {
  const double var = s.label_weight > 0. ? s.label_m2 / s.label_weight : 0.;
  return var > 0. ? std::sqrt(var) : 1.;
}

// What one example's pass produced.
struct Outcome {
  float prediction = 0.f;     // the score, clamped to the label range: what the loss is computed on
  float output = 0.f;         // what is reported: the prediction through --link, or its sign (--binary)
  float loss = 0.f;           // loss * importance weight (0 when unlabelled)
  uint32_t num_features = 0;  // linear + generated
  // Set when the update was refused because it would have made a weight (or the online state)
  // non-finite: the example was not learned and changed nothing. Why, in words (valid until the
  // learner's next example).
  const char* skipped = nullptr;
};

// A feature resolved to its weight row, for the passes of one update.
struct FeatureRef {
  float* w;
  float x;
};

// The most features (an upper bound: products of the interacting namespaces' sizes) an example may
// have for its rows to be resolved into a FeatureBuffer (16 bytes each: at most 1 MiB a buffer).
// A wider example is streamed instead: each pass of the update walks its features afresh, in the
// same order (so every sum is the same), as VW does; memory then does not grow with the square of
// a line's width. See docs/architecture.md ("Wide examples are streamed").
inline constexpr size_t kMaxBufferedFeatures = size_t{1} << 16;

// The current example's features: `n` entries of a buffer that grows and never shrinks, sized once
// per example (an upper bound, at most kMaxBufferedFeatures) and filled through a plain pointer by
// map_features.
struct FeatureBuffer {
  std::vector<FeatureRef> buf;
  size_t n = 0;
  size_t linear = 0;  // the first `linear` entries are the linear features
  const FeatureRef* begin() const { return buf.data(); }
  const FeatureRef* end() const { return buf.data() + n; }
  size_t size() const { return n; }
  // Room for `count` features; returns where to write the first.
  FeatureRef* reserve(size_t count) {
    if (buf.size() < count) buf.resize(std::max(count, std::min(2 * buf.size(), kMaxBufferedFeatures)));
    n = 0;
    return buf.data();
  }
};

class HotRows;

// An example's features resolved to their weight rows ahead of its update (Learner::map_rows): the
// driver maps the next line while the current one is learned, so the rows of a large table arrive
// meanwhile, and the update does not walk the features a second time to find them.
struct MappedRows {
  FeatureBuffer refs;
  uint32_t num_features = 0;
  // What the rows were mapped for; learn() uses them only if the learner still matches (a swap or
  // a reset between the two calls replaces the table), else it maps the example itself.
  const float* base = nullptr;  // nullptr: nothing mapped
  const HotRows* hot = nullptr;
  uint32_t offset = 0;
};

class Learner;
class UpdateUndo;
using ExampleFn = Outcome (*)(Learner&, Example&, MappedRows*);

// The rooms of the learner's implementation (each in its own header under core/, included only by
// learner.cc): the only code besides Learner's members that reads its private state.
namespace detail {
struct FeatureRows;  // core/feature_rows.h, streamed_rows.h: an example's features resolved to rows
struct Scoring;      // core/scoring.h: the score while learning and testing, the label range
class Guard;         // core/nonfinite_guard.h: the refusal of non-finite updates
template <bool Adaptive, bool Normalized, bool SqrtRate>
struct GradientDescent;  // core/optimizer/gradient_descent.h: VW's gd (adaptive, normalized, invariant, sgd)
struct Ftrl;             // core/optimizer/ftrl.h: FTRL-Proximal
struct Coin;             // core/optimizer/coin.h: coin betting
struct FreeGrad;         // core/optimizer/freegrad.h: FreeGrad
struct ClassicRules;     // core/optimizer/classic.h: perceptron and passive-aggressive
}  // namespace detail

class Learner {
 public:
  explicit Learner(Config cfg);
  Learner(const Learner& other);
  // A Hogwild worker: a copy of `parent` (configuration, online state, rates) whose weight table
  // is a view of the parent's, so every worker learns into the same rows.
  struct ShareWeights {};
  Learner(const Learner& parent, ShareWeights);
  // Folds a worker's progress since `start` (the parent's state when the worker was made) into
  // this learner's online state: counts add up, label ranges widen, wildcards seen are merged.
  void absorb(const Learner& worker, const OnlineState& start);
  Learner& operator=(const Learner&) = delete;

  // Drops ignored namespaces and appends the constant: call once per parsed example.
  void prepare(Example& ex) const;
  // Asks the memory system for the weight rows ex will touch (a hint: changes nothing). Issued one
  // example ahead, the row misses of a large table overlap with the learning of the previous one.
  void prefetch_rows(const Example& ex) const;
  // Resolves ex's features to the rows learn() will update (prefetching them, and writing first
  // to pages new to this learner): what prefetch_rows does, kept for learn(ex, &rows). Maps nothing
  // for ':' interactions, which learning ex may widen.
  void map_rows(const Example& ex, MappedRows& rows);
  // Learn from ex (when it has a label and positive weight; otherwise only predict). Returns the
  // prediction made before the update. `rows`, if given, is what map_rows(ex, rows) produced for
  // this very example (it is consumed).
  Outcome learn(Example& ex, MappedRows* rows = nullptr) {
    if (cfg_.center) [[unlikely]]
      return learn_centered(ex);
    if (cfg_.standardize) [[unlikely]]
      return learn_standardized(ex, rows);
    return learn_fn_(*this, ex, rows);
  }
  // Whether learn() could refuse ex (see core/nonfinite_guard.h) when it is learned with labels of
  // magnitude at most `label`, importance weights at most `weight` and raw scores of magnitude at
  // most `raw`: false when every update of it is certain to stay finite (the guard's tame test).
  // A reduction that makes several updates of one example (multiclass, bandits) saves what they
  // touch (core/undo.h) only when this is true, so that a refusal can undo the whole example.
  bool may_refuse(const Example& ex, float label, float weight, float raw) const;
  // Predict without changing anything but the clock (VW advances t on test examples too).
  // `advance_clock` false: nothing at all changes (a held-out example of a multi-pass run: VW
  // subtracts the held-out weight from t again).
  Outcome predict(Example& ex, bool advance_clock = true);
  // Pure prediction (the reported output): no state change at all; safe for concurrent readers.
  float predict_const(const Example& ex) const;
  // predict_const with the prediction before --link and, for a labelled example, its loss (as
  // learn() would report it): no state change; safe for concurrent readers (a canary's score).
  Outcome evaluate_const(const Example& ex) const;
  // The raw score (initial + sum w*x, unclamped, no link) as VW's predict computes it, of the model
  // at `offset` (see offset_); const. With `generated`, also the number of interaction features.
  float score_const(const Example& ex, uint32_t offset = 0, size_t* generated = nullptr) const;
  // predict_const for an example whose only features are these (index, value) pairs in the default
  // namespace ' ' (plus the constant): the CSR path, without building an Example. Only when
  // sparse_predict_ok() (no interactions, nothing ignored that it would touch).
  float predict_sparse(const uint32_t* index, const float* value, size_t n) const;
  bool sparse_predict_ok() const;

  // Calls f(x, index, weight) for every feature of ex, generated ones included, with the weight
  // as the model would use it now (L1 truncation and L2 contraction applied) and the value as it
  // weighs it (--center_features: centred).
  template <class F>
  void visit(const Example& ex, F&& f) const;

  const Config& config() const { return cfg_; }
  OnlineState& state() { return state_; }
  const OnlineState& state() const { return state_; }
  WeightTable& weights() { return weights_; }
  const WeightTable& weights() const { return weights_; }
  const std::vector<Interaction>& interactions() const { return interactions_; }
  float effective_learning_rate() const { return eta_; }
  // Which of several models sharing the table learn()/predict() address (VW's ft_offset; see
  // offset_). Contextual bandits select dr's regressor and bagging's policies with it.
  uint32_t offset() const { return offset_; }
  void set_offset(uint32_t offset) { offset_ = offset; }
  // Some interaction uses ':' (expanded as namespaces appear).
  bool has_wildcards() const { return wildcards_; }
  // The printable namespace slots seen so far, which ':' interactions are expanded over.
  const std::array<bool, 256>& seen_namespaces() const { return seen_; }
  // A Hogwild worker's private copy of the hottest rows (see hot_rows.h); null: none.
  void set_hot_rows(HotRows* hot) { hot_ = hot; }
  // Widens ':' interactions to namespaces this example brings (VW expands them as they appear).
  void observe_namespaces(const Example& ex) {
    if (wildcards_) observe_slow(ex);
  }
  void observe_slow(const Example& ex);
  // Exchanges everything with another learner, in place (references to either stay valid).
  void swap(Learner& other) noexcept;
  // Forgets everything learned (weights, online state) but keeps the configuration.
  void reset();
  // Scales the learning rate by `factor` from now on (1 restores it); VW rules and FTRL's alpha.
  void set_rate_factor(float factor);
  float rate_factor() const { return rate_factor_; }
  // Applies pending L1 truncation and L2 contraction to the stored weights (VW's sync_weights).
  void sync_weights();
  // The end of a pass over the data (--passes): VW's gd end_pass multiplies the learning rate by
  // `decay` (--decay_learning_rate); FTRL and the classic rules keep theirs.
  void end_pass(float decay);
  // What a pass changes besides the weights (the online state, the decayed learning rate): kept
  // with the best pass's weights, and put back when --early_terminate ends a run after it.
  struct PassState {
    OnlineState state;
    float base_eta = 0.f;
  };
  PassState pass_state() const { return PassState{state_, base_eta_}; }
  void restore_pass_state(const PassState& p) {
    state_ = p.state;
    base_eta_ = p.base_eta;
    set_rate_factor(rate_factor_);
  }
  // --center_features: row r's running sum of the learned examples' values (importance-weighted),
  // one double in each 2-float row (an empty table when the flag is off). A feature's mean is its
  // sum over state().feature_weight.
  WeightTable& feature_sums() { return sums_; }
  const WeightTable& feature_sums() const { return sums_; }
  static double* sum_at(WeightTable& t, uint32_t index) { return reinterpret_cast<double*>(t.row(index)); }
  static const double* sum_at(const WeightTable& t, uint32_t index) {
    return reinterpret_cast<const double*>(t.row(index));
  }
  // --center_features: a copy of ex (audit names too) with the values the model weighs, for the
  // slow paths that name features (explain, audit); ex itself when the flag is off.
  Example centered(const Example& ex) const {
    Example copy = ex;
    if (cfg_.center) center_values(copy);
    return copy;
  }
  // Puts back the raw values saved by the last centring of ex (--center_features; internal).
  void restore_values(Example& ex) const;
  // The weight of row r as the model uses it (truncation and contraction applied).
  float effective_weight(const float* row) const;

 private:
  Outcome learn_standardized(Example& ex, MappedRows* rows);
  // --center_features: learn() and predict() on ex's values centred (restored afterwards).
  Outcome learn_centered(Example& ex);
  Outcome predict_plain(Example& ex, bool advance_clock);
  // Subtracts from each of ex's feature values (the constant's excepted) its running mean.
  void center_values(Example& ex) const;
  // Appends ex's centred values (the constant's excepted) to saved_, in order, then centres them;
  // restore_values() puts them back.
  void save_and_center(Example& ex);
  // A copy of ex with centred values (thread-local: valid until this thread's next call).
  const Example& centered_copy(const Example& ex) const;
  // --standardize_labels: a prediction on the standardised scale back on the labels' scale.
  float unstandardize(float p, double mean, double dev) const {
    return cfg_.standardize ? static_cast<float>(mean + dev * p) : p;
  }

  friend struct detail::FeatureRows;
  friend struct detail::Scoring;
  friend class detail::Guard;
  friend class UpdateUndo;  // core/undo.h: saves and restores an example's several updates
  template <bool, bool, bool>
  friend struct detail::GradientDescent;
  friend struct detail::Ftrl;
  friend struct detail::Coin;
  friend struct detail::FreeGrad;
  friend struct detail::ClassicRules;

  Config cfg_;
  OnlineState state_;
  WeightTable weights_;
  WeightTable sums_;        // --center_features: the features' running sums (see feature_sums())
  PodVector<float> saved_;  // --center_features: the current example's raw values
  std::vector<Interaction> interactions_;
  float eta_ = 0.5f;
  float base_eta_ = 0.5f;
  float rate_factor_ = 1.f;
  float neg_power_t_ = -0.5f;
  float neg_norm_power_ = -0.5f;
  float update_multiplier_ = 1.f;
  bool set_minmax_ = true;
  FeatureBuffer scratch_;   // the current example's features (learning is single-writer)
  HotRows* hot_ = nullptr;  // a Hogwild worker's private hot rows (see hot_rows.h)
  // Pages of the weight table this learner has written (a hint, never needed for correctness):
  // the first access to a page while learning is made a write, see first_write() in learner.cc.
  std::vector<uint64_t> written_;
  // Added to every feature index (VW's ft_offset): selects one of several models sharing the table
  // (contextual bandits: dr's regressor, bagging's policies). 0 for a plain linear model.
  uint32_t offset_ = 0;
  bool wildcards_ = false;        // some interaction uses ':' (expanded as namespaces appear)
  std::array<bool, 256> seen_{};  // printable namespace slots seen so far (for ':')
  ExampleFn learn_fn_ = nullptr;
  // The finiteness guard (see learner.cc, "Non-finite updates are refused"): feature values whose
  // magnitude lies outside [guard_lo_, guard_hi_], a large label, importance
  // weight or score, or a configuration with extreme rates (guard_always_) send an example down the
  // guarded path, which saves the rows it touches and restores them if the update was not finite.
  float guard_lo_ = 0.f;
  float guard_hi_ = 0.f;
  bool guard_always_ = false;
  bool guard_scan_ = false;  // some namespace is ignore_linear: the buffer does not hold all values
  std::string skip_reason_;
};

// Guards the widening of ':' interactions (Learner::observe_slow) against predictions made from
// other threads meanwhile; taken only by models with ':' interactions.
std::shared_mutex& wildcard_mutex();

// Slot layout of a weight row for a configuration (VW's): returns the stride shift.
uint32_t stride_shift_for(const Config& cfg);

// For Hogwild's hot rows: whether a configuration's rows can be folded (gradient descent), which
// slot is a running maximum (the normalizer) and which is per-example scratch (the rate); -1: none.
bool foldable_rows(const Config& cfg, int& max_slot, int& skip_slot);

inline float trunc_weight(float w, float gravity) {
  return gravity < std::fabs(w) ? w - (w > 0.f ? gravity : -gravity) : 0.f;
}

inline float Learner::effective_weight(const float* row) const {
  const float v = load_w(row);
  const float w =
      cfg_.l1 > 0.f && !ftrl_family(cfg_) ? trunc_weight(v, static_cast<float>(load_d(&state_.gravity))) : v;
  return w * static_cast<float>(load_d(&state_.contraction));
}

template <class F>
void Learner::visit(const Example& in, F&& f) const {
  const Example& ex = cfg_.center ? centered_copy(in) : in;  // (the values the model weighs)
  for_each_feature(ex, interactions_, cfg_.permutations, &cfg_.ignore_linear,
                   [&](float x, uint32_t i) { f(x, i, effective_weight(weights_.row(i))); });
}

}  // namespace wabbit
