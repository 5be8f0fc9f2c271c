// What defines a multiclass reduction over the learner (VW's --oaa, --csoaa, --named_labels), declared
// once as core/config.h and cb/config.h declare theirs: the struct, the bindings' dict conversion and
// the defaults Python reads (_core.config_defaults()["mc"]) come from this list.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace wabbit {

// clang-format off
#define WABBIT_MC_CONFIG_FIELDS(X)                                                                       \
  /* --oaa K: one-against-all over K classes (0: off) */                                                 \
  X(uint32_t, oaa, "oaa", 0)                                                                             \
  /* --csoaa K: cost-sensitive one-against-all over K classes (0: off) */                                \
  X(uint32_t, csoaa, "csoaa", 0)                                                                         \
  /* oaa: predict every class's probability (normalised sigmoids of the scores) */                       \
  X(bool, probabilities, "probabilities", false)                                                         \
  /* 0 or 1: classes are 0..K-1 or 1..K; 2: VW's default, 1-based until a label 0 is seen */             \
  X(uint32_t, indexing, "indexing", 2)                                                                   \
  /* --named_labels: class names, the first is class 1 */                                                \
  X(std::vector<std::string>, named_labels, "named_labels", {})
// clang-format on

struct McConfig {
#define WABBIT_FIELD(type, name, key, def) type name = def;
  WABBIT_MC_CONFIG_FIELDS(WABBIT_FIELD)
#undef WABBIT_FIELD
  uint32_t classes() const { return oaa != 0 ? oaa : csoaa; }
};

template <class C, class F>
  requires std::is_same_v<std::remove_const_t<C>, McConfig>
void for_each_field(C& c, F&& f) {
#define WABBIT_VISIT(type, name, key, def) f(std::string_view(key), c.name);
  WABBIT_MC_CONFIG_FIELDS(WABBIT_VISIT)
#undef WABBIT_VISIT
}

// Mutable state besides the weights (saved in the model file, formats/model_io.cc).
struct McState {
  uint32_t indexing = 2;  // 0, 1, or 2: not yet known (1-based until a label 0 is seen)
  // VW keeps the normalized update's running sums per problem; problem 0's live in the learner's
  // OnlineState, problems 1.. here.
  std::vector<double> norm_x;
  std::vector<double> total_weight;
  double log_loss = 0.;  // --probabilities: the summed multiclass log loss (VW's summary line)
};

}  // namespace wabbit
