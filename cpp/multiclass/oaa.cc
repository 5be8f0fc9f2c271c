// One-against-all (VW's oaa): K binary problems, +1 for the true class and -1 for the others.
#include <cmath>

#include "multiclass/multiclass.h"

namespace wabbit {

void McLearner::oaa_predict(const Example& ex, const McLabel& label, McResult& out) const {
  const uint32_t k = classes();
  const OnlineState& st = base_->state();
  const float lo = load_w(&st.min_label);
  const float hi = load_w(&st.max_label);
  out.scores.resize(k);
  out.max_raw = 0.f;
  uint32_t best = 0;
  for (uint32_t p = 0; p < k; ++p) {
    float s = score(ex, p, p == 0 ? &out.num_features : nullptr);
    const float a = std::fabs(s);
    out.max_raw = a > out.max_raw || std::isnan(a) ? a : out.max_raw;  // NaN stays (may_refuse: true)
    s = std::isnan(s) ? 0.f : (s > hi ? hi : (s < lo ? lo : s));       // VW's multipredict finalizes
    out.scores[p] = s;
    if (s > out.scores[best]) best = p;
  }
  out.prediction = class_of(best);
  out.probs.clear();
  if (cfg_.probabilities) {
    out.probs.resize(k);
    float sum = 0.f;
    for (uint32_t p = 0; p < k; ++p) {
      out.probs[p] = 1.f / (1.f + std::exp(-out.scores[p]));
      sum += out.probs[p];
    }
    const float inv = 1.f / sum;
    for (float& q : out.probs) q *= inv;
  }
  out.labelled = label.cls != kNoClass;
  out.weight = label.weight;
  // VW's 0/1 loss; with --probabilities VW also charges an unlabelled example its weight (its
  // "class" never equals the prediction), and its average loss includes that
  out.loss = (out.labelled || cfg_.probabilities) && label.cls != out.prediction ? label.weight : 0.f;
  out.raw_zero_based = zero_based();
}

void McLearner::oaa(Example& ex, const McLabel& label, bool learn, McResult& out) {
  oaa_predict(ex, label, out);
  const bool learns = learn && out.labelled && label.weight > 0.f;
  if (learn && out.labelled) {
    if (label.weight > 0.f) guard_updates(ex, 1.f, label.weight, out.max_raw);
    state_.indexing = indexing_after(label);  // VW's oaa learns the indexing after predicting
    if (label.weight > 0.f) {
      const char* refused = nullptr;
      for (uint32_t p = 0; p < classes() && refused == nullptr; ++p) {
        const float y = label.cls == class_of(p) ? 1.f : -1.f;
        if (audit_ != nullptr) [[unlikely]]
          audit_block(ex, p, score(ex, p, nullptr), y);  // VW audits each problem as it learns it
        refused = base_learn(ex, y, label.weight, p);
      }
      settle_updates(refused, out);
      if (refused != nullptr) [[unlikely]]
        return;
    }
  }
  if (!learns && audit_ != nullptr) [[unlikely]]
    audit_predicted(ex, label, out);
  if (!cfg_.probabilities) return;
  // --probabilities: VW reports the class, its 0/1 loss and the log loss after learning, in the
  // indexing known then
  const uint32_t k = classes();
  uint32_t best = 0;
  for (uint32_t p = 1; p < k; ++p) {
    if (out.scores[p] > out.scores[best]) best = p;
  }
  out.prediction = class_of(best);
  out.loss = label.cls != out.prediction ? label.weight : 0.f;
  // the true class's probability (an unlabelled example's marker wraps around, as in VW)
  const float q = out.probs[(zero_based() ? label.cls : label.cls - 1) % k];
  if (learn && out.labelled) state_.log_loss += q > 0.f ? -std::log(q) * label.weight : 999.f;
}

}  // namespace wabbit
