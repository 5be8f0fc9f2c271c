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

namespace {

// The bandit learner of a mode, made once over the shared learner; its state is put back to the
// fresh one before each input (the learner itself is reset by fresh_learner).
CbLearner& fresh_cb(bool fixed) {
  auto make = [](bool k) {
    CbConfig cfg;
    cfg.explore = CbExplore::kEpsilon;
    if (k) cfg.num_actions = 3;
    return CbLearner(fuzz::fresh_learner(), cfg);
  };
  static CbLearner adf = make(false), three = make(true);
  static const CbState adf0 = adf.state(), three0 = three.state();
  CbLearner& cb = fixed ? three : adf;
  cb.state() = fixed ? three0 : adf0;
  return cb;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool fixed = (data[0] & 1) != 0;
  Learner& base = fuzz::fresh_learner();
  CbLearner& cb = fresh_cb(fixed);
  Stats stats;
  RunOptions opt;
  opt.learn = true;
  opt.collect = true;
  run_cb_buffer(cb, stats, fuzz::as_view(data + 1, size - 1), opt);
  fuzz::require_finite(base, "cb_event");
  return 0;
}
