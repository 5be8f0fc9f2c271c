// Cost-sensitive one-against-all (VW's csoaa): one regression on the cost per listed class; the
// prediction is the class of lowest score.
#include <algorithm>
#include <cfloat>
#include <cmath>

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
  float cost_max = 0.f;
  for (const ClassCost& c : label.costs) {
    const float a = c.cost == kNoCost ? 0.f : std::fabs(c.cost);
    cost_max = a > cost_max || std::isnan(a) ? a : cost_max;
  }
  const char* refused = nullptr;
  for (const ClassCost& c : label.costs) {
    const uint32_t p = problem(c.cls);
    const float s = score(ex, p, out.raw.empty() ? &out.num_features : nullptr);  // before its update
    // the raw scores are not known before the loop: the first class's is taken (a later class's
    // score beyond the tame range, with tame values and costs, is the one case left to the base's
    // own guard, which undoes that class's update only)
    if (out.raw.empty()) guard_updates(ex, cost_max, 1.f, s);
    // VW learns each listed class with weight 1 (0 for a class without a cost), and the example
    // then counts with the last class's weight
    out.weight = c.cost == kNoCost ? 0.f : 1.f;
    if (audit_ != nullptr) [[unlikely]]
      audit_block(ex, p, s, c.cost == kNoCost ? kNoLabel : c.cost);
    if (c.cost != kNoCost) refused = base_learn(ex, c.cost, 1.f, p);
    if (refused != nullptr) [[unlikely]]
      break;
    out.raw.push_back({c.cls, s});
    if (s < best || (s == best && c.cls < out.prediction)) {
      best = s;
      out.prediction = c.cls;
    }
  }
  settle_updates(refused, out);
  out.loss = cs_loss(label, out.prediction, out.weight);
}

}  // namespace wabbit
