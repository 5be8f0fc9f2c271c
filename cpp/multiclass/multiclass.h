// Multiclass reductions over the linear learner, as Vowpal Wabbit's oaa and csoaa compute them.
//
// K binary (oaa) or regression (csoaa) problems share the one weight table as VW lays them out:
// every feature index is multiplied by K rounded up to a power of two (VW's weights per problem,
// so -b counts the bits of all problems together), and problem k adds k (Learner::offset_). Each
// problem is the base learner called with its offset; VW's clock (t) advances once per example.
//
//   oaa    the K scores are predicted (clamped to the label range, as VW's multipredict), then
//          problem k learns label +1 for the true class and -1 for the others; the prediction is
//          the first class of highest score. --probabilities: each score's sigmoid, normalised.
//          The loss is 0/1 (times the weight).
//   csoaa  each class listed with a cost is learned as a regression on that cost (weight 1); the
//          prediction is the listed class of lowest raw score (every class when none is listed).
//          The loss is the predicted class's cost minus the lowest cost.
//
// The room: labels.h (the text format), oaa.cc, csoaa.cc (the two reductions), run.h (the run
// loop, progress rows, -p and -r text); this file and multiclass.cc: what they share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/example.h"
#include "core/learner.h"
#include "core/undo.h"
#include "multiclass/config.h"
#include "multiclass/labels.h"

namespace wabbit {

struct McResult {
  uint32_t prediction = 0;     // the class (in the labels' numbering)
  std::vector<float> scores;   // oaa: each problem's score (class order 0..K-1 of problems)
  std::vector<float> probs;    // oaa --probabilities: each problem's probability
  std::vector<ClassCost> raw;  // csoaa: each listed class's raw score (VW's -r)
  float loss = 0.f;
  float weight = 1.f;  // the weight the example counts with
  bool labelled = false;
  bool raw_zero_based = false;  // oaa: the classes were 0-based when the scores were made (-r)
  uint64_t num_features = 0;
  // oaa: the largest magnitude of the raw scores (before clamping), for Learner::may_refuse
  float max_raw = 0.f;
  // Set when one of the example's updates was refused (it would have made weights non-finite):
  // the example changed nothing (see core/undo.h). Why, in words (valid until the next example).
  const char* skipped = nullptr;
};

class McLearner {
 public:
  McLearner(Learner& base, McConfig cfg);

  const McConfig& config() const { return cfg_; }
  const NamedLabels& names() const { return names_; }
  McState& state() { return state_; }
  const McState& state() const { return state_; }
  Learner& base() { return *base_; }
  void rebind(Learner& base) { base_ = &base; }
  bool csoaa() const { return cfg_.csoaa != 0; }
  uint32_t classes() const { return cfg_.classes(); }

  // Drops ignored namespaces, adds the constant, spreads the indices over the problems.
  void prepare(Example& ex) const;
  // Reads one line into ex (prepared) and label (with_names: the features' names kept).
  ParseResult parse(std::string_view line, Example& ex, McLabel& label, bool with_names = false) const;
  // A reason the label cannot be used (a class out of range), or "". Until --indexing is known,
  // a class 0 makes the classes 0-based and a class K 1-based (VW's rule; process() applies it).
  std::string check(const McLabel& label) const;
  uint32_t indexing_after(const McLabel& label) const;
  // Predicts one example and, with learn and a label, learns it.
  void process(Example& ex, const McLabel& label, bool learn, McResult& out);
  // Predicts without any change (safe for concurrent readers).
  void predict_const(const Example& ex, const McLabel& label, McResult& out) const;

  // --audit: VW's block (the prediction, then the features with the weights before any update) for
  // every problem the base learner predicts or learns, appended to out (null: none); show_adaptive:
  // "@" and the adaptive sum after each weight. process() writes them; after predict_const(),
  // audit_predicted() does.
  void set_audit(std::string* out, bool show_adaptive) {
    audit_ = out;
    audit_adaptive_ = show_adaptive;
  }
  bool auditing() const { return audit_ != nullptr; }
  void audit_predicted(const Example& ex, const McLabel& label, const McResult& out) const;

  // The problem of class c, and the class of problem p, in the current indexing.
  uint32_t problem(uint32_t c) const { return zero_based() ? c : c - 1; }
  uint32_t class_of(uint32_t p) const { return zero_based() ? p : p + 1; }
  bool zero_based() const { return state_.indexing == 0; }
  // The text of a class: its name with --named_labels, else its number.
  std::string class_text(uint32_t c) const;

 private:
  void oaa(Example& ex, const McLabel& label, bool learn, McResult& out);
  void oaa_predict(const Example& ex, const McLabel& label, McResult& out) const;
  void csoaa(Example& ex, const McLabel& label, bool learn, McResult& out);
  void csoaa_predict(const Example& ex, const McLabel& label, McResult& out) const;
  float score(const Example& ex, uint32_t p, uint64_t* features) const;
  // One problem's update, with its own normalized sums; VW's clock does not move. Returns why the
  // base learner refused it (nullptr: learned).
  const char* base_learn(Example& ex, float label, float weight, uint32_t p);
  // Before an example's updates: saves what they may change when one of them could be refused
  // (labels up to `label` in magnitude, weights up to `weight`, raw scores up to `raw`).
  void guard_updates(const Example& ex, float label, float weight, float raw);
  // After them: puts everything back if `why` is set (a refused update), and reports it in out.
  void settle_updates(const char* why, McResult& out);
  void advance_clock(float weight, bool labelled);
  // One audit block: problem p's score (clamped into the labels' range, widened first by the label
  // being learned, as VW's scalar; not with clamp false) and its features.
  void audit_block(const Example& ex, uint32_t p, float score, float label, bool clamp = true) const;

  Learner* base_;
  McConfig cfg_;
  NamedLabels names_;
  uint32_t multiplier_ = 1;
  McState state_;
  UpdateUndo undo_;     // the base rows and state an example's updates may change (see guard_updates)
  McState undo_state_;  // state_ before them
  std::string* audit_ = nullptr;
  bool audit_adaptive_ = false;
};

}  // namespace wabbit
