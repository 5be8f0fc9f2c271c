// The contextual-bandit event builder (cpp/cb/event.h), without Python: VW text lines to an event,
// and each refusal with its message (the one the CLI, Model.learn and off-policy evaluation give).
#define WABBIT_TEST_MAIN
#include <string>
#include <vector>

#include "cb/cb.h"
#include "cb/event.h"
#include "check.h"
#include "core/learner.h"

using namespace wabbit;

namespace {

// The event of `lines` (numbered from 1), or the builder's error.
struct Built {
  bool ok;
  std::string error;
};
Built build(CbEventBuilder& b, CbEvent& ev, const std::vector<std::string>& lines) {
  b.begin(ev);
  uint64_t no = 0;
  for (const std::string& line : lines) {
    ++no;
    if (line.find_first_not_of(" \t") == std::string::npos)
      b.blank_line(no);
    else
      b.line(ev, line, no);
  }
  const bool ok = b.end(ev);
  return {ok, b.error()};
}
bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(text_lines_to_an_event) {
  CbEventBuilder b;
  CbEvent ev;
  const Built r = build(b, ev, {"shared 'ctx|u age:2", "|a x", "1:0.5:0.25 |a y z", "|a w"});
  CHECK(r.ok);
  CHECK(ev.has_shared);
  CHECK_EQ(ev.n, size_t{3});
  CHECK_EQ(ev.label_index, 1);  // the labelled line's position among the actions (VW ignores "1")
  CHECK_EQ(ev.label.action, 1u);
  CHECK_EQ(ev.label.cost, 0.5f);
  CHECK_EQ(ev.label.probability, 0.25f);
  CHECK(ev.tag == "ctx");
  CHECK_EQ(ev.shared.groups['u'].value[0], 2.f);
  CHECK_EQ(ev.actions[1].groups['a'].size(), size_t{2});
  // the label word's place, for a reader that strips it (off-policy evaluation)
  const std::string line = "0:1:0.5 'tag |a y";
  CbLineLabel lab;
  Example ex;
  CHECK(parse_cb_line(line, ex, lab).status != ParseStatus::kError);
  CHECK(line.substr(lab.word_begin, lab.word_end - lab.word_begin) == "0:1:0.5");
}

TEST(an_event_without_label_is_an_event) {
  CbEventBuilder b;
  CbEvent ev;
  const Built r = build(b, ev, {"|a x", "|a y"});
  CHECK(r.ok);
  CHECK_EQ(ev.label_index, -1);
  CHECK(!ev.has_shared);
  CHECK_EQ(ev.n, size_t{2});
}

// Each malformation: refused, the line named, the reason and the offending text given.
TEST(each_error_names_the_line_and_what_was_wrong) {
  struct Bad {
    std::vector<std::string> lines;
    const char* want;
  };
  const std::vector<Bad> bad = {
      {{"shared |u a", "0:1:1.5 |a x"}, "line 2: probability 1.5 in \"0:1:1.5\" is outside (0, 1]"},
      {{"0:1:0 |a x"}, "line 1: probability 0 in \"0:1:0\" is outside (0, 1]"},
      {{"|a x", "0:1:0.5 |a y", "1:0:0.5 |a z"},
       "line 3: a second labelled action in one event (the first is action 1)"},
      {{"0:one:0.5 |a x"}, "line 1: bad cost \"one\" in \"0:one:0.5\": not a finite number"},
      {{"0:1:abc |a x"}, "line 1: bad probability \"abc\" in \"0:1:abc\": not a number"},
      {{"0:1 |a x"}, "line 1: cost without a probability in \"0:1\": expected action:cost:probability"},
      {{"x:1:0.5 |a x"}, "line 1: bad action \"x\" in \"x:1:0.5\": not a non-negative integer"},
      {{"shared 0:1:0.5 |u a", "|a x"}, "line 1: a shared line carries no cost: \"0:1:0.5\""},
      {{"|a x", "shared |u a"}, "line 2: a shared line must come first in its event, once"},
      {{"shared |u a"}, "line 1: an event needs at least one action (a shared line alone is not an event)"},
      {{"|a x", "  ", "|a y"}, "line 2: blank line inside an event"},
      {{"0:1e38:1e-5 |a x"}, "at probability 0.000010: the importance-weighted cost is not a finite number"},
  };
  for (const Bad& c : bad) {
    CbEventBuilder b;
    CbEvent ev;
    const Built r = build(b, ev, c.lines);
    CHECK(!r.ok);
    if (!has(r.error, c.want)) std::fprintf(stderr, "got: %s\nwant: %s\n", r.error.c_str(), c.want);
    CHECK(has(r.error, c.want));
  }
}

// A refused line stops the event there: later lines are not read, the first error stays.
TEST(the_first_error_of_an_event_is_kept) {
  CbEventBuilder b;
  CbEvent ev;
  const Built r = build(b, ev, {"0:1:2 |a x", "shared |u a", "|a y"});
  CHECK(!r.ok);
  CHECK(has(r.error, "line 1: probability 2"));
  // the next event starts clean
  const Built ok = build(b, ev, {"|a x"});
  CHECK(ok.ok);
  CHECK(ok.error.empty());
}

TEST(a_label_given_apart_from_the_text) {
  CbEventBuilder b;
  CbEvent ev;
  b.begin(ev);
  CHECK(b.line(ev, "|a x", 1));
  CHECK(b.line(ev, "|a y", 2));
  CHECK(!b.set_label(ev, 2, 1.f, 0.5f));
  CHECK(has(b.error(), "label action index 2 is not an action of this event (it has 2)"));
  b.begin(ev);
  b.line(ev, "|a x", 1);
  CHECK(!b.set_label(ev, 0, 1.f, 1.5f));
  CHECK(has(b.error(), "outside (0, 1]"));
  b.begin(ev);
  b.line(ev, "0:1:0.5 |a x", 1);
  CHECK(!b.set_label(ev, 0, 1.f, 0.5f));
  CHECK(has(b.error(), "already has a labelled action"));
  b.begin(ev);
  b.line(ev, "|a x", 1);
  CHECK(b.set_label(ev, 0, 2.f, 0.5f));
  CHECK(b.end(ev));
  CHECK_EQ(ev.label_index, 0);
  CHECK_EQ(ev.label.cost, 2.f);
}

// --cb K: one line, K actions; the label's action is 1..K (stored 0-based).
TEST(fixed_actions_line) {
  Learner base{Config{}};
  CbConfig cfg;
  cfg.num_actions = 3;
  CbLearner cb(base, cfg);
  CbEventBuilder b(&cb);
  CbEvent ev;
  CHECK(b.fixed_line(ev, "2:1:0.5 |f a b", 7));
  CHECK_EQ(ev.n, size_t{3});
  CHECK_EQ(ev.label_index, 1);
  CHECK(!b.fixed_line(ev, "4:1:0.5 |f a", 8));
  CHECK(has(b.error(), "line 8: action 4 is not one of the actions 1..3"));
  CHECK(!b.fixed_line(ev, "shared |f a", 9));
  CHECK(has(b.error(), "line 9: \"shared\" has no meaning with --cb K"));
}
