#include "multiclass/labels.h"

#include <cmath>

namespace wabbit {
namespace {

std::string shown(std::string_view s) { return printable(s, 60); }

// A class: digits only (VW refuses trailing characters), or a name with --named_labels.
bool read_class(std::string_view w, const NamedLabels& names, uint32_t& cls, std::string& error) {
  if (!names.empty()) {
    cls = names.get(w);
    if (cls == 0) {
      error = "label \"" + shown(w) + "\" is not one of --named_labels";
      return false;
    }
    return true;
  }
  uint64_t v = 0;
  bool ok = !w.empty() && w.size() <= 10;
  for (char c : w) {
    if (c < '0' || c > '9') {
      ok = false;
      break;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!ok || v >= kNoClass) {
    error = "bad class \"" + shown(w) + "\": expected a class number";
    return false;
  }
  cls = static_cast<uint32_t>(v);
  return true;
}

bool read_number(std::string_view w, const char* what, float& out, std::string& error) {
  size_t consumed = 0;
  const float v = parse_vw_float(w.data(), w.data() + w.size(), consumed);
  if (consumed != w.size() || w.empty()) {
    error = std::string("bad ") + what + " \"" + shown(w) + "\": not a number";
    return false;
  }
  if (!std::isfinite(v)) {
    error = std::string("bad ") + what + " \"" + shown(w) + "\": not finite";
    return false;
  }
  out = v;
  return true;
}

}  // namespace

NamedLabels::NamedLabels(const std::vector<std::string>& names) : names_(names) {
  for (size_t i = 0; i < names_.size(); ++i) ids_.emplace(names_[i], static_cast<uint32_t>(i + 1));
}

uint32_t NamedLabels::get(std::string_view name) const {
  const auto it = ids_.find(std::string(name));
  return it == ids_.end() ? 0u : it->second;
}

ParseResult parse_mc_line(std::string_view line, bool csoaa, const NamedLabels& names, Example& ex, McLabel& label,
                          bool with_names) {
  label.clear();
  const size_t bar = line.find('|');
  std::string_view head = bar == std::string_view::npos ? line : line.substr(0, bar);
  ParseResult res =
      parse_vw_line(bar == std::string_view::npos ? std::string_view() : line.substr(bar), ex, with_names);
  if (res.status == ParseStatus::kError) return res;
  const size_t tab = head.find('\t');
  if (tab != std::string_view::npos) head.remove_prefix(tab + 1);
  std::vector<std::string_view> words;
  for (size_t i = 0; i < head.size();) {
    while (i < head.size() && head[i] == ' ') ++i;
    if (i >= head.size()) break;
    size_t j = i;
    while (j < head.size() && head[j] != ' ') ++j;
    words.push_back(head.substr(i, j - i));
    i = j;
  }
  if (!words.empty()) {
    std::string_view last = words.back();
    const bool touches_bar = bar != std::string_view::npos && last.data() + last.size() == head.data() + head.size();
    if (touches_bar || last.front() == '\'') {
      if (last.front() == '\'') last.remove_prefix(1);
      ex.tag.assign(last.data(), last.size());
      words.pop_back();
    }
  }
  if (bar == std::string_view::npos && words.empty()) {
    res.status = ParseStatus::kBlank;
    return res;
  }
  res.status = ParseStatus::kExample;
  auto fail = [&res](std::string msg) {
    res.status = ParseStatus::kError;
    res.error = std::move(msg);
    return res;
  };
  std::string error;
  if (!csoaa) {
    if (words.size() > 2) {
      return fail("too many tokens before '|' (expected: class [weight] ['tag]): \"" + shown(head) + "\"");
    }
    if (!words.empty() && !read_class(words[0], names, label.cls, error)) return fail(error);
    if (words.size() == 2) {
      if (!read_number(words[1], "importance weight", label.weight, error)) return fail(error);
      if (label.weight < 0.f) return fail("bad importance weight \"" + shown(words[1]) + "\": must be >= 0");
    }
    return res;
  }
  for (std::string_view w : words) {
    const size_t colon = w.find(':');
    ClassCost cc{0, kNoCost};
    if (!read_class(w.substr(0, colon), names, cc.cls, error)) {
      if (w == "shared" || w == "label" || w.starts_with("label:")) {
        return fail("\"" + shown(w) + "\": multiline (ldf) examples need --csoaa_ldf, which is not supported");
      }
      return fail(error + " in cost \"" + shown(w) + "\" (expected class:cost)");
    }
    if (colon != std::string_view::npos) {
      std::string_view c = w.substr(colon + 1);
      if (c.find(':') != std::string_view::npos || !read_number(c, "cost", cc.cost, error)) {
        return fail("bad cost \"" + shown(w) + "\" (expected class:cost)");
      }
    }
    label.costs.push_back(cc);
  }
  return res;
}

}  // namespace wabbit
