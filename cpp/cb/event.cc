#include "cb/event.h"

#include <array>
#include <cmath>
#include <utility>

#include "cb/cb.h"
#include "cb/progress.h"

namespace wabbit {
namespace {

std::string excerpt(std::string_view s) { return printable(s, 60); }  // valid UTF-8 (vw_text.h)

bool parse_number(std::string_view tok, float& out) {
  if (tok.empty()) return false;
  size_t consumed = 0;
  out = parse_vw_float(tok.data(), tok.data() + tok.size(), consumed);
  return consumed == tok.size();
}

}  // namespace

ParseResult parse_cb_line(std::string_view line, Example& ex, CbLineLabel& label, bool names) {
  label = CbLineLabel{};
  const size_t bar = line.find('|');
  std::string_view head = bar == std::string_view::npos ? line : line.substr(0, bar);
  const std::string_view features = bar == std::string_view::npos ? std::string_view() : line.substr(bar);
  ParseResult res;
  if (features.empty()) {
    ex.clear();
    ex.has_names = names;
  } else {
    res = parse_vw_line(features, ex, names);
    if (res.status == ParseStatus::kError) return res;
    res.status = ParseStatus::kExample;
  }
  auto fail = [&res](std::string msg) {
    res.status = ParseStatus::kError;
    res.error = std::move(msg);
    return res;
  };
  const size_t tab = head.find('\t');
  if (tab != std::string_view::npos) head.remove_prefix(tab + 1);
  thread_local std::vector<std::string_view> words;  // reused: no allocation per line
  words.clear();
  size_t i = 0;
  while (i < head.size()) {
    while (i < head.size() && head[i] == ' ') ++i;
    if (i >= head.size()) break;
    size_t j = i;
    while (j < head.size() && head[j] != ' ') ++j;
    words.push_back(head.substr(i, j - i));
    i = j;
  }
  if (!words.empty()) {  // VW's tag: a last word starting with ' or touching the '|'
    std::string_view last = words.back();
    const bool touches = bar != std::string_view::npos && last.data() + last.size() == head.data() + head.size();
    if (touches || last.front() == '\'') {
      if (last.front() == '\'') last.remove_prefix(1);
      ex.tag.assign(last.data(), last.size());
      words.pop_back();
    }
  }
  std::string_view unobserved;  // the first cost without a probability (VW: a cost that was not observed)
  for (std::string_view w : words) {
    if (w == "shared") {
      if (label.labelled || label.costs > 0) return fail("\"shared\" after a cost: a shared line carries no cost");
      label.shared = true;
      continue;
    }
    if (label.shared) return fail("a shared line carries no cost: \"" + excerpt(w) + "\"");
    if (w.find(':') == std::string_view::npos) {
      // An action without a cost: prediction only. VW reads any word here (it hashes it into an
      // action number), so a line of another format (a regression label "0.52") is unlabelled.
      continue;
    }
    std::string_view parts[3];
    size_t np = 0;
    size_t start = 0;
    for (size_t k = 0; k <= w.size(); ++k) {
      if (k == w.size() || w[k] == ':') {
        if (np == 3) return fail("malformed cost \"" + excerpt(w) + "\": expected action:cost:probability");
        parts[np++] = w.substr(start, k - start);
        start = k + 1;
      }
    }
    float action = 0.f;
    if (!parse_number(parts[0], action) || !(action >= 0.f) || action != std::floor(action) || action > 4e9f) {
      return fail("bad action \"" + excerpt(parts[0]) + "\" in \"" + excerpt(w) + "\": not a non-negative integer");
    }
    float cost = 0.f;
    if (!parse_number(parts[1], cost) || !std::isfinite(cost)) {
      return fail("bad cost \"" + excerpt(parts[1]) + "\" in \"" + excerpt(w) + "\": not a finite number");
    }
    ++label.costs;
    if (np < 3 || parts[2].empty()) {  // a cost that was not observed (only --cb K lists them)
      if (unobserved.empty()) unobserved = w;
      continue;
    }
    float prob = 0.f;
    if (!parse_number(parts[2], prob) || !std::isfinite(prob)) {
      return fail("bad probability \"" + excerpt(parts[2]) + "\" in \"" + excerpt(w) + "\": not a number");
    }
    if (!(prob > 0.f && prob <= 1.f)) {
      return fail("probability " + std::string(parts[2]) + " in \"" + excerpt(w) + "\" is outside (0, 1]");
    }
    if (label.labelled) continue;  // VW's observed cost is the first one with a probability
    label.labelled = true;
    label.cost = CbCost{static_cast<uint32_t>(action), cost, prob};
    label.word_begin = static_cast<size_t>(w.data() - line.data());
    label.word_end = label.word_begin + w.size();
  }
  if (label.costs > 0 && !label.labelled) {
    return fail("cost without a probability in \"" + excerpt(unobserved) +
                "\": expected action:cost:probability (a line needs one observed cost)");
  }
  return res;
}

void swap_examples(Example& a, Example& b) {
  std::array<bool, 256> done{};
  for (unsigned char s : a.order) {
    std::swap(a.groups[s], b.groups[s]);
    done[s] = true;
  }
  for (unsigned char s : b.order) {
    if (!done[s]) std::swap(a.groups[s], b.groups[s]);
  }
  std::swap(a.order, b.order);
  std::swap(a.label, b.label);
  std::swap(a.weight, b.weight);
  std::swap(a.initial, b.initial);
  std::swap(a.tag, b.tag);
  std::swap(a.has_names, b.has_names);
}

std::string check_cb_event(const CbEvent& ev, float clip_p) {
  if (ev.n == 0) return kNoActionMessage;
  if (ev.label_index >= 0) {
    const float p = ev.label.probability;
    const float c = ev.label.cost;
    if (!std::isfinite(1.f / p) || !std::isfinite(c / p) || !std::isfinite(c / std::max(p, clip_p))) {
      return "cost " + fmt_float_trim(c, 6) + " at probability " + std::to_string(p) +
             ": the importance-weighted cost is not a finite number";
    }
  }
  return {};
}

bool CbEventBuilder::fail(uint64_t no, const std::string& why) {
  error_ = no == 0 ? why : "line " + std::to_string(no) + ": " + why;
  return false;
}

void CbEventBuilder::begin(CbEvent& ev) {
  ev.clear();
  error_.clear();
  first_line_ = 0;
  last_ = CbLineLabel{};
}

bool CbEventBuilder::line(CbEvent& ev, std::string_view text, uint64_t no, bool names) {
  if (first_line_ == 0) first_line_ = no;
  if (failed()) return false;  // the rest of a refused event
  const ParseResult pr = parse_cb_line(text, scratch_, last_, names);
  if (pr.status == ParseStatus::kError) return fail(no, pr.error);
  if (last_.costs > 1) {
    return fail(no, "two costs on one line (\"" + excerpt(text.substr(0, text.find('|'))) +
                        "\"): an action line carries at most one action:cost:probability");
  }
  if (last_.shared) {
    if (ev.n > 0 || ev.has_shared) return fail(no, "a shared line must come first in its event, once");
    swap_examples(ev.shared, scratch_);
    added(ev.shared);
    ev.has_shared = true;
    ev.tag = ev.shared.tag;
    return true;
  }
  if (last_.labelled) {
    if (ev.label_index >= 0) {
      return fail(no,
                  "a second labelled action in one event (the first is action " + std::to_string(ev.label_index) + ")");
    }
    ev.label_index = static_cast<int>(ev.n);
    ev.label = last_.cost;
    ev.label.action = static_cast<uint32_t>(ev.n);
  }
  Example& a = ev.add_action();
  swap_examples(a, scratch_);
  added(a);
  if (ev.n == 1 && !ev.has_shared) ev.tag = a.tag;
  return true;
}

bool CbEventBuilder::blank_line(uint64_t no) {
  if (first_line_ == 0) first_line_ = no;
  if (failed()) return false;
  return fail(no, "blank line inside an event");
}

bool CbEventBuilder::fixed_line(CbEvent& ev, std::string_view text, uint64_t no, bool names) {
  begin(ev);
  first_line_ = no;
  const ParseResult pr = parse_cb_line(text, scratch_, last_, names);
  if (pr.status == ParseStatus::kError) return fail(no, pr.error);
  added(scratch_);
  const std::string err = cb_->expand_fixed(scratch_, last_, ev);
  if (!err.empty()) return fail(no, err);
  return end(ev);
}

bool CbEventBuilder::fixed_example(CbEvent& ev, Example& ex, const CbLineLabel& label, uint64_t no) {
  begin(ev, no);
  added(ex);
  const std::string err = cb_->expand_fixed(ex, label, ev);
  if (!err.empty()) return fail(no, err);
  return end(ev);
}

Example& CbEventBuilder::shared_example(CbEvent& ev) {
  ev.shared.clear();
  ev.has_shared = true;
  return ev.shared;
}

void CbEventBuilder::added(Example& ex) const {
  if (cb_ != nullptr) cb_->prepare(ex);
}

bool CbEventBuilder::set_label(CbEvent& ev, long long index, float cost, float probability) {
  if (failed()) return false;
  if (ev.label_index >= 0)
    return fail(0, "the event's text already has a labelled action; pass label= or a cost, not both");
  if (index < 0 || static_cast<size_t>(index) >= ev.n) {
    return fail(0, "label action index " + std::to_string(index) + " is not an action of this event (it has " +
                       std::to_string(ev.n) + ")");
  }
  if (!std::isfinite(cost)) return fail(0, "label cost " + std::to_string(cost) + " is not a finite number");
  if (!(probability > 0.f && probability <= 1.f))
    return fail(0, "label probability " + std::to_string(probability) + " is outside (0, 1]");
  ev.label_index = static_cast<int>(index);
  ev.label = CbCost{static_cast<uint32_t>(index), cost, probability};
  return true;
}

bool CbEventBuilder::end(const CbEvent& ev) {
  if (failed()) return false;
  const std::string why = check_cb_event(ev, cb_ != nullptr ? cb_->config().clip_p : 0.f);
  if (!why.empty()) return fail(first_line_, why);
  return true;
}

}  // namespace wabbit
