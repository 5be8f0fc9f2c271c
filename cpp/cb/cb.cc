#include "cb/cb.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "formats/model_io.h"
#include "run/driver.h"

namespace wabbit {
namespace {

std::string excerpt(std::string_view s) { return printable(s, 60); }  // valid UTF-8 (vw_text.h)

bool parse_number(std::string_view tok, float& out) {
  if (tok.empty()) return false;
  size_t consumed = 0;
  out = parse_vw_float(tok.data(), tok.data() + tok.size(), consumed);
  return consumed == tok.size();
}

// VW's enforce_minimum_probability (consider_zero_valued_elements = true).
void enforce_minimum_probability(float eps, std::vector<float>& pmf) {
  if (pmf.empty() || eps == 0.f) return;
  const size_t support = pmf.size();
  if (eps > 0.999f) {
    for (float& p : pmf) p = 1.f / static_cast<float>(support);
    return;
  }
  const float minimum = eps / static_cast<float>(support);
  std::vector<float> sorted(pmf);
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  size_t rho_idx = 0;
  float rho_sum = sorted[0];
  float running = 0.f;
  for (size_t idx = 0; idx < sorted.size(); ++idx) {
    running += sorted[idx];
    const float lhs = sorted[idx];
    const float rhs =
        (static_cast<float>(support - idx - 1) * minimum + running - 1.f) / (static_cast<float>(idx) + 1.f) + minimum;
    if (lhs > rhs) {
      rho_idx = idx;
      rho_sum = running;
    }
  }
  const float tau =
      (static_cast<float>(support - rho_idx - 1) * minimum + rho_sum - 1.f) / (static_cast<float>(rho_idx) + 1.f);
  for (float& p : pmf) p = std::max(p - tau, minimum);
}

// Actions tied with the best score at the front of VW's sorted action_scores.
size_t fill_tied(const std::vector<float>& sorted_scores) {
  if (sorted_scores.empty()) return 0;
  // VW's are_same_rel: |a - b| <= 1e-4 (|a| + |b|)
  const float s0 = sorted_scores[0];
  size_t k = 1;
  while (k < sorted_scores.size() &&
         std::fabs(sorted_scores[k] - s0) <= 1e-4f * (std::fabs(sorted_scores[k]) + std::fabs(s0))) {
    ++k;
  }
  return k;
}

// VW's Poisson(1) bootstrap weight.
uint32_t poisson_weight(uint64_t& rng) {
  static const double kCdf[] = {0.3678794411714423215955, 0.735758882342884643191,  0.919698602928605803989,
                                0.9810118431238461909214, 0.9963401531726562876545, 0.9994058151824183070012,
                                0.9999167588507119768923, 0.9999897508033253583053, 0.9999988747974020309819,
                                0.9999998885745216612793, 0.9999999899522336243091, 0.9999999991683892573118,
                                0.9999999999364022267287, 0.999999999995480147453,  0.9999999999996999989333,
                                0.9999999999999813223654, 0.9999999999999989050799, 0.9999999999999999393572};
  const float r = merand48(rng);
  for (uint32_t k = 0; k < sizeof(kCdf) / sizeof(kCdf[0]); ++k) {
    if (r <= kCdf[k]) return k;
  }
  return 20;
}

// Sorts (score, action) as VW's action_scores: by score, ties by action.
void sort_action_scores(const std::vector<float>& s, size_t n, std::vector<uint32_t>& action,
                        std::vector<float>& value) {
  action.resize(n);
  value.resize(n);
  // Each (score, action) packed into one integer whose order is that order (the score's bits
  // mapped to an unsigned order above the action's): sorting plain integers costs a third of
  // sorting indices compared through the scores (a ranking request sorts 1000s). The same result
  // for every score but NaN, which has no place in that order: then the comparator sort, as before.
  thread_local std::vector<uint64_t> keys;
  keys.resize(n);
  bool nan = false;
  for (size_t a = 0; a < n; ++a) {
    const float v = s[a] == 0.f ? 0.f : s[a];  // -0 ties with +0
    nan |= v != v;
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    bits = (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
    keys[a] = (static_cast<uint64_t>(bits) << 32) | a;
  }
  if (nan) {
    std::iota(action.begin(), action.end(), 0u);
    std::sort(action.begin(), action.end(), [&](uint32_t a, uint32_t b) { return s[a] == s[b] ? a < b : s[a] < s[b]; });
  } else {
    std::sort(keys.begin(), keys.end());
    for (size_t i = 0; i < n; ++i) action[i] = static_cast<uint32_t>(keys[i]);
  }
  for (size_t i = 0; i < n; ++i) value[i] = s[action[i]];
}

inline float clamp_prediction(const OnlineState& st, float p) {
  if (std::isnan(p)) return 0.f;
  if (p > st.max_label) return st.max_label;
  if (p < st.min_label) return st.min_label;
  return p;
}

}  // namespace

float merand48(uint64_t& state) {
  constexpr uint64_t kA = 0xeece66d5deece66dULL;
  constexpr uint64_t kC = 2147483647;
  constexpr uint32_t kBias = 127u << 23;
  state = kA * state + kC;
  const uint32_t bits = static_cast<uint32_t>((state >> 25) & 0x7FFFFF) | kBias;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f - 1.f;
}

size_t sample_pmf(const std::vector<float>& pmf, float draw01) {
  float total = 0.f;
  for (float p : pmf) total += p > 0.f ? p : 0.f;
  if (total == 0.f || pmf.empty()) return 0;
  float draw = total * draw01;
  if (draw > total) draw = total;
  float sum = 0.f;
  for (size_t i = 0; i < pmf.size(); ++i) {
    sum += pmf[i] > 0.f ? pmf[i] : 0.f;
    if (sum > draw) return i;
  }
  return pmf.size() - 1;
}

std::string fmt_float_trim(float f, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, static_cast<double>(f));
  std::string s(b);
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  return s;
}

std::string cb_label_text(const CbCost& c) {
  char b[96];
  std::snprintf(b, sizeof b, "%u:%.2g:%.2g", c.action, static_cast<double>(c.cost), static_cast<double>(c.probability));
  return b;
}

std::string progress_row_text(double sum_loss, double labeled, double since_loss, double since_labeled,
                              uint64_t example_number, double weighted_examples, const std::string& label,
                              const std::string& prediction, uint64_t num_features) {
  auto fixed = [](double v) {
    char b[64];
    std::snprintf(b, sizeof b, "%.6f", v);
    return std::string(b).substr(0, 8);
  };
  const std::string avg = labeled > 0. ? fixed(sum_loss / labeled) : "n.a.";
  const std::string since = since_labeled > 0. ? fixed(since_loss / since_labeled) : "n.a.";
  char w[64];
  std::snprintf(w, sizeof w, "%.1f", weighted_examples);
  auto fit = [](std::string s, size_t width) {
    if (s.size() <= width) return s;
    return width > 3 ? s.substr(0, width - 3) + "..." : s.substr(0, width);
  };
  char b[320];
  std::snprintf(b, sizeof b, "%-8s %-8s %12llu %14s %14s %14s %8llu\n", avg.c_str(), since.c_str(),
                static_cast<unsigned long long>(example_number), w, fit(label, 14).c_str(), fit(prediction, 14).c_str(),
                static_cast<unsigned long long>(num_features));
  return b;
}

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
  for (std::string_view w : words) {
    if (w == "shared") {
      if (label.labelled) return fail("\"shared\" after a cost: a shared line carries no cost");
      label.shared = true;
      continue;
    }
    if (label.shared) return fail("a shared line carries no cost: \"" + excerpt(w) + "\"");
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
    if (np == 1) {  // an action without a cost: prediction only
      continue;
    }
    if (label.labelled) return fail("two costs on one line (\"" + excerpt(head) + "\"): one labelled action per event");
    float cost = 0.f;
    if (!parse_number(parts[1], cost) || !std::isfinite(cost)) {
      return fail("bad cost \"" + excerpt(parts[1]) + "\" in \"" + excerpt(w) + "\": not a finite number");
    }
    if (np < 3 || parts[2].empty()) {
      return fail("cost without a probability in \"" + excerpt(w) + "\": expected action:cost:probability");
    }
    float prob = 0.f;
    if (!parse_number(parts[2], prob) || !std::isfinite(prob)) {
      return fail("bad probability \"" + excerpt(parts[2]) + "\" in \"" + excerpt(w) + "\": not a number");
    }
    if (!(prob > 0.f && prob <= 1.f)) {
      return fail("probability " + std::string(parts[2]) + " in \"" + excerpt(w) + "\" is outside (0, 1]");
    }
    label.labelled = true;
    label.cost = CbCost{static_cast<uint32_t>(action), cost, prob};
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

void merge_shared(Example& dst, const Example& action, const Example* shared) {
  dst.clear();
  dst.label = action.label;
  dst.weight = action.weight;
  dst.initial = action.initial;
  for (unsigned char s : action.order) {
    const FeatureGroup& g = action.groups[s];
    FeatureGroup& d = dst.groups[s];
    d.index.assign(g.index.begin(), g.index.end());
    d.value.assign(g.value.begin(), g.value.end());
    dst.order.push_back(s);
  }
  if (shared == nullptr) return;
  for (unsigned char s : shared->order) {
    if (s == kConstantNamespace) continue;
    const FeatureGroup& g = shared->groups[s];
    if (g.empty()) continue;
    FeatureGroup& d = dst.groups[s];
    if (d.empty()) dst.order.push_back(s);
    d.index.insert(d.index.end(), g.index.begin(), g.index.end());
    d.value.insert(d.value.end(), g.value.begin(), g.value.end());
  }
}

CbLearner::CbLearner(Learner& base, CbConfig cfg) : base_(&base), cfg_(cfg) {
  if (cfg_.explore == CbExplore::kEpsilon || cfg_.explore == CbExplore::kSoftmax ||
      cfg_.explore == CbExplore::kSquareCb || cfg_.explore == CbExplore::kFirst || cfg_.explore == CbExplore::kBag) {
    if (!(cfg_.epsilon >= 0.f && cfg_.epsilon <= 1.f)) throw std::invalid_argument("--epsilon must be in [0, 1]");
  }
  if (!(cfg_.clip_p >= 0.f && cfg_.clip_p <= 1.f)) throw std::invalid_argument("--clip_p must be in [0, 1]");
  if (cfg_.explore == CbExplore::kBag && cfg_.bag < 1) throw std::invalid_argument("--bag needs at least 1 policy");
  if (cfg_.explore == CbExplore::kSquareCb && cfg_.type != CbType::kMtr) {
    throw std::invalid_argument("--squarecb supports only --cb_type mtr (as VW)");
  }
  if (!std::isfinite(cfg_.lambda) || !std::isfinite(cfg_.gamma_scale) || !std::isfinite(cfg_.gamma_exponent)) {
    throw std::invalid_argument("--lambda, --gamma_scale and --gamma_exponent must be finite");
  }
  type_width_ = cfg_.type == CbType::kDr ? 2u : 1u;
  width_ = type_width_ * (cfg_.explore == CbExplore::kBag ? cfg_.bag : 1u);
  multiplier_ = 1;  // VW interleaves the models at the next power of two
  while (multiplier_ < width_) multiplier_ <<= 1;
  state_.event_sum.assign(width_, 0);
  state_.action_sum.assign(width_, 0);
  state_.tau = cfg_.first;
  state_.rng = cfg_.seed;
  // models 1.. start from zero sums (VW applies initial_t to model 0's only)
  state_.norm_x.assign(width_, 0.);
  state_.total_weight.assign(width_, 0.);
}

void CbLearner::prepare(Example& ex) const {
  base_->prepare(ex);
  if (multiplier_ == 1) return;
  for (unsigned char s : ex.order) {
    for (uint32_t& i : ex.groups[s].index) i *= multiplier_;
  }
}

std::string CbLearner::check(const CbEvent& ev) const {
  if (ev.n == 0) return "an event needs at least one action (a shared line alone is not an event)";
  if (ev.label_index >= 0) {
    const float p = ev.label.probability;
    const float c = ev.label.cost;
    if (!std::isfinite(1.f / p) || !std::isfinite(c / p) || !std::isfinite(c / std::max(p, cfg_.clip_p))) {
      return "cost " + fmt_float_trim(c, 6) + " at probability " + std::to_string(p) +
             ": the importance-weighted cost is not a finite number";
    }
  }
  return {};
}

std::string CbLearner::expand_fixed(const Example& ex, const CbLineLabel& label, CbEvent& ev) const {
  const uint32_t k = cfg_.num_actions;
  ev.clear();
  if (label.shared) return "\"shared\" has no meaning with --cb K (single-line examples)";
  if (label.labelled) {
    if (label.cost.action < 1 || label.cost.action > k) {
      return "action " + std::to_string(label.cost.action) + " is not one of the actions 1.." + std::to_string(k);
    }
    ev.label_index = static_cast<int>(label.cost.action - 1);
    ev.label = label.cost;
    ev.label.action = label.cost.action - 1;
  }
  // VW's cb_to_cb_adf: clear the low bits that hold K * width slots, then add a * width
  uint64_t total = static_cast<uint64_t>(k) * width_;
  uint32_t bits = 0;
  while (total > 0) {
    total >>= 1;
    ++bits;
  }
  const uint32_t low = bits >= 32 ? 0xFFFFFFFFu : ((1u << bits) - 1u);
  for (uint32_t a = 0; a < k; ++a) {
    Example& c = ev.add_action();
    merge_shared(c, ex, nullptr);
    const uint32_t add = a * width_;
    for (unsigned char s : c.order) {
      for (uint32_t& i : c.groups[s].index) i = (i & ~low) + add;
    }
  }
  ev.tag = ex.tag;
  return {};
}

void CbLearner::merge_all(const CbEvent& ev, std::vector<Example>& merged) const {
  if (merged.size() < ev.n) merged.resize(ev.n);
  const Example* shared = ev.has_shared ? &ev.shared : nullptr;
  for (size_t a = 0; a < ev.n; ++a) merge_shared(merged[a], ev.actions[a], shared);
}

void CbLearner::scores(const std::vector<Example>& merged, size_t n, uint32_t model, std::vector<float>& s,
                       std::vector<uint32_t>* generated) const {
  s.resize(n);
  if (generated != nullptr) generated->resize(n);
  const Learner& L = *base_;
  for (size_t a = 0; a < n; ++a) {
    size_t count = 0;
    s[a] = L.score_const(merged[a], model, generated != nullptr ? &count : nullptr);
    if (generated != nullptr) (*generated)[a] = static_cast<uint32_t>(count);
  }
}

void CbLearner::to_pmf(std::vector<float>& value, size_t n) const {
  switch (cfg_.explore) {
    case CbExplore::kNone:
      return;
    case CbExplore::kEpsilon: {
      const size_t tied = fill_tied(value);
      const float eps = cfg_.epsilon;
      const float prob = eps / static_cast<float>(n);
      for (float& v : value) v = prob;
      if (!cfg_.first_only) {
        for (size_t i = 0; i < tied; ++i) value[i] += (1.f - eps) / static_cast<float>(tied);
      } else {
        value[0] += 1.f - eps;
      }
      return;
    }
    case CbExplore::kSoftmax: {
      const float lambda = -cfg_.lambda;
      float best =
          lambda > 0.f ? *std::max_element(value.begin(), value.end()) : *std::min_element(value.begin(), value.end());
      float norm = 0.f;
      for (float& v : value) {
        v = std::exp(lambda * (v - best));
        norm += v;
      }
      for (float& v : value) v /= norm;
      enforce_minimum_probability(cfg_.epsilon, value);
      return;
    }
    case CbExplore::kSquareCb: {
      const float gamma = cfg_.gamma_scale * static_cast<float>(std::pow(static_cast<double>(state_.counter),
                                                                         static_cast<double>(cfg_.gamma_exponent)));
      size_t a_min = 0;
      float min_cost = value[0];
      for (size_t a = 0; a < n; ++a) {
        if (value[a] < min_cost) {
          a_min = a;
          min_cost = value[a];
        }
      }
      float total = 0.f;
      for (size_t a = 0; a < n; ++a) {
        if (a == a_min) continue;
        const float pa = 1.f / (static_cast<float>(n) + gamma * (value[a] - min_cost));
        value[a] = pa;
        total += pa;
      }
      value[a_min] = 1.f - total;
      enforce_minimum_probability(cfg_.epsilon, value);
      return;
    }
    case CbExplore::kFirst: {
      if (state_.tau > 0) {
        for (float& v : value) v = 1.f / static_cast<float>(n);
      } else {
        for (float& v : value) v = 0.f;
        value[0] = 1.f;
      }
      enforce_minimum_probability(cfg_.epsilon, value);
      return;
    }
    case CbExplore::kBag:
      return;  // computed in predict (needs every policy's scores)
  }
}

Outcome CbLearner::base_learn(Example& ex, float label, float weight, uint32_t model) {
  Learner& L = *base_;
  OnlineState& st = L.state();
  // VW advances its clock once per event (shared_data::update), not per base update.
  const double t = st.t;
  const double unl = st.weighted_unlabeled;
  const float old_label = ex.label;
  const float old_weight = ex.weight;
  // A diverging configuration can produce non-finite targets (VW would learn them and fill its
  // weights with inf/NaN); such an update is skipped: the example is only predicted.
  ex.label = std::isfinite(label) && std::isfinite(weight) ? label : kNoLabel;
  ex.weight = std::isfinite(weight) ? weight : 1.f;
  L.set_offset(model);
  if (model != 0) {  // this model's running sums for normalized updates
    std::swap(st.normalized_sum_norm_x, state_.norm_x[model]);
    std::swap(st.total_weight, state_.total_weight[model]);
  }
  Outcome o = L.learn(ex);
  if (model != 0) {
    std::swap(st.normalized_sum_norm_x, state_.norm_x[model]);
    std::swap(st.total_weight, state_.total_weight[model]);
  }
  L.set_offset(0);
  ex.label = old_label;
  ex.weight = old_weight;
  st.t = t;
  st.weighted_unlabeled = unl;
  return o;
}

// dr's first half: the regressor (model block*2+1) learns the chosen action's cost with weight 1/p;
// dr_x gets every action's regressor prediction (the chosen one's made before its update).
void CbLearner::dr_regressor(CbEvent& ev, std::vector<Example>& merged, uint32_t block, std::vector<float>& dr_x) {
  const size_t n = ev.n;
  const size_t k = static_cast<size_t>(ev.label_index);
  const uint32_t m1 = block * type_width_ + 1;
  dr_x.resize(n);
  for (size_t a = 0; a < n; ++a) {
    if (a == k)
      dr_x[a] = base_learn(merged[a], ev.label.cost, 1.f / ev.label.probability, m1).prediction;
    else
      dr_x[a] = clamp_prediction(base_->state(), base_->score_const(merged[a], m1));
  }
}

// Learns one labelled event into the policy `block` (models block * type_width_ ...): the cost
// estimator's regression updates. With dr_ready, dr's regressor has already learned (dr_x is set).
void CbLearner::learn_one(CbEvent& ev, std::vector<Example>& merged, uint32_t block, std::vector<float>& dr_x,
                          bool dr_ready) {
  const size_t n = ev.n;
  const size_t k = static_cast<size_t>(ev.label_index);
  const uint32_t m0 = block * type_width_;
  float p = ev.label.probability;
  if (cfg_.explore == CbExplore::kSquareCb && k + 1 < n) p = 1.f;  // VW: no importance weighting (not the last action)
  const float clipped = std::max(p, cfg_.clip_p);
  const float cost = ev.label.cost;
  switch (cfg_.type) {
    case CbType::kMtr: {
      state_.action_sum[m0] += n;
      state_.event_sum[m0] += 1;
      const float w =
          1.f / clipped * (static_cast<float>(state_.event_sum[m0]) / static_cast<float>(state_.action_sum[m0]));
      base_learn(merged[k], cost, w, m0);
      return;
    }
    case CbType::kIps:
    case CbType::kDm: {
      for (size_t a = 0; a < n; ++a) {
        float target = 0.f;
        if (a == k) target = cfg_.type == CbType::kIps ? cost / clipped : cost;
        base_learn(merged[a], target, 1.f, m0);
      }
      return;
    }
    case CbType::kDr: {
      if (!dr_ready) dr_regressor(ev, merged, block, dr_x);
      for (size_t a = 0; a < n; ++a) {
        float target = dr_x[a];
        if (a == k) target += (cost - target) / clipped;
        base_learn(merged[a], target, 1.f, m0);
      }
      return;
    }
  }
}

void CbLearner::account(const CbEvent& ev, const std::vector<Example>& merged, const std::vector<uint32_t>& generated,
                        const std::vector<float>& dr_x, CbResult& out) const {
  const size_t n = ev.n;
  uint64_t row = 0;
  uint64_t own = 0;
  for (size_t a = 0; a < n; ++a) {
    row += merged[a].num_linear_features() + generated[a];
    own += ev.actions[a].num_linear_features() + generated[a];
  }
  out.row_features = row;
  out.total_features = explore() ? row : own + (ev.has_shared ? ev.shared.num_linear_features() : 0);
  out.labelled = ev.label_index >= 0;
  out.loss = 0.f;
  if (!out.labelled) return;
  const uint32_t k = static_cast<uint32_t>(ev.label_index);
  const float c = ev.label.cost;
  const float p = ev.label.probability;
  if (explore()) {
    float loss = 0.f;
    for (size_t i = 0; i < out.action.size(); ++i) {
      if (out.action[i] == k) loss += c / p * out.value[i];
    }
    out.loss = loss;
    return;
  }
  const uint32_t top = out.action[0];
  if (cfg_.type == CbType::kDr && dr_x.size() == n) {
    out.loss = top == k ? (c - dr_x[k]) / p + dr_x[k] : dr_x[top];
  } else {
    out.loss = top == k ? c / p : 0.f;
  }
}

// Bagging's pmf from every policy's scores (s[b * n + a]): each policy votes for its best action
// (ties share the vote), VW's generate_bag normalizes the votes, the floor applies, and the actions
// are ordered as VW's sort_action_probs: by probability, then by summed score, then by index.
void CbLearner::bag_pmf(const std::vector<float>& s, size_t n, CbResult& out) const {
  std::vector<float> top(n, 0.f);
  std::vector<float> sum(n, 0.f);
  std::vector<float> one(n);
  std::vector<uint32_t> act;
  std::vector<float> val;
  for (uint32_t b = 0; b < cfg_.bag; ++b) {
    std::copy(s.begin() + static_cast<std::ptrdiff_t>(b * n), s.begin() + static_cast<std::ptrdiff_t>((b + 1) * n),
              one.begin());
    sort_action_scores(one, n, act, val);
    for (size_t i = 0; i < n; ++i) sum[act[i]] += val[i];
    if (!cfg_.first_only) {
      const size_t tied = fill_tied(val);
      for (size_t j = 0; j < tied; ++j) top[act[j]] += 1.f / static_cast<float>(tied);
    } else {
      top[act[0]] += 1.f;
    }
  }
  std::vector<float> pmf(n, 0.f);
  double acc = 0.;  // VW's generate_bag accumulates in double
  for (float t : top) acc += t;
  const float models = static_cast<float>(acc);
  if (models <= 1e-6f) {
    pmf[0] = 1.f;
  } else {
    const float norm = 1.f / models;
    for (size_t i = 0; i < n; ++i) pmf[i] = top[i] * norm;
  }
  enforce_minimum_probability(cfg_.epsilon, pmf);
  out.action.resize(n);
  std::iota(out.action.begin(), out.action.end(), 0u);
  std::sort(out.action.begin(), out.action.end(), [&](uint32_t a, uint32_t b) {
    if (pmf[a] != pmf[b]) return pmf[a] > pmf[b];
    if (sum[a] != sum[b]) return sum[a] < sum[b];
    return a < b;
  });
  out.value.resize(n);
  for (size_t i = 0; i < n; ++i) out.value[i] = pmf[out.action[i]];
}

void CbLearner::process(CbEvent& ev, bool learn, CbResult& out) {
  const size_t n = ev.n;
  merge_all(ev, merged_);
  for (size_t a = 0; a < n; ++a) base_->observe_namespaces(merged_[a]);  // ':' interactions widen here
  const bool labelled = ev.label_index >= 0;
  dr_x_.clear();
  if (cfg_.explore == CbExplore::kBag) {
    scratch_scores_.resize(n * cfg_.bag);
    std::vector<float> one;
    for (uint32_t b = 0; b < cfg_.bag; ++b) {
      scores(merged_, n, b * type_width_, one, b == 0 ? &generated_ : nullptr);
      std::copy(one.begin(), one.end(), scratch_scores_.begin() + static_cast<std::ptrdiff_t>(b * n));
    }
    bag_pmf(scratch_scores_, n, out);
    if (learn && labelled) {
      for (uint32_t b = 0; b < cfg_.bag; ++b) {
        const uint32_t count = (cfg_.greedify && b == 0) ? 1u : poisson_weight(state_.rng);
        for (uint32_t j = 0; j < count; ++j) learn_one(ev, merged_, b, dr_x_, false);
      }
    }
  } else {
    if (learn && labelled && cfg_.type == CbType::kDr) {
      // VW trains the dr regressor before scoring (the two models never share a row)
      dr_regressor(ev, merged_, 0, dr_x_);
      scores(merged_, n, 0, scratch_scores_, &generated_);
      sort_action_scores(scratch_scores_, n, out.action, out.value);
      to_pmf(out.value, n);
      learn_one(ev, merged_, 0, dr_x_, true);
    } else {
      scores(merged_, n, 0, scratch_scores_, &generated_);
      sort_action_scores(scratch_scores_, n, out.action, out.value);
      to_pmf(out.value, n);
      if (learn && labelled) learn_one(ev, merged_, 0, dr_x_, false);
    }
    // Testing (-t), VW's dr loss falls back to the IPS estimate (its regressor's scores are only
    // computed when learning): dr_x_ stays empty.
  }
  account(ev, merged_, generated_, dr_x_, out);
  if (learn && labelled) {
    if (cfg_.explore == CbExplore::kSquareCb) ++state_.counter;
    if (cfg_.explore == CbExplore::kFirst && state_.tau > 0) --state_.tau;
  }
  // VW's clock: once per event
  OnlineState& st = base_->state();
  st.t += 1.;
  if (!labelled) store_d(&st.weighted_unlabeled, st.weighted_unlabeled + 1.);
}

void CbFlatActions::regroup() {
  regroup_ = false;
  const size_t g0 = first_group.back();
  const size_t f0 = group_start[g0];
  const std::vector<unsigned char> slots(group_slot.begin() + static_cast<std::ptrdiff_t>(g0), group_slot.end());
  const std::vector<uint32_t> starts(group_start.begin() + static_cast<std::ptrdiff_t>(g0), group_start.end());
  const std::vector<CbFeature> feats(features.begin() + static_cast<std::ptrdiff_t>(f0), features.end());
  group_slot.resize(g0);
  group_start.resize(g0 + 1);
  features.resize(f0);
  open_slot_ = -1;
  for (size_t a = 0; a < slots.size(); ++a) {
    if (std::find(slots.begin(), slots.begin() + static_cast<std::ptrdiff_t>(a), slots[a]) !=
        slots.begin() + static_cast<std::ptrdiff_t>(a))
      continue;
    for (size_t b = a; b < slots.size(); ++b) {
      if (slots[b] != slots[a]) continue;
      for (size_t k = starts[b] - f0; k < starts[b + 1] - f0; ++k) add(slots[a], feats[k].index, feats[k].value);
    }
  }
  group_start.back() = static_cast<uint32_t>(features.size());
  regroup_ = false;
}

namespace {

// The scorer of a ranking request whose candidates all have the same namespaces, none of them
// shared: score_const's sum over the merged example, term by term in the same order (so the same
// float additions), with what does not depend on the candidate done once per request:
//   - terms of shared features only (shared linear features, shared x shared crosses): their
//     products w * x, each added in its place;
//   - shared features crossed with a candidate's: the index (inner term) or FNV * index (outer).
// The weight lookups are inlined (no per-feature callback, truncation test or reload of the
// table's geometry). Only for quadratic interactions without wildcards and without L1 truncation;
// anything else goes through score_const.
// A feature as model 0's scorer reads it: the row's offset in the table, (index & mask) << shift.
// A cross's index is inner ^ FNV * outer, masked: its row offset is the XOR of the terms' offsets,
// so the masking and shifting are done once per feature, not once per pair.
struct RowRef {
  size_t row;
  float value;
};

struct RankPlan {
  enum class Kind : unsigned char { kCandidate, kConstant, kSharedCandidate, kCandidateShared, kCandidateCandidate };
  // kCandidate: candidate group a's linear terms; kConstant: products [a, b); kSharedCandidate:
  // shared features [a, b) of the shared arrays (outer) x candidate group g; kCandidateShared:
  // candidate group g (outer) x shared features [a, b); kCandidateCandidate: groups a x b.
  struct Op {
    Kind kind;
    bool same;  // kCandidateCandidate over one slot: j from i (VW without --permutations)
    uint32_t a;
    uint32_t b;
    uint32_t g;
  };
  std::vector<Op> ops;
  std::vector<uint32_t> shared_index;  // shared features in crosses: index, or FNV * index when outer
  std::vector<float> shared_value;
  std::vector<uint32_t> const_index;  // the terms of shared features only, in order
  std::vector<float> const_value;
  std::vector<float> products;     // their w * x, for each policy in turn
  std::vector<size_t> shared_row;  // shared_index's row offsets (model 0's scorer, see RowRef)
  std::vector<RowRef> candidate;   // per-candidate scratch of plan_score_zero

  void clear() {
    ops.clear();
    shared_index.clear();
    shared_value.clear();
    const_index.clear();
    const_value.clear();
    products.clear();
    shared_row.clear();
  }
  void constant_term(uint32_t i, float x) {
    const_index.push_back(i);
    const_value.push_back(x);
    const uint32_t end = static_cast<uint32_t>(const_index.size());
    if (!ops.empty() && ops.back().kind == Kind::kConstant)
      ops.back().b = end;
    else
      ops.push_back({Kind::kConstant, false, end - 1, end, 0});
  }
};

// Per-thread scratch for predictions, reached through a function the compiler cannot see into:
// a reference bound straight to a thread_local may be re-derived (a __tls_get_addr call in a shared
// library) at every use, dozens of times per candidate.
struct PredictScratch {
  std::vector<float> scores;
  Example candidate;
  Example merged;
  std::vector<unsigned char> slots;
  RankPlan plan;
};
[[gnu::noinline]] PredictScratch& predict_scratch() {
  thread_local PredictScratch scratch;
  return scratch;
}

}  // namespace

// Scores candidates one at a time: build(a) returns candidate a merged with the shared features
// (one reused example), scored by every policy; then the exploration.
template <class Build>
void CbLearner::predict_each(size_t n, Build&& build, CbResult& out) const {
  std::vector<float>& s = predict_scratch().scores;
  const uint32_t policies = cfg_.explore == CbExplore::kBag ? cfg_.bag : 1u;
  s.resize(n * policies);
  for (size_t a = 0; a < n; ++a) {
    const Example& merged = build(a);  // the action with the shared features merged in
    for (uint32_t b = 0; b < policies; ++b) s[b * n + a] = base_->score_const(merged, b * type_width_);
  }
  explore_scores(n, out);
}

void CbLearner::explore_scores(size_t n, CbResult& out) const {
  const std::vector<float>& s = predict_scratch().scores;
  out.labelled = false;
  out.loss = 0.f;
  if (cfg_.explore == CbExplore::kBag) {
    bag_pmf(s, n, out);
    return;
  }
  sort_action_scores(s, n, out.action, out.value);
  to_pmf(out.value, n);
}

void CbLearner::predict_const(const CbEvent& ev, CbResult& out) const {
  Example& merged = predict_scratch().merged;
  const Example* shared = ev.has_shared ? &ev.shared : nullptr;
  predict_each(
      ev.n,
      [&](size_t a) -> const Example& {
        merge_shared(merged, ev.actions[a], shared);
        return merged;
      },
      out);
}

namespace {

// Builds the plan for candidates with these slots (group k of each candidate is slots[k]) and
// the shared example (prepared; none of its slots but the constant's among `slots`); false if
// the learner needs the general path.
bool plan_rank(const Learner& L, const Example* shared, const std::vector<unsigned char>& slots, RankPlan& plan) {
  if (L.has_wildcards() || (L.config().l1 > 0.f && !L.config().ftrl)) return false;
  for (const Interaction& in : L.interactions()) {
    if (in.size() != 2) return false;
  }
  plan.clear();
  // where a slot's features come from in the merged example (merge_shared: the candidate's groups,
  // then the shared groups but the constant)
  auto candidate_group = [&](unsigned char s) -> int {
    for (size_t k = 0; k < slots.size(); ++k) {
      if (slots[k] == s) return static_cast<int>(k);
    }
    return -1;
  };
  auto shared_group = [&](unsigned char s) -> const FeatureGroup* {
    if (shared == nullptr || s == kConstantNamespace || shared->groups[s].empty()) return nullptr;
    return &shared->groups[s];
  };
  const std::array<bool, 256>& ignore_linear = L.config().ignore_linear;
  for (size_t k = 0; k < slots.size(); ++k) {
    if (!ignore_linear[slots[k]])
      plan.ops.push_back({RankPlan::Kind::kCandidate, false, static_cast<uint32_t>(k), 0, 0});
  }
  if (shared != nullptr) {
    for (unsigned char s : shared->order) {
      const FeatureGroup* g = shared_group(s);
      if (g == nullptr || ignore_linear[s]) continue;
      for (size_t k = 0; k < g->size(); ++k) plan.constant_term(g->index[k], g->value[k]);
    }
  }
  for (const Interaction& in : L.interactions()) {
    const int ca = candidate_group(in[0]);
    const int cb = candidate_group(in[1]);
    const FeatureGroup* sa = ca < 0 ? shared_group(in[0]) : nullptr;
    const FeatureGroup* sb = cb < 0 ? shared_group(in[1]) : nullptr;
    if ((ca < 0 && sa == nullptr) || (cb < 0 && sb == nullptr)) continue;  // an empty term
    const bool same = in[0] == in[1];
    const uint32_t begin = static_cast<uint32_t>(plan.shared_index.size());
    if (ca >= 0 && cb >= 0) {
      plan.ops.push_back(
          {RankPlan::Kind::kCandidateCandidate, same, static_cast<uint32_t>(ca), static_cast<uint32_t>(cb), 0});
    } else if (ca < 0 && cb < 0) {
      for (size_t i = 0; i < sa->size(); ++i) {
        const uint32_t half = kFnvPrime * sa->index[i];
        for (size_t j = same ? i : 0; j < sb->size(); ++j)
          plan.constant_term(sb->index[j] ^ half, sa->value[i] * sb->value[j]);
      }
    } else if (ca < 0) {
      for (size_t i = 0; i < sa->size(); ++i) {
        plan.shared_index.push_back(kFnvPrime * sa->index[i]);
        plan.shared_value.push_back(sa->value[i]);
      }
      plan.ops.push_back({RankPlan::Kind::kSharedCandidate, false, begin,
                          static_cast<uint32_t>(plan.shared_index.size()), static_cast<uint32_t>(cb)});
    } else {
      plan.shared_index.insert(plan.shared_index.end(), sb->index.begin(), sb->index.end());
      plan.shared_value.insert(plan.shared_value.end(), sb->value.begin(), sb->value.end());
      plan.ops.push_back({RankPlan::Kind::kCandidateShared, false, begin,
                          static_cast<uint32_t>(plan.shared_index.size()), static_cast<uint32_t>(ca)});
    }
  }
  return true;
}

// Candidate c's score by the plan, for the model at `offset` (products: that model's).
inline float plan_score(const Learner& L, const RankPlan& plan, const float* products, const CbFlatActions& actions,
                        size_t c, uint32_t offset, float contraction) {
  const float* data = L.weights().data();
  const uint32_t mask = L.weights().mask();
  const uint32_t shift = L.weights().stride_shift();
  auto w = [&](uint32_t i) { return load_w(data + (static_cast<size_t>((i + offset) & mask) << shift)); };
  const uint32_t* gs = actions.group_start.data() + actions.first_group[c];  // group k: [gs[k], gs[k + 1])
  const CbFeature* f = actions.features.data();
  const uint32_t* sh_idx = plan.shared_index.data();
  const float* sh_val = plan.shared_value.data();
  float raw = 0.f;
  for (const RankPlan::Op& op : plan.ops) {
    switch (op.kind) {
      case RankPlan::Kind::kCandidate:
        for (uint32_t k = gs[op.a]; k < gs[op.a + 1]; ++k) raw += w(f[k].index) * f[k].value;
        break;
      case RankPlan::Kind::kConstant:
        for (uint32_t t = op.a; t < op.b; ++t) raw += products[t];
        break;
      case RankPlan::Kind::kSharedCandidate: {
        const uint32_t j0 = gs[op.g];
        const uint32_t j1 = gs[op.g + 1];
        for (uint32_t i = op.a; i < op.b; ++i) {
          const uint32_t half = sh_idx[i];
          const float xa = sh_val[i];
          for (uint32_t j = j0; j < j1; ++j) raw += w(f[j].index ^ half) * (xa * f[j].value);
        }
        break;
      }
      case RankPlan::Kind::kCandidateShared:
        for (uint32_t i = gs[op.g]; i < gs[op.g + 1]; ++i) {
          const uint32_t half = kFnvPrime * f[i].index;
          const float xa = f[i].value;
          for (uint32_t j = op.a; j < op.b; ++j) raw += w(sh_idx[j] ^ half) * (xa * sh_val[j]);
        }
        break;
      case RankPlan::Kind::kCandidateCandidate: {
        const uint32_t i0 = gs[op.a];
        const uint32_t j0 = gs[op.b];
        const uint32_t j1 = gs[op.b + 1];
        for (uint32_t i = i0; i < gs[op.a + 1]; ++i) {
          const uint32_t half = kFnvPrime * f[i].index;
          const float xa = f[i].value;
          for (uint32_t j = op.same ? j0 + (i - i0) : j0; j < j1; ++j) raw += w(f[j].index ^ half) * (xa * f[j].value);
        }
        break;
      }
    }
  }
  if (!L.config().ftrl) raw *= contraction;
  return 0.f + raw;  // score_const's ex.initial + raw: a merged candidate's initial is 0
}

// plan_score for model 0 (offset 0: every policy but bagging's others), on row offsets (RowRef):
// the candidate's features are resolved once, and a cross costs an XOR and a load. The same
// terms, in the same order.
inline float plan_score_zero(const Learner& L, RankPlan& plan, const CbFlatActions& actions, size_t c,
                             float contraction) {
  const float* data = L.weights().data();
  const uint32_t mask = L.weights().mask();
  const uint32_t shift = L.weights().stride_shift();
  auto row = [&](uint32_t i) { return static_cast<size_t>(i & mask) << shift; };
  const uint32_t* gs = actions.group_start.data() + actions.first_group[c];  // group k: [gs[k], gs[k + 1])
  const uint32_t f0 = gs[0];
  const uint32_t m = actions.group_start[actions.first_group[c + 1]] - f0;
  if (plan.candidate.size() < m) plan.candidate.resize(m);
  RowRef* cand = plan.candidate.data();  // the candidate's features, from 0
  const CbFeature* f = actions.features.data() + f0;
  for (uint32_t k = 0; k < m; ++k) cand[k] = {row(f[k].index), f[k].value};
  const size_t* sh_row = plan.shared_row.data();
  const float* sh_val = plan.shared_value.data();
  const float* products = plan.products.data();
  float raw = 0.f;
  for (const RankPlan::Op& op : plan.ops) {
    switch (op.kind) {
      case RankPlan::Kind::kCandidate:
        for (uint32_t k = gs[op.a] - f0; k < gs[op.a + 1] - f0; ++k) raw += load_w(data + cand[k].row) * cand[k].value;
        break;
      case RankPlan::Kind::kConstant:
        for (uint32_t t = op.a; t < op.b; ++t) raw += products[t];
        break;
      case RankPlan::Kind::kSharedCandidate: {
        const RowRef* j0 = cand + (gs[op.g] - f0);
        const RowRef* j1 = cand + (gs[op.g + 1] - f0);
        for (uint32_t i = op.a; i < op.b; ++i) {
          const size_t half = sh_row[i];
          const float xa = sh_val[i];
          for (const RowRef* j = j0; j != j1; ++j) raw += load_w(data + (j->row ^ half)) * (xa * j->value);
        }
        break;
      }
      case RankPlan::Kind::kCandidateShared:
        for (uint32_t i = gs[op.g] - f0; i < gs[op.g + 1] - f0; ++i) {
          const size_t half = row(kFnvPrime * f[i].index);
          const float xa = f[i].value;
          for (uint32_t j = op.a; j < op.b; ++j) raw += load_w(data + (sh_row[j] ^ half)) * (xa * sh_val[j]);
        }
        break;
      case RankPlan::Kind::kCandidateCandidate: {
        const uint32_t i0 = gs[op.a] - f0;
        const uint32_t j0 = gs[op.b] - f0;
        const uint32_t j1 = gs[op.b + 1] - f0;
        for (uint32_t i = i0; i < gs[op.a + 1] - f0; ++i) {
          const size_t half = row(kFnvPrime * f[i].index);
          const float xa = f[i].value;
          for (uint32_t j = op.same ? j0 + (i - i0) : j0; j < j1; ++j)
            raw += load_w(data + (cand[j].row ^ half)) * (xa * cand[j].value);
        }
        break;
      }
    }
  }
  if (!L.config().ftrl) raw *= contraction;
  return 0.f + raw;  // score_const's ex.initial + raw: a merged candidate's initial is 0
}

}  // namespace

void CbLearner::predict_flat(const Example* shared, const CbFlatActions& actions, CbResult& out) const {
  PredictScratch& scratch = predict_scratch();
  Example& candidate = scratch.candidate;
  Example& merged = scratch.merged;
  std::vector<unsigned char>& slots = scratch.slots;
  const size_t n = actions.size();
  const unsigned char* gslot = actions.group_slot.data();
  const uint32_t* first = actions.first_group.data();
  // A ranking request usually has candidates with the same namespaces, none of them shared: then
  // the merged example is the shared groups plus the candidate's, which the plan scores directly
  // (or which is refilled candidate by candidate: the very example merge_shared would build,
  // without copying the shared features n times).
  bool same = n > 0;
  if (same) {
    slots.assign(gslot + first[0], gslot + first[1]);
    const size_t k = slots.size();
    for (size_t a = 1; a < n && same; ++a) {
      same = first[a + 1] - first[a] == k;
      for (size_t g = 0; g < k && same; ++g) same = gslot[first[a] + g] == slots[g];  // (a few: no memcmp call)
    }
    for (unsigned char sl : slots) {
      if (shared != nullptr && sl != kConstantNamespace && !shared->groups[sl].empty()) same = false;
    }
  }
  if (same && plan_rank(*base_, shared, slots, scratch.plan)) {
    const Learner& L = *base_;
    RankPlan& plan = scratch.plan;
    const uint32_t policies = cfg_.explore == CbExplore::kBag ? cfg_.bag : 1u;
    const size_t terms = plan.const_index.size();
    plan.products.resize(terms * policies);
    for (uint32_t b = 0; b < policies; ++b) {
      const uint32_t offset = b * type_width_;
      for (size_t t = 0; t < terms; ++t) {
        plan.products[b * terms + t] = load_w(L.weights().row(plan.const_index[t] + offset)) * plan.const_value[t];
      }
    }
    // shared halves (outer) and indices (inner) as row offsets, for model 0's scorer
    plan.shared_row.resize(plan.shared_index.size());
    for (size_t i = 0; i < plan.shared_index.size(); ++i) {
      plan.shared_row[i] = static_cast<size_t>(plan.shared_index[i] & L.weights().mask()) << L.weights().stride_shift();
    }
    const float contraction = static_cast<float>(load_d(&L.state().contraction));
    std::vector<float>& s = scratch.scores;
    s.resize(n * policies);
    for (size_t a = 0; a < n; ++a) s[a] = plan_score_zero(L, plan, actions, a, contraction);
    for (uint32_t b = 1; b < policies; ++b) {
      for (size_t a = 0; a < n; ++a) {
        s[b * n + a] = plan_score(L, plan, plan.products.data() + b * terms, actions, a, b * type_width_, contraction);
      }
    }
    explore_scores(n, out);
    return;
  }
  if (!same) {
    predict_each(
        n,
        [&](size_t a) -> const Example& {
          candidate.clear();
          for (uint32_t g = first[a]; g < first[a + 1]; ++g) {
            for (uint32_t k = actions.group_start[g]; k < actions.group_start[g + 1]; ++k) {
              candidate.add(gslot[g], actions.features[k].index, actions.features[k].value);
            }
          }
          merge_shared(merged, candidate, shared);
          return merged;
        },
        out);
    return;
  }
  candidate.clear();
  merge_shared(merged, candidate, shared);  // the shared groups, in merge_shared's order
  std::vector<unsigned char> shared_order = merged.order;
  merged.order = slots;
  merged.order.insert(merged.order.end(), shared_order.begin(), shared_order.end());
  predict_each(
      n,
      [&](size_t a) -> const Example& {
        for (size_t k = 0; k < slots.size(); ++k) {
          const uint32_t g = first[a] + static_cast<uint32_t>(k);
          FeatureGroup& dst = merged.groups[slots[k]];
          dst.index.clear();
          dst.value.clear();
          for (uint32_t j = actions.group_start[g]; j < actions.group_start[g + 1]; ++j)
            dst.push(actions.features[j].index, actions.features[j].value);
        }
        return merged;
      },
      out);
  for (unsigned char sl : slots) merged.groups[sl].clear();
  merged.clear();
}

// ---------------------------------------------------------------------------------------------
// The multiline driver: events from a file descriptor or a buffer.

namespace {

constexpr size_t kMaxKeptWarnings = 20;

class CbRunner {
 public:
  CbRunner(CbLearner& cb, Stats& s, const RunOptions& o) : cb_(cb), stats_(s), opt_(o), line_no_(o.first_line_number) {
    if (opt_.print_progress) std::fputs(progress_header().c_str(), stderr);
    pred_out_ = OutputStream{opt_.predictions_fd, "predictions (-p)", opt_.print_warnings};
  }

  void line(std::string_view text) {
    if (first_) {
      first_ = false;
      if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);
    }
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    ++result_.lines;
    const uint64_t no = line_no_++;
    bool blank = true;
    for (char c : text) {
      if (c != ' ' && c != '\t') {
        blank = false;
        break;
      }
    }
    if (blank) {
      end_event();
      return;
    }
    if (cb_.fixed()) {
      fixed_line(text, no);
      return;
    }
    if (event_lines_ == 0) event_first_line_ = no;
    ++event_lines_;
    if (!error_.empty()) return;  // the rest of a bad event
    Example& target = scratch_;
    CbLineLabel lab;
    const ParseResult pr = parse_cb_line(text, target, lab);
    if (pr.status == ParseStatus::kError) {
      error_ = "line " + std::to_string(no) + ": " + pr.error;
      return;
    }
    if (lab.shared) {
      if (ev_.n > 0 || ev_.has_shared) {
        error_ = "line " + std::to_string(no) + ": a shared line must come first in its event, once";
        return;
      }
      swap_examples(ev_.shared, target);
      cb_.prepare(ev_.shared);
      ev_.has_shared = true;
      ev_.tag = ev_.shared.tag;
      return;
    }
    if (lab.labelled) {
      if (ev_.label_index >= 0) {
        error_ = "line " + std::to_string(no) + ": a second labelled action in one event (the first is action " +
                 std::to_string(ev_.label_index) + ")";
        return;
      }
      ev_.label_index = static_cast<int>(ev_.n);
      ev_.label = lab.cost;
      ev_.label.action = static_cast<uint32_t>(ev_.n);
    }
    Example& a = ev_.add_action();
    swap_examples(a, target);
    cb_.prepare(a);
    if (ev_.n == 1 && !ev_.has_shared) ev_.tag = a.tag;
  }

  void end_event() {
    if (event_lines_ == 0) return;
    if (error_.empty()) {
      const std::string why = cb_.check(ev_);
      if (!why.empty()) error_ = "line " + std::to_string(event_first_line_) + ": " + why;
    }
    if (!error_.empty()) {
      if (opt_.strict) throw StrictParseError(error_);
      ++result_.bad_lines;
      ++stats_.bad_lines;
      if (opt_.print_warnings) std::fprintf(stderr, "wabbit: %s (event skipped)\n", error_.c_str());
      if (result_.warnings.size() < kMaxKeptWarnings) result_.warnings.push_back(error_);
      skipped_output();
    } else {
      process();
    }
    ev_.clear();
    error_.clear();
    event_lines_ = 0;
  }

  void process() {
    ++result_.examples;
    if (!opt_.learn && !opt_.account) {  // pure predictions: no clock, no statistics
      cb_.predict_const(ev_, res_);
      output();
      return;
    }
    cb_.process(ev_, opt_.learn, res_);
    Stats& s = stats_;
    if (res_.labelled)
      s.weighted_labeled_examples += 1.;
    else
      s.weighted_unlabeled_examples += 1.;
    s.sum_loss += res_.loss;
    s.sum_loss_since_last_dump += res_.loss;
    s.total_features += res_.total_features;
    ++s.example_number;
    output();
    if (opt_.every != 0 && result_.examples % opt_.every == 0 && opt_.hook) opt_.hook(result_.examples);
    if (opt_.print_progress && s.weighted_examples() >= s.dump_interval) {
      const std::string label = res_.labelled ? cb_label_text(ev_.label) : "unknown";
      std::string pred =
          res_.action.empty() ? "no action" : std::to_string(res_.action[0]) + ":" + fmt_float_trim(res_.value[0], 2);
      std::fputs(progress_row_text(s.sum_loss, s.weighted_labeled_examples, s.sum_loss_since_last_dump,
                                   s.weighted_labeled_examples - s.old_weighted_labeled_examples, s.example_number,
                                   s.weighted_examples(), label, pred, res_.row_features)
                     .c_str(),
                 stderr);
      s.sum_loss_since_last_dump = 0.;
      s.old_weighted_labeled_examples = s.weighted_labeled_examples;
      s.dump_interval =
          opt_.progress_add ? s.weighted_examples() + opt_.progress_arg : s.weighted_examples() * opt_.progress_arg;
    }
  }

  // -p and collected predictions for the event just processed.
  void output() {
    if (opt_.collect) {
      // each event's values (scores or probabilities) in action order, one after the other
      std::vector<float> v(ev_.n);
      for (size_t i = 0; i < res_.action.size(); ++i) v[res_.action[i]] = res_.value[i];
      result_.predictions.insert(result_.predictions.end(), v.begin(), v.end());
    }
    if (opt_.predictions_fd >= 0) {
      if (cb_.explore() || cb_.config().rank_all) {
        for (size_t i = 0; i < res_.action.size(); ++i) {
          if (i > 0) pred_buf_.push_back(',');
          pred_buf_ += std::to_string(res_.action[i]);
          pred_buf_.push_back(':');
          pred_buf_ += fmt_float_trim(res_.value[i], 6);
        }
      } else {
        pred_buf_ += std::to_string(res_.action.empty() ? 0u : res_.action[0]);
      }
      if (!ev_.tag.empty()) {
        pred_buf_.push_back(' ');
        pred_buf_ += ev_.tag;
      }
      pred_buf_ += "\n\n";
      if (pred_buf_.size() > (1u << 16)) pred_out_.write(pred_buf_);
    }
  }

  // A skipped event keeps its place: one NaN per action line (every line but a shared one) and
  // "nan" as its -p entry.
  void skipped_output() {
    if (opt_.collect) {
      const size_t actions = cb_.fixed() ? cb_.config().num_actions : event_lines_ - (ev_.has_shared ? 1u : 0u);
      result_.predictions.insert(result_.predictions.end(), actions, std::numeric_limits<float>::quiet_NaN());
    }
    if (opt_.predictions_fd >= 0) {
      pred_buf_ += "nan\n\n";
      if (pred_buf_.size() > (1u << 16)) pred_out_.write(pred_buf_);
    }
  }

  // interrupted: the event being read when a signal stopped the run is dropped, not learned half
  RunResult finish(bool interrupted = false) {
    if (!interrupted) end_event();
    if (opt_.predictions_fd >= 0 && !pred_buf_.empty()) pred_out_.write(pred_buf_);
    result_.predictions_error = pred_out_.error;
    if (interrupted) result_.interrupted = opt_.interrupt->load(std::memory_order_relaxed);
    return std::move(result_);
  }

 private:
  // --cb K: each line is an event
  void fixed_line(std::string_view text, uint64_t no) {
    Example& ex = scratch_;
    CbLineLabel lab;
    const ParseResult pr = parse_cb_line(text, ex, lab);
    std::string err;
    if (pr.status == ParseStatus::kError) {
      err = pr.error;
    } else {
      cb_.prepare(ex);
      err = cb_.expand_fixed(ex, lab, ev_);
    }
    if (!err.empty()) {
      error_ = "line " + std::to_string(no) + ": " + err;
      event_lines_ = 1;
      end_event();
      return;
    }
    process();
    ev_.clear();
  }

  CbLearner& cb_;
  Stats& stats_;
  const RunOptions& opt_;
  CbEvent ev_;
  CbResult res_;
  Example scratch_;
  RunResult result_;
  std::string pred_buf_;
  OutputStream pred_out_;
  std::string error_;
  uint64_t line_no_;
  uint64_t event_first_line_ = 0;
  size_t event_lines_ = 0;
  bool first_ = true;
};

}  // namespace

RunResult run_cb_buffer(CbLearner& cb, Stats& stats, std::string_view buffer, const RunOptions& opt) {
  CbRunner r(cb, stats, opt);
  return r.finish(!for_each_line_checked(buffer, [&](std::string_view line) { r.line(line); }, opt.interrupt));
}

RunResult run_cb_fd(CbLearner& cb, Stats& stats, int fd, const RunOptions& opt) {
  CbRunner r(cb, stats, opt);
  return r.finish(!for_each_fd_line(fd, [&](std::string_view line) { r.line(line); }, opt.head, opt.interrupt));
}

}  // namespace wabbit
