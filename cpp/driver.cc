#include "driver.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "model_io.h"
#include "vw_text.h"

namespace wabbit {
namespace {

constexpr size_t kReadBlock = 4u << 20;
constexpr size_t kMaxKeptWarnings = 20;

void count_label(Stats& s, float l) {
  if (s.more_than_two_labels || l == kNoLabel) return;
  if (s.first_observed_label == FLT_MAX) {
    s.first_observed_label = l;
  } else if (s.first_observed_label != l) {
    if (s.second_observed_label == FLT_MAX) s.second_observed_label = l;
    else if (s.second_observed_label != l) s.more_than_two_labels = true;
  }
}

void write_all(int fd, std::string& buf) {
  size_t off = 0;
  while (off < buf.size()) {
    const ssize_t n = ::write(fd, buf.data() + off, buf.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      throw IoError(e, std::string("cannot write predictions: ") + std::strerror(e), "");
    }
    off += static_cast<size_t>(n);
  }
  buf.clear();
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

// The line-by-line loop shared by the fd and buffer sources.
class Runner {
 public:
  Runner(Learner& l, Stats& s, const RunOptions& o) : learner_(l), stats_(s), opt_(o), line_no_(o.first_line_number) {
    if (opt_.print_progress) std::fputs(progress_header().c_str(), stderr);
  }

  void line(std::string_view text) {
    if (first_) {
      first_ = false;
      if (text.size() >= 3 && std::memcmp(text.data(), "\xEF\xBB\xBF", 3) == 0) text.remove_prefix(3);
    }
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    ++result_.lines;
    const bool names = opt_.audit_fd >= 0 || opt_.names != nullptr;
    const ParseResult pr = parse_vw_line(text, ex_, names);
    if (pr.status == ParseStatus::kBlank) {
      ++line_no_;
      return;
    }
    if (pr.status == ParseStatus::kError) {
      const std::string msg = "line " + std::to_string(line_no_) + ": " + pr.error;
      ++line_no_;
      if (opt_.strict) throw StrictParseError(msg);
      ++result_.bad_lines;
      ++stats_.bad_lines;
      if (opt_.print_warnings) std::fprintf(stderr, "wabbit: %s (line skipped)\n", msg.c_str());
      if (result_.warnings.size() < kMaxKeptWarnings) result_.warnings.push_back(msg);
      if (opt_.collect) result_.predictions.push_back(std::numeric_limits<float>::quiet_NaN());
      return;
    }
    ++line_no_;
    learner_.prepare(ex_);
    learner_.observe_namespaces(ex_);
    std::string audit;
    if (opt_.audit_fd >= 0) {
      const Config& c = learner_.config();
      audit = audit_features(learner_, ex_, opt_.learn && c.adaptive && !c.ftrl);
    }
    if (opt_.names != nullptr) opt_.names->record(learner_, ex_);
    Outcome o;
    if (opt_.learn || opt_.account) {
      o = process_example(learner_, stats_, ex_, opt_.learn);
    } else {
      o.output = learner_.predict_const(ex_);
    }
    Outcome shadow;
    const bool shadowed = opt_.shadow != nullptr && opt_.learn;
    if (shadowed) {
      opt_.shadow->observe_namespaces(ex_);
      shadow = opt_.shadow->learn(ex_);
    }
    if (opt_.signals != nullptr && ex_.labelled()) {
      opt_.signals->label.push_back(ex_.label);
      opt_.signals->prediction.push_back(o.output);
      opt_.signals->loss.push_back(ex_.weight > 0.f ? o.loss / ex_.weight : 0.f);
      if (shadowed) {
        opt_.signals->shadow_prediction.push_back(shadow.output);
        opt_.signals->shadow_loss.push_back(ex_.weight > 0.f ? shadow.loss / ex_.weight : 0.f);
      }
    }
    ++result_.examples;
    if (opt_.audit_fd >= 0) {
      format_prediction(audit_buf_, o.prediction, ex_.tag);  // VW audits the score before --link
      audit_buf_ += audit;
      if (audit_buf_.size() > (1u << 16)) write_all(opt_.audit_fd, audit_buf_);
    }
    if (opt_.every != 0 && result_.examples % opt_.every == 0 && opt_.hook) opt_.hook(result_.examples);
    if (opt_.collect) result_.predictions.push_back(o.output);
    if (opt_.predictions_fd >= 0) {
      format_prediction(pred_buf_, o.output, ex_.tag);
      if (pred_buf_.size() > (1u << 16)) write_all(opt_.predictions_fd, pred_buf_);
    }
    if (opt_.print_progress && stats_.weighted_examples() >= stats_.dump_interval) {
      std::fputs(progress_row(stats_, ex_.label, o.output, o.num_features).c_str(), stderr);
      stats_.sum_loss_since_last_dump = 0.;
      stats_.old_weighted_labeled_examples = stats_.weighted_labeled_examples;
      stats_.dump_interval = opt_.progress_add ? stats_.weighted_examples() + opt_.progress_arg
                                               : stats_.weighted_examples() * opt_.progress_arg;
    }
  }

  RunResult finish() {
    if (opt_.predictions_fd >= 0 && !pred_buf_.empty()) write_all(opt_.predictions_fd, pred_buf_);
    if (opt_.audit_fd >= 0 && !audit_buf_.empty()) write_all(opt_.audit_fd, audit_buf_);
    return std::move(result_);
  }

 private:
  Learner& learner_;
  Stats& stats_;
  const RunOptions& opt_;
  Example ex_;
  RunResult result_;
  std::string pred_buf_;
  std::string audit_buf_;
  uint64_t line_no_;
  bool first_ = true;
};

}  // namespace

Outcome process_example(Learner& learner, Stats& stats, Example& ex, bool learn) {
  count_label(stats, ex.label);
  const Outcome o = learn ? learner.learn(ex) : learner.predict(ex);
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

RunResult run_buffer(Learner& learner, Stats& stats, std::string_view buffer, const RunOptions& opt) {
  Runner r(learner, stats, opt);
  size_t pos = 0;
  while (pos < buffer.size()) {
    const void* nl = std::memchr(buffer.data() + pos, '\n', buffer.size() - pos);
    const size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - buffer.data()) : buffer.size();
    r.line(buffer.substr(pos, end - pos));
    pos = end + 1;
  }
  return r.finish();
}

RunResult run_fd(Learner& learner, Stats& stats, int fd, const RunOptions& opt) {
  Runner r(learner, stats, opt);
  std::string buf(kReadBlock, '\0');
  size_t have = 0;  // bytes of a partial line carried over at the front of buf
  for (;;) {
    if (have == buf.size()) buf.resize(buf.size() * 2);  // a line longer than the block
    ssize_t n;
    do {
      n = ::read(fd, buf.data() + have, buf.size() - have);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      const int e = errno;
      throw IoError(e, std::string("cannot read input: ") + std::strerror(e), "");
    }
    if (n == 0) {
      if (have > 0) r.line(std::string_view(buf.data(), have));
      break;
    }
    const size_t len = have + static_cast<size_t>(n);
    size_t pos = 0;
    for (;;) {
      const void* nl = std::memchr(buf.data() + pos, '\n', len - pos);
      if (!nl) break;
      const size_t end = static_cast<size_t>(static_cast<const char*>(nl) - buf.data());
      r.line(std::string_view(buf.data() + pos, end - pos));
      pos = end + 1;
    }
    have = len - pos;
    if (have > 0 && pos > 0) std::memmove(buf.data(), buf.data() + pos, have);
  }
  return r.finish();
}

std::string progress_header() {
  return "average  since         example        example        current        current  current\n"
         "loss     last          counter         weight          label        predict features\n";
}

std::string progress_row(const Stats& s, float label, float prediction, uint32_t num_features) {
  std::string avg = s.weighted_labeled_examples > 0. ? fixed(s.sum_loss / s.weighted_labeled_examples, 6) : "n.a.";
  std::string since = s.weighted_labeled_examples == s.old_weighted_labeled_examples
                          ? "n.a."
                          : fixed(s.sum_loss_since_last_dump /
                                      (s.weighted_labeled_examples - s.old_weighted_labeled_examples),
                                  6);
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
  const int n = std::floor(prediction) == prediction ? std::snprintf(b, sizeof b, "%.0f", static_cast<double>(prediction))
                                                     : std::snprintf(b, sizeof b, "%.6f", static_cast<double>(prediction));
  out.append(b, static_cast<size_t>(n));
  if (!tag.empty()) {
    out.push_back(' ');
    out.append(tag);
  }
  out.push_back('\n');
}

}  // namespace wabbit
