#include "cb/run.h"

#include <cstdio>
#include <limits>

#include "cb/progress.h"

namespace wabbit {

void format_cb_prediction(std::string& out, const CbLearner& cb, const CbResult& r, std::string_view tag) {
  if (cb.explore() || cb.config().rank_all) {
    for (size_t i = 0; i < r.action.size(); ++i) {
      if (i > 0) out.push_back(',');
      out += std::to_string(r.action[i]);
      out.push_back(':');
      out += fmt_float_trim(r.value[i], 6);
    }
  } else {
    out += std::to_string(r.action.empty() ? 0u : r.action[0]);
  }
  if (!tag.empty()) {
    out.push_back(' ');
    out.append(tag);
  }
  out += "\n\n";
}

namespace {

constexpr size_t kMaxKeptWarnings = 20;

class CbRunner {
 public:
  CbRunner(CbLearner& cb, Stats& s, const RunOptions& o) : cb_(cb), stats_(s), opt_(o), line_no_(o.first_line_number) {
    if (opt_.print_progress) std::fputs(progress_header().c_str(), stderr);
    pred_out_ = OutputStream{opt_.predictions_fd, "predictions (-p)", opt_.print_warnings};
    audit_out_ = OutputStream{opt_.audit_fd, "the audit (--audit)", opt_.print_warnings};
    names_ = opt_.audit_fd >= 0 || opt_.names != nullptr;
    if (names_) cb_.set_audit(opt_.audit_fd >= 0 ? &audit_buf_ : nullptr, opt_.learn, opt_.names);
  }
  ~CbRunner() { cb_.set_audit(nullptr, false, nullptr); }
  CbRunner(const CbRunner&) = delete;
  CbRunner& operator=(const CbRunner&) = delete;

  void line(std::string_view text) {
    text = clean_line(text, first_);
    ++result_.lines;
    const uint64_t no = line_no_++;
    if (event_lines_ == 0) event_no_ = no;
    bool blank = true;
    for (char c : text) {
      if (c != ' ' && c != '\t') {
        blank = false;
        break;
      }
    }
    if (blank) {
      end_event();
      return;
    }
    if (opt_.format != InputFormat::kText) {
      json_line(text, no);
      return;
    }
    if (cb_.fixed()) {
      fixed_line(text, no);
      return;
    }
    if (event_lines_ == 0) builder_.begin(ev_);
    ++event_lines_;
    builder_.line(ev_, text, no, names_);
  }

  void end_event() {
    if (event_lines_ == 0) return;
    if (builder_.end(ev_)) {
      process();
    } else {
      refused(builder_.error());
    }
    ev_.clear();
    event_lines_ = 0;
  }

  // A refused event: named (or the run stopped, with --strict), counted, its place kept in the outputs.
  void refused(const std::string& error) {
    if (opt_.strict) throw StrictParseError(error);
    ++result_.bad_lines;
    ++stats_.bad_lines;
    if (opt_.print_warnings) std::fprintf(stderr, "wabbit: %s (event skipped)\n", error.c_str());
    if (result_.warnings.size() < kMaxKeptWarnings) result_.warnings.push_back(error);
    skipped_output();
  }

  void process() {
    ++result_.examples;
    if (!opt_.learn && !opt_.account) {  // pure predictions: no clock, no statistics
      cb_.predict_const(ev_, res_);
      output();
      return;
    }
    cb_.process(ev_, opt_.learn, res_);
    if (audit_buf_.size() > (1u << 16)) audit_out_.write(audit_buf_);
    if (res_.skipped != nullptr) [[unlikely]] {  // an update was refused: the event changed nothing
      refused("line " + std::to_string(event_no_) + ": " + res_.skipped);
      return;
    }
    Stats& s = stats_;
    count_cb_event(s, res_);
    output();
    if (opt_.every != 0 && result_.examples % opt_.every == 0 && opt_.hook) opt_.hook(result_.examples);
    if (opt_.print_progress && s.weighted_examples() >= s.dump_interval) {
      const std::string label = res_.labelled ? cb_label_text(ev_.label) : "unknown";
      std::string pred =
          res_.action.empty() ? "no action" : std::to_string(res_.action[0]) + ":" + fmt_float_trim(res_.value[0], 2);
      std::fputs(progress_row_text(s.sum_loss, s.weighted_labeled_examples, s.sum_loss_since_last_dump,
                                   s.weighted_labeled_examples - s.old_weighted_labeled_examples, s.example_number,
                                   s.weighted_examples(), label, pred, res_.row_features)
                     .c_str(),
                 stderr);
      s.sum_loss_since_last_dump = 0.;
      s.old_weighted_labeled_examples = s.weighted_labeled_examples;
      s.dump_interval =
          opt_.progress_add ? s.weighted_examples() + opt_.progress_arg : s.weighted_examples() * opt_.progress_arg;
    }
  }

  // -p and collected predictions for the event just processed.
  void output() {
    if (opt_.collect) {
      // each event's values (scores or probabilities) in action order, one after the other
      std::vector<float> v(ev_.n);
      for (size_t i = 0; i < res_.action.size(); ++i) v[res_.action[i]] = res_.value[i];
      result_.predictions.insert(result_.predictions.end(), v.begin(), v.end());
    }
    if (opt_.predictions_fd >= 0) {
      format_cb_prediction(pred_buf_, cb_, res_, ev_.tag);
      if (pred_buf_.size() > (1u << 16)) pred_out_.write(pred_buf_);
    }
  }

  // A skipped event keeps its place: one NaN per action line (every line but a shared one) and
  // "nan" as its -p entry.
  void skipped_output() {
    if (opt_.collect) {
      const size_t actions = cb_.fixed() ? cb_.config().num_actions : event_lines_ - (ev_.has_shared ? 1u : 0u);
      result_.predictions.insert(result_.predictions.end(), actions, std::numeric_limits<float>::quiet_NaN());
    }
    if (opt_.predictions_fd >= 0) {
      pred_buf_ += "nan\n\n";
      if (pred_buf_.size() > (1u << 16)) pred_out_.write(pred_buf_);
    }
  }

  // interrupted: the event being read when a signal stopped the run is dropped, not learned half
  RunResult finish(bool interrupted = false) {
    if (!interrupted) end_event();
    if (opt_.predictions_fd >= 0 && !pred_buf_.empty()) pred_out_.write(pred_buf_);
    if (opt_.audit_fd >= 0 && !audit_buf_.empty()) audit_out_.write(audit_buf_);
    result_.predictions_error = pred_out_.error;
    result_.audit_error = audit_out_.error;
    if (interrupted) result_.interrupted = opt_.interrupt->load(std::memory_order_relaxed);
    return std::move(result_);
  }

 private:
  // --cb K: each line is an event
  void fixed_line(std::string_view text, uint64_t no) {
    if (builder_.fixed_line(ev_, text, no, names_)) {
      process();
    } else {
      event_lines_ = 1;
      refused(builder_.error());
      event_lines_ = 0;
    }
    ev_.clear();
  }

  // --json, --dsjson: each line is an event (VW's decision-service lines that log nothing to learn
  // are skipped)
  void json_line(std::string_view text, uint64_t no) {
    const JsonOptions jo{opt_.format == InputFormat::kDsJson, opt_.chain_hash, names_};
    const int r = parse_json_event(text, no, builder_, ev_, cb_.fixed(), jo);
    if (r > 0) {
      process();
    } else if (r < 0) {
      event_lines_ = ev_.n + (ev_.has_shared ? 1u : 0u);
      refused(builder_.error());
      event_lines_ = 0;
    }
    ev_.clear();
  }

  CbLearner& cb_;
  Stats& stats_;
  const RunOptions& opt_;
  CbEventBuilder builder_{&cb_};
  CbEvent ev_;
  CbResult res_;
  RunResult result_;
  std::string pred_buf_;
  OutputStream pred_out_;
  std::string audit_buf_;
  OutputStream audit_out_;
  bool names_ = false;  // parse with audit names (--audit, --invert_hash)
  uint64_t line_no_;
  uint64_t event_no_ = 0;  // the first line of the event being read
  size_t event_lines_ = 0;
  bool first_ = true;
};

}  // namespace

RunResult run_cb_buffer(CbLearner& cb, Stats& stats, std::string_view buffer, const RunOptions& opt) {
  CbRunner r(cb, stats, opt);
  return r.finish(!for_each_line_checked(buffer, [&](std::string_view line) { r.line(line); }, opt.interrupt));
}

RunResult run_cb_fd(CbLearner& cb, Stats& stats, int fd, const RunOptions& opt) {
  CbRunner r(cb, stats, opt);
  return r.finish(!for_each_fd_line(fd, [&](std::string_view line) { r.line(line); }, opt.head, opt.interrupt));
}
}  // namespace wabbit
