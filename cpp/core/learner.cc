// The learner's members: construction (configuration checks, VW's defaults), copies for Hogwild,
// prediction without learning, and the online state's bookkeeping. The per-example learning
// functions are the update rules of core/optimizer/, over the rows of core/feature_rows.h and
// core/streamed_rows.h, scored by core/scoring.h and guarded by core/nonfinite_guard.h.
#include "core/learner.h"

#include <cmath>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>

#include "core/feature_rows.h"
#include "core/hot_rows.h"
#include "core/nonfinite_guard.h"
#include "core/optimizer/optimizer.h"
#include "core/scoring.h"

namespace wabbit {

using namespace detail;

std::shared_mutex& wildcard_mutex() {
  static std::shared_mutex m;
  return m;
}

bool foldable_rows(const Config& cfg, int& max_slot, int& skip_slot) {
  max_slot = skip_slot = -1;
  if (cfg.classic_rule != 0 || ftrl_family(cfg)) return false;
  const int adaptive = cfg.adaptive ? 1 : 0;
  if (cfg.normalized) {
    max_slot = adaptive + 1;
    skip_slot = adaptive + 2;
  } else if (cfg.adaptive) {
    skip_slot = 2;
  }
  return true;
}

uint32_t stride_shift_for(const Config& cfg) {
  if (cfg.classic_rule != 0) return 0u;
  if (cfg.ftrl) return 2u;
  if (cfg.coin || cfg.freegrad) return 3u;  // 6 floats used of 8, as VW lays them out
  return (cfg.adaptive || cfg.normalized) ? 2u : 0u;
}

Learner::Learner(Config cfg) : cfg_(std::move(cfg)) {
  if (!(cfg_.learning_rate > 0.f) || !std::isfinite(cfg_.learning_rate)) {
    throw std::invalid_argument("learning rate must be a positive number");
  }
  if (!std::isfinite(cfg_.power_t) || cfg_.power_t < 0.f) throw std::invalid_argument("power_t must be >= 0");
  if (!std::isfinite(cfg_.initial_t) || cfg_.initial_t < 0.f) throw std::invalid_argument("initial_t must be >= 0");
  if (cfg_.loss == LossKind::kLogistic && !(cfg_.logistic_max > cfg_.logistic_min)) {
    throw std::invalid_argument("logistic_max must be greater than logistic_min");
  }
  if (!(cfg_.l1 >= 0.f) || !(cfg_.l2 >= 0.f)) throw std::invalid_argument("l1 and l2 must be >= 0");
  if (cfg_.ftrl && (!(cfg_.ftrl_alpha > 0.f) || !(cfg_.ftrl_beta >= 0.f))) {
    throw std::invalid_argument("ftrl_alpha must be > 0 and ftrl_beta >= 0");
  }
  if ((cfg_.ftrl ? 1 : 0) + (cfg_.coin ? 1 : 0) + (cfg_.freegrad ? 1 : 0) + (cfg_.classic_rule != 0 ? 1 : 0) > 1) {
    throw std::invalid_argument("ftrl, coin, freegrad and the classic rules are different update rules; choose one");
  }
  if (cfg_.coin && (!std::isfinite(cfg_.ftrl_alpha) || !std::isfinite(cfg_.ftrl_beta) || !(cfg_.ftrl_beta >= 0.f))) {
    throw std::invalid_argument("coin betting's ftrl_alpha must be finite and ftrl_beta >= 0");
  }
  if (cfg_.freegrad && (!(cfg_.fepsilon > 0.f) || !std::isfinite(cfg_.fepsilon) || !(cfg_.flipschitz_const >= 0.f) ||
                        !std::isfinite(cfg_.flipschitz_const) || !std::isfinite(cfg_.fg_radius))) {
    throw std::invalid_argument("freegrad needs fepsilon > 0, flipschitz_const >= 0 and a finite radius");
  }
  if (cfg_.standardize && (cfg_.loss != LossKind::kSquared || cfg_.link != Link::kIdentity || cfg_.binary)) {
    throw std::invalid_argument("standardize_labels needs the squared loss, no link and no --binary");
  }
  if (!(cfg_.quantile_tau > 0.f && cfg_.quantile_tau < 1.f)) {
    throw std::invalid_argument("quantile_tau must be in (0, 1)");
  }
  if (!(cfg_.expectile_q > 0.f && cfg_.expectile_q <= 0.5f)) {
    throw std::invalid_argument("expectile_q must be in (0, 0.5]");
  }
  if (!std::isfinite(cfg_.initial_weight)) throw std::invalid_argument("initial_weight must be a finite number");
  weights_.reset(cfg_.bits, stride_shift_for(cfg_));
  if (cfg_.initial_weight != 0.f) weights_.fill_slot(0, cfg_.initial_weight);
  if (cfg_.center) sums_.reset(cfg_.bits, 1u);  // one double a row
  for (const std::string& spec : cfg_.interactions) wildcards_ |= has_wildcard(spec);
  interactions_ = wildcards_ ? expand_wildcards(cfg_.interactions, {}) : compile_interactions(cfg_.interactions);
  neg_power_t_ = -cfg_.power_t;
  // VW computes this while its adaptive flag is still at its default (on), so it is power_t - 1
  // for every rule; it matters only for normalized updates with power_t != 0.5.
  neg_norm_power_ = cfg_.power_t - 1.f;
  eta_ = cfg_.learning_rate;
  state_.t = cfg_.initial_t;
  if (!ftrl_family(cfg_)) {
    if (!cfg_.adaptive && !cfg_.normalized) eta_ *= std::pow(static_cast<float>(state_.t), cfg_.power_t);
    if (cfg_.initial_t > 0.f) {
      state_.normalized_sum_norm_x = cfg_.initial_t;
      state_.total_weight = cfg_.initial_t;
      if (cfg_.adaptive) weights_.fill_slot(1, cfg_.initial_t);
    }
  }
  if (cfg_.loss == LossKind::kLogistic || cfg_.loss == LossKind::kPoisson) {
    state_.min_label = -50.f;
    state_.max_label = 50.f;
  }
  if (cfg_.classic_rule != 0) {  // river's linear models do not clamp their scores
    state_.min_label = -FLT_MAX;
    state_.max_label = FLT_MAX;
  }
  if (cfg_.classic_rule < 0 || cfg_.classic_rule > 3) throw std::invalid_argument("unknown online rule");
  if (cfg_.classic_rule >= 2 &&
      (cfg_.pa_variant < 0 || cfg_.pa_variant > 2 || !(cfg_.pa_c > 0.f) || !(cfg_.pa_eps >= 0.f))) {
    throw std::invalid_argument("pa_variant must be 0, 1 or 2, pa_c > 0 and pa_eps >= 0");
  }
  if (cfg_.has_min_prediction) state_.min_label = cfg_.min_prediction;
  if (cfg_.has_max_prediction) state_.max_label = cfg_.max_prediction;
  set_minmax_ = !(cfg_.has_min_prediction || cfg_.has_max_prediction) && cfg_.classic_rule == 0;
  learn_fn_ = pick_learn(cfg_);
  base_eta_ = eta_;
  // The tame range of feature values (see Guard): [2^-e, 2^e] with e = 30 / (interaction order), so
  // a generated value's square stays within 2^+-60, far inside float's range.
  size_t order = 1;
  for (const std::string& spec : cfg_.interactions) order = std::max(order, spec.size());
  const int e = std::max(1, 30 / static_cast<int>(order));
  const float lo = std::ldexp(1.f, -e);
  const float hi = std::ldexp(1.f, e);
  guard_lo_ = lo;
  guard_hi_ = hi;
  for (bool b : cfg_.ignore_linear) guard_scan_ |= b;
  set_rate_factor(1.f);
}

void Learner::swap(Learner& o) noexcept {
  std::swap(cfg_, o.cfg_);
  std::swap(state_, o.state_);
  weights_.swap(o.weights_);
  sums_.swap(o.sums_);
  std::swap(interactions_, o.interactions_);
  std::swap(eta_, o.eta_);
  std::swap(base_eta_, o.base_eta_);
  std::swap(rate_factor_, o.rate_factor_);
  std::swap(neg_power_t_, o.neg_power_t_);
  std::swap(neg_norm_power_, o.neg_norm_power_);
  std::swap(update_multiplier_, o.update_multiplier_);
  std::swap(set_minmax_, o.set_minmax_);
  std::swap(scratch_, o.scratch_);
  std::swap(written_, o.written_);
  std::swap(wildcards_, o.wildcards_);
  std::swap(seen_, o.seen_);
  std::swap(learn_fn_, o.learn_fn_);
  std::swap(guard_lo_, o.guard_lo_);
  std::swap(guard_hi_, o.guard_hi_);
  std::swap(guard_always_, o.guard_always_);
  std::swap(guard_scan_, o.guard_scan_);
}

void Learner::reset() {
  Learner fresh(cfg_);
  fresh.set_rate_factor(rate_factor_);
  weights_.reset(cfg_.bits, stride_shift_for(cfg_));
  if (cfg_.initial_weight != 0.f) weights_.fill_slot(0, cfg_.initial_weight);
  written_.clear();
  if (cfg_.center) sums_.reset(cfg_.bits, 1u);
  if (!ftrl_family(cfg_) && cfg_.classic_rule == 0 && cfg_.adaptive && cfg_.initial_t > 0.f)
    weights_.fill_slot(1, cfg_.initial_t);
  state_ = fresh.state_;
  interactions_ = fresh.interactions_;
  seen_ = fresh.seen_;
  update_multiplier_ = 1.f;
}

bool Learner::may_refuse(const Example& ex, float label, float weight, float raw) const {
  constexpr float t = detail::kTameScalar;
  return guard_always_ || !(std::fabs(label) <= t) || !(weight <= t) || !(std::fabs(ex.initial) <= t) ||
         !(std::fabs(raw) <= t * t * 0.5f) || !(std::fabs(load_w(&state_.min_label)) <= t) ||
         !(std::fabs(load_w(&state_.max_label)) <= t) || !detail::values_tame(ex, guard_lo_, guard_hi_);
}

void Learner::set_rate_factor(float factor) {
  if (!(factor > 0.f) || !std::isfinite(factor)) throw std::invalid_argument("the rate factor must be > 0");
  rate_factor_ = factor;
  eta_ = base_eta_ * factor;
  // extreme rates: every update takes the guarded path
  guard_always_ = !(eta_ <= 1024.f) || !(cfg_.ftrl_alpha * factor <= 1024.f) || !(cfg_.pa_c <= kTameScalar) ||
                  !(cfg_.initial_t <= kTameScalar * kTameScalar) || !(std::fabs(cfg_.initial_weight) <= kTameScalar);
}

Learner::Learner(const Learner& o)
    : cfg_(o.cfg_),
      state_(o.state_),
      interactions_(o.interactions_),
      eta_(o.eta_),
      neg_power_t_(o.neg_power_t_),
      neg_norm_power_(o.neg_norm_power_),
      update_multiplier_(o.update_multiplier_),
      set_minmax_(o.set_minmax_),
      wildcards_(o.wildcards_),
      seen_(o.seen_),
      learn_fn_(o.learn_fn_),
      guard_lo_(o.guard_lo_),
      guard_hi_(o.guard_hi_),
      guard_always_(o.guard_always_),
      guard_scan_(o.guard_scan_) {
  base_eta_ = o.base_eta_;
  rate_factor_ = o.rate_factor_;
  weights_.copy_from(o.weights_);
  if (cfg_.center) sums_.copy_from(o.sums_);
}

Learner::Learner(const Learner& o, ShareWeights)
    : cfg_(o.cfg_),
      state_(o.state_),
      interactions_(o.interactions_),
      eta_(o.eta_),
      base_eta_(o.base_eta_),
      rate_factor_(o.rate_factor_),
      neg_power_t_(o.neg_power_t_),
      neg_norm_power_(o.neg_norm_power_),
      update_multiplier_(o.update_multiplier_),
      set_minmax_(o.set_minmax_),
      wildcards_(o.wildcards_),
      seen_(o.seen_),
      learn_fn_(o.learn_fn_),
      guard_lo_(o.guard_lo_),
      guard_hi_(o.guard_hi_),
      guard_always_(o.guard_always_),
      guard_scan_(o.guard_scan_) {
  weights_.view_of(o.weights_);
  if (cfg_.center) sums_.view_of(o.sums_);
}

void Learner::absorb(const Learner& w, const OnlineState& start) {
  const OnlineState& ws = w.state_;
  store_d(&state_.t, state_.t + (ws.t - start.t));
  store_d(&state_.normalized_sum_norm_x,
          state_.normalized_sum_norm_x + (ws.normalized_sum_norm_x - start.normalized_sum_norm_x));
  store_d(&state_.total_weight, state_.total_weight + (ws.total_weight - start.total_weight));
  store_d(&state_.weighted_unlabeled, state_.weighted_unlabeled + (ws.weighted_unlabeled - start.weighted_unlabeled));
  if (ws.min_label < state_.min_label) store_w(&state_.min_label, ws.min_label);
  if (ws.max_label > state_.max_label) store_w(&state_.max_label, ws.max_label);
  update_multiplier_ = w.update_multiplier_;
  if (wildcards_) {
    Example seen;
    for (size_t s = 0; s < w.seen_.size(); ++s) {
      if (w.seen_[s]) seen.order.push_back(static_cast<unsigned char>(s));
    }
    observe_slow(seen);
  }
}

void Learner::prepare(Example& ex) const {
  if (!ex.order.empty()) {
    size_t kept = 0;
    for (unsigned char s : ex.order) {
      if (cfg_.ignore[s])
        ex.groups[s].clear();
      else
        ex.order[kept++] = s;
    }
    ex.order.resize(kept);
  }
  ex.finish(cfg_.constant);
}

void Learner::map_rows(const Example& ex, MappedRows& rows) {
  rows.base = nullptr;
  if (wildcards_) return;   // learning ex may widen the interactions first
  if (cfg_.center) return;  // learning ex centres its values first
  const size_t linear = ex.num_linear_features();
  const size_t bound = feature_bound(ex, linear, interactions_);
  if (!buffered(bound)) return;  // a wide example is streamed when it is learned
  rows.num_features = FeatureRows::map_learn_rows(*this, ex, linear, bound, rows.refs);
  rows.base = weights_.data();
  rows.hot = hot_;
  rows.offset = offset_;
}

void Learner::prefetch_rows(const Example& ex) const {
  // ':' interactions may be widened by a learning thread while this one only predicts (see
  // score_const); a hint is not worth the lock.
  if (wildcards_ || !buffered(ex, interactions_)) return;
  const float* base = weights_.data();
  const uint32_t mask = weights_.mask();
  const uint32_t shift = weights_.stride_shift();
  const uint32_t offset = offset_;
  for_each_feature(ex, interactions_, cfg_.permutations, &cfg_.ignore_linear, [&](float, uint32_t i) {
    __builtin_prefetch(base + (static_cast<size_t>((i + offset) & mask) << shift), 1, 3);
  });
}

// --standardize_labels. The model learns z = (y - mean) / deviation, the labels' running
// statistics with this label counted; what it reports is mean + deviation * (its prediction), with
// the statistics from before this label (so a prediction never sees its own label), and the squared
// error on the labels' scale. Each label moves the statistics a little, and the next prediction
// reads the same weights through the moved statistics: the model keeps up with a target of any
// scale from its first examples, where VW's rule on raw labels moves the constant by about the
// learning rate a step (issue 22).
Outcome Learner::learn_standardized(Example& ex, MappedRows* rows) {
  const OnlineState before = state_;
  const double mean = before.label_mean;
  const double dev = label_deviation(before);
  const float y = ex.label;
  if (ex.labelled()) {
    if (ex.weight > 0.f) {  // West's weighted update of the mean and the sum of squared deviations
      const double w = ex.weight;
      const double total = before.label_weight + w;
      const double d = static_cast<double>(y) - before.label_mean;
      state_.label_mean = before.label_mean + d * w / total;
      state_.label_m2 = before.label_m2 + w * d * (static_cast<double>(y) - state_.label_mean);
      state_.label_weight = total;
    }
    ex.label = static_cast<float>((static_cast<double>(y) - state_.label_mean) / label_deviation(state_));
  }
  Outcome out = learn_fn_(*this, ex, rows);
  ex.label = y;
  if (out.skipped != nullptr) {
    state_.label_weight = before.label_weight;
    state_.label_mean = before.label_mean;
    state_.label_m2 = before.label_m2;
  }
  out.prediction = out.output = unstandardize(out.prediction, mean, dev);
  if (ex.labelled() && ex.weight > 0.f && out.skipped == nullptr) {
    const float e = y - out.prediction;
    out.loss = e * e * ex.weight;
  }
  return out;
}

namespace {
// Puts an example's raw values back when it leaves scope (--center_features).
struct RestoreValues {
  const Learner& learner;
  Example& ex;
  ~RestoreValues() { learner.restore_values(ex); }
};
}  // namespace

// --center_features. Each feature value x (the constant's excepted) enters the model, its
// interactions included, as x - mean, where mean is the feature's running mean over the examples
// learned so far: the sum of weight * x over them (kept per row of the table, so a feature's
// hashed row, as its weight) divided by the sum of their importance weights, an absent feature
// counting 0. The statistics are those from before the example, for its prediction and its update
// alike; a learned example (labelled, weight > 0, not refused) then adds its raw values. Absent
// features stay absent: the update stays sparse. On a dense feature this is river's
// StandardScaler's centring (VW's normalized update already takes care of the scale); a sparse
// 0/1 feature present a share p of the time enters as 1 - p, a rescaling the normalized update
// is invariant to. Centring decouples the constant from the features' offsets, which the
// adaptive per-feature step otherwise learns slowly (issue 22).
void Learner::center_values(Example& ex) const {
  const double n = load_d(&state_.feature_weight);
  if (!(n > 0.)) return;  // nothing learned yet: every mean is 0
  const double inv = 1. / n;
  for (unsigned char s : ex.order) {
    if (s == kConstantNamespace) continue;
    FeatureGroup& g = ex.groups[s];
    const uint32_t* idx = g.index.data();
    float* val = g.value.data();
    for (size_t k = 0, size = g.size(); k < size; ++k) {
      val[k] = static_cast<float>(static_cast<double>(val[k]) - load_d(sum_at(sums_, idx[k])) * inv);
    }
  }
}

void Learner::save_and_center(Example& ex) {
  saved_.clear();
  for (unsigned char s : ex.order) {
    if (s == kConstantNamespace) continue;
    const FeatureGroup& g = ex.groups[s];
    saved_.insert(saved_.end(), g.value.begin(), g.value.end());
  }
  center_values(ex);
}

void Learner::restore_values(Example& ex) const {
  const float* from = saved_.data();
  for (unsigned char s : ex.order) {
    if (s == kConstantNamespace) continue;
    FeatureGroup& g = ex.groups[s];
    std::copy(from, from + g.size(), g.value.data());
    from += g.size();
  }
}

Outcome Learner::learn_centered(Example& ex) {
  Outcome out;
  {
    save_and_center(ex);
    const RestoreValues restore{*this, ex};
    // (no rows mapped ahead: they would hold the raw values; see map_rows)
    out = cfg_.standardize ? learn_standardized(ex, nullptr) : learn_fn_(*this, ex, nullptr);
  }
  if (ex.labelled() && ex.weight > 0.f && out.skipped == nullptr) {
    const double w = ex.weight;
    for (unsigned char s : ex.order) {
      if (s == kConstantNamespace) continue;
      const FeatureGroup& g = ex.groups[s];
      for (size_t k = 0, size = g.size(); k < size; ++k) {
        double* sum = sum_at(sums_, g.index[k]);
        store_d(sum, *sum + w * static_cast<double>(g.value[k]));
      }
    }
    store_d(&state_.feature_weight, state_.feature_weight + w);
  }
  return out;
}

const Example& Learner::centered_copy(const Example& ex) const {
  thread_local Example copy;
  for (unsigned char s : copy.order) {
    copy.groups[s].index.clear();
    copy.groups[s].value.clear();
  }
  copy.order = ex.order;
  copy.label = ex.label;
  copy.weight = ex.weight;
  copy.initial = ex.initial;
  for (unsigned char s : ex.order) {
    copy.groups[s].index.assign(ex.groups[s].index.begin(), ex.groups[s].index.end());
    copy.groups[s].value.assign(ex.groups[s].value.begin(), ex.groups[s].value.end());
  }
  center_values(copy);
  return copy;
}

Outcome Learner::predict(Example& ex, bool advance) {
  if (cfg_.center) [[unlikely]] {
    save_and_center(ex);
    const RestoreValues restore{*this, ex};
    return predict_plain(ex, advance);
  }
  return predict_plain(ex, advance);
}

Outcome Learner::predict_plain(Example& ex, bool advance) {
  observe_namespaces(ex);
  Outcome out;
  const float pred = finalize_prediction(state_, Scoring::test_score(*this, ex, out.num_features));
  out.prediction = pred;
  out.output = output_of(cfg_, pred);
  if (cfg_.standardize) out.prediction = out.output = unstandardize(pred, state_.label_mean, label_deviation(state_));
  if (ex.labelled() && ex.weight > 0.f) {
    if (cfg_.standardize) {
      const float e = ex.label - out.prediction;
      out.loss = e * e * ex.weight;
    } else {
      out.loss = example_loss(cfg_, Range{state_.min_label, state_.max_label}, pred, out.output, ex.label, ex.weight);
    }
  }
  if (advance) advance_clock(state_, ex);
  return out;
}

float Learner::score_const(const Example& ex, uint32_t offset, size_t* generated) const {
  // As VW predicts when testing (-t): initial + contraction * sum of truncated w * x.
  // Everything a learning thread may write is read with relaxed atomic loads; ':' interactions,
  // which a learning thread may widen, under the wildcard lock.
  std::shared_lock<std::shared_mutex> lock(wildcard_mutex(), std::defer_lock);
  if (wildcards_) lock.lock();
  float raw = 0.f;
  const bool trunc = cfg_.l1 > 0.f && !ftrl_family(cfg_);
  const float g = static_cast<float>(load_d(&state_.gravity));
  const size_t n =
      for_each_feature(ex, interactions_, cfg_.permutations, &cfg_.ignore_linear, [&](float x, uint32_t i) {
        const float w = load_w(weights_.row(i + offset));
        raw += (trunc ? trunc_weight(w, g) : w) * x;
      });
  if (generated != nullptr) *generated = n;
  if (!ftrl_family(cfg_)) raw *= static_cast<float>(load_d(&state_.contraction));
  return ex.initial + raw;
}

float Learner::predict_const(const Example& in) const {
  const Example& ex = cfg_.center ? centered_copy(in) : in;
  OnlineState range;  // the label range a learning thread may be widening
  range.min_label = load_w(&state_.min_label);
  range.max_label = load_w(&state_.max_label);
  return unstandardize(output_of(cfg_, finalize_prediction(range, score_const(ex))), load_d(&state_.label_mean),
                       label_deviation(state_));
}

Outcome Learner::evaluate_const(const Example& in) const {
  const Example& ex = cfg_.center ? centered_copy(in) : in;
  OnlineState range;
  range.min_label = load_w(&state_.min_label);
  range.max_label = load_w(&state_.max_label);
  Outcome out;
  size_t generated = 0;
  out.prediction = finalize_prediction(range, score_const(ex, 0, &generated));
  out.output = output_of(cfg_, out.prediction);
  out.num_features = static_cast<uint32_t>(generated);
  if (cfg_.standardize) {
    out.prediction = out.output = unstandardize(out.prediction, load_d(&state_.label_mean), label_deviation(state_));
    if (ex.labelled() && ex.weight > 0.f) {
      const float e = ex.label - out.prediction;
      out.loss = e * e * ex.weight;
    }
    return out;
  }
  if (ex.labelled() && ex.weight > 0.f)
    out.loss =
        example_loss(cfg_, Range{range.min_label, range.max_label}, out.prediction, out.output, ex.label, ex.weight);
  return out;
}

bool Learner::sparse_predict_ok() const {
  return offset_ == 0 && !cfg_.center && interactions_.empty() && !wildcards_ && !cfg_.ignore[' '] &&
         !cfg_.ignore_linear[' '] && !cfg_.ignore[kConstantNamespace] && !cfg_.ignore_linear[kConstantNamespace];
}

float Learner::predict_sparse(const uint32_t* index, const float* value, size_t n) const {
  // The same sum, in the same order, as predict_const over the Example csr_row would build.
  float raw = 0.f;
  const bool trunc = cfg_.l1 > 0.f && !ftrl_family(cfg_);
  const float g = static_cast<float>(load_d(&state_.gravity));
  auto add = [&](uint32_t i, float x) {
    const float w = load_w(weights_.row(i));
    raw += (trunc ? trunc_weight(w, g) : w) * x;
  };
  for (size_t k = 0; k < n; ++k) {
    if (value[k] != 0.f) add(index[k], value[k]);
  }
  if (cfg_.constant) add(static_cast<uint32_t>(kConstantFeature), 1.f);
  if (!ftrl_family(cfg_)) raw *= static_cast<float>(load_d(&state_.contraction));
  OnlineState range;
  range.min_label = load_w(&state_.min_label);
  range.max_label = load_w(&state_.max_label);
  return unstandardize(output_of(cfg_, finalize_prediction(range, raw)), load_d(&state_.label_mean),
                       label_deviation(state_));
}

void Learner::observe_slow(const Example& ex) {
  bool grew = false;
  for (unsigned char s : ex.order) {
    if (s >= ' ' && s <= '~' && !seen_[s]) {
      seen_[s] = true;
      grew = true;
    }
  }
  if (!grew) return;
  std::vector<unsigned char> seen;
  for (size_t s = 0; s < seen_.size(); ++s) {
    if (seen_[s]) seen.push_back(static_cast<unsigned char>(s));
  }
  std::vector<Interaction> widened = expand_wildcards(cfg_.interactions, seen);
  std::unique_lock<std::shared_mutex> lock(wildcard_mutex());
  interactions_ = std::move(widened);
}

void Learner::end_pass(float decay) {
  // (VW syncs the weights here only for --predict_only_model models: its save_resume is on by default)
  if (ftrl_family(cfg_) || cfg_.classic_rule != 0) return;
  if (decay != 1.f) {
    base_eta_ *= decay;
    set_rate_factor(rate_factor_);
  }
}

void Learner::sync_weights() {
  if (state_.gravity == 0. && state_.contraction == 1.) return;
  const float g = static_cast<float>(state_.gravity);
  const float c = static_cast<float>(state_.contraction);
  const size_t stride = weights_.stride();
  float* d = weights_.data();
  for (uint64_t r = 0; r < weights_.rows(); ++r) {
    float* w = d + r * stride;
    const float v = load_w(w);
    if (v != 0.f) store_w(w, trunc_weight(v, g) * c);
  }
  store_d(&state_.gravity, 0.);
  store_d(&state_.contraction, 1.);
}

}  // namespace wabbit