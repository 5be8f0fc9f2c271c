// Example: one labelled (or unlabelled) instance, its features grouped by namespace slot.
//
// As in Vowpal Wabbit, a namespace's slot is the first byte of its name (' ' for the unnamed
// namespace); all namespaces sharing a first byte share a slot, and interactions (-q ab) are
// between slots. Features are (32-bit unmasked index, value) pairs in structure-of-arrays form.
// An Example is reused from line to line: clear() keeps the capacity, so steady-state parsing
// does not allocate.
#pragma once

#include <array>
#include <cfloat>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hash.h"

namespace wabbit {

inline constexpr float kNoLabel = FLT_MAX;  // VW's marker for an unlabelled example

// VW's audit name of a feature: "feature" in the unnamed namespace, else "namespace^feature", and
// "^text" appended for a string-valued feature.
inline std::string audit_name(std::string_view ns, std::string_view feature, std::string_view text) {
  std::string s;
  s.reserve(ns.size() + feature.size() + text.size() + 2);
  if (!ns.empty()) {
    s.append(ns);
    s.push_back('^');
  }
  s.append(feature);
  if (!text.empty()) {
    s.push_back('^');
    s.append(text);
  }
  return s;
}

struct FeatureGroup {
  std::vector<uint32_t> index;
  std::vector<float> value;
  std::vector<std::string> name;  // audit names, only when the example was parsed with names

  size_t size() const { return index.size(); }
  bool empty() const { return index.empty(); }
  void clear() {
    index.clear();
    value.clear();
    name.clear();
  }
  void push(uint32_t i, float v) {
    index.push_back(i);
    value.push_back(v);
  }
};

struct Example {
  float label = kNoLabel;
  float weight = 1.f;
  float initial = 0.f;  // VW's "base": added to the prediction
  std::string tag;
  std::array<FeatureGroup, 256> groups;
  std::vector<unsigned char> order;  // non-empty slots in order of first appearance
  bool has_names = false;            // features carry audit names (FeatureGroup::name)

  void clear() {
    has_names = false;
    label = kNoLabel;
    weight = 1.f;
    initial = 0.f;
    tag.clear();
    for (unsigned char s : order) groups[s].clear();
    order.clear();
  }

  void add(unsigned char slot, uint32_t index, float value) {
    FeatureGroup& g = groups[slot];
    if (g.empty()) order.push_back(slot);
    g.push(index, value);
  }
  void add_named(unsigned char slot, uint32_t index, float value, std::string name) {
    add(slot, index, value);
    groups[slot].name.push_back(std::move(name));
  }

  // Called once parsing is done: appends the constant feature, as VW does, last.
  void finish(bool add_constant) {
    if (!add_constant) return;
    if (has_names) add_named(kConstantNamespace, static_cast<uint32_t>(kConstantFeature), 1.f, "Constant");
    else add(kConstantNamespace, static_cast<uint32_t>(kConstantFeature), 1.f);
  }

  bool labelled() const { return label != kNoLabel; }

  size_t num_linear_features() const {
    size_t n = 0;
    for (unsigned char s : order) n += groups[s].size();
    return n;
  }
};

}  // namespace wabbit
