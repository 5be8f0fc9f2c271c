// VW's progress table (the rows on stderr at examples 1, 2, 4, ...) and its -p prediction lines:
// text only, from the counters a run keeps (Stats, run/driver.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace wabbit {

struct Stats;

// The two header lines of VW's progress table, and one row.
std::string progress_header();
std::string progress_row(const Stats& stats, float label, float prediction, uint32_t num_features);
// A row from its columns: the average and since-last losses (nullptr-free text such as "n.a."),
// the counters, and the label and prediction as text (cut to 14 columns with "..."). progress_row
// is this with VW's numeric label and prediction.
std::string progress_row_columns(const std::string& average, const std::string& since, uint64_t example_number,
                                 double weighted_examples, const std::string& label, const std::string& prediction,
                                 uint64_t num_features);
// Whether a row is due (VW prints one each time the weighted example count reaches the interval),
// and the next interval after printing one (-P: additive when `add`, else multiplicative); also
// restarts the since-last loss.
bool progress_due(const Stats& stats);
void progress_printed(Stats& stats, bool add, double arg);

// VW's -p line for a prediction and a tag.
void format_prediction(std::string& out, float prediction, std::string_view tag);

}  // namespace wabbit
