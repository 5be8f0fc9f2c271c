// libFuzzer target: the contextual-bandit line parser and event builder (cb/event.h) through the
// bandit driver (cb/run.h): the bytes are a buffer of VW multiline events for cb_explore_adf, or of
// --cb 3 single-line examples when the first byte is odd. Each event is learned; the weights must
// stay finite. Run: tools/fuzz.sh cb_event SECONDS.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cb/cb.h"
#include "cb/run.h"
#include "fuzz_common.h"
#include "run/driver.h"

using namespace wabbit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool fixed = (data[0] & 1) != 0;
  Learner base(fuzz::small_config());
  CbConfig cfg;
  cfg.explore = CbExplore::kEpsilon;
  if (fixed) cfg.num_actions = 3;
  CbLearner cb(base, cfg);
  Stats stats;
  RunOptions opt;
  opt.learn = true;
  opt.collect = true;
  run_cb_buffer(cb, stats, fuzz::as_view(data + 1, size - 1), opt);
  fuzz::require_finite(base, "cb_event");
  return 0;
}
