// Multiclass labels in VW's text format, and the example line around them.
//
//   oaa:    class [weight] ['tag]|ns features...        3 |f a      cat 2.0 'id|f a
//   csoaa:  class[:cost] ... ['tag]|ns features...      1:0.5 2:1.0 3:0 |f a
//
// A class is a number (1..K, or 0..K-1 with --indexing 0) or, with --named_labels, one of the names.
// A csoaa class without a cost is listed but not learned (VW's "test" costs); no label predicts.
// The label section splits as VW's does (a tab drops what precedes it; the last token is the tag
// when it starts with ' or touches the first '|'); the features after it are read by parse_vw_line.
#pragma once

#include <cfloat>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/example.h"
#include "formats/vw_text.h"

namespace wabbit {

// --named_labels: names to classes 1..K and back.
class NamedLabels {
 public:
  NamedLabels() = default;
  explicit NamedLabels(const std::vector<std::string>& names);
  bool empty() const { return names_.empty(); }
  size_t size() const { return names_.size(); }
  // The class of a name, or 0 when it is not one of the names.
  uint32_t get(std::string_view name) const;
  // The name of class c (1..K); "" for any other class.
  std::string_view name(uint32_t c) const {
    return c >= 1 && c <= names_.size() ? std::string_view(names_[c - 1]) : std::string_view();
  }

 private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, uint32_t> ids_;
};

inline constexpr uint32_t kNoClass = UINT32_MAX;  // an unlabelled oaa example (VW's marker)
inline constexpr float kNoCost = FLT_MAX;         // a csoaa class listed without a cost

struct ClassCost {
  uint32_t cls;
  float cost;
};

// One line's label: an oaa class and weight, or csoaa costs (in the line's order).
struct McLabel {
  uint32_t cls = kNoClass;
  float weight = 1.f;
  std::vector<ClassCost> costs;
  void clear() {
    cls = kNoClass;
    weight = 1.f;
    costs.clear();
  }
};

// Reads a line into `ex` (features, tag) and `label`. csoaa: cost-sensitive labels, else oaa's.
// Class numbers are checked against nothing here (McLearner::check does, as indexing is learned).
// with_names: keep the features' names (--audit, --invert_hash).
ParseResult parse_mc_line(std::string_view line, bool csoaa, const NamedLabels& names, Example& ex, McLabel& label,
                          bool with_names = false);

}  // namespace wabbit
