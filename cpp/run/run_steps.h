// What every run loop (text, CSR, Hogwild workers) does around learning one example: VW's label
// counting, the merge of a worker's counters, the challenger and the monitor's signals. Internal
// to cpp/run/.
#pragma once

#include <cfloat>
#include <cstddef>

#include "run/driver.h"

namespace wabbit::run_detail {

// Warnings kept in a RunResult (the rest are counted only).
inline constexpr size_t kMaxKeptWarnings = 20;

// VW's count_label: the first two distinct labels seen (for the best constant). Inline: it runs
// once per example.
inline void count_label(Stats& s, float l) {
  if (s.more_than_two_labels || l == kNoLabel) return;
  if (s.first_observed_label == FLT_MAX) {
    s.first_observed_label = l;
  } else if (s.first_observed_label != l) {
    if (s.second_observed_label == FLT_MAX)
      s.second_observed_label = l;
    else if (s.second_observed_label != l)
      s.more_than_two_labels = true;
  }
}
// A run starts with no pass and no holdout behind it (a model's other counts go on).
void begin_run(Stats& s);
// Adds a worker's counters to the model's, and clears them.
void merge_stats(Stats& into, Stats& from);
// After the model has seen ex (outcome o): the challenger learns it, the monitor's signals grow.
void shadow_and_signals(const RunOptions& opt, Example& ex, const Outcome& o);

}  // namespace wabbit::run_detail
