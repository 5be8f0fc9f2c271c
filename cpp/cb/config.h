// What defines a contextual bandit over the learner: every field of its configuration, declared once.
//
// WABBIT_CB_CONFIG_FIELDS lists each field as X(type, name, key, default), as core/config.h does for
// the learner: the struct, the bindings' dict conversion, the defaults Python reads
// (_core.config_defaults()["cb"]) and the model file's copy all come from this list.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <type_traits>
#include <vector>

namespace wabbit {

enum class CbType { kMtr, kIps, kDr, kDm, kSm };
enum class CbExplore { kNone, kEpsilon, kSoftmax, kSquareCb, kFirst, kBag };

inline constexpr std::array<std::string_view, 5> kCbTypeNames = {"mtr", "ips", "dr", "dm", "sm"};
inline constexpr std::array<std::string_view, 6> kCbExploreNames = {"none",     "epsilon", "softmax",
                                                                    "squarecb", "first",   "bag"};
inline constexpr auto enum_names(CbType) { return kCbTypeNames; }
inline constexpr auto enum_names(CbExplore) { return kCbExploreNames; }

// clang-format off
#define WABBIT_CB_CONFIG_FIELDS(X)                                                                       \
  /* --cb K / --cb_explore K: K fixed actions, single-line examples (0: ADF) */                          \
  X(uint32_t, num_actions, "num_actions", 0)                                                             \
  X(CbType, type, "cb_type", CbType::kMtr)                                                               \
  X(CbExplore, explore, "explore", CbExplore::kNone)                                                     \
  /* epsilon-greedy's epsilon (--epsilon); the other explorations' pmf floor defaults to 0 */            \
  X(float, epsilon, "epsilon", 0.05f)                                                                    \
  /* softmax */                                                                                          \
  X(float, lambda, "lambda", 1.f)                                                                        \
  /* SquareCB: gamma = gamma_scale * learned_events^gamma_exponent */                                    \
  X(float, gamma_scale, "gamma_scale", 10.f)                                                             \
  X(float, gamma_exponent, "gamma_exponent", 0.5f)                                                       \
  /* tau-first: explore uniformly for this many learned events */                                        \
  X(uint64_t, first, "first", 0)                                                                         \
  /* bagging: number of policies */                                                                      \
  X(uint32_t, bag, "bag", 0)                                                                             \
  /* bag: policy 0 always learns once */                                                                 \
  X(bool, greedify, "greedify", false)                                                                   \
  /* greedy/bag: the first of tied actions only */                                                       \
  X(bool, first_only, "first_only", false)                                                               \
  /* cb_adf: -p writes every action's score (VW's --rank_all) */                                         \
  X(bool, rank_all, "rank_all", false)                                                                   \
  /* probabilities below are clipped in importance weights */                                            \
  X(float, clip_p, "clip_p", 0.f)                                                                        \
  /* --random_seed: bag's bootstrap and sample() without a seed */                                       \
  X(uint64_t, seed, "seed", 0)
// clang-format on

struct CbConfig {
#define WABBIT_FIELD(type, name, key, def) type name = def;
  WABBIT_CB_CONFIG_FIELDS(WABBIT_FIELD)
#undef WABBIT_FIELD
};

// Calls f(key, field) for every field of c, in declaration order (the model file's order).
template <class C, class F>
  requires std::is_same_v<std::remove_const_t<C>, CbConfig>
void for_each_field(C& c, F&& f) {
#define WABBIT_VISIT(type, name, key, def) f(std::string_view(key), c.name);
  WABBIT_CB_CONFIG_FIELDS(WABBIT_VISIT)
#undef WABBIT_VISIT
}

// Mutable state besides the weights (saved in the model file, formats/model_io.cc).
struct CbState {
  std::vector<uint64_t> event_sum;  // mtr: per model
  std::vector<uint64_t> action_sum;
  uint64_t counter = 0;  // SquareCB: learned events
  uint64_t tau = 0;      // tau-first: exploring events left
  uint64_t rng = 0;      // bag's bootstrap / sample() without a seed (VW's merand48)
  // VW keeps the normalized update's running sums per model; model 0's live in the learner's
  // OnlineState (saved with the weights), models 1.. here.
  std::vector<double> norm_x;
  std::vector<double> total_weight;
};

}  // namespace wabbit
