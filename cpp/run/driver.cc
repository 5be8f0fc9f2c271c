// The text run loop: lines (run/lines.h) parsed into examples one ahead of the one being learned,
// VW's statistics and progress rows, -p and --audit outputs; on one thread, or on Hogwild workers
// (run/hogwild.h) taking blocks of lines. The CSR loop is in run/csr.cc.
#include "run/driver.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "core/hot_rows.h"
#include "formats/cache.h"
#include "formats/model_io.h"
#include "formats/vw_text.h"
#include "run/hogwild.h"
#include "run/lines.h"
#include "run/pass_store.h"
#include "run/progress.h"
#include "run/run_steps.h"

namespace wabbit {
namespace {

using hogwild::BlockSource;
using hogwild::check_thread_count;
using hogwild::kFirstFold;
using hogwild::kFoldPeriod;
using hogwild::run_on_threads;
using hogwild::Workers;
using run_detail::begin_run;
using run_detail::count_label;
using run_detail::kMaxKeptWarnings;
using run_detail::merge_stats;
using run_detail::PassStore;
using run_detail::shadow_and_signals;

// What a progress row needs of one example, kept by Hogwild workers so that the coordinator can
// print rows at VW's counts (1, 2, 4, ...) while it merges blocks in input order.
struct ProgressMark {
  float label;
  float output;
  float weight;
  float loss;
  uint32_t features;
};

// A held-out example (VW's test_only in a multi-pass run): predicted without learning or advancing
// the clock, its loss counted in the holdout sums (VW's shared_data::update).
Outcome holdout_example(Learner& learner, Stats& s, Example& ex) {
  const Outcome o = learner.predict(ex, false);
  count_label(s, ex.label);
  const double w = ex.weight;
  if (ex.labelled()) {
    s.weighted_holdout_examples += w;
    s.weighted_holdout_since_dump += w;
    s.weighted_holdout_since_pass += w;
    s.holdout_sum_loss += o.loss;
    s.holdout_loss_since_dump += o.loss;
    s.holdout_loss_since_pass += o.loss;
  } else {
    s.weighted_unlabeled_examples += w;
    s.sum_loss += o.loss;
    s.sum_loss_since_last_dump += o.loss;
    s.total_features += o.num_features;
    ++s.example_number;
  }
  return o;
}

// The line-by-line loop shared by the fd and buffer sources. A worker's Runner (Hogwild) keeps its
// predictions and statistics for the coordinator instead of writing or printing them.
class Runner {
 public:
  Runner(Learner& l, Stats& s, const RunOptions& o, bool worker = false)
      : learner_(&l), stats_(s), opt_(o), line_no_(o.first_line_number), worker_(worker) {
    if (opt_.print_progress && !worker_) std::fputs(progress_header().c_str(), stderr);
    pred_out_ = OutputStream{opt_.predictions_fd, "predictions (-p)", opt_.print_warnings};
    audit_out_ = OutputStream{opt_.audit_fd, "the audit (--audit)", opt_.print_warnings};
  }

  // A worker starts a block whose first line has number `line` (the input's first line: `first`).
  void begin_block(uint64_t line, bool first) {
    line_no_ = line;
    first_ = first;
  }
  // What the worker's last block produced (predictions text, collected predictions, counts).
  RunResult take_result(std::string& predictions_text, std::vector<ProgressMark>& marks) {
    flush();
    predictions_text.swap(pred_buf_);
    pred_buf_.clear();
    marks.swap(marks_);
    marks_.clear();
    RunResult r = std::move(result_);
    result_ = RunResult{};
    return r;
  }
  // A Hogwild worker with private hot rows folds them into the shared table every kFoldPeriod.
  void set_hot(HotRows* hot) { hot_ = hot; }
  float last_label() const { return last_label_; }
  float last_output() const { return last_output_; }
  uint32_t last_features() const { return last_features_; }

  void line(std::string_view text) {
    text = clean_line(text, first_);
    ++result_.lines;
    const bool names = opt_.audit_fd >= 0 || opt_.names != nullptr;
    Example& ex = ex_[next_];
    const ParseResult pr =
        opt_.format == InputFormat::kText
            ? parse_vw_line(text, ex, names)
            : parse_json_example(text, ex, JsonOptions{opt_.format == InputFormat::kDsJson, opt_.chain_hash, names});
    if (pr.status != ParseStatus::kExample) {  // VW counts it towards the holdout period
      ++in_pass_;
      if (writer_ != nullptr) writer_->append_placeholder();
      if (store_ != nullptr) store_->add_placeholder();
    }
    if (pr.status == ParseStatus::kBlank) {
      ++line_no_;
      return;
    }
    if (pr.stray_nul != std::string_view::npos) [[unlikely]]
      stray_nul(text, pr.stray_nul);
    if (pr.status == ParseStatus::kError) {
      flush();  // the example before this line is learned (and reported) first
      const std::string msg = "line " + std::to_string(line_no_) + ": " + pr.error;
      ++line_no_;
      if (opt_.strict) throw StrictParseError(msg);
      ++result_.bad_lines;
      ++stats_.bad_lines;
      if (opt_.print_warnings) std::fprintf(stderr, "wabbit: %s (line skipped)\n", msg.c_str());
      if (result_.warnings.size() < kMaxKeptWarnings) result_.warnings.push_back(msg);
      // The line keeps its place in the outputs: NaN, and "nan" in -p (one line per example line)
      if (opt_.collect) result_.predictions.push_back(std::numeric_limits<float>::quiet_NaN());
      if (opt_.predictions_fd >= 0) format_prediction(pred_buf_, std::numeric_limits<float>::quiet_NaN(), {});
      return;
    }
    if (writer_ != nullptr) writer_->append(ex);  // as parsed: prepare() is applied when it is read
    accept();
  }

  // Passes: the example slot a cache reader fills, then accept() takes it like a parsed line.
  Example& slot() { return ex_[next_]; }
  // `prepared`: the example comes from a PassStore (Learner::prepare was applied before it was kept).
  void accept(bool prepared = false) {
    Example& ex = ex_[next_];
    ex_line_[next_] = line_no_;
    ++line_no_;
    ex_holdout_[next_] = held_out(++in_pass_);
    if (!prepared) {
      if (store_ != nullptr && store_->over()) [[unlikely]]
        on_over_();  // too many rows for the compact row space: back to the model's table
      learner_->prepare(ex);
      if (store_ != nullptr) store_->add(ex);  // (the cache keeps the hashes: the writer has it already)
    }
    // One example in flight: this one's rows are found and prefetched while the previous one is
    // learned (learning then takes them from rows_ instead of walking the features again).
    if (opt_.learn && !ex_holdout_[next_])
      learner_->map_rows(ex, rows_[next_]);
    else
      learner_->prefetch_rows(ex);
    flush();
    pending_ = true;
    next_ ^= 1u;
  }
  // A cached line that gave no example: it counts towards the holdout period, as it did.
  void placeholder() {
    ++in_pass_;
    ++line_no_;
    if (store_ != nullptr) store_->add_placeholder();
  }
  // A new pass: line (or example) numbers and the holdout's count start again.
  // `store`: maps each example's features to rows (kept for the later passes while it keeps them).
  void begin_pass(cache::Writer* writer, PassStore* store = nullptr) {
    flush();
    writer_ = writer;
    store_ = store;
    line_no_ = opt_.first_line_number;
    in_pass_ = 0;
  }

  // Called (from accept()) when the store's compact row space holds too many rows.
  void set_on_over(std::function<void()> f) { on_over_ = std::move(f); }
  // The learner the next examples go to (the one in flight is learned first).
  void set_learner(Learner& l) {
    flush();
    learner_ = &l;
  }

  // Learns (or predicts) the example in flight and reports it.
  void flush() {
    if (!pending_) return;
    pending_ = false;
    Example& ex = ex_[next_ ^ 1u];
    // Pure predictions change nothing, not even ':' wildcards (a namespace first seen here has no
    // weights yet): they may run while another thread learns.
    if (opt_.learn || opt_.account) learner_->observe_namespaces(ex);
    std::string audit;
    if (opt_.audit_fd >= 0) {
      const Config& c = learner_->config();
      audit = audit_features(*learner_, ex, opt_.learn && c.adaptive && !ftrl_family(c));
    }
    if (opt_.names != nullptr) opt_.names->record(*learner_, ex);
    Outcome o;
    if (ex_holdout_[next_ ^ 1u]) [[unlikely]] {
      o = holdout_example(*learner_, stats_, ex);
    } else if (opt_.learn || opt_.account) {
      o = process_example(*learner_, stats_, ex, opt_.learn, &rows_[next_ ^ 1u]);
      if (o.skipped != nullptr) [[unlikely]]
        refused(ex_line_[next_ ^ 1u], o.skipped);
      if (hot_ != nullptr && ++since_fold_ == fold_period_) {
        hot_->fold();
        since_fold_ = 0;
        fold_period_ = std::min(fold_period_ * 2, kFoldPeriod);
      }
    } else {
      o.output = learner_->predict_const(ex);
    }
    if (opt_.shadow != nullptr || opt_.signals != nullptr) shadow_and_signals(opt_, ex, o);
    ++result_.examples;
    if (opt_.audit_fd >= 0) {
      format_prediction(audit_buf_, o.prediction, ex.tag);  // VW audits the score before --link
      audit_buf_ += audit;
      if (audit_buf_.size() > (1u << 16)) audit_out_.write(audit_buf_);
    }
    if (opt_.every != 0 && result_.examples % opt_.every == 0 && opt_.hook) opt_.hook(result_.examples);
    if (opt_.collect) result_.predictions.push_back(o.output);
    if (opt_.predictions_fd >= 0) {
      format_prediction(pred_buf_, o.output, ex.tag);
      if (!worker_ && pred_buf_.size() > (1u << 16)) pred_out_.write(pred_buf_);
    }
    if (worker_ && opt_.print_progress)
      marks_.push_back(ProgressMark{ex.label, o.output, ex.weight, o.loss, o.num_features});
    last_label_ = ex.label;
    last_output_ = o.output;
    last_features_ = o.num_features;
    if (opt_.print_progress && !worker_ && progress_due(stats_)) {
      std::fputs(progress_row(stats_, ex.label, o.output, o.num_features).c_str(), stderr);
      progress_printed(stats_, opt_.progress_add, opt_.progress_arg);
    }
  }

  // A line read as VW reads it, with VW's warning: on stdout as VW writes it (the command line,
  // unless --quiet), or kept for the caller (Python's warnings).
  void stray_nul(std::string_view text, size_t at) {
    if (opt_.print_warnings) {
      // the command line's --strict stops here, as VW's --strict_parse does (learn_many reads on)
      if (opt_.strict) {
        throw StrictParseError("line " + std::to_string(line_no_) + ": \"" +
                               printable(text.substr(0, std::min(at + 1, text.size())), 60) +
                               "\": a NUL byte after a feature's value (read with a warning without --strict)");
      }
      if (opt_.print_progress && !worker_) {
        const std::string w = stray_nul_warning(text, at, line_no_ - opt_.first_line_number);
        std::fwrite(w.data(), 1, w.size(), stdout);
        std::fflush(stdout);
      }
      return;
    }
    if (result_.notes.size() < kMaxKeptWarnings)
      result_.notes.push_back("line " + std::to_string(line_no_) + ": " + stray_nul_note(text, at));
  }

  // An example the learner refused (see Outcome::skipped): reported as a malformed line is.
  void refused(uint64_t line, const char* why) {
    const std::string msg = "line " + std::to_string(line) + ": " + why;
    if (opt_.strict) throw StrictParseError(msg);
    ++result_.bad_lines;
    if (opt_.print_warnings) std::fprintf(stderr, "wabbit: %s\n", msg.c_str());
    if (result_.warnings.size() < kMaxKeptWarnings) result_.warnings.push_back(msg);
  }

  RunResult finish() {
    flush();
    if (opt_.predictions_fd >= 0 && !pred_buf_.empty()) pred_out_.write(pred_buf_);
    if (opt_.audit_fd >= 0 && !audit_buf_.empty()) audit_out_.write(audit_buf_);
    result_.predictions_error = pred_out_.error;
    result_.audit_error = audit_out_.error;
    if (interrupted(opt_.interrupt)) result_.interrupted = opt_.interrupt->load(std::memory_order_relaxed);
    return std::move(result_);
  }

 private:
  // VW's is_test_only: the in-pass count of the example (from 1) decides whether it is held out.
  bool held_out(uint64_t count) const {
    const PassOptions& p = opt_.passes;
    if (!p.holdout) return false;
    if (p.holdout_after == 0) return count % p.holdout_period == 0;
    return count > p.holdout_after;
  }

  Learner* learner_;  // the model's learner, or the compact one of passes 2..N (see PassStore)
  Stats& stats_;
  const RunOptions& opt_;
  cache::Writer* writer_ = nullptr;  // the first pass writes the cache as it parses
  PassStore* store_ = nullptr;       // rows of the examples, kept in memory (see PassStore)
  std::function<void()> on_over_;
  uint64_t in_pass_ = 0;  // examples of this pass so far (VW's in_pass_counter)
  bool ex_holdout_[2] = {false, false};
  Example ex_[2];                 // the example being parsed and the one in flight (see line())
  MappedRows rows_[2];            // their rows, when learning (Learner::map_rows)
  uint64_t ex_line_[2] = {0, 0};  // their line numbers
  unsigned next_ = 0;             // ex_[next_] takes the next line
  bool pending_ = false;          // ex_[next_ ^ 1] is parsed, not yet learned
  RunResult result_;
  std::string pred_buf_;
  std::string audit_buf_;
  OutputStream pred_out_;
  OutputStream audit_out_;
  std::vector<ProgressMark> marks_;  // a worker's examples, for progress rows at VW's counts
  uint64_t line_no_;
  bool worker_;
  HotRows* hot_ = nullptr;
  uint32_t since_fold_ = 0;
  uint32_t fold_period_ = kFirstFold;
  bool first_ = true;
  float last_label_ = kNoLabel;
  float last_output_ = 0.f;
  uint32_t last_features_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Hogwild over text (run/hogwild.h): blocks of whole lines handed to worker threads, merged back
// in input order.

// The coordinator's side: merges each finished block into the run's statistics and result,
// prints progress rows, and writes -p predictions in input order (blocks finish out of order).
class Merger {
 public:
  Merger(Stats& stats, const RunOptions& opt) : stats_(stats), opt_(opt), shown_(stats) {
    if (opt_.print_progress) std::fputs(progress_header().c_str(), stderr);
    pred_out_ = OutputStream{opt_.predictions_fd, "predictions (-p)", opt_.print_warnings};
  }

  void block_done(uint64_t seq, Runner& r, Stats& local) {
    std::string text;
    std::vector<ProgressMark> marks;
    RunResult part = r.take_result(text, marks);
    std::lock_guard<std::mutex> lock(mu_);
    merge_stats(stats_, local);
    result_.lines += part.lines;
    result_.examples += part.examples;
    result_.bad_lines += part.bad_lines;
    for (std::string& w : part.warnings) {
      if (result_.warnings.size() < kMaxKeptWarnings) result_.warnings.push_back(std::move(w));
    }
    pending_.emplace(seq, Pending{std::move(text), std::move(part.predictions), std::move(marks)});
    while (!pending_.empty() && pending_.begin()->first == next_seq_) {
      Pending& p = pending_.begin()->second;
      if (opt_.predictions_fd >= 0 && !p.text.empty()) pred_out_.write(p.text);
      if (opt_.collect)
        result_.predictions.insert(result_.predictions.end(), p.predictions.begin(), p.predictions.end());
      for (const ProgressMark& m : p.marks) show(m);
      pending_.erase(pending_.begin());
      ++next_seq_;
    }
  }

  RunResult finish() {
    result_.predictions_error = pred_out_.error;
    if (opt_.print_progress) {  // the schedule goes on in the model's statistics
      stats_.dump_interval = shown_.dump_interval;
      stats_.sum_loss_since_last_dump = shown_.sum_loss_since_last_dump;
      stats_.old_weighted_labeled_examples = shown_.old_weighted_labeled_examples;
    }
    return std::move(result_);
  }

 private:
  struct Pending {
    std::string text;
    std::vector<float> predictions;
    std::vector<ProgressMark> marks;
  };
  // One example, in input order, into the counts the progress table shows: a row at each of VW's
  // counts. The counts are exact; the losses are those of examples learned concurrently.
  void show(const ProgressMark& m) {
    Stats& s = shown_;
    if (m.label != kNoLabel)
      s.weighted_labeled_examples += m.weight;
    else
      s.weighted_unlabeled_examples += m.weight;
    s.sum_loss += m.loss;
    s.sum_loss_since_last_dump += m.loss;
    ++s.example_number;
    if (progress_due(s)) {
      std::fputs(progress_row(s, m.label, m.output, m.features).c_str(), stderr);
      progress_printed(s, opt_.progress_add, opt_.progress_arg);
    }
  }
  std::mutex mu_;
  Stats& stats_;
  const RunOptions& opt_;
  RunResult result_;
  Stats shown_;  // the counts of the examples merged in input order (progress rows)
  OutputStream pred_out_;
  std::map<uint64_t, Pending> pending_;
  uint64_t next_seq_ = 0;
};

RunResult run_parallel(Learner& learner, Stats& stats, BlockSource& source, const RunOptions& opt) {
  const unsigned n = opt.threads;
  check_thread_count(n);
  std::vector<uint32_t> hot;
  if (opt.learn) hot = hogwild::find_hot_rows_text(learner, hogwild::hot_sample(source));
  const std::unique_ptr<Workers> workers_owner = hogwild::make_workers(learner, n, opt, hot);
  Workers& workers = *workers_owner;
  Merger merger(stats, opt);
  std::atomic<bool> stop{false};
  std::mutex error_mu;
  std::exception_ptr error;

  auto work = [&](unsigned i) {
    try {
      Learner& w = workers[i];
      Stats local;
      Runner r(w, local, opt, true);
      r.set_hot(workers.hot(i));
      std::string storage;
      hogwild::Block b;
      while (!stop.load(std::memory_order_relaxed) && source.next(storage, b)) {
        r.begin_block(b.first_line, b.seq == 0);
        for_each_line(b.text, [&](std::string_view line) { r.line(line); });
        merger.block_done(b.seq, r, local);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
      stop.store(true, std::memory_order_relaxed);
    }
  };
  run_on_threads(n, work);
  workers.absorb();
  if (error) std::rethrow_exception(error);
  RunResult result = merger.finish();
  if (interrupted(opt.interrupt)) result.interrupted = opt.interrupt->load(std::memory_order_relaxed);
  return result;
}

// VW's summarize_holdout_set at the end of a pass: whether this pass's holdout loss is the best
// so far; counts the passes without a win.
bool summarize_holdout(Stats& s, uint64_t& no_win) {
  const float loss = s.weighted_holdout_since_pass > 0.
                         ? static_cast<float>(s.holdout_loss_since_pass / s.weighted_holdout_since_pass)
                         : FLT_MAX * 0.5f;
  s.weighted_holdout_since_pass = 0.;
  s.holdout_loss_since_pass = 0.;
  if (loss < s.holdout_best_loss) {
    s.holdout_best_loss = loss;
    s.holdout_best_pass = s.current_pass;
    no_win = 0;
    return true;
  }
  if (loss != FLT_MAX || std::isfinite(s.holdout_best_loss)) ++no_win;
  return false;
}

// The learner after the best pass, kept while --early_terminate may still end the run: its
// non-zero rows (a pass over a large table touches few of them) and its other state.
// `used`: the rows that may hold anything (the compact table's first rows; all by default).
class BestPass {
 public:
  void take(const Learner& l, uint64_t used = UINT64_MAX) {
    const WeightTable& w = l.weights();
    const size_t stride = w.stride();
    const float* d = w.data();
    rows_.clear();
    values_.clear();
    used_ = std::min(used, w.rows());
    for (uint64_t r = 0; r < used_; ++r) {
      const float* row = d + r * stride;
      if (nonzero(row, stride)) {
        rows_.push_back(r);
        values_.insert(values_.end(), row, row + stride);
      }
    }
    state_ = l.pass_state();
    taken_ = true;
  }
  bool taken() const { return taken_; }
  void drop() { taken_ = false; }
  void restore(Learner& l) const {
    WeightTable& w = l.weights();
    const size_t stride = w.stride();
    float* d = w.data();
    for (uint64_t r = 0; r < used_; ++r) {
      float* row = d + r * stride;
      if (nonzero(row, stride)) std::fill(row, row + stride, 0.f);
    }
    for (size_t k = 0; k < rows_.size(); ++k) std::copy_n(&values_[k * stride], stride, d + rows_[k] * stride);
    l.restore_pass_state(state_);
  }

 private:
  static bool nonzero(const float* row, size_t stride) {
    uint32_t any = 0;
    for (size_t k = 0; k < stride; ++k) {
      uint32_t bits;
      std::memcpy(&bits, row + k, 4);
      any |= bits;
    }
    return any != 0;
  }
  std::vector<uint64_t> rows_;
  std::vector<float> values_;
  uint64_t used_ = 0;
  Learner::PassState state_;
  bool taken_ = false;
};

// Where passes 2..N read their examples (the environment's WABBIT_PASSES_FROM, for tests and
// benchmarks; the numbers are the same whichever it is): "cache" the cache file, each pass; "memory"
// a PassStore on the model's table; "compact" (the default) a PassStore on a compact row space.
enum class PassSource { kCache, kMemory, kCompact };
PassSource pass_source() {
  const char* e = std::getenv("WABBIT_PASSES_FROM");
  if (e == nullptr || *e == '\0' || std::strcmp(e, "compact") == 0) return PassSource::kCompact;
  if (std::strcmp(e, "memory") == 0) return PassSource::kMemory;
  if (std::strcmp(e, "cache") == 0) return PassSource::kCache;
  throw std::invalid_argument(std::string("WABBIT_PASSES_FROM must be cache, memory or compact, not ") + e);
}

// The most memory a PassStore may take (past it, the passes read the cache file).
constexpr size_t kMaxStoreBytes = size_t{1} << 30;

}  // namespace

const char* memory_passes_blocker(const Learner& learner, const RunOptions& opt) {
  if (opt.passes.passes < 2) return "a single pass";
  if (!opt.learn) return "-t (nothing is learned)";
  // Interactions generate their rows from the base features' hashes while learning: a stored row
  // id is no hash. (They could be expanded into the store once; they read the cache instead.)
  if (!learner.config().interactions.empty() || !learner.interactions().empty()) return "interactions";
  if (learner.offset() != 0) return "a model offset";
  if (learner.weights().bits() > 31) return "-b 32";
  if (opt.audit_fd >= 0 || opt.names != nullptr) return "--audit/--invert_hash (they name the features' hashes)";
  if (opt.shadow != nullptr) return "a challenger model (it learns the same examples into its own table)";
  if (opt.every != 0 && opt.hook) return "a per-example hook (it may read the model during the passes)";
  return nullptr;
}

namespace {

// The most distinct rows a compact row space takes: an eighth of the model's table (at least 2^16;
// the environment's WABBIT_COMPACT_MAX_ROWS for tests). Past it the compact table (16 bytes a row
// at -b 24's default) leaves the TLB's reach, and it and the row map (16 bytes a row) add to the
// model's memory: the run goes on on the model's table.
size_t max_compact_rows(const WeightTable& w) {
  if (const char* e = std::getenv("WABBIT_COMPACT_MAX_ROWS"); e != nullptr && *e != '\0')
    return static_cast<size_t>(std::strtoull(e, nullptr, 10));
  return std::max<size_t>(size_t{1} << 16, w.rows() / 8);
}

// Whether any row of the table holds a weight.
bool any_weight(const WeightTable& w) {
  const size_t stride = w.stride();
  const float* d = w.data();
  for (uint64_t r = 0; r < w.rows(); ++r) {
    if (load_w(d + r * stride) != 0.f) return true;
  }
  return false;
}

RunResult run_passes(Learner& learner, Stats& stats, int fd, const RunOptions& opt) {
  const PassOptions& p = opt.passes;
  if (p.passes < 1) throw std::invalid_argument("--passes must be at least 1");
  if (p.holdout && p.holdout_period == 0 && p.holdout_after == 0)
    throw std::invalid_argument("--holdout_period must be at least 1");
  if (p.passes > 1 && p.cache_read.empty() && p.cache_write.empty())
    throw std::invalid_argument("several passes need a cache file: add -c or --cache_file FILE");
  const PassSource from = pass_source();
  begin_run(stats);  // the passes and the holdout are this run's (a model's other counts go on)
  stats.holdout_on = p.holdout;
  std::unique_ptr<cache::Writer> writer;
  std::unique_ptr<cache::Reader> reader;
  if (!p.cache_read.empty()) {
    reader = std::make_unique<cache::Reader>(p.cache_read);
  } else if (!p.cache_write.empty()) {
    cache::SourceId id = p.source_path.empty() ? cache::SourceId{} : cache::source_id(p.source_path);
    id.input = cache::input_code(static_cast<uint32_t>(opt.format), opt.chain_hash);
    writer = std::make_unique<cache::Writer>(p.cache_write, id);
  }
  Runner r(learner, stats, opt);
  // The first pass keeps its examples for the others (see PassStore). With a compact row space the
  // run learns on a learner with the model's configuration and state (a copy that shares no rows)
  // over a table whose first rows are the examples' rows; the model's own table is left as it was
  // (concurrent predictions read it) until they are scattered back at the end.
  std::unique_ptr<PassStore> store;
  std::unique_ptr<Learner> compact;
  if (from != PassSource::kCache && memory_passes_blocker(learner, opt) == nullptr) {
    const Config& c = learner.config();
    // --l1/--l2's truncation of the whole table (Learner::sync_weights, when the gravity grows
    // large or the contraction small) would change rows outside the compact ones: only on a model
    // that holds no other weight.
    const bool lazy_reg = !ftrl_family(c) && c.classic_rule == 0 && (c.l1 > 0.f || c.l2 > 0.f);
    if (from == PassSource::kCompact && !(lazy_reg && any_weight(learner.weights()))) {
      compact = std::make_unique<Learner>(learner, Learner::ShareWeights{});
      // as large as the model's (its unused rows are never touched, so they cost nothing)
      compact->weights().reset(learner.weights().bits(), learner.weights().stride_shift());
      r.set_learner(*compact);
    }
    store = std::make_unique<PassStore>(learner.weights(), compact ? &compact->weights() : nullptr, kMaxStoreBytes,
                                        max_compact_rows(learner.weights()));
  }
  bool from_store = false;
  auto leave_compact = [&](bool scatter) {
    if (!compact) return;
    r.set_learner(learner);  // (learns the example in flight first)
    if (scatter) store->scatter(learner.weights());
    // The compact learner's scalars back into the model: absorb() brings the update multiplier
    // (normalized updates), restore_pass_state() the online state and the rate, exactly.
    const OnlineState start = learner.state();
    learner.absorb(*compact, start);
    learner.restore_pass_state(compact->pass_state());
    compact.reset();
  };
  r.set_on_over([&] {
    leave_compact(true);
    store->decompact();
  });
  RunResult result;
  BestPass best;
  uint64_t no_win = 0;
  try {
    for (uint64_t pass = 1; pass <= p.passes; ++pass) {
      r.begin_pass(writer.get(), store.get());
      if (from_store) {
        store->rewind();
        uint64_t n = 0;
        while (!store->done()) {
          if (store->next(r.slot()))
            r.accept(true);
          else
            r.placeholder();
          if ((++n & 4095u) == 0 && interrupted(opt.interrupt)) break;
        }
      } else if (reader) {
        reader->rewind();
        uint64_t n = 0;
        for (;;) {
          const cache::Reader::Record rec = reader->next(r.slot());
          if (rec == cache::Reader::Record::kEnd) break;
          if (rec == cache::Reader::Record::kExample)
            r.accept();
          else
            r.placeholder();
          if ((++n & 4095u) == 0 && interrupted(opt.interrupt)) break;
        }
      } else {
        for_each_fd_line(fd, [&](std::string_view line) { r.line(line); }, opt.head, opt.interrupt);
      }
      r.flush();
      if (interrupted(opt.interrupt)) break;  // an unfinished cache is removed with its writer
      if (writer) {
        r.begin_pass(nullptr);
        writer->finish();
        writer.reset();
        reader = std::make_unique<cache::Reader>(p.cache_write);
      }
      if (pass == 1 && store) {
        store->close();
        if (store->keeping()) {
          from_store = true;
          reader.reset();
        } else if (!compact) {
          r.begin_pass(nullptr);
          store.reset();  // too large to keep: the later passes read the cache on the model's table
        }
      }
      Learner& active = compact ? *compact : learner;
      ++stats.current_pass;
      ++result.passes;
      active.end_pass(p.decay);
      if (!p.holdout) continue;
      if (summarize_holdout(stats, no_win)) {
        best.drop();
        // only a pass at least early_terminate passes before the last can end up kept
        if (pass + p.early_terminate <= p.passes && p.early_terminate > 0)
          best.take(active, compact ? store->distinct_rows() : UINT64_MAX);
      }
      if (no_win == p.early_terminate) {
        result.early_terminated = true;
        if (best.taken()) best.restore(active);
        break;
      }
    }
  } catch (...) {
    leave_compact(true);
    throw;
  }
  leave_compact(true);
  RunResult tail = r.finish();
  tail.passes = result.passes;
  tail.early_terminated = result.early_terminated;
  return tail;
}

}  // namespace

const char* parallel_blocker(const Learner& learner, const RunOptions& opt) {
  if (opt.every != 0 && opt.hook) return "a per-example hook (save_every or a monitor)";
  if (opt.signals != nullptr) return "a drift monitor";
  if (opt.shadow != nullptr) return "a challenger model";
  if (opt.audit_fd >= 0) return "--audit";
  if (opt.names != nullptr) return "--invert_hash";
  const Config& c = learner.config();
  if (c.standardize) return "--standardize_labels (the label statistics need one writer)";
  if (c.center) return "--center_features (the feature statistics need one writer)";
  if (!ftrl_family(c) && (c.l1 > 0.f || c.l2 > 0.f))
    return "--l1/--l2 with gradient descent (lazy regularisation needs one writer)";
  return nullptr;
}

Outcome process_example(Learner& learner, Stats& stats, Example& ex, bool learn, MappedRows* rows) {
  const Outcome o = learn ? learner.learn(ex, rows) : learner.predict(ex);
  if (o.skipped != nullptr) [[unlikely]] {
    ++stats.bad_lines;  // refused (it would have made weights non-finite): counted as a bad line
    return o;
  }
  count_label(stats, ex.label);
  const float w = ex.weight;
  if (ex.labelled()) {
    stats.weighted_labeled_examples += w;
    stats.weighted_labels += static_cast<double>(ex.label) * w;
  } else {
    stats.weighted_unlabeled_examples += w;
  }
  stats.sum_loss += o.loss;
  stats.sum_loss_since_last_dump += o.loss;
  stats.total_features += o.num_features;
  ++stats.example_number;
  return o;
}

RunResult run_buffer(Learner& learner, Stats& model_stats, std::string_view buffer, const RunOptions& opt) {
  Stats unused;  // pure predictions keep no statistics (and may run while another call learns)
  Stats& stats = opt.learn || opt.account ? model_stats : unused;
  begin_run(stats);
  if (opt.threads > 1 && parallel_blocker(learner, opt) == nullptr) {
    BlockSource source(buffer, opt.first_line_number, opt.interrupt);
    return run_parallel(learner, stats, source, opt);
  }
  Runner r(learner, stats, opt);
  for_each_line_checked(buffer, [&](std::string_view line) { r.line(line); }, opt.interrupt);
  return r.finish();
}

RunResult run_fd(Learner& learner, Stats& model_stats, int fd, const RunOptions& opt) {
  Stats unused;
  Stats& stats = opt.learn || opt.account ? model_stats : unused;
  if (opt.passes.active()) return run_passes(learner, stats, fd, opt);
  begin_run(stats);
  if (opt.threads > 1 && parallel_blocker(learner, opt) == nullptr) {
    BlockSource source(fd, opt.first_line_number, opt.head, opt.interrupt);
    return run_parallel(learner, stats, source, opt);
  }
  Runner r(learner, stats, opt);
  for_each_fd_line(fd, [&](std::string_view line) { r.line(line); }, opt.head, opt.interrupt);
  return r.finish();
}

void OutputStream::write(std::string& buf) {
  size_t off = 0;
  while (error == 0 && fd >= 0 && off < buf.size()) {
    const ssize_t n = ::write(fd, buf.data() + off, buf.size() - off);
    if (n >= 0) {
      off += static_cast<size_t>(n);
    } else if (errno != EINTR) {
      error = errno;
      if (warn && error != EPIPE) {
        std::fprintf(stderr, "wabbit: warning: cannot write %s: %s; no more are written, learning goes on\n", what,
                     std::strerror(error));
      }
    }
  }
  buf.clear();
}

}  // namespace wabbit
