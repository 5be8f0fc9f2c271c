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
  uint32_t best = 0;
  for (uint32_t p = 0; p < k; ++p) {
    float s = score(ex, p, p == 0 ? &out.num_features : nullptr);
    s = std::isnan(s) ? 0.f : (s > hi ? hi : (s < lo ? lo : s));  // VW's multipredict finalizes
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
  out.loss = out.labelled && label.cls != out.prediction ? label.weight : 0.f;
}

void McLearner::oaa(Example& ex, const McLabel& label, bool learn, McResult& out) {
  oaa_predict(ex, label, out);
  if (!learn || !out.labelled || !(label.weight > 0.f)) return;
  for (uint32_t p = 0; p < classes(); ++p) {
    base_learn(ex, label.cls == class_of(p) ? 1.f : -1.f, label.weight, p);
  }
}

}  // namespace wabbit
