// The data-frame run loop: rows read from column buffers (formats/columns.h) learned or predicted
// as the text and CSR loops learn theirs (one row ahead, VW's statistics, monitors, a challenger,
// Hogwild workers on blocks of rows).
#pragma once

#include "core/learner.h"
#include "formats/columns.h"
#include "run/driver.h"

namespace wabbit {

// Learns from (or predicts) every row; each prediction lands in its row's slot of in.predictions.
// A refused row (see frame_row) is named by its 0-based number, like a malformed line.
RunResult run_frame(Learner& learner, Stats& stats, const FrameInput& in, const RunOptions& opt);

}  // namespace wabbit
