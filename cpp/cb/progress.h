// The bandit's progress text: VW's cb progress rows (label and prediction as text columns) and
// the number formats of its -p output.
#pragma once

#include <cstdint>
#include <string>

#include "cb/event.h"

namespace wabbit {

// Progress-table row with text label and prediction columns (VW's cb rows).
std::string progress_row_text(double avg_loss_num, double labeled, double since_loss, double since_labeled,
                              uint64_t example_number, double weighted_examples, const std::string& label,
                              const std::string& prediction, uint64_t num_features);
// "action:cost:probability" as VW prints a known cost (two significant digits).
std::string cb_label_text(const CbCost& c);
// f with `decimals` decimals, trailing zeros (and a trailing point) dropped.
std::string fmt_float_trim(float f, int decimals);

}  // namespace wabbit
