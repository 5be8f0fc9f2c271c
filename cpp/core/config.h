// What defines a linear model: every field of the learner's configuration, declared once.
//
// WABBIT_CONFIG_FIELDS lists each field as X(type, name, key, default). From that one list come the
// struct, its dict conversion in the bindings (cpp/python/convert.h, keyed by `key`), the defaults
// Python reads (wabbit/options.py via _core.config_defaults(), so a number is never repeated there)
// and the model file's copy of the resolved configuration (formats/model_io.cc). Adding a field is
// one line here plus the code that uses it.
//
// The values are resolved by wabbit/options.py (the one flag parser, with Vowpal Wabbit's defaulting
// rules); the defaults below are what a model gets when a flag is not given.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/loss.h"

namespace wabbit {

enum class Link { kIdentity = 0, kLogistic = 1, kPoisson = 2, kGlf1 = 3 };

// A namespace mask: one flag per namespace slot (the first byte of the namespace's name).
using NamespaceMask = std::array<bool, 256>;

// The names an enum field has in dicts and option text, indexed by the enumerator's value.
inline constexpr std::array<std::string_view, 7> kLossNames = {"squared",  "logistic", "classic",  "hinge",
                                                               "quantile", "poisson",  "expectile"};
inline constexpr std::array<std::string_view, 4> kLinkNames = {"identity", "logistic", "poisson", "glf1"};
inline constexpr auto enum_names(LossKind) { return kLossNames; }
inline constexpr auto enum_names(Link) { return kLinkNames; }

// clang-format off
#define WABBIT_CONFIG_FIELDS(X)                                                                          \
  X(uint32_t, bits, "bits", 18)                                                                          \
  X(LossKind, loss, "loss", LossKind::kSquared)                                                          \
  X(float, logistic_min, "logistic_min", -1.f)                                                           \
  X(float, logistic_max, "logistic_max", 1.f)                                                            \
  X(float, quantile_tau, "quantile_tau", 0.5f)                                                           \
  /* the expectile loss's q, in (0, 0.5] (VW's --expectile_q) */                                         \
  X(float, expectile_q, "expectile_q", 0.5f)                                                             \
  X(Link, link, "link", Link::kIdentity)                                                                 \
  /* report sign(prediction) and 0/1 loss (VW's --binary) */                                             \
  X(bool, binary, "binary", false)                                                                       \
  /* VW's default rule; options.py makes it 10 for the other rules */                                    \
  X(float, learning_rate, "learning_rate", 0.5f)                                                         \
  X(float, power_t, "power_t", 0.5f)                                                                     \
  X(float, initial_t, "initial_t", 0.f)                                                                  \
  X(bool, adaptive, "adaptive", true)                                                                    \
  X(bool, normalized, "normalized", true)                                                                \
  X(bool, invariant, "invariant", true)                                                                  \
  /* SGD: truncated gradient; FTRL: the proximal L1 term */                                              \
  X(float, l1, "l1", 0.f)                                                                                \
  X(float, l2, "l2", 0.f)                                                                                \
  /* FTRL-Proximal instead of gradient descent */                                                        \
  X(bool, ftrl, "ftrl", false)                                                                           \
  X(float, ftrl_alpha, "ftrl_alpha", 0.5f)                                                               \
  X(float, ftrl_beta, "ftrl_beta", 1.f)                                                                  \
  /* coin betting (VW's --coin; its alpha and beta are ftrl_alpha and ftrl_beta) */                      \
  X(bool, coin, "coin", false)                                                                           \
  /* FreeGrad (VW's --freegrad): FreeRange restarts, projection, its radius (< 0: adaptive), */          \
  /* initial wealth, a known bound on the gradients (0: none) */                                         \
  /* squared loss: learn on labels standardised online (running mean and deviation), report on */      \
  /* the labels' scale (--standardize_labels) */                                                         \
  X(bool, standardize, "standardize_labels", false)                                                      \
  /* learn on feature values centred online: each value minus its feature's running mean over the */    \
  /* examples learned so far (absent counts 0); the constant is not centred (--center_features) */      \
  X(bool, center, "center_features", false)                                                              \
  X(bool, freegrad, "freegrad", false)                                                                   \
  X(bool, fg_restart, "freegrad_restart", false)                                                         \
  X(bool, fg_project, "freegrad_project", false)                                                         \
  X(float, fg_radius, "freegrad_radius", -1.f)                                                           \
  X(float, fepsilon, "fepsilon", 1.f)                                                                    \
  X(float, flipschitz_const, "flipschitz_const", 0.f)                                                    \
  /* classic online rules (river is the reference): 1 perceptron, 2 passive-aggressive classifier, */    \
  /* 3 passive-aggressive regressor (Crammer et al. 2006) */                                             \
  X(int, classic_rule, "classic_rule", 0)                                                                \
  /* aggressiveness C (PA-I, PA-II) */                                                                   \
  X(float, pa_c, "pa_c", 1.f)                                                                            \
  /* 0 PA, 1 PA-I, 2 PA-II */                                                                            \
  X(int, pa_variant, "pa_variant", 1)                                                                    \
  /* regressor: width of the insensitive zone */                                                         \
  X(float, pa_eps, "pa_eps", 0.1f)                                                                       \
  /* add the constant (bias) feature */                                                                  \
  X(bool, constant, "constant", true)                                                                    \
  /* every weight's starting value (VW's --initial_weight; the optimizer's slots start at 0) */           \
  X(float, initial_weight, "initial_weight", 0.f)                                                        \
  /* interactions of a namespace with itself: every ordered pair (VW's --permutations), not j >= i */    \
  X(bool, permutations, "permutations", false)                                                           \
  X(std::vector<std::string>, interactions, "interactions", {})                                          \
  /* namespaces dropped from every example */                                                            \
  X(NamespaceMask, ignore, "ignore", {})                                                                 \
  /* namespaces used only inside interactions */                                                         \
  X(NamespaceMask, ignore_linear, "ignore_linear", {})                                                   \
  X(bool, has_min_prediction, "has_min_prediction", false)                                               \
  X(bool, has_max_prediction, "has_max_prediction", false)                                               \
  X(float, min_prediction, "min_prediction", 0.f)                                                        \
  X(float, max_prediction, "max_prediction", 0.f)
// clang-format on

// Everything that defines the model.
struct Config {
#define WABBIT_FIELD(type, name, key, def) type name = def;
  WABBIT_CONFIG_FIELDS(WABBIT_FIELD)
#undef WABBIT_FIELD
};

// FTRL, coin betting or FreeGrad: rules whose stored weights are the weights (no pending L1
// truncation or L2 contraction, as VW's gradient descent keeps).
inline bool ftrl_family(const Config& c) { return c.ftrl || c.coin || c.freegrad; }

// Calls f(key, field) for every field of c, in declaration order (the model file's order).
template <class C, class F>
  requires std::is_same_v<std::remove_const_t<C>, Config>
void for_each_field(C& c, F&& f) {
#define WABBIT_VISIT(type, name, key, def) f(std::string_view(key), c.name);
  WABBIT_CONFIG_FIELDS(WABBIT_VISIT)
#undef WABBIT_VISIT
}

}  // namespace wabbit
