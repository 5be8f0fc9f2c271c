// The data-frame run loop (see frame.h): the rows frame_row builds, through the loop the CSR input
// shares (run/row_loop.h).
#include "run/frame.h"

#include <string>

#include "run/row_loop.h"

namespace wabbit {

RunResult run_frame(Learner& learner, Stats& stats, const FrameInput& in, const RunOptions& opt) {
  auto fill = [&in](size_t r, Example& ex) { return frame_row(in, r, ex); };
  auto block = [&](Learner& l, Stats& s, size_t begin, size_t end, run_detail::RowScratch& scratch, RunResult& res,
                   HotRows* hot) {
    run_detail::row_block(l, s, opt, begin, end, in.predictions, fill, scratch, res, hot);
  };
  return run_detail::run_rows(learner, stats, in.rows, opt, block,
                              [&](size_t r, Example& ex) { return frame_row(in, r, ex).empty(); });
}

}  // namespace wabbit
