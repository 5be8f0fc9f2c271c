// The CSR run loop: pre-hashed rows (run_csr, see driver.h) learned or predicted one row ahead,
// on one thread or on Hogwild workers (run/hogwild.h) taking blocks of rows.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <string>

#include "core/hot_rows.h"
#include "run/driver.h"
#include "run/hogwild.h"
#include "run/lines.h"
#include "run/run_steps.h"

namespace wabbit {
namespace {

using run_detail::kMaxKeptWarnings;
using run_detail::merge_stats;
using run_detail::shadow_and_signals;
constexpr size_t kCheckRows = 4096;  // rows between interrupt checks

// Fills ex with CSR row r; returns an error message for a row that cannot be learned.
std::string csr_row(const CsrInput& in, size_t r, Example& ex) {
  ex.clear();
  const int64_t b = in.indptr[r];
  const int64_t e = in.indptr[r + 1];
  if (b < 0 || e < b || e > in.indptr[in.rows]) return "row offsets out of order";
  for (int64_t k = b; k < e; ++k) {
    const float v = in.values[k];
    if (!std::isfinite(v)) return "feature " + std::to_string(in.indices[k]) + " has a non-finite value";
    if (v != 0.f) ex.add(' ', in.indices[k], v);
  }
  if (in.labels != nullptr) {
    const float y = in.labels[r];
    if (std::isinf(y)) return "label is infinite";
    ex.label = std::isnan(y) ? kNoLabel : y;
  }
  if (in.weights != nullptr) {
    const float w = in.weights[r];
    if (!(w >= 0.f) || !std::isfinite(w)) return "importance weight must be a finite number >= 0";
    ex.weight = w;
  }
  return {};
}

// Whether row r is well formed (the fast path's check; csr_row says what is wrong).
inline bool csr_row_ok(const CsrInput& in, size_t r) {
  const int64_t b = in.indptr[r];
  const int64_t e = in.indptr[r + 1];
  if (b < 0 || e < b || e > in.indptr[in.rows]) return false;
  for (int64_t k = b; k < e; ++k) {
    if (!std::isfinite(in.values[k])) return false;
  }
  return true;
}

// What a CSR run reuses from row to row: the row being filled and the one in flight, with their
// mapped weight rows (see Runner::line: the same one-ahead scheme).
struct CsrScratch {
  Example ex[2];
  MappedRows rows[2];
};

// A run over rows [begin, end) on one learner (a worker's or the model's own).
void csr_block(Learner& learner, Stats& stats, const CsrInput& in, const RunOptions& opt, size_t begin, size_t end,
               CsrScratch& scratch, RunResult& res, HotRows* hot = nullptr) {
  Example& ex = scratch.ex[0];
  if (!opt.learn && !opt.account && opt.signals == nullptr && opt.every == 0 && learner.sparse_predict_ok()) {
    // Pure predictions: straight from the arrays, the next row's weights prefetched meanwhile.
    const WeightTable& W = learner.weights();
    for (size_t r = begin; r < end; ++r) {
      if (r + 1 < end) {
        const int64_t nb = std::max<int64_t>(in.indptr[r + 1], 0);
        const int64_t ne = std::min(in.indptr[r + 2], in.indptr[in.rows]);
        for (int64_t k = nb; k < ne; ++k) __builtin_prefetch(W.row(in.indices[k]), 0, 1);
      }
      if (!csr_row_ok(in, r)) {
        const std::string msg = "row " + std::to_string(r) + ": " + csr_row(in, r, ex);
        if (opt.strict) throw StrictParseError(msg);
        ++res.bad_lines;
        if (res.warnings.size() < kMaxKeptWarnings) res.warnings.push_back(msg);
        if (in.predictions != nullptr) in.predictions[r] = std::numeric_limits<float>::quiet_NaN();
        continue;
      }
      const int64_t b = in.indptr[r];
      const float out =
          learner.predict_sparse(in.indices + b, in.values + b, static_cast<size_t>(in.indptr[r + 1] - b));
      if (in.predictions != nullptr) in.predictions[r] = out;
      ++res.examples;
    }
    res.lines += end - begin;
    return;
  }
  // Learning (or accounting): one row in flight, its weight rows found and prefetched while the
  // row before it is learned.
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
    if (in.predictions != nullptr) in.predictions[r] = o.output;
    ++res.examples;
    if (opt.every != 0 && res.examples % opt.every == 0 && opt.hook) opt.hook(res.examples);
  };
  unsigned slot = 0;
  for (size_t r = begin; r < end; ++r) {
    Example& e = scratch.ex[slot];
    const std::string err = csr_row(in, r, e);
    if (!err.empty()) {
      settle();  // the rows before a bad one are learned first (strict stops after them)
      const std::string msg = "row " + std::to_string(r) + ": " + err;
      if (opt.strict) throw StrictParseError(msg);
      ++res.bad_lines;
      ++stats.bad_lines;
      if (res.warnings.size() < kMaxKeptWarnings) res.warnings.push_back(msg);
      if (in.predictions != nullptr) in.predictions[r] = std::numeric_limits<float>::quiet_NaN();
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

}  // namespace

RunResult run_csr(Learner& learner, Stats& model_stats, const CsrInput& in, const RunOptions& opt) {
  if (in.rows > 0 && in.indptr[0] != 0) throw std::invalid_argument("CSR row offsets must start at 0");
  Stats unused;  // pure predictions keep no statistics (and may run while another call learns)
  Stats& stats = opt.learn || opt.account ? model_stats : unused;
  run_detail::begin_run(stats);
  RunResult result;
  if (opt.threads <= 1 || parallel_blocker(learner, opt) != nullptr || in.rows < 2 * 4096) {
    CsrScratch scratch;
    for (size_t b = 0; b < in.rows; b += kCheckRows) {  // (the same updates as one call over all rows)
      if (interrupted(opt.interrupt)) {
        result.interrupted = opt.interrupt->load(std::memory_order_relaxed);
        break;
      }
      csr_block(learner, stats, in, opt, b, std::min(b + kCheckRows, in.rows), scratch, result);
    }
    return result;
  }
  constexpr size_t kRows = 4096;
  const unsigned n = opt.threads;
  hogwild::check_thread_count(n);
  std::vector<uint32_t> hot;
  if (opt.learn) {
    hot = hogwild::find_hot_rows(learner, std::min(in.rows, hogwild::kHotSampleLines),
                                 [&](size_t r, Example& ex) { return csr_row(in, r, ex).empty(); });
  }
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
    CsrScratch scratch;
    try {
      for (;;) {
        if (interrupted(opt.interrupt)) break;
        const size_t b = next.fetch_add(kRows, std::memory_order_relaxed);
        if (b >= in.rows || stop.load(std::memory_order_relaxed)) break;
        csr_block(w, local, in, opt, b, std::min(b + kRows, in.rows), scratch, part, workers.hot(i));
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

}  // namespace wabbit
