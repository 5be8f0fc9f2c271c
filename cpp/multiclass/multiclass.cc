// What the multiclass reductions share: the problems' layout in the weight table, the labels'
// indexing and checks, one problem's update and VW's clock.
#include "multiclass/multiclass.h"

#include "run/audit.h"
#include "run/progress.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace wabbit {

McLearner::McLearner(Learner& base, McConfig cfg) : base_(&base), cfg_(std::move(cfg)), names_(cfg_.named_labels) {
  if ((cfg_.oaa != 0) == (cfg_.csoaa != 0)) throw std::invalid_argument("exactly one of --oaa and --csoaa is needed");
  const uint32_t k = cfg_.classes();
  if (k > (1u << 24)) throw std::invalid_argument("--oaa/--csoaa: at most 2^24 classes");
  if (cfg_.indexing > 2) throw std::invalid_argument("--indexing must be 0 or 1");
  if (!names_.empty()) {
    if (names_.size() != k) {
      throw std::invalid_argument("there are " + std::to_string(names_.size()) +
                                  " named labels: use that as the number of classes (--oaa/--csoaa)");
    }
    for (const std::string& n : cfg_.named_labels) {
      if (n.empty() || names_.get(n) == 0 || n.find_first_of(" \t|:") != std::string::npos) {
        throw std::invalid_argument("--named_labels: a name may not be empty or hold a space, '|' or ':'");
      }
    }
    if (names_.get(cfg_.named_labels.back()) != k || cfg_.indexing == 0) {
      throw std::invalid_argument("--named_labels: each name once, classes numbered from 1");
    }
    cfg_.indexing = 1;
  }
  if (cfg_.probabilities && csoaa()) {
    throw std::invalid_argument("csoaa does not support --probabilities (use --oaa)");
  }
  while (multiplier_ < k) multiplier_ <<= 1;  // VW's weights per problem: a power of two
  if (multiplier_ > (1u << base.config().bits)) {
    throw std::invalid_argument("-b " + std::to_string(base.config().bits) + " is too small for " + std::to_string(k) +
                                " classes");
  }
  state_.indexing = cfg_.indexing;
  state_.norm_x.assign(k, 0.);
  state_.total_weight.assign(k, 0.);
}

void McLearner::prepare(Example& ex) const {
  base_->prepare(ex);
  if (multiplier_ == 1) return;
  for (unsigned char s : ex.order) {
    for (uint32_t& i : ex.groups[s].index) i *= multiplier_;
  }
}

ParseResult McLearner::parse(std::string_view line, Example& ex, McLabel& label, bool with_names) const {
  ParseResult r = parse_mc_line(line, csoaa(), names_, ex, label, with_names);
  if (r.status == ParseStatus::kExample) prepare(ex);
  return r;
}

std::string McLearner::class_text(uint32_t c) const {
  if (!names_.empty()) {
    const std::string_view n = names_.name(c);
    return n.empty() ? std::string("unknown") : std::string(n);
  }
  return std::to_string(c);
}

uint32_t McLearner::indexing_after(const McLabel& label) const {
  const uint32_t k = classes();
  uint32_t ix = state_.indexing;
  auto see = [&](uint32_t c) {
    if (ix == 2 && c == 0) ix = 0;  // VW: "labels are now considered 0-indexed"
    if (ix == 2 && c == k) ix = 1;
  };
  if (!csoaa()) {
    if (label.cls != kNoClass) see(label.cls);
  } else {
    for (const ClassCost& cc : label.costs) see(cc.cls);
  }
  return ix;
}

std::string McLearner::check(const McLabel& label) const {
  const uint32_t k = classes();
  const uint32_t ix = indexing_after(label);
  auto one = [&](uint32_t c) -> std::string {
    if (ix == 0 && c >= k) {
      return "class " + std::to_string(c) + " is not in 0.." + std::to_string(k - 1) + " (--indexing 0)";
    }
    if (ix != 0 && (c < 1 || c > k)) {
      return "class " + std::to_string(c) + " is not in 1.." + std::to_string(k) +
             (c == 0 ? " (labels are 1-based: --indexing 0 for 0..K-1)" : "");
    }
    return {};
  };
  if (!csoaa()) return label.cls == kNoClass ? std::string() : one(label.cls);
  for (const ClassCost& cc : label.costs) {
    std::string e = one(cc.cls);
    if (!e.empty()) return e;
  }
  return {};
}

float McLearner::score(const Example& ex, uint32_t p, uint64_t* features) const {
  size_t generated = 0;
  const float raw = base_->score_const(ex, p, features != nullptr ? &generated : nullptr);
  if (features != nullptr) {
    uint64_t n = generated;
    for (unsigned char s : ex.order) n += ex.groups[s].index.size();
    *features = n;
  }
  return raw;
}

const char* McLearner::base_learn(Example& ex, float label, float weight, uint32_t p) {
  Learner& L = *base_;
  OnlineState& st = L.state();
  const double t = st.t;
  const double unl = st.weighted_unlabeled;
  ex.label = std::isfinite(label) ? label : kNoLabel;
  ex.weight = weight;
  L.set_offset(p);
  if (p != 0) {  // this problem's running sums for normalized updates
    std::swap(st.normalized_sum_norm_x, state_.norm_x[p]);
    std::swap(st.total_weight, state_.total_weight[p]);
  }
  const Outcome o = L.learn(ex);
  if (p != 0) {
    std::swap(st.normalized_sum_norm_x, state_.norm_x[p]);
    std::swap(st.total_weight, state_.total_weight[p]);
  }
  L.set_offset(0);
  ex.label = kNoLabel;
  ex.weight = 1.f;
  st.t = t;
  st.weighted_unlabeled = unl;
  return o.skipped;
}

void McLearner::guard_updates(const Example& ex, float label, float weight, float raw) {
  if (!base_->may_refuse(ex, label, weight, raw)) [[likely]]
    return;
  undo_.begin(*base_);
  undo_state_ = state_;
  for (uint32_t p = 0; p < classes(); ++p) undo_.save_rows(*base_, ex, p);
}

void McLearner::settle_updates(const char* why, McResult& out) {
  out.skipped = why;
  if (why == nullptr) {
    undo_.done();
    return;
  }
  // (without saved rows only a csoaa example whose later class's score is beyond the tame range
  // gets here: its earlier classes' updates, each finite, stay)
  if (undo_.active()) {
    undo_.restore(*base_);
    state_ = undo_state_;
  }
}

void McLearner::audit_block(const Example& ex, uint32_t p, float score, float label, bool clamp) const {
  if (!clamp) {  // VW's csoaa scores an unlabelled example's classes with an unfinalized multipredict
    format_prediction(*audit_, score, ex.tag);
    *audit_ += audit_features(*base_, ex, audit_adaptive_, p);
    return;
  }
  const OnlineState& st = base_->state();
  float lo = st.min_label;
  float hi = st.max_label;
  if (label != kNoLabel && std::isfinite(label)) {
    lo = std::min(lo, label);
    hi = std::max(hi, label);
  }
  if (std::isnan(score)) score = 0.f;
  score = std::min(std::max(score, lo), hi);
  format_prediction(*audit_, score, ex.tag);
  *audit_ += audit_features(*base_, ex, audit_adaptive_, p);
}

void McLearner::audit_predicted(const Example& ex, const McLabel& label, const McResult& out) const {
  if (audit_ == nullptr) return;
  if (!csoaa()) {
    for (uint32_t p = 0; p < out.scores.size(); ++p) audit_block(ex, p, out.scores[p], kNoLabel);
  } else if (!label.costs.empty()) {  // the listed classes, scored in their order
    for (const ClassCost& c : out.raw) audit_block(ex, problem(c.cls), c.cost, kNoLabel);
  } else {
    for (uint32_t p = 0; p < classes(); ++p) audit_block(ex, p, score(ex, p, nullptr), kNoLabel, false);
  }
}

void McLearner::advance_clock(float weight, bool labelled) {
  OnlineState& st = base_->state();
  if (!labelled) store_d(&st.weighted_unlabeled, st.weighted_unlabeled + weight);
  store_d(&st.t, st.t + weight);
}

void McLearner::process(Example& ex, const McLabel& label, bool learn, McResult& out) {
  out.skipped = nullptr;
  base_->observe_namespaces(ex);
  if (csoaa()) {
    const uint32_t indexing = state_.indexing;
    state_.indexing = indexing_after(label);  // VW's csoaa learns the indexing before predicting
    csoaa(ex, label, learn, out);
    if (out.skipped != nullptr) [[unlikely]]
      state_.indexing = indexing;
  } else {
    oaa(ex, label, learn, out);
  }
  if (out.skipped != nullptr) [[unlikely]]
    return;  // a refused example changes nothing, the clock included
  advance_clock(out.weight, out.labelled);
}

void McLearner::predict_const(const Example& ex, const McLabel& label, McResult& out) const {
  if (csoaa())
    csoaa_predict(ex, label, out);
  else
    oaa_predict(ex, label, out);
}

}  // namespace wabbit
