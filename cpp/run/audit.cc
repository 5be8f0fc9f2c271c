#include "run/audit.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "run/driver.h"

namespace wabbit {

std::string format_g(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

std::string format_g(float v) { return format_g(static_cast<double>(v)); }

std::vector<Contribution> explain(const Learner& learner, const Example& in) {
  const Example ex = learner.centered(in);  // (--center_features: the values the model weighs)
  std::vector<Contribution> out;
  const uint32_t mask = learner.weights().mask();
  for_each_feature_named(ex, learner.interactions(), learner.config().permutations, &learner.config().ignore_linear,
                         [&](float x, uint32_t i, const std::string& name) {
                           const float w = learner.effective_weight(learner.weights().row(i));
                           out.push_back({name, i & mask, x, w});
                         });
  return out;
}

void NameMap::record(const Learner& learner, const Example& ex) {
  const uint32_t mask = learner.weights().mask();
  for_each_feature_named(ex, learner.interactions(), learner.config().permutations, &learner.config().ignore_linear,
                         [&](float, uint32_t i, const std::string& name) { names_.try_emplace(i & mask, name); });
}

void NameMap::record_classes(const Learner& learner, const Example& ex, uint32_t classes) {
  const uint32_t mask = learner.weights().mask();
  for_each_feature_named(ex, learner.interactions(), learner.config().permutations, &learner.config().ignore_linear,
                         [&](float, uint32_t i, const std::string& name) {
                           for (uint32_t k = 0; k < classes; ++k) {
                             if (names_.contains((i + k) & mask)) continue;
                             names_.emplace((i + k) & mask, k == 0 ? name : name + "[" + std::to_string(k) + "]");
                           }
                         });
}

std::string audit_features(const Learner& learner, const Example& ex, bool show_adaptive, uint32_t offset) {
  struct Item {
    float key;
    std::string text;
  };
  std::vector<Item> items;
  const WeightTable& W = learner.weights();
  const uint32_t mask = W.mask();
  // An example read from a cache keeps no names: VW then prints an empty name, but "Constant" for
  // the constant (its namespace's one feature). The linear features come first, in ex.order.
  size_t constant_at = SIZE_MAX;
  if (!ex.has_names) {
    size_t at = 0;
    for (unsigned char s : ex.order) {
      if (s == kConstantNamespace) constant_at = at;
      at += ex.groups[s].size();
    }
  }
  size_t call = 0;
  static const std::string kConstantName = "Constant";
  static const std::string kNoName;
  // VW's audit walks every namespace, those used only in interactions included.
  for_each_feature_named(ex, learner.interactions(), learner.config().permutations, nullptr,
                         [&](float x, uint32_t i, const std::string& given) {
                           const std::string& name =
                               ex.has_names ? given : (call == constant_at ? kConstantName : kNoName);
                           ++call;
                           i += offset;
                           const float* row = W.row(i);
                           std::string t = name;
                           for (const std::string& part :
                                {std::to_string(i & mask), format_g(x), format_g(learner.effective_weight(row))}) {
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
                           const std::string& version, const Stats* stats) {
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
    // VW's gd online state, line for line (gd.cc's save_load_online_state): the learner's numbers
    // and the run's counters. VW counts the pass that ends with the input, so a finished run shows
    // at least 1.
    const Stats zero{};
    const Stats& st = stats != nullptr ? *stats : zero;
    auto line = [&out](const char* key, const std::string& v) {
      out += key;
      out.push_back(' ');
      out += v;
      out.push_back('\n');
    };
    line("initial_t", format_g(c.initial_t));
    line("norm normalizer", format_g(s.normalized_sum_norm_x));
    // VW's t counts held-out examples too (it leaves them out only where the learning rate uses it)
    line("t", format_g(s.t + st.weighted_holdout_examples));
    line("sum_loss", format_g(st.sum_loss));
    line("sum_loss_since_last_dump", format_g(st.sum_loss_since_last_dump));
    line("dump_interval", format_g(static_cast<float>(st.dump_interval)));
    line("min_label", format_g(s.min_label));
    line("max_label", format_g(s.max_label));
    line("weighted_labeled_examples", format_g(st.weighted_labeled_examples));
    line("weighted_labels", format_g(st.weighted_labels));
    line("weighted_unlabeled_examples", format_g(st.weighted_unlabeled_examples));
    line("example_number", std::to_string(st.example_number));
    line("total_features", std::to_string(st.total_features));
    line("total_weight", format_g(s.total_weight));
    line("sd::oec.weighted_labeled_examples", format_g(st.old_weighted_labeled_examples));
    line("current_pass", std::to_string(std::max<uint64_t>(st.current_pass, stats != nullptr ? 1 : 0)));
    line("l1_state", format_g(s.gravity));
    line("l2_state", format_g(s.contraction));
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
    // shown <= 6 <= stride: the coin and freegrad rows hold 8 floats
    float vals[6] = {};
    vals[0] = predict_only ? learner.effective_weight(row) : row[0];
    for (size_t k = 1; k < shown && k < stride; ++k) vals[k] = row[k];
    bool nz = false;
    for (size_t k = 0; k < shown; ++k) nz |= vals[k] != 0.f;
    if (!nz) continue;
    if (names != nullptr) {
      // VW: a named row is "name:index:...", an unnamed one "index:..." in a full model and
      // ":index:weight" (an empty name) in a predict-only one.
      if (const std::string* n = names->find(static_cast<uint32_t>(r))) {
        out += *n;
        out.push_back(':');
      } else if (predict_only) {
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
