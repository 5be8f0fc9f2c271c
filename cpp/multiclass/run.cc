#include "multiclass/run.h"

#include <cstdio>
#include <limits>

#include "run/progress.h"

namespace wabbit {
namespace {

constexpr size_t kMaxKeptWarnings = 20;

// A float as C++ streams print it by default (VW's -p and -r numbers): %g, 6 significant digits.
void append_g(std::string& out, float v) {
  char b[64];
  const int n = std::snprintf(b, sizeof b, "%g", static_cast<double>(v));
  out.append(b, static_cast<size_t>(n));
}

void end_line(std::string& out, std::string_view tag) {
  if (!tag.empty()) {
    out.push_back(' ');
    out.append(tag);
  }
  out.push_back('\n');
}

std::string fixed(double v, int prec) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

}  // namespace

size_t mc_values(const McLearner& mc) { return mc.config().probabilities ? mc.classes() : 1; }

void format_mc_prediction(std::string& out, const McLearner& mc, const McResult& r, std::string_view tag) {
  if (mc.config().probabilities) {
    for (uint32_t p = 0; p < r.probs.size(); ++p) {
      if (p > 0) out.push_back(' ');
      out += mc.class_text(mc.class_of(p));
      out.push_back(':');
      append_g(out, r.probs[p]);
    }
    end_line(out, tag);
  } else if (!mc.names().empty()) {
    out += mc.class_text(r.prediction);
    end_line(out, tag);
  } else {
    format_prediction(out, static_cast<float>(r.prediction), tag);
  }
}

void format_mc_raw(std::string& out, const McLearner& mc, const McResult& r, std::string_view tag) {
  if (mc.csoaa()) {
    for (size_t i = 0; i < r.raw.size(); ++i) {
      if (i > 0) out.push_back(' ');
      out += std::to_string(r.raw[i].cls);
      out.push_back(':');
      append_g(out, r.raw[i].cost);
    }
  } else if (mc.config().probabilities) {
    return;  // VW writes no raw scores with --probabilities
  } else {
    // VW's order: with 0-based classes, class 0 is written first with the last problem's score
    const size_t k = r.scores.size();
    for (size_t i = 0; i < k; ++i) {
      const size_t p = r.raw_zero_based ? (i == 0 ? k - 1 : i - 1) : i;
      out.push_back(' ');
      out += std::to_string(r.raw_zero_based ? i : i + 1);
      out.push_back(':');
      append_g(out, r.scores[p]);
    }
  }
  end_line(out, tag);
}

namespace {

class McRunner {
 public:
  McRunner(McLearner& mc, Stats& s, const RunOptions& o, int raw_fd)
      : mc_(mc), stats_(s), opt_(o), line_no_(o.first_line_number) {
    if (opt_.print_progress) std::fputs(progress_header().c_str(), stderr);
    pred_out_ = OutputStream{opt_.predictions_fd, "predictions (-p)", opt_.print_warnings};
    raw_out_ = OutputStream{raw_fd, "raw predictions (-r)", opt_.print_warnings};
    audit_out_ = OutputStream{opt_.audit_fd, "the audit (--audit)", opt_.print_warnings};
    if (opt_.audit_fd >= 0) {
      const Config& c = mc_.base().config();
      mc_.set_audit(&audit_buf_, opt_.learn && c.adaptive && !ftrl_family(c));
    }
  }
  ~McRunner() { mc_.set_audit(nullptr, false); }
  McRunner(const McRunner&) = delete;
  McRunner& operator=(const McRunner&) = delete;

  void line(std::string_view text) {
    text = clean_line(text, first_);
    ++result_.lines;
    const uint64_t no = line_no_++;
    const ParseResult pr = mc_.parse(text, ex_, label_, opt_.names != nullptr || opt_.audit_fd >= 0);
    if (pr.status == ParseStatus::kBlank) return;
    if (pr.status == ParseStatus::kError) {
      refused(no, pr.error);
      return;
    }
    const bool pure = !opt_.learn && !opt_.account;
    const size_t audit_at = audit_buf_.size();
    const uint32_t indexing = mc_.state().indexing;
    const std::string why = mc_.check(label_);
    if (!why.empty()) {
      refused(no, why);
      return;
    }
    ++result_.examples;
    if (pure) {  // pure predictions: no clock, no statistics
      mc_.predict_const(ex_, label_, res_);
      if (mc_.auditing()) [[unlikely]] {
        mc_.audit_predicted(ex_, label_, res_);
        audited(audit_at, indexing);
      }
      output();
      return;
    }
    mc_.process(ex_, label_, opt_.learn, res_);
    if (mc_.auditing()) [[unlikely]]
      audited(audit_at, indexing);
    if (res_.skipped != nullptr) [[unlikely]] {  // an update was refused: the example changed nothing
      refused(no, res_.skipped);
      return;
    }
    if (opt_.names != nullptr) opt_.names->record_classes(mc_.base(), ex_, mc_.classes());
    Stats& s = stats_;
    count_mc_example(s, res_);
    output();
    if (opt_.every != 0 && result_.examples % opt_.every == 0 && opt_.hook) opt_.hook(result_.examples);
    if (opt_.print_progress && progress_due(s)) {
      std::fputs(row().c_str(), stderr);
      progress_printed(s, opt_.progress_add, opt_.progress_arg);
    }
  }

  RunResult finish() {
    if (!pred_buf_.empty()) pred_out_.write(pred_buf_);
    if (!raw_buf_.empty()) raw_out_.write(raw_buf_);
    if (!audit_buf_.empty()) audit_out_.write(audit_buf_);
    result_.predictions_error = pred_out_.error;
    result_.audit_error = audit_out_.error;
    return std::move(result_);
  }

 private:
  std::string row() const {
    const Stats& s = stats_;
    std::string avg = s.weighted_labeled_examples > 0. ? fixed(s.sum_loss / s.weighted_labeled_examples, 6) : "n.a.";
    std::string since =
        s.weighted_labeled_examples == s.old_weighted_labeled_examples
            ? "n.a."
            : fixed(s.sum_loss_since_last_dump / (s.weighted_labeled_examples - s.old_weighted_labeled_examples), 6);
    std::string label;
    std::string pred = mc_.class_text(res_.prediction);
    // VW's --named_labels --probabilities row names no prediction
    if (mc_.config().probabilities && !mc_.names().empty()) pred = "unknown";
    if (mc_.csoaa()) {
      label = res_.labelled ? "known" : "unknown";
    } else {
      label = res_.labelled ? mc_.class_text(label_.cls) : "unknown";
      if (mc_.config().probabilities && mc_.names().empty()) {
        label = std::to_string(label_.cls);  // VW prints the unlabelled marker as a number here
        char b[32];
        std::snprintf(b, sizeof b, "(%2.0f%%)", 100. * res_.probs[mc_.problem(res_.prediction)]);
        pred += b;
      }
    }
    return progress_row_columns(avg, since, s.example_number, s.weighted_examples(), label, pred, res_.num_features);
  }

  // After an audited example: VW's notice of the indexing it set (csoaa learns it before its
  // blocks, oaa after them), then the audit is written out now and then.
  void audited(size_t at, uint32_t indexing_before) {
    const uint32_t ix = mc_.state().indexing;
    if (opt_.audit_notices && indexing_before == 2 && ix != 2) {
      const std::string k = ix == 0 ? "0" : std::to_string(mc_.classes());
      const std::string info =
          "[info] label " + k + " found -- labels are now considered " + (ix == 0 ? "0" : "1") + "-indexed.\n";
      audit_buf_.insert(mc_.csoaa() ? at : audit_buf_.size(), info);
    }
    if (audit_buf_.size() > (1u << 16)) audit_out_.write(audit_buf_);
  }

  void refused(uint64_t no, const std::string& why) {
    const std::string error = "line " + std::to_string(no) + ": " + why;
    if (opt_.strict) throw StrictParseError(error);
    ++result_.bad_lines;
    ++stats_.bad_lines;
    if (opt_.print_warnings) std::fprintf(stderr, "wabbit: %s (line skipped)\n", error.c_str());
    if (result_.warnings.size() < kMaxKeptWarnings) result_.warnings.push_back(error);
    if (opt_.collect) {
      result_.predictions.insert(result_.predictions.end(), mc_values(mc_), std::numeric_limits<float>::quiet_NaN());
    }
    if (opt_.predictions_fd >= 0) pred_buf_ += "nan\n";
  }

  void output() {
    if (opt_.collect) {
      if (mc_.config().probabilities)
        result_.predictions.insert(result_.predictions.end(), res_.probs.begin(), res_.probs.end());
      else
        result_.predictions.push_back(static_cast<float>(res_.prediction));
    }
    if (opt_.predictions_fd >= 0) {
      format_mc_prediction(pred_buf_, mc_, res_, ex_.tag);
      if (pred_buf_.size() > (1u << 16)) pred_out_.write(pred_buf_);
    }
    if (raw_out_.fd >= 0) {
      format_mc_raw(raw_buf_, mc_, res_, ex_.tag);
      if (raw_buf_.size() > (1u << 16)) raw_out_.write(raw_buf_);
    }
  }

  McLearner& mc_;
  Stats& stats_;
  const RunOptions& opt_;
  Example ex_;
  McLabel label_;
  McResult res_;
  RunResult result_;
  std::string pred_buf_;
  std::string raw_buf_;
  OutputStream pred_out_;
  OutputStream raw_out_;
  std::string audit_buf_;
  OutputStream audit_out_;
  uint64_t line_no_;
  bool first_ = true;
};

}  // namespace

RunResult run_mc_buffer(McLearner& mc, Stats& stats, std::string_view buffer, const RunOptions& opt, int raw_fd) {
  McRunner r(mc, stats, opt, raw_fd);
  const bool done = for_each_line_checked(buffer, [&](std::string_view line) { r.line(line); }, opt.interrupt);
  RunResult res = r.finish();
  if (!done) res.interrupted = opt.interrupt->load(std::memory_order_relaxed);
  return res;
}

RunResult run_mc_fd(McLearner& mc, Stats& stats, int fd, const RunOptions& opt, int raw_fd) {
  McRunner r(mc, stats, opt, raw_fd);
  const bool done = for_each_fd_line(fd, [&](std::string_view line) { r.line(line); }, opt.head, opt.interrupt);
  RunResult res = r.finish();
  if (!done) res.interrupted = opt.interrupt->load(std::memory_order_relaxed);
  return res;
}

}  // namespace wabbit
