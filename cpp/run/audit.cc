#include "run/audit.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace wabbit {

std::string format_g(float v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", static_cast<double>(v));
  return b;
}

std::vector<Contribution> explain(const Learner& learner, const Example& ex) {
  std::vector<Contribution> out;
  const uint32_t mask = learner.weights().mask();
  for_each_feature_named(ex, learner.interactions(), &learner.config().ignore_linear,
                         [&](float x, uint32_t i, const std::string& name) {
                           const float w = learner.effective_weight(learner.weights().row(i));
                           out.push_back({name, i & mask, x, w});
                         });
  return out;
}

void NameMap::record(const Learner& learner, const Example& ex) {
  const uint32_t mask = learner.weights().mask();
  for_each_feature_named(ex, learner.interactions(), &learner.config().ignore_linear,
                         [&](float, uint32_t i, const std::string& name) { names_.try_emplace(i & mask, name); });
}

std::string audit_features(const Learner& learner, const Example& ex, bool show_adaptive) {
  struct Item {
    float key;
    std::string text;
  };
  std::vector<Item> items;
  const WeightTable& W = learner.weights();
  const uint32_t mask = W.mask();
  // VW's audit walks every namespace, those used only in interactions included.
  for_each_feature_named(ex, learner.interactions(), nullptr, [&](float x, uint32_t i, const std::string& name) {
    const float* row = W.row(i);
    std::string t = name;
    for (const std::string& part : {std::to_string(i & mask), format_g(x), format_g(learner.effective_weight(row))}) {
      t.push_back(':');
      t += part;
    }
    if (show_adaptive && W.stride() > 1) {
      t.push_back('@');  // (appended, not "@" + s: GCC 12 misreports that)
      t += format_g(row[1]);
    }
    items.push_back({std::fabs(row[0] * x), std::move(t)});
  });
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.key > b.key; });
  std::string out;
  for (const Item& it : items) {
    out.push_back('\t');
    out += it.text;
  }
  out.push_back('\n');
  return out;
}

std::string readable_model(const Learner& learner, const NameMap* names, bool predict_only, const std::string& args,
                           const std::string& version) {
  const Config& c = learner.config();
  const OnlineState& s = learner.state();
  const WeightTable& W = learner.weights();
  std::string out;
  out += "Version wabbit " + version + "\n";
  out += "Id \n";
  out += "Min label:" + format_g(s.min_label) + "\n";
  out += "Max label:" + format_g(s.max_label) + "\n";
  out += "bits:" + std::to_string(W.bits()) + "\n";
  out += "lda:0\n0 ngram:\n0 skip:\n";
  out += "options: " + args + "\n";
  out += predict_only ? ":0\n" : ":1\n";
  if (!predict_only) {
    out += "initial_t " + format_g(c.initial_t) + "\n";
    out += "norm normalizer " + format_g(static_cast<float>(s.normalized_sum_norm_x)) + "\n";
    out += "t " + format_g(static_cast<float>(s.t)) + "\n";
    out += "total_weight " + format_g(static_cast<float>(s.total_weight)) + "\n";
    out += "l1_state " + format_g(static_cast<float>(s.gravity)) + "\n";
    out += "l2_state " + format_g(static_cast<float>(s.contraction)) + "\n";
  }
  // Slots shown per row, as VW writes them: the weight, then the optimizer state it keeps.
  size_t shown = 1;
  if (!predict_only) {
    if (c.coin || c.freegrad)
      shown = 6;
    else if (c.ftrl || (c.adaptive && c.normalized))
      shown = 3;
    else if (c.adaptive || c.normalized)
      shown = 2;
  }
  const uint32_t stride = W.stride();
  const float* d = W.data();
  for (uint64_t r = 0; r < W.rows(); ++r) {
    const float* row = d + r * stride;
    float vals[3] = {predict_only ? learner.effective_weight(row) : row[0], shown > 1 ? row[1] : 0.f,
                     shown > 2 ? row[2] : 0.f};
    bool nz = false;
    for (size_t k = 0; k < shown; ++k) nz |= vals[k] != 0.f;
    if (!nz) continue;
    if (names != nullptr) {
      if (const std::string* n = names->find(static_cast<uint32_t>(r))) {
        out += *n;
        out.push_back(':');
      }
    }
    out += std::to_string(r);
    out.push_back(':');
    for (size_t k = 0; k < shown; ++k) {
      if (k > 0) out.push_back(' ');
      out += format_g(vals[k]);
    }
    out.push_back('\n');
  }
  return out;
}

}  // namespace wabbit
