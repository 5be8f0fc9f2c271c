// Vowpal Wabbit's JSON example formats -> Example / CbEvent, one line at a time (docs/json_input.md).
//
// --json: a line is one object. Each key is a feature of the default namespace (a number: its value;
// a string: the feature key+value; true: the feature key) or, when its value is an object, a
// namespace named by the key (its first byte the namespace's slot, as in text), nested at will; an
// array of numbers is a namespace of anonymous features (index: the namespace's hash + position).
// Keys starting with '_' are VW's: _label (a number, "label [weight [initial]]", "action:cost:
// probability" or an object {Label, Weight, Initial, Action, Cost, Probability}), _label_<Name>
// (one property), _labelIndex (the 0-based action a _label_ cost belongs to), _tag, _text (tokens),
// _multi (a bandit event's actions, the top level being the shared context); other '_' keys are
// skipped, as VW skips them.
// --dsjson: the decision service's log line: {"_label_cost", "_label_probability", "_label_Action",
// "_labelIndex", "a", "p", "c": {the context as in --json, with _multi}, "EventId", ...}.
//
// The syntax is read by nlohmann/json's SAX parser (never a hand-written one); the hashing is the
// text format's (core/hash.h), so the same content gives the same indices as VW. Where VW would stop
// the run (--json) or skip a line (--dsjson), the line is refused with a message saying why.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cb/event.h"
#include "core/example.h"
#include "formats/vw_text.h"

namespace wabbit {

// How input lines are read (RunOptions, the daemon, the Python model).
enum class InputFormat : int { kText = 0, kJson = 1, kDsJson = 2 };

struct JsonOptions {
  bool dsjson = false;      // lines are decision-service lines (the context under "c")
  bool chain_hash = false;  // --chain_hash: a string value hashes as the text's key:value (else key+value)
  bool names = false;       // features get their audit names (--audit, --invert_hash)
};

// What a decision-service line says besides its examples.
struct DsInfo {
  std::string event_id;
  std::string timestamp;
  std::vector<uint32_t> actions;     // "a": the logged actions (1-based), the chosen one first
  std::vector<float> probabilities;  // "p": the logging policy's probabilities, in "a"'s order
  float pdrop = 0.f;                 // "pdrop": the probability that the event was dropped
  bool skip_learn = false;           // "_skipLearn"
  void clear() {
    event_id.clear();
    timestamp.clear();
    actions.clear();
    probabilities.clear();
    pdrop = 0.f;
    skip_learn = false;
  }
};

// A cost label found in a line: on the top-level example (at = 0) or on action at - 1.
struct JsonCbLabel {
  size_t at = 0;
  CbCost cost;
};

// Where the examples of a line go, and which labels they take.
class JsonTarget {
 public:
  virtual ~JsonTarget() = default;
  // The line's top-level example (the shared context when _multi follows); called once, first.
  virtual Example& top() = 0;
  // A fresh example for the next object of _multi; nullptr: this model takes no _multi.
  virtual Example* action() = 0;
  virtual bool takes_actions() const = 0;  // whether action() gives examples
  // Example `at` (0: top(), k: the k-th action()) once the line is read.
  virtual Example& example(size_t at) = 0;
  // Labels are action:cost:probability (a bandit) rather than label [weight [initial]].
  virtual bool cb_labels() const = 0;
};

struct JsonParse {
  ParseStatus status = ParseStatus::kExample;  // kBlank: nothing to learn (a blank line; --dsjson:
                                               // _skipLearn, or a bandit event without "a")
  std::string error;
  bool multi = false;  // _multi was given
  size_t actions = 0;  // examples target.action() gave
  std::vector<JsonCbLabel> cb;
};

// Parses one line into target's examples. Simple labels (label, weight, initial) and _tag are set on
// the examples directly; cost labels are returned in out.cb for the caller's builder. ds (with
// --dsjson) receives the line's decision-service fields.
void parse_json(std::string_view line, JsonTarget& target, const JsonOptions& opt, JsonParse& out,
                DsInfo* ds = nullptr);

// One example of a plain (non-bandit) model. `ex` is cleared first; the constant feature is not
// added (Learner::prepare does). kBlank for a blank line (or a --dsjson line to skip).
ParseResult parse_json_example(std::string_view line, Example& ex, const JsonOptions& opt, DsInfo* ds = nullptr);

// One bandit event through the event builder (cb/event.h), as the text's lines go: the top level is
// the shared context and _multi the actions (--cb_adf, --cb_explore_adf), or the top level is the
// example (--cb K). Returns 1: an event (builder.end passed), 0: nothing to learn (blank, skipped),
// -1: refused (builder.error() says why, naming line `no`).
int parse_json_event(std::string_view line, uint64_t no, CbEventBuilder& builder, CbEvent& ev, bool fixed,
                     const JsonOptions& opt, DsInfo* ds = nullptr);

}  // namespace wabbit
