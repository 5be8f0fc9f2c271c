// Seeing inside a model: VW's --audit lines, --readable_model / --invert_hash files, explain().
//
// All of this is the slow path: it works on examples parsed with names (parse_vw_line(..., true))
// and builds strings. Nothing here runs unless asked for.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/learner.h"

namespace wabbit {

struct Stats;

// One feature's part in a prediction.
struct Contribution {
  std::string name;  // VW's audit name: "ns^feature", "a^x*b^y" for interactions, "Constant"
  uint32_t index;    // row in the weight table (masked)
  float value;       // x
  float weight;      // w as the model uses it now
};

std::vector<Contribution> explain(const Learner& learner, const Example& ex);

// Remembers the first name seen for each row (VW's --invert_hash map).
class NameMap {
 public:
  void record(const Learner& learner, const Example& ex);
  // The same for a multiclass model's `classes` problems (rows index + k): VW names problem k's row
  // "name[k]" (k > 0).
  void record_classes(const Learner& learner, const Example& ex, uint32_t classes);
  const std::string* find(uint32_t row) const {
    auto it = names_.find(row);
    return it == names_.end() ? nullptr : &it->second;
  }
  size_t size() const { return names_.size(); }

 private:
  std::unordered_map<uint32_t, std::string> names_;
};

// VW's --audit feature line for one example, from the weights before its update: a tab before each
// "name:index:value:weight[@adaptive]", largest |w x| first, then a newline. (VW prints the
// prediction and tag on the line before it.) offset: a multiclass problem's rows (index + offset).
std::string audit_features(const Learner& learner, const Example& ex, bool show_adaptive, uint32_t offset = 0);

// VW's readable model text: a header, then one line per non-zero row in index order,
// "[name:]index:weight[ state...]" (names when `names` is given: --invert_hash). Without
// `predict_only` the header ends with VW's online-state block ("initial_t", "t", "sum_loss",
// "example_number", ... "l2_state", in VW's order); its run counters come from `stats` (the run
// that made the model; all zero when null).
std::string readable_model(const Learner& learner, const NameMap* names, bool predict_only, const std::string& args,
                           const std::string& version, const Stats* stats = nullptr);

// C++'s default stream formatting of a number (6 significant digits), as VW prints numbers.
std::string format_g(float v);
std::string format_g(double v);

}  // namespace wabbit
