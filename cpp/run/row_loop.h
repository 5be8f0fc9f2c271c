// The loop every run over rows held in arrays shares (CSR rows in run/csr.cc, data frames in
// run/frame.cc): rows learned or predicted one ahead (the next row's weight rows mapped and
// prefetched while the one before is learned), VW's statistics, the monitor's signals and the
// challenger, refused rows named by number, interrupt checks every kCheckRows rows, and Hogwild
// workers taking blocks of rows. Internal to cpp/run/.
#pragma once

#include <algorithm>
#include <atomic>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/hot_rows.h"
#include "run/driver.h"
#include "run/hogwild.h"
#include "run/lines.h"
#include "run/run_steps.h"

namespace wabbit::run_detail {

constexpr size_t kCheckRows = 4096;  // rows between interrupt checks, and a Hogwild worker's block

// What a run reuses from row to row: the row being filled and the one in flight, with their mapped
// weight rows.
struct RowScratch {
  Example ex[2];
  MappedRows rows[2];
};

// Rows [begin, end) through one learner (a worker's or the model's own). fill(r, ex) fills ex with
// row r and returns why the row cannot be learned ("" when it can); row r's output goes to
// predictions[r] (NaN for a refused row) when predictions is not null.
template <class Fill>
void row_block(Learner& learner, Stats& stats, const RunOptions& opt, size_t begin, size_t end, float* predictions,
               Fill&& fill, RowScratch& scratch, RunResult& res, HotRows* hot = nullptr) {
  const bool mapping = opt.learn;
  size_t pending = end;  // the row in flight (end: none), in scratch slot pending_slot
  unsigned pending_slot = 0;
  auto settle = [&]() {
    if (pending == end) return;
    const size_t r = pending;
    Example& e = scratch.ex[pending_slot];
    pending = end;
    if (opt.learn || opt.account) learner.observe_namespaces(e);
    Outcome o;
    if (opt.learn || opt.account)
      o = process_example(learner, stats, e, opt.learn, &scratch.rows[pending_slot]);
    else
      o.output = learner.predict_const(e);
    if (o.skipped != nullptr) [[unlikely]] {
      const std::string msg = "row " + std::to_string(r) + ": " + o.skipped;
      if (opt.strict) throw StrictParseError(msg);
      ++res.bad_lines;
      if (res.warnings.size() < kMaxKeptWarnings) res.warnings.push_back(msg);
    }
    if (hot != nullptr && (res.examples % hogwild::kFoldPeriod == 0 ||
                           (res.examples < 8 * hogwild::kFoldPeriod && res.examples % hogwild::kFirstFold == 0))) {
      hot->fold();  // often while the weights move fastest, then every kFoldPeriod
    }
    if (opt.shadow != nullptr || opt.signals != nullptr) shadow_and_signals(opt, e, o);  // (out of line: skip the call)
    if (predictions != nullptr) predictions[r] = o.output;
    ++res.examples;
    if (opt.every != 0 && res.examples % opt.every == 0 && opt.hook) opt.hook(res.examples);
  };
  unsigned slot = 0;
  for (size_t r = begin; r < end; ++r) {
    Example& e = scratch.ex[slot];
    const std::string err = fill(r, e);
    if (!err.empty()) [[unlikely]] {
      settle();  // the rows before a bad one are learned first (strict stops after them)
      const std::string msg = "row " + std::to_string(r) + ": " + err;
      if (opt.strict) throw StrictParseError(msg);
      ++res.bad_lines;
      ++stats.bad_lines;
      if (res.warnings.size() < kMaxKeptWarnings) res.warnings.push_back(msg);
      if (predictions != nullptr) predictions[r] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    learner.prepare(e);
    if (mapping)
      learner.map_rows(e, scratch.rows[slot]);
    else
      learner.prefetch_rows(e);
    settle();
    pending = r;
    pending_slot = slot;
    slot ^= 1u;
  }
  settle();
  res.lines += end - begin;
}

// All `rows` through the learner: on this thread in blocks of kCheckRows (interrupt checks between
// them), or on opt.threads Hogwild workers taking such blocks. block(learner, stats, begin, end,
// scratch, result, hot) runs one block (row_block, or a caller's faster path around it);
// sample(r, ex) fills row r for finding the hot rows (true if it can be learned).
template <class Block, class Sample>
RunResult run_rows(Learner& learner, Stats& model_stats, size_t rows, const RunOptions& opt, Block&& block,
                   Sample&& sample) {
  Stats unused;  // pure predictions keep no statistics (and may run while another call learns)
  Stats& stats = opt.learn || opt.account ? model_stats : unused;
  begin_run(stats);
  RunResult result;
  if (opt.threads <= 1 || parallel_blocker(learner, opt) != nullptr || rows < 2 * kCheckRows) {
    RowScratch scratch;
    for (size_t b = 0; b < rows; b += kCheckRows) {  // (the same updates as one call over all rows)
      if (interrupted(opt.interrupt)) {
        result.interrupted = opt.interrupt->load(std::memory_order_relaxed);
        break;
      }
      block(learner, stats, b, std::min(b + kCheckRows, rows), scratch, result, static_cast<HotRows*>(nullptr));
    }
    return result;
  }
  const unsigned n = opt.threads;
  hogwild::check_thread_count(n);
  std::vector<uint32_t> hot;
  if (opt.learn) hot = hogwild::find_hot_rows(learner, std::min(rows, hogwild::kHotSampleLines), sample);
  const std::unique_ptr<hogwild::Workers> workers_owner = hogwild::make_workers(learner, n, opt, hot);
  hogwild::Workers& workers = *workers_owner;
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::exception_ptr error;
  auto work = [&](unsigned i) {
    Learner& w = workers[i];
    Stats local;
    RunResult part;
    RowScratch scratch;
    try {
      for (;;) {
        if (interrupted(opt.interrupt)) break;
        const size_t b = next.fetch_add(kCheckRows, std::memory_order_relaxed);
        if (b >= rows || stop.load(std::memory_order_relaxed)) break;
        block(w, local, b, std::min(b + kCheckRows, rows), scratch, part, workers.hot(i));
      }
    } catch (...) {
      stop.store(true, std::memory_order_relaxed);
      std::lock_guard<std::mutex> lock(mu);
      if (!error) error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu);
    merge_stats(stats, local);
    result.lines += part.lines;
    result.examples += part.examples;
    result.bad_lines += part.bad_lines;
    for (std::string& m : part.warnings) {
      if (result.warnings.size() < kMaxKeptWarnings) result.warnings.push_back(std::move(m));
    }
  };
  hogwild::run_on_threads(n, work);
  workers.absorb();
  if (error) std::rethrow_exception(error);
  if (interrupted(opt.interrupt)) result.interrupted = opt.interrupt->load(std::memory_order_relaxed);
  return result;
}

}  // namespace wabbit::run_detail
