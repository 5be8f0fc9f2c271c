// The daemon's prediction log: each served prediction of a tagged, unlabelled example as one JSON
// line {"id", "features", "prediction", "time"} (the format of wabbit.join.PredictionRecord), so
// that labels arriving later can be joined to what was predicted (issue 17's loop). The worker
// threads push lines into a bounded queue; a writer (Python: a file or a Kafka topic) takes them.
// A full queue drops the line and counts it: serving never waits for the log.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "formats/utf8.h"

namespace wabbit::serve {

class PredictionLog {
 public:
  explicit PredictionLog(size_t capacity) : capacity_(capacity) {}

  bool enabled() const { return capacity_ > 0; }

  // Logs one prediction; false (counted as skipped) when the text is not valid UTF-8 (JSON cannot
  // carry it as it is) or the queue is full (counted as dropped).
  void record(std::string_view id, std::string_view features, float prediction, double time) {
    if (!valid_utf8(id) || !valid_utf8(features)) {
      skipped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    std::string line;
    line.reserve(features.size() + id.size() + 64);
    line += "{\"id\":";
    quote(line, id);
    line += ",\"features\":";
    quote(line, features);
    char num[64];
    std::snprintf(num, sizeof num, ",\"prediction\":%.9g,\"time\":%.6f}", static_cast<double>(prediction), time);
    line += num;
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= capacity_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(std::move(line));
    logged_.fetch_add(1, std::memory_order_relaxed);
  }

  // Up to `max` lines, oldest first (without their newlines).
  std::vector<std::string> take(size_t max) {
    std::vector<std::string> out;
    std::lock_guard<std::mutex> lock(mu_);
    while (!queue_.empty() && out.size() < max) {
      out.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    return out;
  }

  uint64_t logged() const { return logged_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t skipped() const { return skipped_.load(std::memory_order_relaxed); }

 private:
  // s as a JSON string (valid UTF-8 already): quotes, backslashes and control characters escaped.
  static void quote(std::string& out, std::string_view s) {
    out.push_back('"');
    for (char c : s) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(c);
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char esc[8];
        std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
        out += esc;
      } else {
        out.push_back(c);
      }
    }
    out.push_back('"');
  }

  size_t capacity_;
  std::mutex mu_;
  std::deque<std::string> queue_;
  std::atomic<uint64_t> logged_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> skipped_{0};
};

}  // namespace wabbit::serve
