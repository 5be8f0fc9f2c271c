// Where text becomes lines: newline splitting in place (no copy per line) over a buffer or a file
// descriptor read in large blocks, and a line's cleaning as VW reads it (a UTF-8 byte-order mark
// at the start of the input and a Windows '\r' line end are not part of the line). Used by the
// linear driver and the contextual-bandit run loop alike.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstring>
#include <functional>
#include <string_view>

namespace wabbit {

// Whether the run's interrupt flag (RunOptions::interrupt, set by a signal handler) is set.
inline bool interrupted(const std::atomic<int>* flag) {
  return flag != nullptr && flag->load(std::memory_order_relaxed) != 0;
}

// Strips what is not part of a line: the byte-order mark of the input's first line (`first_line`
// says whether this is it, and is cleared) and a trailing '\r'.
inline std::string_view clean_line(std::string_view text, bool& first_line) {
  if (first_line) {
    first_line = false;
    if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);
  }
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  return text;
}

// Calls f(line) for each newline-separated line of text (the last one may lack its newline).
template <class F>
void for_each_line(std::string_view text, F&& f) {
  size_t pos = 0;
  while (pos < text.size()) {
    const void* nl = std::memchr(text.data() + pos, '\n', text.size() - pos);
    const size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - text.data()) : text.size();
    f(text.substr(pos, end - pos));
    pos = end + 1;
  }
}

// Reads fd to EOF in large blocks and calls f(line) for each line, in place (no copy per line);
// `head` (bytes already taken from fd) comes first. With `interrupt`, stops (returning false) once
// it is set, also while waiting for input.
bool for_each_fd_line(int fd, const std::function<void(std::string_view)>& f, std::string_view head = {},
                      const std::atomic<int>* interrupt = nullptr);

// for_each_line, checking `interrupt` every 256 KiB of text (a piece of whole lines); false if it
// stopped there.
template <class F>
bool for_each_line_checked(std::string_view text, F&& f, const std::atomic<int>* interrupt) {
  constexpr size_t kPiece = size_t{256} << 10;
  if (interrupt == nullptr) {
    for_each_line(text, f);
    return true;
  }
  size_t pos = 0;
  while (pos < text.size()) {
    if (interrupt->load(std::memory_order_relaxed) != 0) return false;
    size_t end = text.size();
    if (text.size() - pos > kPiece) {
      const void* nl = std::memchr(text.data() + pos + kPiece, '\n', text.size() - pos - kPiece);
      if (nl != nullptr) end = static_cast<size_t>(static_cast<const char*>(nl) - text.data()) + 1;
    }
    for_each_line(text.substr(pos, end - pos), f);
    pos = end;
  }
  return true;
}

// read(2) that retries EINTR; with `interrupt`, waits for input in short poll(2) slices and returns
// -1 once it is set (a signal delivered to another thread does not interrupt read itself). 0: EOF.
ssize_t read_input(int fd, char* p, size_t n, const std::atomic<int>* interrupt);

}  // namespace wabbit
