#include "run/driver.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/hot_rows.h"
#include "formats/model_io.h"
#include "formats/vw_text.h"

namespace wabbit {
namespace {

constexpr size_t kReadBlock = size_t{256}
                              << 10;  // read() size: the block stays in L2 while it is parsed (4 MiB: 3-4% slower)
constexpr size_t kMaxKeptWarnings = 20;
constexpr int kPollMs = 100;         // read_input's wait slice: how soon a signal is noticed while input is slow
constexpr size_t kCheckRows = 4096;  // CSR: rows between interrupt checks

inline bool interrupted(const std::atomic<int>* flag) {
  return flag != nullptr && flag->load(std::memory_order_relaxed) != 0;
}

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

void check_thread_count(unsigned n) {
  if (n > kMaxThreads) {
    throw std::invalid_argument("threads: at most " + std::to_string(kMaxThreads) + ", got " + std::to_string(n));
  }
}

void count_label(Stats& s, float l) {
  if (s.more_than_two_labels || l == kNoLabel) return;
  if (s.first_observed_label == FLT_MAX) {
    s.first_observed_label = l;
  } else if (s.first_observed_label != l) {
    if (s.second_observed_label == FLT_MAX)
      s.second_observed_label = l;
    else if (s.second_observed_label != l)
      s.more_than_two_labels = true;
  }
}

std::string fit(std::string s, size_t width, bool ellipsis) {
  if (s.size() <= width) return s;
  if (ellipsis && width > 3) return s.substr(0, width - 3) + "...";
  return s.substr(0, width);
}

std::string fixed(double v, int prec) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

// After the model has seen ex (outcome o): the challenger learns it, the monitor's signals grow.
void shadow_and_signals(const RunOptions& opt, Example& ex, const Outcome& o) {
  Outcome shadow;
  const bool shadowed = opt.shadow != nullptr && opt.learn;
  if (shadowed) {
    opt.shadow->observe_namespaces(ex);
    shadow = opt.shadow->learn(ex);
  }
  if (opt.signals != nullptr && ex.labelled()) {
    opt.signals->label.push_back(ex.label);
    opt.signals->prediction.push_back(o.output);
    opt.signals->loss.push_back(ex.weight > 0.f ? o.loss / ex.weight : 0.f);
    if (shadowed) {
      opt.signals->shadow_prediction.push_back(shadow.output);
      opt.signals->shadow_loss.push_back(ex.weight > 0.f ? shadow.loss / ex.weight : 0.f);
    }
  }
}

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
    for_each_feature(ex, learner.interactions(), &learner.config().ignore_linear, [&](float, uint32_t i) {
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

std::vector<uint32_t> find_hot_rows_text(const Learner& learner, std::string_view sample) {
  std::vector<std::string_view> lines;
  for_each_line(sample, [&](std::string_view l) {
    if (lines.size() < kHotSampleLines) lines.push_back(l);
  });
  return find_hot_rows(learner, lines.size(), [&](size_t e, Example& ex) {
    return parse_vw_line(lines[e], ex, false).status == ParseStatus::kExample;
  });
}

// What a progress row needs of one example, kept by Hogwild workers so that the coordinator can
// print rows at VW's counts (1, 2, 4, ...) while it merges blocks in input order.
struct ProgressMark {
  float label;
  float output;
  float weight;
  float loss;
  uint32_t features;
};

// The line-by-line loop shared by the fd and buffer sources. A worker's Runner (Hogwild) keeps its
// predictions and statistics for the coordinator instead of writing or printing them.
class Runner {
 public:
  Runner(Learner& l, Stats& s, const RunOptions& o, bool worker = false)
      : learner_(l), stats_(s), opt_(o), line_no_(o.first_line_number), worker_(worker) {
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
    if (first_) {
      first_ = false;
      if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);
    }
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    ++result_.lines;
    const bool names = opt_.audit_fd >= 0 || opt_.names != nullptr;
    Example& ex = ex_[next_];
    const ParseResult pr = parse_vw_line(text, ex, names);
    if (pr.status == ParseStatus::kBlank) {
      ++line_no_;
      return;
    }
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
    ex_line_[next_] = line_no_;
    ++line_no_;
    learner_.prepare(ex);
    // One example in flight: this one's rows are found and prefetched while the previous one is
    // learned (learning then takes them from rows_ instead of walking the features again).
    if (opt_.learn)
      learner_.map_rows(ex, rows_[next_]);
    else
      learner_.prefetch_rows(ex);
    flush();
    pending_ = true;
    next_ ^= 1u;
  }

  // Learns (or predicts) the example in flight and reports it.
  void flush() {
    if (!pending_) return;
    pending_ = false;
    Example& ex = ex_[next_ ^ 1u];
    // Pure predictions change nothing, not even ':' wildcards (a namespace first seen here has no
    // weights yet): they may run while another thread learns.
    if (opt_.learn || opt_.account) learner_.observe_namespaces(ex);
    std::string audit;
    if (opt_.audit_fd >= 0) {
      const Config& c = learner_.config();
      audit = audit_features(learner_, ex, opt_.learn && c.adaptive && !c.ftrl);
    }
    if (opt_.names != nullptr) opt_.names->record(learner_, ex);
    Outcome o;
    if (opt_.learn || opt_.account) {
      o = process_example(learner_, stats_, ex, opt_.learn, &rows_[next_ ^ 1u]);
      if (o.skipped != nullptr) [[unlikely]]
        refused(ex_line_[next_ ^ 1u], o.skipped);
      if (hot_ != nullptr && ++since_fold_ == fold_period_) {
        hot_->fold();
        since_fold_ = 0;
        fold_period_ = std::min(fold_period_ * 2, kFoldPeriod);
      }
    } else {
      o.output = learner_.predict_const(ex);
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
    if (opt_.print_progress && !worker_ && stats_.weighted_examples() >= stats_.dump_interval) {
      std::fputs(progress_row(stats_, ex.label, o.output, o.num_features).c_str(), stderr);
      stats_.sum_loss_since_last_dump = 0.;
      stats_.old_weighted_labeled_examples = stats_.weighted_labeled_examples;
      stats_.dump_interval = opt_.progress_add ? stats_.weighted_examples() + opt_.progress_arg
                                               : stats_.weighted_examples() * opt_.progress_arg;
    }
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
  Learner& learner_;
  Stats& stats_;
  const RunOptions& opt_;
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
// Hogwild: blocks of whole lines handed to worker threads.

constexpr size_t kFirstBlock = 16u << 10;        // small first blocks: early progress rows, quick start
constexpr size_t kMaxBlock = size_t{256} << 10;  // a block stays in a core's L2 while it is parsed

// The number of '\n' in text, 16 bytes a step: BlockSource counts every block's lines under its
// lock, where std::count's byte loop (~3 instructions a byte) kept the other threads waiting.
size_t count_newlines(std::string_view text) {
  const char* p = text.data();
  const char* end = p + text.size();
  size_t n = 0;
#if defined(__SSE2__)
  const __m128i nl = _mm_set1_epi8('\n');
  while (end - p >= 16) {
    // up to 255 steps into byte counters (each step adds 0 or 1, as 0 - (-1)), then summed
    __m128i acc = _mm_setzero_si128();
    const size_t steps = std::min<size_t>(static_cast<size_t>(end - p) / 16, 255);
    for (size_t k = 0; k < steps; ++k, p += 16) {
      acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), nl));
    }
    const __m128i sums = _mm_sad_epu8(acc, _mm_setzero_si128());
    n += static_cast<size_t>(_mm_cvtsi128_si32(sums)) + static_cast<size_t>(_mm_extract_epi16(sums, 4));
  }
#endif
  for (; p < end; ++p) n += *p == '\n';
  return n;
}

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
  std::string_view peek(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fd_ < 0) return buf_.substr(0, std::min(bytes, buf_.size()));
    while (!eof_ && carry_.size() < bytes) {
      const size_t have = carry_.size();
      carry_.resize(bytes);
      const ssize_t n = read_input(fd_, carry_.data() + have, bytes - have, interrupt_);
      carry_.resize(have + static_cast<size_t>(std::max<ssize_t>(n, 0)));
      if (n < 0) stopped_ = true;  // interrupted: the whole lines read so far are still learned
      if (n < 0) break;
      if (n == 0) eof_ = true;
    }
    return carry_;
  }

  // The next block (its text lives in `storage` for an fd source); false at the end.
  bool next(std::string& storage, Block& b) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fd_ < 0 && interrupted(interrupt_)) return false;  // (an fd: fill() stops reading)
    const size_t want = size_;
    size_ = std::min(size_ * 2, kMaxBlock);
    if (fd_ < 0) {
      if (pos_ >= buf_.size()) return false;
      size_t end = std::min(pos_ + want, buf_.size());
      if (end < buf_.size()) {
        const void* nl = std::memchr(buf_.data() + end, '\n', buf_.size() - end);
        end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - buf_.data()) + 1 : buf_.size();
      }
      b.text = buf_.substr(pos_, end - pos_);
      pos_ = end;
    } else {
      if (!fill(storage, want)) return false;
      b.text = storage;
    }
    b.seq = seq_++;
    b.first_line = line_;
    line_ += count_newlines(b.text);
    return true;
  }

 private:
  // Reads until `storage` holds at least `want` bytes ending in a newline (or the input ends);
  // the partial line after the last newline waits in carry_ for the next block.
  // Once interrupted (stopped_), reads no more: the whole lines already read are handed out, then
  // the partial line after them is dropped.
  bool fill(std::string& storage, size_t want) {
    if ((eof_ || stopped_) && carry_.empty()) return false;
    storage.swap(carry_);
    carry_.clear();
    size_t have = storage.size();
    while (!eof_) {
      if (have >= want || stopped_) {
        const void* nl = have > 0 ? ::memrchr(storage.data(), '\n', have) : nullptr;
        if (nl != nullptr) {
          const size_t end = static_cast<size_t>(static_cast<const char*>(nl) - storage.data()) + 1;
          carry_.assign(storage, end, have - end);
          storage.resize(end);
          return true;
        }
        if (stopped_) {
          storage.clear();
          carry_.clear();
          return false;
        }
        want = have * 2;  // one line longer than the block: keep reading
      }
      storage.resize(std::max(want, have + 4096));
      const ssize_t n = read_input(fd_, storage.data() + have, storage.size() - have, interrupt_);
      if (n < 0) {
        stopped_ = true;
        storage.resize(have);
        continue;
      }
      if (n == 0) eof_ = true;
      have += static_cast<size_t>(n);
    }
    storage.resize(have);
    return have > 0;
  }

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

void merge_stats(Stats& into, Stats& from) {
  into.sum_loss += from.sum_loss;
  into.sum_loss_since_last_dump += from.sum_loss_since_last_dump;
  into.weighted_labeled_examples += from.weighted_labeled_examples;
  into.weighted_unlabeled_examples += from.weighted_unlabeled_examples;
  into.weighted_labels += from.weighted_labels;
  into.example_number += from.example_number;
  into.total_features += from.total_features;
  into.bad_lines += from.bad_lines;
  if (from.first_observed_label != FLT_MAX) count_label(into, from.first_observed_label);
  if (from.second_observed_label != FLT_MAX) count_label(into, from.second_observed_label);
  into.more_than_two_labels |= from.more_than_two_labels;
  from = Stats{};
}

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
    if (s.weighted_examples() >= s.dump_interval) {
      std::fputs(progress_row(s, m.label, m.output, m.features).c_str(), stderr);
      s.sum_loss_since_last_dump = 0.;
      s.old_weighted_labeled_examples = s.weighted_labeled_examples;
      s.dump_interval =
          opt_.progress_add ? s.weighted_examples() + opt_.progress_arg : s.weighted_examples() * opt_.progress_arg;
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

// The start of the input that find_hot_rows_text samples: kHotSampleLines lines if they fit in
// kMaxHotSampleBytes. A shorter sample of wide lines (200 features) made rows that 2.5% of lines
// touch look hot by chance; learning those through private copies cost a quarter of the run.
std::string_view hot_sample(BlockSource& source) {
  size_t bytes = kFirstBlock * 16;
  std::string_view s = source.peek(bytes);
  while (count_newlines(s) < kHotSampleLines && s.size() == bytes && bytes < kMaxHotSampleBytes) {
    bytes *= 2;
    s = source.peek(bytes);
  }
  return s;
}

// The learners of n Hogwild workers, or a clear error when memory runs out for them.
std::unique_ptr<Workers> make_workers(Learner& learner, unsigned n, const RunOptions& opt,
                                      const std::vector<uint32_t>& hot) {
  try {
    return std::make_unique<Workers>(learner, n, opt, hot);
  } catch (const std::bad_alloc&) {
    throw std::runtime_error("not enough memory for " + std::to_string(n) +
                             " threads' learners; nothing was learned; "
                             "use fewer threads");
  }
}

RunResult run_parallel(Learner& learner, Stats& stats, BlockSource& source, const RunOptions& opt) {
  const unsigned n = opt.threads;
  check_thread_count(n);
  std::vector<uint32_t> hot;
  if (opt.learn) hot = find_hot_rows_text(learner, hot_sample(source));
  const std::unique_ptr<Workers> workers_owner = make_workers(learner, n, opt, hot);
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
      Block b;
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
    if (hot != nullptr &&
        (res.examples % kFoldPeriod == 0 || (res.examples < 8 * kFoldPeriod && res.examples % kFirstFold == 0))) {
      hot->fold();  // often while the weights move fastest, then every kFoldPeriod
    }
    shadow_and_signals(opt, e, o);
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
  check_thread_count(n);
  std::vector<uint32_t> hot;
  if (opt.learn) {
    hot = find_hot_rows(learner, std::min(in.rows, kHotSampleLines),
                        [&](size_t r, Example& ex) { return csr_row(in, r, ex).empty(); });
  }
  const std::unique_ptr<Workers> workers_owner = make_workers(learner, n, opt, hot);
  Workers& workers = *workers_owner;
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
  run_on_threads(n, work);
  workers.absorb();
  if (error) std::rethrow_exception(error);
  if (interrupted(opt.interrupt)) result.interrupted = opt.interrupt->load(std::memory_order_relaxed);
  return result;
}

const char* parallel_blocker(const Learner& learner, const RunOptions& opt) {
  if (opt.every != 0 && opt.hook) return "a per-example hook (save_every or a monitor)";
  if (opt.signals != nullptr) return "a drift monitor";
  if (opt.shadow != nullptr) return "a challenger model";
  if (opt.audit_fd >= 0) return "--audit";
  if (opt.names != nullptr) return "--invert_hash";
  const Config& c = learner.config();
  if (!c.ftrl && (c.l1 > 0.f || c.l2 > 0.f))
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

ssize_t read_input(int fd, char* p, size_t n, const std::atomic<int>* interrupt) {
  for (;;) {
    if (interrupt != nullptr) {
      if (interrupted(interrupt)) return -1;
      pollfd pfd{fd, POLLIN, 0};
      const int r = ::poll(&pfd, 1, kPollMs);
      if (r == 0 || (r < 0 && errno == EINTR)) continue;  // nothing yet: look at the flag again
    }
    const ssize_t got = ::read(fd, p, n);
    if (got >= 0) return got;
    if (errno == EINTR) continue;
    const int e = errno;
    throw IoError(e, std::string("cannot read input: ") + std::strerror(e), "");
  }
}

bool for_each_fd_line(int fd, const std::function<void(std::string_view)>& f, std::string_view head,
                      const std::atomic<int>* interrupt) {
  std::string buf(std::max(kReadBlock, head.size() * 2), '\0');
  std::memcpy(buf.data(), head.data(), head.size());
  size_t have = head.size();  // bytes of a partial line carried over at the front of buf (at first: head)
  for (;;) {
    if (have == buf.size()) buf.resize(buf.size() * 2);  // a line longer than the block
    const ssize_t n = read_input(fd, buf.data() + have, buf.size() - have, interrupt);
    if (n < 0) return false;  // interrupted: a partial line read so far is dropped
    if (n == 0) {
      for_each_line(std::string_view(buf.data(), have), f);  // (the head alone may hold newlines)
      return true;
    }
    const size_t len = have + static_cast<size_t>(n);
    size_t pos = 0;
    for (;;) {
      const void* nl = std::memchr(buf.data() + pos, '\n', len - pos);
      if (!nl) break;
      const size_t end = static_cast<size_t>(static_cast<const char*>(nl) - buf.data());
      f(std::string_view(buf.data() + pos, end - pos));
      pos = end + 1;
    }
    have = len - pos;
    if (have > 0 && pos > 0) std::memmove(buf.data(), buf.data() + pos, have);
  }
}

std::string progress_header() {
  return "average  since         example        example        current        current  current\n"
         "loss     last          counter         weight          label        predict features\n";
}

std::string progress_row(const Stats& s, float label, float prediction, uint32_t num_features) {
  std::string avg = s.weighted_labeled_examples > 0. ? fixed(s.sum_loss / s.weighted_labeled_examples, 6) : "n.a.";
  std::string since =
      s.weighted_labeled_examples == s.old_weighted_labeled_examples
          ? "n.a."
          : fixed(s.sum_loss_since_last_dump / (s.weighted_labeled_examples - s.old_weighted_labeled_examples), 6);
  std::string lab = label != kNoLabel ? fixed(label, 4) : "unknown";
  char b[256];
  std::snprintf(b, sizeof b, "%-8s %-8s %12s %14s %14s %14s %8s\n", fit(avg, 8, false).c_str(),
                fit(since, 8, false).c_str(), fit(std::to_string(s.example_number), 12, false).c_str(),
                fit(fixed(s.weighted_examples(), 1), 14, false).c_str(), fit(lab, 14, true).c_str(),
                fit(fixed(prediction, 4), 14, true).c_str(), fit(std::to_string(num_features), 8, false).c_str());
  return b;
}

void format_prediction(std::string& out, float prediction, std::string_view tag) {
  char b[64];
  const int n = std::floor(prediction) == prediction
                    ? std::snprintf(b, sizeof b, "%.0f", static_cast<double>(prediction))
                    : std::snprintf(b, sizeof b, "%.6f", static_cast<double>(prediction));
  out.append(b, static_cast<size_t>(n));
  if (!tag.empty()) {
    out.push_back(' ');
    out.append(tag);
  }
  out.push_back('\n');
}

}  // namespace wabbit
