// libFuzzer target: the model file loaders, wabbit's (formats/model_io.h) and VW's
// (formats/vw_model.h). The bytes are a model file; when the first byte is odd a wabbit file's
// trailing CRC-32 is recomputed first, so mutations get past the checksum into the header and
// weights. An accepted file is installed into a learner of its configuration, which then learns one
// example; its weights must stay finite. Run: tools/fuzz.sh model SECONDS.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "cb/cb.h"
#include "formats/model_io.h"
#include "formats/vw_model.h"
#include "formats/vw_text.h"
#include "fuzz_common.h"
#include "run/driver.h"

using namespace wabbit;

namespace {

constexpr uint32_t kMaxFuzzBits = 18;  // larger tables are valid but too slow to map per input

void learn_one(Learner& l) {
  Example ex;
  if (parse_vw_line("1 |a x:1 y:-2 |b z", ex).status != ParseStatus::kExample) std::abort();
  l.prepare(ex);
  Stats stats;
  process_example(l, stats, ex, true);
}

void wabbit_model(std::string bytes, bool fix_crc) {
  if (fix_crc && bytes.size() >= 4) {
    const uint32_t crc = crc32(bytes.data(), bytes.size() - 4);
    std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  }
  LoadedModel m;
  try {
    m = parse_model(std::move(bytes));
  } catch (const ModelError&) {
    return;
  }
  if (!m.header.has_config || m.header.config.bits > kMaxFuzzBits) return;
  try {
    Learner l(m.header.config);
    install_weights(m, l);
    fuzz::require_finite(l, "model (installed)");
    if (m.header.has_cb) {
      CbState st;
      install_cb_state(m, st);
    }
    if (m.header.has_mc) {
      McState st;
      install_mc_state(m, st);
    }
    learn_one(l);
    fuzz::require_finite(l, "model (after learning)");
  } catch (const ModelError&) {
  } catch (const std::invalid_argument&) {  // a configuration the learner refuses
  }
}

void vw_model(std::string bytes) {
  VwModel m;
  try {
    m = parse_vw_model(std::move(bytes));
  } catch (const ModelError&) {
    return;
  }
  if (m.bits > kMaxFuzzBits) return;
  Config c;
  c.bits = m.bits;
  Learner l(c);
  try {
    install_vw_model(m, l);
  } catch (const ModelError&) {
    return;
  }
  fuzz::require_finite(l, "vw_model (installed)");
  learn_one(l);
  fuzz::require_finite(l, "vw_model (after learning)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (looks_like_vw_model(bytes)) {
    vw_model(std::move(bytes));
  } else {
    wabbit_model(std::move(bytes), (data[0] & 1) != 0);
  }
  return 0;
}
