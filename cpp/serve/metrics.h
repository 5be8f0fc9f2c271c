// What the serving engine counts, for an operator's dashboard (GET /metrics renders it): requests
// by kind and outcome, latency histograms, examples learned, the progressive loss (all of it and a
// recent window, watched by ADWIN for drift alarms), connections, bytes, versions. Counters are
// relaxed atomics bumped by the worker threads; the loss window takes a small lock per learned
// example only.
#pragma once

#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <vector>

#include "drift/adwin.h"

namespace wabbit::serve {

enum class Kind { kPredict, kLearn, kSave, kRank };
inline constexpr size_t kKinds = 4;

// Bucket upper bounds in seconds (the last bucket, +Inf, is implied): 10 us to 2.5 s.
inline constexpr std::array<double, 16> kLatencyBounds = {1e-5, 2.5e-5, 5e-5,   1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3,
                                                          5e-3, 1e-2,   2.5e-2, 5e-2, 0.1,    0.25, 1.0,  2.5};

class LatencyHistogram {
 public:
  // n requests that each took `seconds`.
  void record(double seconds, uint64_t n = 1) {
    if (n == 0) return;
    size_t b = 0;
    while (b < kLatencyBounds.size() && seconds > kLatencyBounds[b]) ++b;
    counts_[b].fetch_add(n, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<uint64_t>(seconds * 1e9) * n, std::memory_order_relaxed);
  }
  std::vector<uint64_t> counts() const {
    std::vector<uint64_t> v;
    for (const auto& c : counts_) v.push_back(c.load(std::memory_order_relaxed));
    return v;
  }
  double sum_seconds() const { return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) * 1e-9; }

 private:
  std::array<std::atomic<uint64_t>, kLatencyBounds.size() + 1> counts_{};
  std::atomic<uint64_t> sum_ns_{0};
};

// The learned examples' losses: in total, over the last `window` of them, and through ADWIN (an
// alarm when the recent mean departs from the older one).
class LossWatch {
 public:
  explicit LossWatch(size_t window) : ring_(window == 0 ? 1 : window), adwin_(drift::Adwin::Params{}) {}
  void add(double loss) {
    std::lock_guard<std::mutex> lock(mu_);
    add_locked(loss);
  }
  void add_many(const std::vector<float>& losses) {
    if (losses.empty()) return;
    std::lock_guard<std::mutex> lock(mu_);
    for (float l : losses) add_locked(l);
  }
  struct Snapshot {
    double total = 0.;
    uint64_t count = 0;
    double window_mean = std::numeric_limits<double>::quiet_NaN();
    uint64_t window_count = 0;
    uint64_t alarms = 0;
  };
  Snapshot snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    Snapshot s;
    s.total = total_;
    s.count = count_;
    s.window_count = filled_;
    if (filled_ > 0) s.window_mean = window_sum_ / static_cast<double>(filled_);
    s.alarms = alarms_;
    return s;
  }

 private:
  void add_locked(double loss) {
    total_ += loss;
    ++count_;
    double& slot = ring_[next_];
    if (filled_ == ring_.size()) window_sum_ -= slot;
    slot = loss;
    window_sum_ += loss;
    next_ = (next_ + 1) % ring_.size();
    if (filled_ < ring_.size()) ++filled_;
    if (adwin_.update(loss)) ++alarms_;
  }

  mutable std::mutex mu_;
  std::vector<double> ring_;
  size_t next_ = 0;
  size_t filled_ = 0;
  double window_sum_ = 0.;
  double total_ = 0.;
  uint64_t count_ = 0;
  uint64_t alarms_ = 0;
  drift::Adwin adwin_;
};

struct Metrics {
  explicit Metrics(size_t loss_window) : loss(loss_window) {}

  void count(Kind k, bool ok) { add(k, ok, 1); }
  void add(Kind k, bool ok, uint64_t n) {
    (ok ? ok_ : error_)[static_cast<size_t>(k)].fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t ok(Kind k) const { return ok_[static_cast<size_t>(k)].load(std::memory_order_relaxed); }
  uint64_t errors(Kind k) const { return error_[static_cast<size_t>(k)].load(std::memory_order_relaxed); }

  LatencyHistogram predict_latency;
  LatencyHistogram learn_latency;
  LossWatch loss;
  std::atomic<uint64_t> examples_learned{0};
  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> connections_open{0};
  std::atomic<uint64_t> connections_total{0};
  std::atomic<uint64_t> lines_too_long{0};
  std::atomic<uint64_t> publishes{0};
  std::atomic<uint64_t> swaps{0};
  // Canary (Engine::set_candidate): requests answered by the candidate, and both models' losses
  // on the same labelled requests (paired).
  std::atomic<uint64_t> canary_requests{0};
  LossWatch canary_champion{1000};
  LossWatch canary_candidate{1000};

 private:
  std::array<std::atomic<uint64_t>, kKinds> ok_{};
  std::array<std::atomic<uint64_t>, kKinds> error_{};
};

// What one batch of requests did (a session's feed, a learner thread's batch), added to Metrics
// at once: the shared counters take one atomic add per batch, not per request.
struct Tally {
  std::array<uint64_t, kKinds> ok{};
  std::array<uint64_t, kKinds> error{};
  uint64_t learned = 0;
  std::vector<float> losses;                             // of the examples learned
  uint64_t canary = 0;                                   // requests the candidate answered
  std::vector<float> canary_champion, canary_candidate;  // both losses on one labelled request
  void count(Kind k, bool good) { ++(good ? ok : error)[static_cast<size_t>(k)]; }
  void learned_one(float loss) {
    ++learned;
    losses.push_back(loss);
  }
  void paired(float champion, float candidate) {
    canary_champion.push_back(champion);
    canary_candidate.push_back(candidate);
  }
  bool empty() const {
    for (size_t k = 0; k < kKinds; ++k)
      if (ok[k] != 0 || error[k] != 0) return false;
    return learned == 0 && canary == 0 && canary_champion.empty();
  }
  // Adds to m, each request answered without error having taken `seconds` (predict and rank
  // requests to the predict histogram, learn requests to the learn one), and clears.
  void flush(Metrics& m, double seconds) {
    for (size_t k = 0; k < kKinds; ++k) {
      if (ok[k] != 0) m.add(static_cast<Kind>(k), true, ok[k]);
      if (error[k] != 0) m.add(static_cast<Kind>(k), false, error[k]);
    }
    const auto n = [&](Kind k) { return ok[static_cast<size_t>(k)]; };  // answered without error
    m.predict_latency.record(seconds, n(Kind::kPredict) + n(Kind::kRank));
    m.learn_latency.record(seconds, n(Kind::kLearn));
    if (learned != 0) m.examples_learned.fetch_add(learned, std::memory_order_relaxed);
    m.loss.add_many(losses);
    if (canary != 0) m.canary_requests.fetch_add(canary, std::memory_order_relaxed);
    m.canary_champion.add_many(canary_champion);
    m.canary_candidate.add_many(canary_candidate);
    canary = 0;
    canary_champion.clear();
    canary_candidate.clear();
    ok.fill(0);
    error.fill(0);
    learned = 0;
    losses.clear();  // (keeps its capacity)
  }
};

}  // namespace wabbit::serve
