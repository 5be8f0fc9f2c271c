#include "serve/session.h"

#include <chrono>
#include <cstring>

#include "run/lines.h"

namespace wabbit::serve {

bool Session::too_long(std::string& out) {
  engine_.metrics().lines_too_long.fetch_add(1, std::memory_order_relaxed);
  out += "error: line " + std::to_string(line_no_) + " is longer than " + std::to_string(max_) +
         " bytes (--max_line_bytes): closing the connection\n";
  if (engine_.is_cb() && !engine_.fixed_cb()) out.push_back('\n');
  partial_.clear();
  event_.clear();
  closed_ = true;
  return false;
}

namespace {
using Clock = std::chrono::steady_clock;
}

// Every request of one feed is answered when the feed ends (the server writes the replies then),
// so each one's latency is the feed's duration: one clock read at each end, one tally per feed.
bool Session::feed(Engine::Context& ctx, std::string_view data, std::string& out) {
  if (closed_) return false;
  const auto t0 = Clock::now();
  const bool open = feed_lines(ctx, data, out);
  if (!tally_.empty()) tally_.flush(engine_.metrics(), std::chrono::duration<double>(Clock::now() - t0).count());
  return open;
}

bool Session::feed_lines(Engine::Context& ctx, std::string_view data, std::string& out) {
  while (!data.empty()) {
    const void* nl = std::memchr(data.data(), '\n', data.size());
    if (nl == nullptr) {
      if (partial_.size() + data.size() > max_) return too_long(out);
      partial_.append(data);
      return true;
    }
    const size_t len = static_cast<size_t>(static_cast<const char*>(nl) - data.data());
    if (partial_.empty()) {
      if (len > max_) return too_long(out);
      line(ctx, data.substr(0, len), out);
    } else {
      if (partial_.size() + len > max_) return too_long(out);
      partial_.append(data.substr(0, len));
      const std::string text = std::move(partial_);
      partial_.clear();
      line(ctx, text, out);
    }
    if (closed_) return false;
    data.remove_prefix(len + 1);
  }
  return true;
}

void Session::line(Engine::Context& ctx, std::string_view text, std::string& out) {
  text = clean_line(text, first_);
  const uint64_t no = line_no_++;
  if (!engine_.is_cb() || engine_.fixed_cb()) {
    engine_.line(ctx, text, no, out, tally_);
    return;
  }
  bool blank = true;
  for (char c : text) {
    if (c != ' ' && c != '\t') {
      blank = false;
      break;
    }
  }
  if (blank) {
    end_event(ctx, out);
    return;
  }
  if (engine_.json()) {  // --json, --dsjson: a line is a whole event
    engine_.event(ctx, text, no, out, tally_);
    return;
  }
  std::string path;
  if (event_.empty() && engine_.save_request(text, path)) {
    engine_.line(ctx, text, no, out, tally_);  // answers the save (a line and a blank line)
    return;
  }
  if (event_.size() + text.size() + 1 > max_) {
    too_long(out);
    return;
  }
  if (event_.empty()) event_first_ = no;
  event_.append(text);
  event_.push_back('\n');
}

void Session::end_event(Engine::Context& ctx, std::string& out) {
  if (event_.empty()) return;
  engine_.event(ctx, event_, event_first_, out, tally_);
  event_.clear();
}

void Session::finish(Engine::Context& ctx, std::string& out) {
  if (closed_) return;
  if (partial_.empty()) {
    const auto t0 = Clock::now();
    end_event(ctx, out);
    if (!tally_.empty()) tally_.flush(engine_.metrics(), std::chrono::duration<double>(Clock::now() - t0).count());
  } else {  // cut off mid-line: neither the line nor the event it belongs to is used
    partial_.clear();
    event_.clear();
  }
  closed_ = true;
}

}  // namespace wabbit::serve
