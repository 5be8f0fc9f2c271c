#include "cb/progress.h"

#include <cstdio>

namespace wabbit {

std::string fmt_float_trim(float f, int decimals) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, static_cast<double>(f));
  std::string s(b);
  if (s.find('.') != std::string::npos) {
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
  }
  return s;
}

std::string cb_label_text(const CbCost& c) {
  char b[96];
  std::snprintf(b, sizeof b, "%u:%.2g:%.2g", c.action, static_cast<double>(c.cost), static_cast<double>(c.probability));
  return b;
}

std::string progress_row_text(double sum_loss, double labeled, double since_loss, double since_labeled,
                              uint64_t example_number, double weighted_examples, const std::string& label,
                              const std::string& prediction, uint64_t num_features) {
  auto fixed = [](double v) {
    char b[64];
    std::snprintf(b, sizeof b, "%.6f", v);
    return std::string(b).substr(0, 8);
  };
  const std::string avg = labeled > 0. ? fixed(sum_loss / labeled) : "n.a.";
  const std::string since = since_labeled > 0. ? fixed(since_loss / since_labeled) : "n.a.";
  char w[64];
  std::snprintf(w, sizeof w, "%.1f", weighted_examples);
  auto fit = [](std::string s, size_t width) {
    if (s.size() <= width) return s;
    return width > 3 ? s.substr(0, width - 3) + "..." : s.substr(0, width);
  };
  char b[320];
  std::snprintf(b, sizeof b, "%-8s %-8s %12llu %14s %14s %14s %8llu\n", avg.c_str(), since.c_str(),
                static_cast<unsigned long long>(example_number), w, fit(label, 14).c_str(), fit(prediction, 14).c_str(),
                static_cast<unsigned long long>(num_features));
  return b;
}

}  // namespace wabbit
