// What every run loop (text, CSR, Hogwild workers) does around learning one example: VW's label
// counting, the merge of a worker's counters, the challenger and the monitor's signals. Internal
// to cpp/run/.
#pragma once

#include <cstddef>

#include "run/driver.h"

namespace wabbit::run_detail {

// Warnings kept in a RunResult (the rest are counted only).
inline constexpr size_t kMaxKeptWarnings = 20;

// VW's count_label: the first two distinct labels seen (for the best constant).
void count_label(Stats& s, float l);
// Adds a worker's counters to the model's, and clears them.
void merge_stats(Stats& into, Stats& from);
// After the model has seen ex (outcome o): the challenger learns it, the monitor's signals grow.
void shadow_and_signals(const RunOptions& opt, Example& ex, const Outcome& o);

}  // namespace wabbit::run_detail
