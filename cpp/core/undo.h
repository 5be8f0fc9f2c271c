// What a group of base updates of one example may change (the multiclass and bandit reductions
// call learn() once per class or action), saved so that the whole example can be undone when one
// of its updates is refused (Outcome::skipped; see core/nonfinite_guard.h). The base learner
// undoes a refused update itself, but not the updates of the same example made before it.
//
// Saved only when Learner::may_refuse says an update of the example could be refused: the common
// example pays that test (a scan of its values) and nothing else. The rows and values kept here are
// reused from example to example.
#pragma once

#include <cstdint>
#include <unordered_set>
#include <vector>

#include "core/example.h"
#include "core/interactions.h"
#include "core/learner.h"

namespace wabbit {

class UpdateUndo {
 public:
  // Starts saving: the learner's online state and rate multiplier as they are now.
  void begin(Learner& L) {
    active_ = true;
    state_ = L.state();
    multiplier_ = L.update_multiplier_;
    seen_.clear();
    rows_.clear();
    values_.clear();
  }
  bool active() const { return active_; }
  // Saves the rows ex's features touch in the model at `offset` (each row once), if saving.
  void save_rows(Learner& L, const Example& ex, uint32_t offset) {
    if (!active_) return;
    WeightTable& W = L.weights();
    const uint32_t stride = W.stride();
    for_each_feature(ex, L.interactions(), L.config().permutations, &L.config().ignore_linear, [&](float, uint32_t i) {
      float* w = W.row(i + offset);
      if (!seen_.insert(w).second) return;
      rows_.push_back(w);
      for (uint32_t k = 0; k < stride; ++k) values_.push_back(load_w(w + k));
    });
  }
  // Puts the saved rows and state back (the example is refused) and stops saving.
  void restore(Learner& L) {
    if (!active_) return;
    const uint32_t stride = L.weights().stride();
    for (size_t r = 0; r < rows_.size(); ++r) {
      for (uint32_t k = 0; k < stride; ++k) store_w(rows_[r] + k, values_[r * stride + k]);
    }
    L.state() = state_;
    L.update_multiplier_ = multiplier_;
    active_ = false;
  }
  // The example was learned: forgets what was saved.
  void done() { active_ = false; }

 private:
  bool active_ = false;
  OnlineState state_;
  float multiplier_ = 1.f;
  std::unordered_set<float*> seen_;
  std::vector<float*> rows_;
  std::vector<float> values_;
};

}  // namespace wabbit
