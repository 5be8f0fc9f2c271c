// libFuzzer target: the daemon's request handling without sockets (serve/session.h): the bytes are
// what a client sends on one connection, fed to a Session in chunks whose sizes come from the first
// byte, then the peer closes. The first byte also picks the model: linear, or a cb_explore_adf bandit
// (events), or --json lines on the linear model. Learned requests must keep the served weights
// finite. Saves go nowhere (no -f). Run: tools/fuzz.sh serve_session SECONDS.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "cb/cb.h"
#include "fuzz_common.h"
#include "serve/engine.h"
#include "serve/session.h"

using namespace wabbit;
using namespace wabbit::serve;

namespace {

// The engine of a mode, made once; before each input its served model is put back to a fresh one
// (weights, online state, the bandit's state), so an input replays alone. (The engine's metrics
// counters carry over between inputs: they are reported, never learned from.)
Engine& fresh_engine(int mode) {
  static std::unique_ptr<Engine> engines[3];
  static CbState cb_fresh;
  if (!engines[mode]) {
    Learner base(fuzz::small_config());
    std::shared_ptr<Version> v;
    EngineOptions opt;
    if (mode == 1) {
      CbConfig cfg;
      cfg.explore = CbExplore::kEpsilon;
      CbLearner cb(base, cfg);
      cb_fresh = cb.state();
      v = Version::copy_of(base, &cb, "", "--cb_explore_adf -b 10", "{}");
    } else {
      v = Version::copy_of(base, nullptr, "", "-b 10", "{}");
      if (mode == 2) opt.format = InputFormat::kJson;
    }
    engines[mode] = std::make_unique<Engine>(v, opt);
  }
  const std::shared_ptr<Version> v = engines[mode]->current();
  v->learner->reset();
  v->learner->set_offset(0);
  if (v->cb) v->cb->state() = cb_fresh;
  return *engines[mode];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + (data[0] >> 2);  // 1..64 bytes per feed
  const int mode = data[0] % 3;
  const std::string_view in = fuzz::as_view(data + 1, size - 1);
  Engine& engine = fresh_engine(mode);
  auto ctx = engine.make_context();
  Session s(engine, 4096);
  std::string out;
  for (size_t i = 0; i < in.size(); i += chunk) {
    if (!s.feed(*ctx, in.substr(i, chunk), out)) break;
    out.clear();
  }
  s.finish(*ctx, out);
  fuzz::require_finite(*engine.current()->learner, "serve_session");
  return 0;
}
