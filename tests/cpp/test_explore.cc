// The exploration maths (cpp/cb/explore.h) against hand computations, without Python or a learner.
#define WABBIT_TEST_MAIN
#include <numeric>
#include <vector>

#include "cb/explore.h"
#include "check.h"

using namespace wabbit;

static float sum(const std::vector<float>& v) { return std::accumulate(v.begin(), v.end(), 0.f); }

// epsilon 0.2 over 4 sorted scores, one best: 0.2/4 = 0.05 each, the best 0.05 + 0.8 = 0.85.
TEST(epsilon_greedy_one_best) {
  std::vector<float> v{0.1f, 0.5f, 0.7f, 2.f};
  epsilon_greedy_pmf(0.2f, false, v);
  CHECK_NEAR(v[0], 0.85, 1e-6);
  for (size_t i = 1; i < 4; ++i) CHECK_NEAR(v[i], 0.05, 1e-6);
  CHECK_NEAR(sum(v), 1.0, 1e-6);
}

// two tied best (equal scores): they share 1 - eps: 0.05 + 0.4 = 0.45 each; first_only: 0.85 on the first.
TEST(epsilon_greedy_ties_share_the_greedy_mass) {
  std::vector<float> v{0.3f, 0.3f, 0.9f, 1.f};
  epsilon_greedy_pmf(0.2f, false, v);
  CHECK_NEAR(v[0], 0.45, 1e-6);
  CHECK_NEAR(v[1], 0.45, 1e-6);
  CHECK_NEAR(v[2], 0.05, 1e-6);
  std::vector<float> w{0.3f, 0.3f, 0.9f, 1.f};
  epsilon_greedy_pmf(0.2f, true, w);
  CHECK_NEAR(w[0], 0.85, 1e-6);
  CHECK_NEAR(w[1], 0.05, 1e-6);
  // VW's relative tie test: |a - b| <= 1e-4 (|a| + |b|)
  CHECK_EQ(fill_tied({1.f, 1.00001f, 1.1f}), size_t{2});
  CHECK_EQ(fill_tied({1.f, 1.001f}), size_t{1});
}

// softmax over costs 0, 1, 2 with lambda 2: p proportional to exp(-2 s): 1, e^-2, e^-4.
TEST(softmax_with_lambda) {
  std::vector<float> v{0.f, 1.f, 2.f};
  softmax_pmf(2.f, 0.f, v);
  const double z = 1. + std::exp(-2.) + std::exp(-4.);
  CHECK_NEAR(v[0], 1. / z, 1e-6);
  CHECK_NEAR(v[1], std::exp(-2.) / z, 1e-6);
  CHECK_NEAR(v[2], std::exp(-4.) / z, 1e-6);
  // lambda 0: uniform
  std::vector<float> u{0.f, 5.f, 9.f};
  softmax_pmf(0.f, 0.f, u);
  for (float p : u) CHECK_NEAR(p, 1. / 3., 1e-6);
}

// SquareCB: gamma = 10 * 4^0.5 = 20; scores 0.2 (best), 0.3, 0.7 over K = 3 actions:
// p = 1 / (3 + 20 * 0.1) = 0.2 and 1 / (3 + 20 * 0.5) = 1/13; the best gets the rest.
TEST(squarecb_inverse_gap_weighting) {
  const float gamma = squarecb_gamma(10.f, 0.5f, 4);
  CHECK_NEAR(gamma, 20.0, 1e-5);
  std::vector<float> v{0.2f, 0.3f, 0.7f};
  squarecb_pmf(gamma, 0.f, v);
  CHECK_NEAR(v[1], 1. / (3. + 20. * 0.1), 1e-6);
  CHECK_NEAR(v[2], 1. / (3. + 20. * 0.5), 1e-6);
  CHECK_NEAR(v[0], 1. - 0.2 - 1. / 13., 1e-6);
  // no learned event yet (gamma 0): every non-best action 1/K
  std::vector<float> w{0.2f, 0.3f, 0.7f, 0.9f};
  squarecb_pmf(squarecb_gamma(10.f, 0.5f, 0), 0.f, w);
  for (float p : w) CHECK_NEAR(p, 0.25, 1e-6);
}

// The floor: eps 0.3 over 3 actions lifts every entry to at least 0.1, the mass above shrinking by
// one amount: (0.96, 0.04, 0) -> (0.8, 0.1, 0.1).
TEST(minimum_probability_floor) {
  std::vector<float> v{0.96f, 0.04f, 0.f};
  enforce_minimum_probability(0.3f, v);
  CHECK_NEAR(v[0], 0.8, 1e-6);
  CHECK_NEAR(v[1], 0.1, 1e-6);
  CHECK_NEAR(v[2], 0.1, 1e-6);
  // already above the floor: unchanged
  std::vector<float> u{0.5f, 0.3f, 0.2f};
  enforce_minimum_probability(0.3f, u);
  CHECK_NEAR(u[0], 0.5, 1e-6);
  CHECK_NEAR(u[2], 0.2, 1e-6);
  // eps 1: uniform
  std::vector<float> w{1.f, 0.f, 0.f, 0.f};
  enforce_minimum_probability(1.f, w);
  for (float p : w) CHECK_NEAR(p, 0.25, 1e-7);
}

// tau-first: uniform while exploring, greedy afterwards; bagging: votes normalized.
TEST(tau_first_and_bagging) {
  std::vector<float> v{0.f, 1.f, 2.f, 3.f};
  tau_first_pmf(true, 0.f, v);
  for (float p : v) CHECK_NEAR(p, 0.25, 1e-7);
  tau_first_pmf(false, 0.f, v);
  CHECK_EQ(v[0], 1.f);
  CHECK_EQ(v[3], 0.f);
  std::vector<float> pmf;
  bag_votes_pmf({2.f, 1.f, 1.f, 0.f}, 0.f, pmf);  // 4 policies' votes
  CHECK_NEAR(pmf[0], 0.5, 1e-7);
  CHECK_NEAR(pmf[1], 0.25, 1e-7);
  CHECK_NEAR(pmf[3], 0., 1e-7);
  bag_votes_pmf({0.f, 0.f}, 0.f, pmf);  // no votes: all on the first
  CHECK_EQ(pmf[0], 1.f);
}

// VW's action_scores order: by score, ties by action index; -0 ties with +0.
TEST(action_scores_order) {
  std::vector<uint32_t> action;
  std::vector<float> value;
  sort_action_scores({0.5f, -1.f, 0.5f, 0.f, -0.f}, 5, action, value);
  const std::vector<uint32_t> want{1, 3, 4, 0, 2};
  CHECK(action == want);
  CHECK_EQ(value[0], -1.f);
}

// merand48 is VW's: state' = a * state + c (mod 2^64), the draw from bits 25..47 as a float in [1, 2) minus 1.
// Sampling picks the position whose cumulative mass first exceeds draw * total: within the pmf's
// support, and each position for the draws in its share.
TEST(sampling_is_within_the_pmf) {
  uint64_t state = 0;
  const float d = merand48(state);
  CHECK_EQ(state, uint64_t{2147483647});  // a * 0 + c
  const uint32_t bits = static_cast<uint32_t>((2147483647ull >> 25) & 0x7FFFFF);
  CHECK_NEAR(d, static_cast<double>(bits) / 8388608., 1e-7);
  const std::vector<float> pmf{0.2f, 0.f, 0.5f, 0.3f};
  CHECK_EQ(sample_pmf(pmf, 0.1f), size_t{0});
  CHECK_EQ(sample_pmf(pmf, 0.2f), size_t{2});  // position 1 has no mass
  CHECK_EQ(sample_pmf(pmf, 0.69f), size_t{2});
  CHECK_EQ(sample_pmf(pmf, 0.71f), size_t{3});
  uint64_t rng = 42;
  std::vector<int> hits(4, 0);
  for (int i = 0; i < 20000; ++i) {
    const float u = merand48(rng);
    CHECK(u >= 0.f && u < 1.f);
    ++hits[sample_pmf(pmf, u)];
  }
  CHECK_EQ(hits[1], 0);
  CHECK_NEAR(hits[2] / 20000., 0.5, 0.02);
  CHECK_NEAR(hits[0] / 20000., 0.2, 0.02);
  // an unnormalized pmf is normalized; an empty or all-zero one gives 0
  CHECK_EQ(sample_pmf({2.f, 2.f}, 0.6f), size_t{1});
  CHECK_EQ(sample_pmf({0.f, 0.f}, 0.6f), size_t{0});
}

// Poisson(1): P(0) = e^-1; its mean over many draws is 1.
TEST(poisson_bootstrap_weight) {
  uint64_t rng = 7;
  double total = 0.;
  int zeros = 0;
  const int n = 50000;
  for (int i = 0; i < n; ++i) {
    const uint32_t k = poisson_weight(rng);
    total += k;
    zeros += k == 0;
  }
  CHECK_NEAR(total / n, 1.0, 0.02);
  CHECK_NEAR(zeros / static_cast<double>(n), std::exp(-1.), 0.01);
}
