// Contextual bandits over the linear learner, as Vowpal Wabbit's cb_adf / cb_explore_adf compute them.
//
// An event is an optional shared example and one example per action (VW's multiline "ADF" format:
// a `shared |...` line, one line per action, a blank line). The label `action:cost:probability` sits
// on the chosen action's line. Each action example gets the shared features appended (VW's
// shared_feature_merger: same-slot features after the action's own, new slots after the constant),
// and the base learner scores it; interactions (-q ua) therefore cross shared and action namespaces.
//
// Learning turns the bandit label into regression targets (VW's cost estimators):
//   mtr  one update, on the chosen action: target = cost, weight = 1/p * events/actions seen
//   ips  every action: target = cost/p on the chosen one, 0 elsewhere
//   dm   every action: target = cost on the chosen one, 0 elsewhere
//   dr   a second regressor (model 1) learns cost with weight 1/p on the chosen action; every
//        action's target is its prediction x, plus (cost - x)/p on the chosen one
//   sm   every action: the policy's score moved by sign(cost), weighted by a softmax of the scores
//        (VW's "supervised method", estimators.cc)
// Several models share the weight table as in VW: feature indices are multiplied by the number of
// models (the "feature width") and model m adds m (Learner::offset_).
//
// Exploration turns the scores (lower is better) into a probability mass function, in VW's
// action_scores order (by score, ties by action): epsilon-greedy, softmax, SquareCB, tau-first, bag.
//
// The room: event.h (the event and its one builder: text, lines, dicts), explore.h (the pmf maths),
// estimators.cc (costs to regression targets), rank.cc (predictions without change, the rank
// planner), run.h (the multiline run loop), progress.h (VW's cb progress text); this file and
// cb.cc: the learner that composes them over the linear Learner.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cb/config.h"
#include "cb/event.h"
#include "cb/explore.h"
#include "cb/progress.h"
#include "core/example.h"
#include "core/learner.h"
#include "core/undo.h"
#include "formats/vw_text.h"

namespace wabbit {

class NameMap;

// Candidate actions in one flat buffer (a ranking request), prepared as CbLearner::prepare would
// (ignored namespaces dropped, constant added, indices spread): group g holds the features
// [group_start[g], group_start[g + 1]) of one namespace slot, group_slot[g]; candidate c holds the
// groups [first_group[c], first_group[c + 1]). As in an Example, a candidate's groups come in order
// of first appearance, one per slot.
struct CbFeature {
  uint32_t index;
  float value;
};
struct CbFlatActions {
  std::vector<CbFeature> features;
  std::vector<unsigned char> group_slot;
  std::vector<uint32_t> group_start{0};  // one more than the groups (the last: features.size())
  std::vector<uint32_t> first_group{0};

  size_t size() const { return first_group.size() - 1; }
  void clear() {
    features.clear();
    group_slot.clear();
    group_start.assign(1, 0);
    first_group.assign(1, 0);
    open_slot_ = -1;
    regroup_ = false;
  }
  // Adds a feature to the candidate being built (Example::add's grouping by slot).
  void add(unsigned char slot, uint32_t i, float x) {
    if (slot != open_slot_) open_group(slot);
    features.push_back({i, x});
  }
  // Closes the candidate being built (which may have no features).
  void end_candidate() {
    group_start.back() = static_cast<uint32_t>(features.size());
    if (regroup_) regroup();
    first_group.push_back(static_cast<uint32_t>(group_slot.size()));
    open_slot_ = -1;
  }

 private:
  void open_group(unsigned char slot) {
    // a slot seen earlier in this candidate (namespaces "a1", "b", "a2"): merged when it ends
    for (size_t g = first_group.back(); g < group_slot.size(); ++g) regroup_ |= group_slot[g] == slot;
    group_start.back() = static_cast<uint32_t>(features.size());  // the open group ends here
    group_slot.push_back(slot);
    group_start.push_back(0);  // set when the group ends
    open_slot_ = slot;
  }
  void regroup();       // merges the ending candidate's groups of one slot, in order of first appearance
  int open_slot_ = -1;  // the slot of the candidate's last group (-1: none yet)
  bool regroup_ = false;
};

struct CbResult {
  std::vector<uint32_t> action;  // VW's action_scores order: best first
  std::vector<float> value;      // the score (cb_adf) or probability (explore) of each entry
  float loss = 0.f;              // VW's progressive loss estimate (labelled events)
  bool labelled = false;
  uint64_t row_features = 0;    // the progress table's feature count
  uint64_t total_features = 0;  // what the event adds to "total feature number"
  // Set when one of the event's base updates was refused (it would have made weights non-finite):
  // the event changed nothing (see core/undo.h). Why, in words (valid until the next event).
  const char* skipped = nullptr;
};

class CbLearner {
 public:
  CbLearner(Learner& base, CbConfig cfg);

  const CbConfig& config() const { return cfg_; }
  bool explore() const { return cfg_.explore != CbExplore::kNone; }
  uint32_t width() const { return width_; }
  CbState& state() { return state_; }
  const CbState& state() const { return state_; }
  Learner& base() { return *base_; }
  void rebind(Learner& base) { base_ = &base; }

  // Drops ignored namespaces, adds the constant, spreads the indices over the models.
  void prepare(Example& ex) const;
  // The same for a candidate read feature by feature into a flat buffer (a ranking request):
  // features of slots it does not keep are dropped, indices are spread, and ending the candidate
  // adds the constant.
  bool keeps(unsigned char slot) const { return !base_->config().ignore[slot]; }
  uint32_t spread(uint32_t index) const { return index * multiplier_; }
  void end_flat_candidate(CbFlatActions& actions) const {
    if (base_->config().constant) actions.add(kConstantNamespace, spread(static_cast<uint32_t>(kConstantFeature)), 1.f);
    actions.end_candidate();
  }
  // A reason the event cannot be used, or "" (no actions, ...).
  std::string check(const CbEvent& ev) const;
  // --cb K: the event of one prepared single-line example: K copies, copy a's indices moved to
  // action a's slots (VW's cb_to_cb_adf), the label (action numbers 1..K) on its copy. Returns an
  // error message or "".
  std::string expand_fixed(const Example& ex, const CbLineLabel& label, CbEvent& ev) const;
  bool fixed() const { return cfg_.num_actions > 0; }
  // --audit (out: VW's blocks for every action example scored or learned; show_adaptive: the
  // "@" state) and --invert_hash (names: every row's first name); nullptrs: off.
  void set_audit(std::string* out, bool show_adaptive, NameMap* names);
  bool auditing() const { return audit_ != nullptr || names_ != nullptr; }
  // Predicts one event and, with learn and a label, learns it.
  void process(CbEvent& ev, bool learn, CbResult& out);
  // Predicts without any change (thread-local scratch: safe for concurrent readers).
  void predict_const(const CbEvent& ev, CbResult& out) const;
  // The same for candidates in a flat buffer (no Example per candidate is kept).
  void predict_flat(const Example* shared, const CbFlatActions& actions, CbResult& out) const;

 private:
  void merge_all(const CbEvent& ev, std::vector<Example>& merged) const;
  void scores(const std::vector<Example>& merged, size_t n, uint32_t model, std::vector<float>& s,
              std::vector<uint32_t>* generated) const;
  // The exploration's pmf from the sorted scores, in place (kNone: the scores stay).
  void to_pmf(std::vector<float>& value) const;
  void bag_pmf(const std::vector<float>& s, size_t n, CbResult& out) const;
  // Scores and explores n merged actions; build(a) returns action a with the shared features.
  template <class Build>
  void predict_each(size_t n, Build&& build, CbResult& out) const;
  // The pmf (or scores) from the thread's prediction scratch scores of n actions (every policy's).
  void explore_scores(size_t n, CbResult& out) const;
  Outcome base_learn(Example& ex, float label, float weight, uint32_t model);
  void dr_regressor(CbEvent& ev, std::vector<Example>& merged, uint32_t block, std::vector<float>& dr_x);
  void learn_one(CbEvent& ev, std::vector<Example>& merged, uint32_t block, std::vector<float>& dr_x, bool dr_ready);
  void learn_sm(CbEvent& ev, std::vector<Example>& merged, uint32_t model);
  void audit_action(const Example& merged, float score, std::string_view tag, float label = kNoLabel,
                    uint32_t model = 0) const;
  void account(const CbEvent& ev, const std::vector<Example>& merged, const std::vector<uint32_t>& generated,
               const std::vector<float>& dr_x, CbResult& out) const;

  Learner* base_;
  CbConfig cfg_;
  uint32_t type_width_ = 1;  // models per policy: 2 for dr
  uint32_t width_ = 1;       // all models: type_width_ * max(bag, 1)
  uint32_t multiplier_ = 1;  // feature indices are multiplied by width_ rounded up to a power of 2
  CbState state_;
  UpdateUndo undo_;                // the rows and state an event's updates may change (see process())
  CbState undo_state_;             // state_ before them
  const char* refused_ = nullptr;  // the first refused base update's reason in this event
  std::vector<Example> merged_;
  std::vector<float> scratch_scores_;
  std::vector<float> dr_x_;
  std::vector<uint32_t> generated_;
  // learn_sm's scratch
  std::vector<float> sm_scores_, sm_value_, sm_prob_, sm_target_, sm_weight_;
  std::vector<uint32_t> sm_action_;
  std::string* audit_ = nullptr;
  bool audit_adaptive_ = false;
  NameMap* names_ = nullptr;
  std::string_view audit_tag_;  // the tag of the event being processed (--cb K)
};

// Appends `shared`'s features (not its constant) to a copy of `action`: VW's shared_feature_merger.
void merge_shared(Example& dst, const Example& action, const Example* shared);

}  // namespace wabbit
