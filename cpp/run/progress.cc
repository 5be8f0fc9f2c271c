#include "run/progress.h"

#include <charconv>

#include <cmath>
#include <cstdio>

#include "run/driver.h"

namespace wabbit {
namespace {

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

}  // namespace

std::string progress_header() {
  return "average  since         example        example        current        current  current\n"
         "loss     last          counter         weight          label        predict features\n";
}

std::string progress_row_columns(const std::string& average, const std::string& since, uint64_t example_number,
                                 double weighted_examples, const std::string& label, const std::string& prediction,
                                 uint64_t num_features) {
  char b[256];
  std::snprintf(b, sizeof b, "%-8s %-8s %12s %14s %14s %14s %8s\n", fit(average, 8, false).c_str(),
                fit(since, 8, false).c_str(), fit(std::to_string(example_number), 12, false).c_str(),
                fit(fixed(weighted_examples, 1), 14, false).c_str(), fit(label, 14, true).c_str(),
                fit(prediction, 14, true).c_str(), fit(std::to_string(num_features), 8, false).c_str());
  return b;
}

std::string progress_row(const Stats& s, float label, float prediction, uint32_t num_features) {
  std::string lab = label != kNoLabel ? fixed(label, 4) : "unknown";
  if (s.holdout_on && s.current_pass >= 1) {  // VW: the holdout loss from the second pass on, marked 'h'
    const std::string avg = s.holdout_sum_loss == 0. && s.weighted_holdout_examples == 0.
                                ? "unknown"
                                : fixed(s.holdout_sum_loss / s.weighted_holdout_examples, 6);
    const std::string since = s.holdout_loss_since_dump == 0. && s.weighted_holdout_since_dump == 0.
                                  ? "unknown"
                                  : fixed(s.holdout_loss_since_dump / s.weighted_holdout_since_dump, 6);
    std::string row = progress_row_columns(avg, since, s.example_number, s.weighted_examples(), lab,
                                           fixed(prediction, 4), num_features);
    row.insert(row.size() - 1, " h");
    return row;
  }
  std::string avg = s.weighted_labeled_examples > 0. ? fixed(s.sum_loss / s.weighted_labeled_examples, 6) : "n.a.";
  std::string since =
      s.weighted_labeled_examples == s.old_weighted_labeled_examples
          ? "n.a."
          : fixed(s.sum_loss_since_last_dump / (s.weighted_labeled_examples - s.old_weighted_labeled_examples), 6);
  return progress_row_columns(avg, since, s.example_number, s.weighted_examples(), lab, fixed(prediction, 4),
                              num_features);
}

bool progress_due(const Stats& s) { return s.weighted_examples() >= s.dump_interval; }

void progress_printed(Stats& s, bool add, double arg) {
  s.sum_loss_since_last_dump = 0.;
  if (s.holdout_on && s.current_pass >= 1) {
    s.weighted_holdout_since_dump = 0.;
    s.holdout_loss_since_dump = 0.;
  }
  s.old_weighted_labeled_examples = s.weighted_labeled_examples;
  s.dump_interval = add ? s.weighted_examples() + arg : s.weighted_examples() * arg;
}

void format_prediction(std::string& out, float prediction, std::string_view tag) {
  // printf's "%.0f" / "%.6f" of the double, through std::to_chars: the same exact decimal
  // rounding (tests/cpp/test_progress.cc compares them), several times faster (the daemon writes
  // one per request).
  char b[400];  // room for FLT_MAX in fixed notation with six decimals
  const double d = static_cast<double>(prediction);
  const auto r = std::isfinite(d) ? std::to_chars(b, b + sizeof b, d, std::chars_format::fixed,
                                                  std::floor(prediction) == prediction ? 0 : 6)
                                  : std::to_chars_result{b + std::snprintf(b, sizeof b, "%f", d), std::errc{}};
  out.append(b, static_cast<size_t>(r.ptr - b));
  if (!tag.empty()) {
    out.push_back(' ');
    out.append(tag);
  }
  out.push_back('\n');
}

}  // namespace wabbit
