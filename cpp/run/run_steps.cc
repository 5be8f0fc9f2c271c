#include "run/run_steps.h"

namespace wabbit::run_detail {

void shadow_and_signals(const RunOptions& opt, Example& ex, const Outcome& o) {
  Outcome shadow;
  const bool shadowed = opt.shadow != nullptr && opt.learn;
  if (shadowed) {
    opt.shadow->observe_namespaces(ex);
    shadow = opt.shadow->learn(ex);
  }
  if (opt.signals != nullptr && ex.labelled()) {
    opt.signals->label.push_back(ex.label);
    opt.signals->prediction.push_back(o.output);
    opt.signals->loss.push_back(ex.weight > 0.f ? o.loss / ex.weight : 0.f);
    if (shadowed) {
      opt.signals->shadow_prediction.push_back(shadow.output);
      opt.signals->shadow_loss.push_back(ex.weight > 0.f ? shadow.loss / ex.weight : 0.f);
    }
  }
}

void begin_run(Stats& s) {
  s.holdout_on = false;
  s.current_pass = 0;
  s.weighted_holdout_examples = s.holdout_sum_loss = 0.;
  s.weighted_holdout_since_dump = s.holdout_loss_since_dump = 0.;
  s.weighted_holdout_since_pass = s.holdout_loss_since_pass = 0.;
  s.holdout_best_loss = FLT_MAX;
  s.holdout_best_pass = 0;
}

void merge_stats(Stats& into, Stats& from) {
  into.sum_loss += from.sum_loss;
  into.sum_loss_since_last_dump += from.sum_loss_since_last_dump;
  into.weighted_labeled_examples += from.weighted_labeled_examples;
  into.weighted_unlabeled_examples += from.weighted_unlabeled_examples;
  into.weighted_labels += from.weighted_labels;
  into.example_number += from.example_number;
  into.total_features += from.total_features;
  into.bad_lines += from.bad_lines;
  if (from.first_observed_label != FLT_MAX) count_label(into, from.first_observed_label);
  if (from.second_observed_label != FLT_MAX) count_label(into, from.second_observed_label);
  into.more_than_two_labels |= from.more_than_two_labels;
  from = Stats{};
}

}  // namespace wabbit::run_detail
