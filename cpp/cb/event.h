// A contextual-bandit event and the one builder that assembles it, from VW text (the CLI's
// multiline files, a Python list of lines, an off-policy log) or from examples the bindings
// converted from dicts. Every rule of the format and every error message lives here, so the
// CLI, Model.learn and off-policy evaluation refuse the same event with the same words.
//
// The format (VW's multiline "ADF"): an optional `shared [tag]|...` line first, then one line per
// action; the chosen action's line carries the label `action:cost:probability` (at most one per
// event; VW ignores the action number in ADF: the action is the line's position). With --cb K an
// event is one line whose label's action is 1..K. Messages name the line: "line N: why".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/example.h"
#include "formats/vw_text.h"

namespace wabbit {

class CbLearner;

struct CbCost {
  uint32_t action = 0;  // the action's index in its event (ADF) or its number (--cb K)
  float cost = kNoLabel;
  float probability = 0.f;
};

// What one line's label section says.
struct CbLineLabel {
  bool shared = false;
  bool labelled = false;
  CbCost cost;  // the observed cost: the first action:cost:probability
  // how many action:cost[:probability] words the line has (--cb K lines may list several; VW
  // learns the observed one and ignores the others; an ADF line has at most one)
  uint32_t costs = 0;
  // the label word's place in the line, [word_begin, word_end) (when labelled)
  size_t word_begin = 0;
  size_t word_end = 0;
};

// Parses one line of a cb event: `shared [tag]|...`, `action:cost:probability |...`, `action |...`
// or `|...`. A cost needs a finite number and a probability in (0, 1].
ParseResult parse_cb_line(std::string_view line, Example& ex, CbLineLabel& label, bool names = false);

struct CbEvent {
  Example shared;
  bool has_shared = false;
  std::vector<Example> actions;  // actions[0, n) are in use; the storage is reused
  size_t n = 0;
  int label_index = -1;  // the labelled action, or -1
  CbCost label;
  std::string tag;

  Example& add_action() {
    if (actions.size() == n) actions.emplace_back();
    return actions[n++];
  }
  void clear() {
    has_shared = false;
    shared.clear();
    n = 0;
    label_index = -1;
    label = CbCost{};
    tag.clear();
  }
};

// Exchanges two examples touching only their used namespace slots (std::swap would move all 256).
void swap_examples(Example& a, Example& b);

// The refusal of an event without actions (also for a ranking request without candidates).
inline constexpr const char* kNoActionMessage =
    "an event needs at least one action (a shared line alone is not an event)";

// Why a complete event cannot be learned, or "": no action, or an importance-weighted cost that
// is not finite (clip_p: the learner's --clip_p floor of the probability).
std::string check_cb_event(const CbEvent& ev, float clip_p);

// Assembles events line by line (or from converted examples). A refused line or event leaves
// error() set ("line N: why"); the event's later lines are then ignored until end().
class CbEventBuilder {
 public:
  // cb prepares each example (drops ignored namespaces, spreads indices) and knows --cb K and
  // --clip_p; nullptr: parse only (an off-policy log: ADF events, unprepared examples).
  explicit CbEventBuilder(const CbLearner* cb = nullptr) : cb_(cb) {}
  void use(const CbLearner* cb) { cb_ = cb; }  // (a reused builder, another learner)

  // Starts a new event in ev (cleared).
  void begin(CbEvent& ev);
  // The same for an event given as one line (JSON), numbered `no` in messages.
  void begin(CbEvent& ev, uint64_t no) {
    begin(ev);
    first_line_ = no;
  }
  // A non-blank line of an ADF event, numbered `no`. False if refused (now or earlier in the event).
  bool line(CbEvent& ev, std::string_view text, uint64_t no, bool names = false);
  // A blank line where one cannot end the event (inside a list of lines).
  bool blank_line(uint64_t no);
  // --cb K: one line is the whole event (expanded to K actions). Calls begin and end itself.
  bool fixed_line(CbEvent& ev, std::string_view text, uint64_t no, bool names = false);
  // --cb K: an example read elsewhere (a JSON line) and its label: the whole event, as fixed_line.
  bool fixed_example(CbEvent& ev, Example& ex, const CbLineLabel& label, uint64_t no);
  // Refuses the event for a reason found outside the builder (a JSON line's syntax): "line no: why".
  bool refuse(uint64_t no, const std::string& why) { return fail(no, why); }
  // Dict events: the caller converts the shared example / an action into these, then calls added().
  Example& shared_example(CbEvent& ev);
  Example& action_example(CbEvent& ev) { return ev.add_action(); }
  void added(Example& ex) const;
  // A label given apart from the text: (action index, cost, probability).
  bool set_label(CbEvent& ev, long long index, float cost, float probability);
  // The event is complete: the event-level checks, named by its first line. False if refused.
  bool end(const CbEvent& ev);

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  // The label section of the last line given to line() (for a reader that strips labels).
  const CbLineLabel& last_label() const { return last_; }

 private:
  bool fail(uint64_t no, const std::string& why);

  const CbLearner* cb_;
  std::string error_;
  uint64_t first_line_ = 0;  // 0: no line (a dict event)
  CbLineLabel last_;
  Example scratch_;
};

}  // namespace wabbit
