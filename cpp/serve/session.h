// One connection's side of VW's line protocol, apart from the socket: bytes in, replies out.
// Lines are cut at '\n' (a '\r' before it and a byte-order mark at the start are not part of the
// line); a single-line model answers each line, a bandit model each event (lines up to a blank
// line). Replies come back in request order. A line (or an event) longer than the limit gets one
// "error" reply and ends the connection; bytes after the last newline when the peer closes are a
// cut-off line, and are dropped unread (nothing is learned from half a line).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "serve/engine.h"

namespace wabbit::serve {

class Session {
 public:
  Session(Engine& engine, size_t max_line_bytes) : engine_(engine), max_(max_line_bytes) {}

  // Takes received bytes; appends the replies of every complete request to out. False once the
  // connection must end (a line over the limit): out then ends with the error reply, and later
  // bytes are ignored.
  bool feed(Engine::Context& ctx, std::string_view data, std::string& out);
  // The peer closed its side. An event whose blank line did not come is answered (VW answers the
  // last event at the end of its input), unless the input stopped mid-line: then the partial line
  // and its event are dropped.
  void finish(Engine::Context& ctx, std::string& out);
  // Bytes held for an incomplete line or event.
  size_t pending() const { return partial_.size() + event_.size(); }
  bool closed() const { return closed_; }

 private:
  bool feed_lines(Engine::Context& ctx, std::string_view data, std::string& out);
  void line(Engine::Context& ctx, std::string_view text, std::string& out);
  void end_event(Engine::Context& ctx, std::string& out);
  bool too_long(std::string& out);

  Engine& engine_;
  size_t max_;
  std::string partial_;  // the start of a line whose newline has not arrived
  std::string event_;    // a bandit event's lines so far, each with its '\n'
  uint64_t event_first_ = 0;
  uint64_t line_no_ = 1;
  bool first_ = true;  // the next line is the connection's first (may start with a byte-order mark)
  bool closed_ = false;
  Tally tally_;  // what the current feed answered (added to the engine's metrics when it ends)
};

}  // namespace wabbit::serve
