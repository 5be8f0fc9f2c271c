// The bandit learner over the linear Learner: the models' layout in the weight table, the
// shared-feature merge, --cb K's expansion, exploration chosen by the flags, and one event's
// predict-and-learn step (the estimators are in estimators.cc, the maths in explore.h).
#include "cb/cb.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "cb/explore.h"
#include "run/audit.h"
#include "run/progress.h"

namespace wabbit {

void merge_shared(Example& dst, const Example& action, const Example* shared) {
  dst.clear();
  dst.label = action.label;
  dst.weight = action.weight;
  dst.initial = action.initial;
  dst.has_names = action.has_names;  // (--audit, --invert_hash: the names travel with the features)
  for (unsigned char s : action.order) {
    const FeatureGroup& g = action.groups[s];
    FeatureGroup& d = dst.groups[s];
    d.index.assign(g.index.begin(), g.index.end());
    d.value.assign(g.value.begin(), g.value.end());
    if (dst.has_names) {
      d.name.assign(g.name.begin(), g.name.end());
      d.name.resize(d.index.size());
    }
    dst.order.push_back(s);
  }
  if (shared == nullptr) return;
  for (unsigned char s : shared->order) {
    if (s == kConstantNamespace) continue;
    const FeatureGroup& g = shared->groups[s];
    if (g.empty()) continue;
    FeatureGroup& d = dst.groups[s];
    if (d.empty()) dst.order.push_back(s);
    d.index.insert(d.index.end(), g.index.begin(), g.index.end());
    d.value.insert(d.value.end(), g.value.begin(), g.value.end());
    if (dst.has_names) {
      d.name.insert(d.name.end(), g.name.begin(), g.name.end());
      d.name.resize(d.index.size());
    }
  }
}

void CbLearner::set_audit(std::string* out, bool show_adaptive, NameMap* names) {
  audit_ = out;
  audit_adaptive_ = show_adaptive;
  names_ = names;
}

// VW's --audit block of one action example as the base learner sees it: its prediction (clamped
// into the labels' range, as VW's scalar) and its features with the weights before any update.
// A learned example's label widens the range first (VW's scorer does so before the update).
void CbLearner::audit_action(const Example& merged, float score, std::string_view tag, float label,
                             uint32_t model) const {
  if (names_ != nullptr && model == 0) names_->record(*base_, merged);
  if (audit_ == nullptr) return;
  const OnlineState& st = base_->state();
  float lo = st.min_label;
  float hi = st.max_label;
  if (label != kNoLabel && std::isfinite(label)) {
    lo = std::min(lo, label);
    hi = std::max(hi, label);
  }
  float p = score;
  if (std::isnan(p)) p = 0.f;
  p = std::min(std::max(p, lo), hi);
  format_prediction(*audit_, p, tag);
  *audit_ += audit_features(*base_, merged, audit_adaptive_, model);  // (dr's regressor: model 1's rows)
}

CbLearner::CbLearner(Learner& base, CbConfig cfg) : base_(&base), cfg_(cfg) {
  if (cfg_.explore == CbExplore::kEpsilon || cfg_.explore == CbExplore::kSoftmax ||
      cfg_.explore == CbExplore::kSquareCb || cfg_.explore == CbExplore::kFirst || cfg_.explore == CbExplore::kBag) {
    if (!(cfg_.epsilon >= 0.f && cfg_.epsilon <= 1.f)) throw std::invalid_argument("--epsilon must be in [0, 1]");
  }
  if (!(cfg_.clip_p >= 0.f && cfg_.clip_p <= 1.f)) throw std::invalid_argument("--clip_p must be in [0, 1]");
  if (cfg_.explore == CbExplore::kBag && cfg_.bag < 1) throw std::invalid_argument("--bag needs at least 1 policy");
  if (cfg_.explore == CbExplore::kSquareCb && cfg_.type != CbType::kMtr) {
    throw std::invalid_argument("--squarecb supports only --cb_type mtr (as VW)");
  }
  if (!std::isfinite(cfg_.lambda) || !std::isfinite(cfg_.gamma_scale) || !std::isfinite(cfg_.gamma_exponent)) {
    throw std::invalid_argument("--lambda, --gamma_scale and --gamma_exponent must be finite");
  }
  type_width_ = cfg_.type == CbType::kDr ? 2u : 1u;
  width_ = type_width_ * (cfg_.explore == CbExplore::kBag ? cfg_.bag : 1u);
  multiplier_ = 1;  // VW interleaves the models at the next power of two
  while (multiplier_ < width_) multiplier_ <<= 1;
  state_.event_sum.assign(width_, 0);
  state_.action_sum.assign(width_, 0);
  state_.tau = cfg_.first;
  state_.rng = cfg_.seed;
  // models 1.. start from zero sums (VW applies initial_t to model 0's only)
  state_.norm_x.assign(width_, 0.);
  state_.total_weight.assign(width_, 0.);
}

void CbLearner::prepare(Example& ex) const {
  base_->prepare(ex);
  if (multiplier_ == 1) return;
  for (unsigned char s : ex.order) {
    for (uint32_t& i : ex.groups[s].index) i *= multiplier_;
  }
}

std::string CbLearner::check(const CbEvent& ev) const { return check_cb_event(ev, cfg_.clip_p); }

std::string CbLearner::expand_fixed(const Example& ex, const CbLineLabel& label, CbEvent& ev) const {
  const uint32_t k = cfg_.num_actions;
  ev.clear();
  if (label.shared) return "\"shared\" has no meaning with --cb K (single-line examples)";
  if (label.labelled) {
    if (label.cost.action < 1 || label.cost.action > k) {
      return "action " + std::to_string(label.cost.action) + " is not one of the actions 1.." + std::to_string(k);
    }
    ev.label_index = static_cast<int>(label.cost.action - 1);
    ev.label = label.cost;
    ev.label.action = label.cost.action - 1;
  }
  // VW's cb_to_cb_adf: clear the low bits that hold K * width slots, then add a * width
  uint64_t total = static_cast<uint64_t>(k) * width_;
  uint32_t bits = 0;
  while (total > 0) {
    total >>= 1;
    ++bits;
  }
  const uint32_t low = bits >= 32 ? 0xFFFFFFFFu : ((1u << bits) - 1u);
  for (uint32_t a = 0; a < k; ++a) {
    Example& c = ev.add_action();
    merge_shared(c, ex, nullptr);
    const uint32_t add = a * width_;
    for (unsigned char s : c.order) {
      for (uint32_t& i : c.groups[s].index) i = (i & ~low) + add;
    }
  }
  ev.tag = ex.tag;
  return {};
}

void CbLearner::merge_all(const CbEvent& ev, std::vector<Example>& merged) const {
  if (merged.size() < ev.n) merged.resize(ev.n);
  const Example* shared = ev.has_shared ? &ev.shared : nullptr;
  for (size_t a = 0; a < ev.n; ++a) merge_shared(merged[a], ev.actions[a], shared);
}

void CbLearner::scores(const std::vector<Example>& merged, size_t n, uint32_t model, std::vector<float>& s,
                       std::vector<uint32_t>* generated) const {
  s.resize(n);
  if (generated != nullptr) generated->resize(n);
  const Learner& L = *base_;
  for (size_t a = 0; a < n; ++a) {
    size_t count = 0;
    s[a] = L.score_const(merged[a], model, generated != nullptr ? &count : nullptr);
    if (generated != nullptr) (*generated)[a] = static_cast<uint32_t>(count);
  }
}

void CbLearner::to_pmf(std::vector<float>& value) const {
  switch (cfg_.explore) {
    case CbExplore::kNone:
      return;
    case CbExplore::kEpsilon:
      epsilon_greedy_pmf(cfg_.epsilon, cfg_.first_only, value);
      return;
    case CbExplore::kSoftmax:
      softmax_pmf(cfg_.lambda, cfg_.epsilon, value);
      return;
    case CbExplore::kSquareCb:
      squarecb_pmf(squarecb_gamma(cfg_.gamma_scale, cfg_.gamma_exponent, state_.counter), cfg_.epsilon, value);
      return;
    case CbExplore::kFirst:
      tau_first_pmf(state_.tau > 0, cfg_.epsilon, value);
      return;
    case CbExplore::kBag:
      return;  // computed in predict (needs every policy's scores)
  }
}

// Bagging's pmf from every policy's scores (s[b * n + a]): each policy votes for its best action
// (ties share the vote), VW's generate_bag normalizes the votes, the floor applies, and the actions
// are ordered as VW's sort_action_probs: by probability, then by summed score, then by index.
void CbLearner::bag_pmf(const std::vector<float>& s, size_t n, CbResult& out) const {
  std::vector<float> top(n, 0.f);
  std::vector<float> sum(n, 0.f);
  std::vector<float> one(n);
  std::vector<uint32_t> act;
  std::vector<float> val;
  for (uint32_t b = 0; b < cfg_.bag; ++b) {
    std::copy(s.begin() + static_cast<std::ptrdiff_t>(b * n), s.begin() + static_cast<std::ptrdiff_t>((b + 1) * n),
              one.begin());
    sort_action_scores(one, n, act, val);
    for (size_t i = 0; i < n; ++i) sum[act[i]] += val[i];
    if (!cfg_.first_only) {
      const size_t tied = fill_tied(val);
      for (size_t j = 0; j < tied; ++j) top[act[j]] += 1.f / static_cast<float>(tied);
    } else {
      top[act[0]] += 1.f;
    }
  }
  std::vector<float> pmf;
  bag_votes_pmf(top, cfg_.epsilon, pmf);
  out.action.resize(n);
  std::iota(out.action.begin(), out.action.end(), 0u);
  std::sort(out.action.begin(), out.action.end(), [&](uint32_t a, uint32_t b) {
    if (pmf[a] != pmf[b]) return pmf[a] > pmf[b];
    if (sum[a] != sum[b]) return sum[a] < sum[b];
    return a < b;
  });
  out.value.resize(n);
  for (size_t i = 0; i < n; ++i) out.value[i] = pmf[out.action[i]];
}

void CbLearner::process(CbEvent& ev, bool learn, CbResult& out) {
  const size_t n = ev.n;
  merge_all(ev, merged_);
  for (size_t a = 0; a < n; ++a) base_->observe_namespaces(merged_[a]);  // ':' interactions widen here
  const bool labelled = ev.label_index >= 0;
  out.skipped = nullptr;
  refused_ = nullptr;
  if (learn && labelled) {
    // An update of the event could be refused (core/undo.h): everything its updates may touch is
    // saved first. The bounds: every estimator's target is within (|cost| + 2 * the label range +
    // 100) / p and its importance weight within max(1, |cost|) / p (p the logged probability).
    const OnlineState& st = base_->state();
    const float range = std::max(std::fabs(st.min_label), std::fabs(st.max_label));
    const float p = ev.label.probability;
    const float c = std::fabs(ev.label.cost);
    const float label = (c + 2.f * range + 100.f) / p;
    const float weight = std::max(1.f, c) / p;
    bool maybe = false;
    for (size_t a = 0; a < n && !maybe; ++a) maybe = base_->may_refuse(merged_[a], label, weight, 0.f);
    if (maybe) [[unlikely]] {
      undo_.begin(*base_);
      undo_state_ = state_;
      for (size_t a = 0; a < n; ++a) {
        for (uint32_t m = 0; m < width_; ++m) undo_.save_rows(*base_, merged_[a], m);
      }
    }
  }
  dr_x_.clear();
  audit_tag_ = fixed() ? std::string_view(ev.tag) : std::string_view();  // --cb K: each copy has the line's tag
  if (cfg_.explore == CbExplore::kBag) {
    scratch_scores_.resize(n * cfg_.bag);
    std::vector<float> one;
    for (uint32_t b = 0; b < cfg_.bag; ++b) {
      scores(merged_, n, b * type_width_, one, b == 0 ? &generated_ : nullptr);
      std::copy(one.begin(), one.end(), scratch_scores_.begin() + static_cast<std::ptrdiff_t>(b * n));
    }
    bag_pmf(scratch_scores_, n, out);
    if (learn && labelled) {
      for (uint32_t b = 0; b < cfg_.bag; ++b) {
        const uint32_t count = (cfg_.greedify && b == 0) ? 1u : poisson_weight(state_.rng);
        for (uint32_t j = 0; j < count; ++j) learn_one(ev, merged_, b, dr_x_, false);
      }
    }
  } else {
    if (learn && labelled && cfg_.type == CbType::kDr) {
      // VW trains the dr regressor before scoring (the two models never share a row)
      if (audit_ != nullptr && explore() && cfg_.explore != CbExplore::kEpsilon) [[unlikely]] {
        // VW's explorations but epsilon-greedy predict the event first (dr's regressor has its own
        // rows, so these scores are the ones made after it learns)
        scores(merged_, n, 0, scratch_scores_, &generated_);
        for (size_t a = 0; a < n; ++a)
          audit_action(merged_[a], scratch_scores_[a], fixed() ? ev.tag : ev.actions[a].tag);
      }
      dr_regressor(ev, merged_, 0, dr_x_);
      scores(merged_, n, 0, scratch_scores_, &generated_);
      if (audit_ != nullptr) [[unlikely]] {
        for (size_t a = 0; a < n; ++a)
          audit_action(merged_[a], scratch_scores_[a], fixed() ? ev.tag : ev.actions[a].tag);
      }
      sort_action_scores(scratch_scores_, n, out.action, out.value);
      to_pmf(out.value);
      learn_one(ev, merged_, 0, dr_x_, true);
    } else {
      scores(merged_, n, 0, scratch_scores_, &generated_);
      if (auditing()) [[unlikely]] {
        // VW's cb_explore_adf predicts an unlabelled event twice when it learns (its own predict,
        // then cb_adf's learn of a test event): two audit blocks per action
        // (epsilon-greedy over ADF with mtr; the other explorations every event over ADF, and every
        // labelled line with --cb_explore K)
        const bool greedy = cfg_.explore == CbExplore::kEpsilon;
        const bool twice = fixed() ? !greedy && labelled : !greedy || (!labelled && cfg_.type == CbType::kMtr);
        const int times = explore() && learn && twice ? 2 : 1;
        for (int t = 0; t < times; ++t) {
          for (size_t a = 0; a < n; ++a)
            audit_action(merged_[a], scratch_scores_[a], fixed() ? ev.tag : ev.actions[a].tag);
        }
      }
      sort_action_scores(scratch_scores_, n, out.action, out.value);
      to_pmf(out.value);
      if (learn && labelled) learn_one(ev, merged_, 0, dr_x_, false);
    }
    // Testing (-t), VW's dr loss falls back to the IPS estimate (its regressor's scores are only
    // computed when learning): dr_x_ stays empty.
  }
  account(ev, merged_, generated_, dr_x_, out);
  if (refused_ != nullptr) [[unlikely]] {  // the event changes nothing, the clock included
    // (without saved rows only an update whose score is beyond the tame range gets here: the updates
    // before it, each finite, stay)
    if (undo_.active()) {
      undo_.restore(*base_);
      state_ = undo_state_;
    }
    out.skipped = refused_;
    return;
  }
  undo_.done();
  if (learn && labelled) {
    if (cfg_.explore == CbExplore::kSquareCb) ++state_.counter;
    if (cfg_.explore == CbExplore::kFirst && state_.tau > 0) --state_.tau;
  }
  // VW's clock: once per event
  OnlineState& st = base_->state();
  st.t += 1.;
  if (!labelled) store_d(&st.weighted_unlabeled, st.weighted_unlabeled + 1.);
}

}  // namespace wabbit
