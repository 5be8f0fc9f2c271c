// libFuzzer target: the JSON and dsjson reader (formats/vw_json.h). The first byte picks the mode:
// 0 JSON examples learned one line at a time by a linear learner, 1 JSON bandit events and 2 dsjson
// events through the bandit driver (cb_explore_adf), with chain hashing when bit 2 is set. The
// weights must stay finite. Run: tools/fuzz.sh vw_json SECONDS.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cb/cb.h"
#include "cb/run.h"
#include "formats/vw_json.h"
#include "fuzz_common.h"
#include "run/driver.h"

using namespace wabbit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int mode = data[0] % 3;
  const bool chain = (data[0] & 4) != 0;
  const std::string_view in = fuzz::as_view(data + 1, size - 1);
  Learner& base = fuzz::fresh_learner();
  Stats stats;
  if (mode == 0) {
    JsonOptions jo;
    jo.chain_hash = chain;
    jo.names = (data[0] & 8) != 0;
    Example ex;
    size_t start = 0;
    while (start <= in.size()) {
      size_t end = in.find('\n', start);
      if (end == std::string_view::npos) end = in.size();
      ex.clear();
      if (parse_json_example(in.substr(start, end - start), ex, jo).status == ParseStatus::kExample) {
        base.prepare(ex);
        process_example(base, stats, ex, true);
      }
      start = end + 1;
    }
  } else {
    // made once over the shared learner; its state put back to the fresh one before each input
    static CbLearner cb = [&base] {
      CbConfig cfg;
      cfg.explore = CbExplore::kEpsilon;
      return CbLearner(base, cfg);
    }();
    static const CbState fresh = cb.state();
    cb.state() = fresh;
    RunOptions opt;
    opt.format = mode == 1 ? InputFormat::kJson : InputFormat::kDsJson;
    opt.chain_hash = chain;
    opt.collect = true;
    run_cb_buffer(cb, stats, in, opt);
  }
  fuzz::require_finite(base, "vw_json");
  return 0;
}
