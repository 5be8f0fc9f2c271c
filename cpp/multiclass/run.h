// The multiclass run loop: lines through a McLearner as run_fd/run_buffer do for the learner, with
// VW's multiclass progress rows (the label and the predicted class), -p (the class, its name, or
// with --probabilities "class:probability ...") and -r (oaa: " class:score ...", csoaa: each
// listed class's "class:score").
#pragma once

#include <string>
#include <string_view>

#include "multiclass/multiclass.h"
#include "run/driver.h"

namespace wabbit {

// VW's running statistics after one processed example (the CLI's loop and the Python API's).
inline void count_mc_example(Stats& s, const McResult& r) {
  if (r.labelled)
    s.weighted_labeled_examples += r.weight;
  else
    s.weighted_unlabeled_examples += r.weight;
  s.sum_loss += r.loss;
  s.sum_loss_since_last_dump += r.loss;
  s.total_features += r.num_features;
  ++s.example_number;
}

// An example's -p line and -r line as VW writes them.
void format_mc_prediction(std::string& out, const McLearner& mc, const McResult& r, std::string_view tag);
void format_mc_raw(std::string& out, const McLearner& mc, const McResult& r, std::string_view tag);

// The values a collected prediction holds: the class, or with --probabilities K probabilities.
size_t mc_values(const McLearner& mc);

// A malformed line or a class out of range is named by its line and skipped (or StrictParseError
// with opt.strict). raw_fd: -r's output (-1: none).
RunResult run_mc_fd(McLearner& mc, Stats& stats, int fd, const RunOptions& opt, int raw_fd = -1);
RunResult run_mc_buffer(McLearner& mc, Stats& stats, std::string_view buffer, const RunOptions& opt, int raw_fd = -1);

}  // namespace wabbit
