// Hogwild (Recht et al. 2011): several threads learn into one weight table without locks. This
// file holds the machinery every parallel run shares: starting the threads together (or none),
// the workers' learners (copies sharing the model's weights, folded back after the run), the hot
// rows each worker keeps privately, and the cutting of a text input into blocks of whole lines.
// The run loops themselves (text and CSR) are in run/driver.cc. See README "Threads".
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/hot_rows.h"
#include "core/learner.h"
#include "run/driver.h"

namespace wabbit::hogwild {

// Holds a run's extra threads until all of them have started, so that a run whose threads cannot
// all be created leaves the model untouched: the ones started are let go without working, and
// joined.
class StartGate {
 public:
  bool wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return state_ != 0; });
    return state_ == 1;
  }
  void open(bool go) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      state_ = go ? 1 : 2;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int state_ = 0;  // 0: waiting, 1: go, 2: abandoned
};

// Runs work(0) on the caller's thread and work(1..n-1) on new threads, all starting together;
// work must not throw. If a thread cannot be created (a system limit, memory), the threads already
// started are joined without having worked and the error says what happened.
template <class Work>
void run_on_threads(unsigned n, Work&& work) {
  StartGate gate;
  std::vector<std::thread> threads;
  auto body = [&](unsigned i) {
    if (gate.wait()) work(i);
  };
  try {
    threads.reserve(n - 1);
    for (unsigned i = 1; i < n; ++i) threads.emplace_back(body, i);
  } catch (const std::exception& e) {
    const size_t started = threads.size();
    gate.open(false);
    for (std::thread& t : threads) t.join();
    throw std::runtime_error("cannot start thread " + std::to_string(started + 2) + " of " + std::to_string(n) + " (" +
                             e.what() +
                             "): the system refused it (a limit on threads, processes or memory); "
                             "nothing was learned; use fewer threads");
  }
  gate.open(true);
  work(0);
  for (std::thread& t : threads) t.join();
}

// Refuses more than kMaxThreads threads.
void check_thread_count(unsigned n);

// Hogwild's hot rows (hot_rows.h): found in the first kHotSampleLines examples as the rows at least
// kHotShare of them touch; folded every kFirstFold examples at first (weights move fastest early),
// the period doubling at each fold up to kFoldPeriod. 5%, not less: a row goes private only if it
// is written often enough to bounce between cores. At 1%, all rows of a wide stream (200 features
// over 8,000 ids, each on 2.5% of lines) went private: learning them in copies folded every 512
// examples cost +3.8% loss, and the redirect, hot or not at random per feature, mispredicted
// (2 threads 0.47 s against 0.37 s at 5%). The click log's rows on 3-4% of lines stay shared
// (its 2-thread run: 0.29 s at 1%, 0.30 s at 5%).
constexpr size_t kHotSampleLines = 4096;
constexpr double kHotShare = 0.05;
constexpr size_t kMaxHotRows = 4096;
constexpr size_t kMaxHotSampleBytes = size_t{8} << 20;
constexpr uint32_t kFoldPeriod = 512;
constexpr uint32_t kFirstFold = 8;

// Counts how many of the examples in `sample` (VW text, or CSR rows through `fill`) touch each row,
// and returns the rows touched by at least kHotShare of them, most used first.
template <class Fill>
std::vector<uint32_t> find_hot_rows(const Learner& learner, size_t examples, Fill&& fill) {
  constexpr size_t kSlots = size_t{1} << 16;
  std::vector<uint32_t> keys(kSlots, 0u), counts(kSlots, 0u);
  size_t used = 0;
  const uint32_t mask = learner.weights().mask();
  Example ex;
  size_t seen = 0;
  for (size_t e = 0; e < examples; ++e) {
    if (!fill(e, ex)) continue;
    ++seen;
    learner.prepare(ex);
    for_each_feature(ex, learner.interactions(), learner.config().permutations, &learner.config().ignore_linear,
                     [&](float, uint32_t i) {
                       const uint32_t r = (i & mask) + 1u;
                       size_t h = (r * 0x9E3779B1u) >> 16;
                       while (keys[h] != 0u && keys[h] != r) h = (h + 1) & (kSlots - 1);
                       if (keys[h] == 0u) {
                         if (used >= kSlots / 2) return;  // full: the rows seen so far are enough
                         keys[h] = r;
                         ++used;
                       }
                       ++counts[h];
                     });
  }
  const uint32_t threshold = std::max<uint32_t>(8u, static_cast<uint32_t>(kHotShare * static_cast<double>(seen)));
  std::vector<std::pair<uint32_t, uint32_t>> hot;
  for (size_t h = 0; h < kSlots; ++h) {
    if (keys[h] != 0u && counts[h] >= threshold) hot.emplace_back(counts[h], keys[h] - 1u);
  }
  std::sort(hot.begin(), hot.end(), std::greater<>());
  if (hot.size() > kMaxHotRows) hot.resize(kMaxHotRows);
  std::vector<uint32_t> rows;
  for (const auto& [c, r] : hot) rows.push_back(r);
  return rows;
}

// find_hot_rows over the lines of a text sample (VW text).
std::vector<uint32_t> find_hot_rows_text(const Learner& learner, std::string_view sample);

constexpr size_t kFirstBlock = 16u << 10;        // small first blocks: early progress rows, quick start
constexpr size_t kMaxBlock = size_t{256} << 10;  // a block stays in a core's L2 while it is parsed

// The number of '\n' in text (vectorised).
size_t count_newlines(std::string_view text);

struct Block {
  std::string_view text;
  uint64_t seq = 0;
  uint64_t first_line = 0;
};

// Cuts a buffer or a file descriptor into blocks of whole lines; thread-safe. Counts lines as it
// goes so that each block knows the number of its first line (error messages stay exact).
class BlockSource {
 public:
  BlockSource(std::string_view buffer, uint64_t first_line, const std::atomic<int>* interrupt)
      : buf_(buffer), line_(first_line), interrupt_(interrupt) {}
  BlockSource(int fd, uint64_t first_line, std::string_view head, const std::atomic<int>* interrupt)
      : fd_(fd), carry_(head), line_(first_line), interrupt_(interrupt) {}

  // The first `bytes` of the input (fewer if it is shorter), without consuming them; valid until
  // the first next(). Read before the workers start.
  std::string_view peek(size_t bytes);

  // The next block (its text lives in `storage` for an fd source); false at the end.
  bool next(std::string& storage, Block& b);

 private:
  // Reads until `storage` holds at least `want` bytes ending in a newline (or the input ends);
  // the partial line after the last newline waits in carry_ for the next block.
  // Once interrupted (stopped_), reads no more: the whole lines already read are handed out, then
  // the partial line after them is dropped.
  bool fill(std::string& storage, size_t want);

  std::mutex mu_;
  std::string_view buf_;
  size_t pos_ = 0;
  int fd_ = -1;
  std::string carry_;
  bool eof_ = false;
  bool stopped_ = false;  // interrupted: no more reads
  uint64_t seq_ = 0;
  uint64_t line_;
  const std::atomic<int>* interrupt_;
  size_t size_ = kFirstBlock;
};

// The learners of a Hogwild run: for learning, one copy per thread sharing the model's weights
// (their online states are folded back by absorb()); for pure predictions, the model itself
// (predict_const changes nothing, so it needs no copy, which would read a state another call may be
// writing).
class Workers {
 public:
  // hot: the rows each learning copy keeps privately (hot_rows.h), if the update rule allows.
  Workers(Learner& model, unsigned n, const RunOptions& opt, const std::vector<uint32_t>& hot) : model_(model) {
    if (!opt.learn && !opt.account) return;
    start_ = model.state();
    int max_slot = -1, skip_slot = -1;
    const bool fold = opt.learn && !hot.empty() && foldable_rows(model.config(), max_slot, skip_slot);
    for (unsigned i = 0; i < n; ++i) {
      copies_.push_back(std::make_unique<Learner>(model, Learner::ShareWeights{}));
      hots_.push_back(fold ? std::make_unique<HotRows>(hot, model.weights(), max_slot, skip_slot) : nullptr);
      copies_.back()->set_hot_rows(hots_.back().get());
    }
  }
  Learner& operator[](unsigned i) { return copies_.empty() ? model_ : *copies_[i]; }
  HotRows* hot(unsigned i) { return hots_.empty() ? nullptr : hots_[i].get(); }
  bool learning() const { return !copies_.empty(); }
  // After the threads have joined: the hot rows' last changes, then the online states.
  void absorb() {
    for (const auto& h : hots_) {
      if (h) h->fold(true);
    }
    for (const auto& w : copies_) model_.absorb(*w, start_);
  }

 private:
  Learner& model_;
  OnlineState start_;
  std::vector<std::unique_ptr<Learner>> copies_;
  std::vector<std::unique_ptr<HotRows>> hots_;
};

// The start of the input that find_hot_rows_text samples (see hogwild.cc).
std::string_view hot_sample(BlockSource& source);

// The learners of n Hogwild workers, or a clear error when memory runs out for them.
std::unique_ptr<Workers> make_workers(Learner& learner, unsigned n, const RunOptions& opt,
                                      const std::vector<uint32_t>& hot);

}  // namespace wabbit::hogwild
