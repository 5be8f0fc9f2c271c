// Exploration maths: scores (lower is better) to a probability mass function, and draws from it,
// as Vowpal Wabbit computes them (its explore/ library). A header of small functions that knows
// nothing of parsing or learning: the bandit learner calls them once per event, and the ranking
// path once per request, so they stay inlineable.
//
// Scores arrive in VW's action_scores order (sort_action_scores: by score, ties by action), and
// each pmf is written in that same order, in place.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <numeric>
#include <vector>

namespace wabbit {

// VW's enforce_minimum_probability (consider_zero_valued_elements = true): every entry gets at
// least eps / size, the mass above the floor shrinking by one common amount (a projection onto
// the floored simplex). eps > 0.999: uniform.
inline void enforce_minimum_probability(float eps, std::vector<float>& pmf) {
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

// The number of actions tied with the best at the front of sorted scores (VW's are_same_rel:
// |a - b| <= 1e-4 (|a| + |b|)).
inline size_t fill_tied(const std::vector<float>& sorted_scores) {
  if (sorted_scores.empty()) return 0;
  const float s0 = sorted_scores[0];
  size_t k = 1;
  while (k < sorted_scores.size() &&
         std::fabs(sorted_scores[k] - s0) <= 1e-4f * (std::fabs(sorted_scores[k]) + std::fabs(s0))) {
    ++k;
  }
  return k;
}

// Epsilon-greedy over sorted scores: eps / n everywhere, 1 - eps shared by the tied best (or all on
// the first with first_only).
inline void epsilon_greedy_pmf(float eps, bool first_only, std::vector<float>& value) {
  const size_t n = value.size();
  if (n == 0) return;
  const size_t tied = fill_tied(value);
  const float prob = eps / static_cast<float>(n);
  for (float& v : value) v = prob;
  if (!first_only) {
    for (size_t i = 0; i < tied; ++i) value[i] += (1.f - eps) / static_cast<float>(tied);
  } else {
    value[0] += 1.f - eps;
  }
}

// Softmax over costs: p_a proportional to exp(-lambda * s_a) (shifted by the best score for range),
// then the floor eps.
inline void softmax_pmf(float lambda, float eps, std::vector<float>& value) {
  if (value.empty()) return;
  const float l = -lambda;
  const float best =
      l > 0.f ? *std::max_element(value.begin(), value.end()) : *std::min_element(value.begin(), value.end());
  float norm = 0.f;
  for (float& v : value) {
    v = std::exp(l * (v - best));
    norm += v;
  }
  for (float& v : value) v /= norm;
  enforce_minimum_probability(eps, value);
}

// SquareCB's exploration gamma after `counter` learned events: gamma_scale * counter^gamma_exponent.
inline float squarecb_gamma(float gamma_scale, float gamma_exponent, uint64_t counter) {
  return gamma_scale * static_cast<float>(std::pow(static_cast<double>(counter), static_cast<double>(gamma_exponent)));
}

// SquareCB (inverse gap weighting): every action but the best gets 1 / (n + gamma (s_a - s_best)),
// the best the rest; then the floor eps. The best is the first lowest score.
inline void squarecb_pmf(float gamma, float eps, std::vector<float>& value) {
  const size_t n = value.size();
  if (n == 0) return;
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
  enforce_minimum_probability(eps, value);
}

// Tau-first: uniform while exploring, else all on the first (best) action; then the floor eps.
inline void tau_first_pmf(bool exploring, float eps, std::vector<float>& value) {
  if (value.empty()) return;
  if (exploring) {
    for (float& v : value) v = 1.f / static_cast<float>(value.size());
  } else {
    for (float& v : value) v = 0.f;
    value[0] = 1.f;
  }
  enforce_minimum_probability(eps, value);
}

// Bagging's pmf from the policies' votes (each policy's vote for its best actions, summed per
// action): VW's generate_bag normalizes them (accumulating in double), all on the first action when
// no policy voted; then the floor eps.
inline void bag_votes_pmf(const std::vector<float>& votes, float eps, std::vector<float>& pmf) {
  pmf.assign(votes.size(), 0.f);
  if (votes.empty()) return;
  double acc = 0.;
  for (float t : votes) acc += t;
  const float models = static_cast<float>(acc);
  if (models <= 1e-6f) {
    pmf[0] = 1.f;
  } else {
    const float norm = 1.f / models;
    for (size_t i = 0; i < votes.size(); ++i) pmf[i] = votes[i] * norm;
  }
  enforce_minimum_probability(eps, pmf);
}

// Sorts (score, action) as VW's action_scores: by score, ties by action. `value` gets the scores in
// that order.
inline void sort_action_scores(const std::vector<float>& s, size_t n, std::vector<uint32_t>& action,
                               std::vector<float>& value) {
  action.resize(n);
  value.resize(n);
  // Each (score, action) packed into one integer whose order is that order (the score's bits
  // mapped to an unsigned order above the action's): sorting plain integers costs a third of
  // sorting indices compared through the scores (a ranking request sorts 1000s). The same result
  // for every score but NaN, which has no place in that order: then the comparator sort.
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

// VW's merand48 step: advances state, returns a draw in [0, 1).
inline float merand48(uint64_t& state) {
  constexpr uint64_t kA = 0xeece66d5deece66dULL;
  constexpr uint64_t kC = 2147483647;
  constexpr uint32_t kBias = 127u << 23;
  state = kA * state + kC;
  const uint32_t bits = static_cast<uint32_t>((state >> 25) & 0x7FFFFF) | kBias;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f - 1.f;
}

// VW's sample_after_normalizing: the position whose cumulative (non-negative) mass first exceeds
// draw01 times the total; 0 for an empty or all-zero pmf.
inline size_t sample_pmf(const std::vector<float>& pmf, float draw01) {
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

// VW's Poisson(1) bootstrap weight (bagging: how many times a policy learns an event).
inline uint32_t poisson_weight(uint64_t& rng) {
  static constexpr double kCdf[] = {0.3678794411714423215955, 0.735758882342884643191,  0.919698602928605803989,
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

}  // namespace wabbit
