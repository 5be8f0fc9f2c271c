// The cost estimators: a bandit label (action, cost, probability) turned into regression updates
// of the base learner (VW's cb_mtr, cb_ips, cb_dm, cb_dr), and the progressive loss estimate.
#include <algorithm>
#include <cmath>

#include "cb/cb.h"

namespace wabbit {
namespace {

inline float clamp_prediction(const OnlineState& st, float p) {
  if (std::isnan(p)) return 0.f;
  if (p > st.max_label) return st.max_label;
  if (p < st.min_label) return st.min_label;
  return p;
}

}  // namespace

Outcome CbLearner::base_learn(Example& ex, float label, float weight, uint32_t model) {
  Learner& L = *base_;
  if (refused_ != nullptr) [[unlikely]]
    return Outcome{};  // the event is refused already: what it learns is undone
  OnlineState& st = L.state();
  // VW advances its clock once per event (shared_data::update), not per base update.
  const double t = st.t;
  const double unl = st.weighted_unlabeled;
  const float old_label = ex.label;
  const float old_weight = ex.weight;
  // A diverging configuration can produce non-finite targets (VW would learn them and fill its
  // weights with inf/NaN); such an update is skipped: the example is only predicted.
  if (auditing()) [[unlikely]]
    audit_action(ex, L.score_const(ex, model), audit_tag_, label, model);  // VW audits the learned example too
  ex.label = std::isfinite(label) && std::isfinite(weight) ? label : kNoLabel;
  ex.weight = std::isfinite(weight) ? weight : 1.f;
  L.set_offset(model);
  if (model != 0) {  // this model's running sums for normalized updates
    std::swap(st.normalized_sum_norm_x, state_.norm_x[model]);
    std::swap(st.total_weight, state_.total_weight[model]);
  }
  Outcome o = L.learn(ex);
  if (model != 0) {
    std::swap(st.normalized_sum_norm_x, state_.norm_x[model]);
    std::swap(st.total_weight, state_.total_weight[model]);
  }
  L.set_offset(0);
  ex.label = old_label;
  ex.weight = old_weight;
  st.t = t;
  st.weighted_unlabeled = unl;
  if (o.skipped != nullptr) [[unlikely]]
    refused_ = o.skipped;
  return o;
}

// dr's first half: the regressor (model block*2+1) learns the chosen action's cost with weight 1/p;
// dr_x gets every action's regressor prediction (the chosen one's made before its update).
void CbLearner::dr_regressor(CbEvent& ev, std::vector<Example>& merged, uint32_t block, std::vector<float>& dr_x) {
  const size_t n = ev.n;
  const size_t k = static_cast<size_t>(ev.label_index);
  const uint32_t m1 = block * type_width_ + 1;
  dr_x.resize(n);
  for (size_t a = 0; a < n; ++a) {
    if (a == k)
      dr_x[a] = base_learn(merged[a], ev.label.cost, 1.f / ev.label.probability, m1).prediction;
    else
      dr_x[a] = clamp_prediction(base_->state(), base_->score_const(merged[a], m1));
    if (a != k && auditing()) [[unlikely]]
      audit_action(merged[a], dr_x[a], audit_tag_, kNoLabel, m1);
  }
}

// Learns one labelled event into the policy `block` (models block * type_width_ ...): the cost
// estimator's regression updates. With dr_ready, dr's regressor has already learned (dr_x is set).
void CbLearner::learn_one(CbEvent& ev, std::vector<Example>& merged, uint32_t block, std::vector<float>& dr_x,
                          bool dr_ready) {
  const size_t n = ev.n;
  const size_t k = static_cast<size_t>(ev.label_index);
  const uint32_t m0 = block * type_width_;
  float p = ev.label.probability;
  if (cfg_.explore == CbExplore::kSquareCb && k + 1 < n) p = 1.f;  // VW: no importance weighting (not the last action)
  const float clipped = std::max(p, cfg_.clip_p);
  const float cost = ev.label.cost;
  switch (cfg_.type) {
    case CbType::kMtr: {
      state_.action_sum[m0] += n;
      state_.event_sum[m0] += 1;
      const float w =
          1.f / clipped * (static_cast<float>(state_.event_sum[m0]) / static_cast<float>(state_.action_sum[m0]));
      base_learn(merged[k], cost, w, m0);
      return;
    }
    case CbType::kIps:
    case CbType::kDm: {
      for (size_t a = 0; a < n; ++a) {
        float target = 0.f;
        if (a == k) target = cfg_.type == CbType::kIps ? cost / clipped : cost;
        base_learn(merged[a], target, 1.f, m0);
      }
      return;
    }
    case CbType::kSm:
      learn_sm(ev, merged, m0);
      return;
    case CbType::kDr: {
      if (!dr_ready) dr_regressor(ev, merged, block, dr_x);
      for (size_t a = 0; a < n; ++a) {
        float target = dr_x[a];
        if (a == k) target += (cost - target) / clipped;
        base_learn(merged[a], target, 1.f, m0);
      }
      return;
    }
  }
}

// VW's "supervised method" (cb_adf's learn_sm): the policy's own scores (before this update), in
// action_scores order, give a softmax pmf p (exp(-score), normalized). The observed event's weight
// is |cost| / probability * p(chosen); the chosen action's row learns with weight w (1 - p(chosen)),
// every other action's with w p(a) (0 below 1e-15). The targets are the sorted scores moved by
// sign(cost): + on the chosen action's entry, - on the others, clamped to [-100, 100]; as in VW, the
// i-th action (in event order) learns the target of the i-th entry in score order. --clip_p does
// not apply (VW warns that it is not implemented for sm).
void CbLearner::learn_sm(CbEvent& ev, std::vector<Example>& merged, uint32_t model) {
  const size_t n = ev.n;
  const auto k = static_cast<uint32_t>(ev.label_index);
  scores(merged, n, model, sm_scores_, nullptr);
  sort_action_scores(sm_scores_, n, sm_action_, sm_value_);
  float sign = 1.f;
  float w = ev.label.cost / ev.label.probability;
  if (ev.label.cost < 0.f) {
    sign = -1.f;
    w = -w;
  }
  sm_prob_.assign(sm_value_.begin(), sm_value_.end());
  softmax_pmf(1.f, 0.f, sm_prob_);  // lambda 1 on costs: exp(-(score - min))
  for (size_t j = 0; j < n; ++j) {
    if (sm_action_[j] == k) {
      w *= sm_prob_[j];
      break;
    }
  }
  sm_target_.resize(n);
  sm_weight_.resize(n);
  for (size_t j = 0; j < n; ++j) {
    const uint32_t a = sm_action_[j];
    const bool chosen = a == k;
    sm_target_[j] = std::clamp(sm_value_[j] + (chosen ? sign : -sign), -100.f, 100.f);
    float wa = w * (chosen ? 1.f - sm_prob_[j] : sm_prob_[j]);
    if (wa <= 1e-15f) wa = 0.f;
    sm_weight_[a] = wa;
  }
  for (size_t i = 0; i < n; ++i) base_learn(merged[i], sm_target_[i], sm_weight_[i], model);
}

void CbLearner::account(const CbEvent& ev, const std::vector<Example>& merged, const std::vector<uint32_t>& generated,
                        const std::vector<float>& dr_x, CbResult& out) const {
  const size_t n = ev.n;
  uint64_t row = 0;
  uint64_t own = 0;
  for (size_t a = 0; a < n; ++a) {
    row += merged[a].num_linear_features() + generated[a];
    own += ev.actions[a].num_linear_features() + generated[a];
  }
  out.row_features = row;
  out.total_features = explore() ? row : own + (ev.has_shared ? ev.shared.num_linear_features() : 0);
  out.labelled = ev.label_index >= 0;
  out.loss = 0.f;
  if (!out.labelled) return;
  const uint32_t k = static_cast<uint32_t>(ev.label_index);
  const float c = ev.label.cost;
  const float p = ev.label.probability;
  if (explore()) {
    float loss = 0.f;
    for (size_t i = 0; i < out.action.size(); ++i) {
      if (out.action[i] == k) loss += c / p * out.value[i];
    }
    out.loss = loss;
    return;
  }
  const uint32_t top = out.action[0];
  if (cfg_.type == CbType::kDr && dr_x.size() == n) {
    out.loss = top == k ? (c - dr_x[k]) / p + dr_x[k] : dr_x[top];
  } else {
    out.loss = top == k ? c / p : 0.f;
  }
}
}  // namespace wabbit
