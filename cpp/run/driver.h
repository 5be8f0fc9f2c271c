// The driver: streams VW text through the learner. Reads a file descriptor or a memory buffer in
// large blocks, splits lines in place, parses each into one reused Example, learns or predicts,
// keeps VW's running statistics, prints VW's progress table and writes -p predictions.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/learner.h"
#include "formats/vw_json.h"  // InputFormat, JsonOptions
#include "run/audit.h"
#include "run/lines.h"     // for_each_line, for_each_fd_line, read_input, clean_line
#include "run/progress.h"  // progress_header, progress_row, format_prediction

namespace wabbit {

// VW's running statistics (its shared_data counters), reported in the progress table and summary.
struct Stats {
  double sum_loss = 0.;
  double sum_loss_since_last_dump = 0.;
  double weighted_labeled_examples = 0.;
  double weighted_unlabeled_examples = 0.;
  double weighted_labels = 0.;
  double old_weighted_labeled_examples = 0.;
  uint64_t example_number = 0;
  uint64_t total_features = 0;
  double dump_interval = 1.;
  // best-constant tracking (VW's count_label)
  float first_observed_label = FLT_MAX;
  float second_observed_label = FLT_MAX;
  bool more_than_two_labels = false;
  // lines refused by the parser
  uint64_t bad_lines = 0;
  // Several passes (run_fd with RunOptions::passes): VW's holdout counters. Held-out examples
  // are predicted, not learned, and counted here instead of in the sums above.
  bool holdout_on = false;    // from the second pass on, progress rows show the holdout loss ('h')
  uint64_t current_pass = 0;  // passes finished
  double weighted_holdout_examples = 0.;
  double holdout_sum_loss = 0.;
  double weighted_holdout_since_dump = 0.;
  double holdout_loss_since_dump = 0.;
  double weighted_holdout_since_pass = 0.;
  double holdout_loss_since_pass = 0.;
  float holdout_best_loss = FLT_MAX;  // of a pass (VW keeps it as a float)
  uint64_t holdout_best_pass = 0;

  double weighted_examples() const { return weighted_labeled_examples + weighted_unlabeled_examples; }
};

// Per-example signals collected for monitors (see RunOptions::signals).
struct Signals {
  std::vector<float> label;
  std::vector<float> prediction;
  std::vector<float> loss;
  std::vector<float> shadow_prediction;  // the shadow (challenger) on the same examples, if any
  std::vector<float> shadow_loss;
  void clear() {
    label.clear();
    prediction.clear();
    loss.clear();
    shadow_prediction.clear();
    shadow_loss.clear();
  }
};

// Several passes over one input (--passes), VW's holdout and the cache the later passes read
// (formats/cache.h). Passes after the first need a cache: the text is read once.
struct PassOptions {
  uint64_t passes = 1;
  bool holdout = false;          // hold out examples (VW: on with --passes > 1 unless --holdout_off)
  uint64_t holdout_period = 10;  // every period-th example of a pass is held out...
  uint64_t holdout_after = 0;    // ...or, if > 0, every example after this many in a pass
  uint64_t early_terminate = 3;  // stop after this many passes without a better holdout loss
  float decay = 1.f;             // --decay_learning_rate: the rate's factor after each pass
  std::string cache_read;        // a cache (already check()ed) that every pass reads
  std::string cache_write;       // a cache written during the first (text) pass, read by the others
  std::string source_path;       // the data file the written cache comes from ("": standard input)
  bool active() const { return passes > 1 || holdout || !cache_read.empty() || !cache_write.empty(); }
};

struct RunOptions {
  bool learn = true;            // false: test only (-t)
  bool print_progress = false;  // VW's progress table on stderr
  bool progress_add = false;    // -P integer: additive; float: multiplicative
  double progress_arg = 2.;
  bool strict = false;                      // stop at the first malformed line
  InputFormat format = InputFormat::kText;  // --json, --dsjson: each line is a JSON example (or event)
  bool chain_hash = false;                  // --chain_hash (JSON string values)
  bool print_warnings = false;              // name each malformed line on stderr as it is met
  int predictions_fd = -1;                  // -p: where VW-format predictions go
  bool collect = false;                     // keep one prediction per example (NaN for a refused line)
  bool account = true;                      // false (with learn=false): pure predictions; no clock, no statistics
  uint64_t first_line_number = 1;
  // Called after every `every` examples of this run with the count so far (e.g. to snapshot the
  // model for a background writer). The learner waits only for the hook itself.
  uint64_t every = 0;
  std::function<void(uint64_t)> hook;
  // Monitoring: each learned example's (label, reported prediction, loss per unit weight) is
  // appended here, for drift detectors fed in batches through `hook`.
  Signals* signals = nullptr;
  // A second learner (a challenger) that learns every example after the first one.
  Learner* shadow = nullptr;
  int audit_fd = -1;         // --audit: VW's per-example feature audit goes here
  NameMap* names = nullptr;  // --invert_hash: record each row's first feature name
  // --oaa/--csoaa with --audit: VW's "[info] label K found ..." line goes among the audit lines,
  // at the example that set the classes' indexing (not with --quiet)
  bool audit_notices = false;
  // Hogwild: this many threads (the caller's included) each take blocks of lines, parse and learn
  // them into the one weight table. 1 is the exact sequential run. See parallel_blocker().
  unsigned threads = 1;
  // run_fd: bytes already read from the fd (a peek at its start, e.g. for the gzip magic), read
  // as if they came first from it.
  std::string head;
  // Set asynchronously (by a signal handler) to a signal number: the run stops at the next block
  // boundary, or while it waits for input, with every example before learned and reported; its
  // result says so (RunResult::interrupted). Checked about every 256 KiB of text or 4096 rows.
  const std::atomic<int>* interrupt = nullptr;
  PassOptions passes;  // run_fd only
};

// At most this many threads in one run (a clear error beyond; more threads than cores already
// learn a worse model, see README "Threads").
constexpr unsigned kMaxThreads = 1024;

struct RunResult {
  uint64_t lines = 0;
  uint64_t examples = 0;
  uint64_t bad_lines = 0;
  std::vector<std::string> warnings;  // the first few malformed-line messages
  std::vector<std::string> notes;     // the first few lines read with a warning (a NUL after a value)
  std::vector<float> predictions;     // when collect
  int interrupted = 0;                // the signal that stopped the run early (0: it read to the end)
  int predictions_error = 0;          // errno of the first failed -p write: predictions stopped there,
  int audit_error = 0;                // learning went on (likewise --audit)
  uint64_t passes = 0;                // passes completed (run_fd with RunOptions::passes)
  bool early_terminated = false;      // stopped by --early_terminate: the learner is the best pass's
};

// One output of a run (-p, --audit): a failed write stops that output only (the run goes on) and
// is remembered; the first failure is named on stderr when `warn` (not EPIPE: a reader such as
// `head` that has seen enough is no error).
struct OutputStream {
  int fd = -1;
  const char* what = "predictions";
  bool warn = false;
  int error = 0;  // errno of the first failed write
  // Writes buf (retrying short writes) unless this output already failed; clears buf either way.
  void write(std::string& buf);
};

struct StrictParseError : std::runtime_error {
  explicit StrictParseError(const std::string& m) : std::runtime_error(m), message(m) {}
  std::string message;  // what() in full: the line's text in it may hold a NUL
};

// Why a run cannot use several threads (nullptr if it can): per-example hooks, monitors, a
// challenger, audit or name recording need the examples in order on one thread, and VW's lazy
// L1/L2 regularisation keeps global scalars that one writer must own.
const char* parallel_blocker(const Learner& learner, const RunOptions& opt);

// Why passes 2..N of a run must read the cache file each time (nullptr if they may keep the first
// pass's examples in memory, on a compact row space: see run/pass_store.h). The numbers are the
// same either way.
const char* memory_passes_blocker(const Learner& learner, const RunOptions& opt);

// Runs over a file descriptor until EOF; with opt.passes active, VW's passes: the first reads the
// text (writing the cache) or the cache, the others the cache; examples are held out as VW holds
// them out; at the end of each pass the learner's end_pass(), the holdout loss compared with the
// best pass's, and early termination, which leaves the learner as it was after the best pass (the
// model VW's -f keeps).
RunResult run_fd(Learner& learner, Stats& stats, int fd, const RunOptions& opt);
// Runs over a memory buffer of newline-separated lines.
RunResult run_buffer(Learner& learner, Stats& stats, std::string_view buffer, const RunOptions& opt);

// Pre-hashed rows in compressed sparse row form (borrowed, not copied): row r's features are
// indices[indptr[r] .. indptr[r+1]) with their values, all in VW's default namespace (' ').
struct CsrInput {
  const uint32_t* indices = nullptr;
  const float* values = nullptr;
  const int64_t* indptr = nullptr;  // rows + 1 offsets
  size_t rows = 0;
  const float* labels = nullptr;   // optional: per-row labels (NaN: unlabelled)
  const float* weights = nullptr;  // optional: per-row importance weights
  float* predictions = nullptr;    // optional: one output per row (NaN for a refused row)
};

// Learns from (or predicts) every row; with opt.threads > 1, blocks of rows go to Hogwild workers
// and each prediction lands in its row's slot. Refused rows (non-finite value or label, negative
// weight, offsets out of order) are named by row number (0-based) like malformed lines.
RunResult run_csr(Learner& learner, Stats& stats, const CsrInput& in, const RunOptions& opt);

// One example through the learner, with the statistics VW keeps. Returns the prediction.
Outcome process_example(Learner& learner, Stats& stats, Example& ex, bool learn, MappedRows* rows = nullptr);

}  // namespace wabbit
