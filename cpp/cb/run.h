// The multiline run loop: bandit events (blank-line separated; one line each with --cb K) from a
// file descriptor or a buffer through a CbLearner, as run_fd/run_buffer do for single lines.
#pragma once

#include <string>
#include <string_view>

#include "cb/cb.h"
#include "run/driver.h"

namespace wabbit {

// VW's running statistics after one processed event (the CLI's loop and the Python API's).
inline void count_cb_event(Stats& s, const CbResult& r) {
  if (r.labelled)
    s.weighted_labeled_examples += 1.;
  else
    s.weighted_unlabeled_examples += 1.;
  s.sum_loss += r.loss;
  s.sum_loss_since_last_dump += r.loss;
  s.total_features += r.total_features;
  ++s.example_number;
}

// An event's -p line as VW writes it (the pmf "action:probability,..." for exploring or --rank_all
// models, else the top action; then " tag"), and the blank line that ends it.
void format_cb_prediction(std::string& out, const CbLearner& cb, const CbResult& r, std::string_view tag);

// VW's cb progress rows and -p format (the top action, or the pmf as "action:probability,..."),
// a malformed event named by its line and skipped (or StrictParseError with opt.strict). With
// opt.collect, the predictions are each event's values in action order, concatenated.
RunResult run_cb_fd(CbLearner& cb, Stats& stats, int fd, const RunOptions& opt);
RunResult run_cb_buffer(CbLearner& cb, Stats& stats, std::string_view buffer, const RunOptions& opt);

}  // namespace wabbit
