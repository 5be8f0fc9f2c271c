// The CSR run loop: pre-hashed rows (run_csr, see driver.h) through the loop every run over rows
// shares (run/row_loop.h: one row ahead, on one thread or on Hogwild workers taking blocks of
// rows), with a faster path of its own for pure predictions.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "core/hot_rows.h"
#include "run/driver.h"
#include "run/row_loop.h"

namespace wabbit {
namespace {

using run_detail::kMaxKeptWarnings;

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

// A run over rows [begin, end) on one learner (a worker's or the model's own).
void csr_block(Learner& learner, Stats& stats, const CsrInput& in, const RunOptions& opt, size_t begin, size_t end,
               run_detail::RowScratch& scratch, RunResult& res, HotRows* hot) {
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
  // Learning (or accounting): the loop every run over rows shares (run/row_loop.h).
  run_detail::row_block(
      learner, stats, opt, begin, end, in.predictions, [&in](size_t r, Example& e) { return csr_row(in, r, e); },
      scratch, res, hot);
}

}  // namespace

RunResult run_csr(Learner& learner, Stats& stats, const CsrInput& in, const RunOptions& opt) {
  if (in.rows > 0 && in.indptr[0] != 0) throw std::invalid_argument("CSR row offsets must start at 0");
  auto block = [&](Learner& l, Stats& s, size_t begin, size_t end, run_detail::RowScratch& scratch, RunResult& res,
                   HotRows* hot) { csr_block(l, s, in, opt, begin, end, scratch, res, hot); };
  return run_detail::run_rows(learner, stats, in.rows, opt, block,
                              [&](size_t r, Example& ex) { return csr_row(in, r, ex).empty(); });
}

}  // namespace wabbit
