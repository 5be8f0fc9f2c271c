// Vowpal Wabbit's text format -> Example, without allocation in the steady state.
//
//   label [importance [base]] ['tag]|ns[:scale] feature[:value] ... |ns2 ...
//
// Follows VW 9.x: the label section is split on spaces (a tab drops everything before it); its last
// token is the tag when it starts with ' or touches the first '|'; "| f" is the unnamed namespace;
// a value of 0 drops the feature; the namespace scale multiplies the values; "name:text" is a
// feature whose index chains the hash of text onto the hash of name; ":value" alone is an anonymous
// feature. Where VW would warn and guess (a label that is not a number, a value followed by junk,
// NaN), we refuse the line instead and say why, so nothing ill-formed or non-finite can reach the
// weights. One exception, as VW: NUL bytes right after a value (a file padded with NULs) keep the
// value, end the line, and warn (ParseResult::stray_nul).
#pragma once

#include <string>
#include <string_view>

#include "core/example.h"

namespace wabbit {

enum class ParseStatus { kExample, kBlank, kError };

struct ParseResult {
  ParseStatus status = ParseStatus::kExample;
  std::string error;  // set when status == kError: what was wrong, with the offending text
  // Where a NUL byte follows a feature's value (a file padded with NULs): as VW, the value is kept
  // and the rest of the line ignored, with a warning (stray_nul_warning). npos: none.
  size_t stray_nul = std::string_view::npos;
};

// VW's two warning lines for a stray NUL at `at` in `line` (ParseResult::stray_nul), each with
// VW's "[warning] " and a newline: "malformed example! '|',space, or EOL expected after : ..."
// naming the 0-based example number VW counts (one per line read).
std::string stray_nul_warning(std::string_view line, size_t at, uint64_t example_index);
// The same in wabbit's words (Python's warnings): what was kept and what was ignored.
std::string stray_nul_note(std::string_view line, size_t at);

// Parses one line (without its trailing newline). `ex` is cleared first. The constant feature is
// not added here (see Learner::prepare). With `names`, each feature also gets its audit name
// (VW's "namespace^feature[^text]"), for --audit, --invert_hash and explain().
// Plain lines (one label token, no namespace scale, no string values, numbers of at most 7 digits)
// take a fast path; everything else, and every error, the general reader.
ParseResult parse_vw_line(std::string_view line, Example& ex, bool names = false);

// The fast path alone: false (and `ex` unspecified) for any line it does not read.
bool parse_vw_line_fast(std::string_view line, Example& ex);

// The general reader alone (the tests compare it with parse_vw_line on random lines).
ParseResult parse_vw_line_general(std::string_view line, Example& ex, bool names = false);

// s as valid UTF-8 for messages: invalid bytes and control characters (NUL, tab, CR, ...) are
// written as \xNN; text longer than max_bytes is cut on a character boundary and ends in "...".
std::string printable(std::string_view s, size_t max_bytes = std::string_view::npos);

// VW's number reader: the fast decimal path of VW's parser, then strtof for anything else.
// Returns the value; `consumed` is how many bytes were read (0: not a number).
float parse_vw_float(const char* p, const char* end, size_t& consumed);

}  // namespace wabbit
