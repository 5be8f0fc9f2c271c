// libFuzzer target: VW's text line parser (formats/vw_text.h). Each input line is parsed (with audit
// names on odd-length inputs) and, when it is an example, learned by a small learner, whose weights
// must stay finite. Run: tools/fuzz.sh vw_text SECONDS.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "formats/vw_text.h"
#include "fuzz_common.h"
#include "run/driver.h"

using namespace wabbit;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = fuzz::as_view(data, size);
  const bool names = size % 2 == 1;
  Learner& learner = fuzz::fresh_learner();
  Stats stats;
  Example ex;
  size_t start = 0;
  while (start <= in.size()) {
    size_t end = in.find('\n', start);
    if (end == std::string_view::npos) end = in.size();
    const std::string_view line = in.substr(start, end - start);
    ex.clear();
    if (parse_vw_line(line, ex, names).status == ParseStatus::kExample) {
      learner.prepare(ex);
      process_example(learner, stats, ex, true);
    }
    start = end + 1;
  }
  fuzz::require_finite(learner, "vw_text");
  return 0;
}
