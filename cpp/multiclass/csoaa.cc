// Cost-sensitive one-against-all (VW's csoaa): one regression on the cost per listed class; the
// prediction is the class of lowest score.
#include <algorithm>
#include <cfloat>

#include "multiclass/multiclass.h"

namespace wabbit {
namespace {

bool has_costs(const McLabel& label) {
  return std::any_of(label.costs.begin(), label.costs.end(), [](const ClassCost& c) { return c.cost != kNoCost; });
}

// VW's loss: the predicted class's cost minus the lowest cost.
float cs_loss(const McLabel& label, uint32_t prediction, float weight) {
  float chosen = FLT_MAX;
  float low = FLT_MAX;
  for (const ClassCost& c : label.costs) {
    if (c.cls == prediction) chosen = c.cost;
    low = std::min(low, c.cost);
  }
  return (chosen - low) * weight;
}

}  // namespace

void McLearner::csoaa_predict(const Example& ex, const McLabel& label, McResult& out) const {
  out.raw.clear();
  out.labelled = has_costs(label);
  out.weight = 1.f;
  out.num_features = 0;
  float best = FLT_MAX;
  if (!label.costs.empty()) {
    out.prediction = zero_based() ? 0 : 1;
    for (const ClassCost& c : label.costs) {
      const float s = score(ex, problem(c.cls), out.raw.empty() ? &out.num_features : nullptr);
      out.raw.push_back({c.cls, s});
      if (s < best || (s == best && c.cls < out.prediction)) {
        best = s;
        out.prediction = c.cls;
      }
    }
  } else {
    uint32_t top = 0;
    for (uint32_t p = 0; p < classes(); ++p) {
      const float s = score(ex, p, p == 0 ? &out.num_features : nullptr);
      if (p == 0 || s < best) {
        best = s;
        top = p;
      }
    }
    out.prediction = class_of(top);
  }
  out.loss = out.labelled ? cs_loss(label, out.prediction, out.weight) : 0.f;
}

void McLearner::csoaa(Example& ex, const McLabel& label, bool learn, McResult& out) {
  if (!learn || !has_costs(label)) {
    csoaa_predict(ex, label, out);
    if (audit_ != nullptr) [[unlikely]]
      audit_predicted(ex, label, out);
    return;
  }
  out.raw.clear();
  out.labelled = true;
  out.num_features = 0;
  float best = FLT_MAX;
  out.prediction = zero_based() ? 0 : 1;
  for (const ClassCost& c : label.costs) {
    const uint32_t p = problem(c.cls);
    const float s = score(ex, p, out.raw.empty() ? &out.num_features : nullptr);  // before its update
    // VW learns each listed class with weight 1 (0 for a class without a cost), and the example
    // then counts with the last class's weight
    out.weight = c.cost == kNoCost ? 0.f : 1.f;
    if (audit_ != nullptr) [[unlikely]]
      audit_block(ex, p, s, c.cost == kNoCost ? kNoLabel : c.cost);
    if (c.cost != kNoCost) base_learn(ex, c.cost, 1.f, p);
    out.raw.push_back({c.cls, s});
    if (s < best || (s == best && c.cls < out.prediction)) {
      best = s;
      out.prediction = c.cls;
    }
  }
  out.loss = cs_loss(label, out.prediction, out.weight);
}

}  // namespace wabbit
