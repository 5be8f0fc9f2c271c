// The model file (cpp/formats/model_io.h) read by the core alone, without Python: a bandit rebuilt
// from nothing but a file's bytes predicts the pmfs of the bandit that wrote it and goes on learning
// as it would have; a linear model round-trips bit for bit; a damaged file is refused.
#define WABBIT_TEST_MAIN
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cb/cb.h"
#include "cb/run.h"
#include "check.h"
#include "core/learner.h"
#include "formats/model_io.h"
#include "run/driver.h"

using namespace wabbit;

namespace {

// Bandit events in VW's multiline format: a shared user line, three actions, the chosen one labelled.
std::string bandit_events(uint32_t seed, int n, bool labelled) {
  std::string out;
  uint32_t s = seed;
  auto next = [&s](uint32_t k) {
    s = s * 1103515245u + 12345u;
    return (s >> 16) % k;
  };
  for (int e = 0; e < n; ++e) {
    const uint32_t chosen = next(3);
    out += "shared |u user=" + std::to_string(next(4)) + "\n";
    for (uint32_t a = 0; a < 3; ++a) {
      if (labelled && a == chosen) out += std::to_string(a) + ":" + std::to_string(next(2)) + ":0.4 ";
      out += "|a ad=" + std::to_string(a) + " f" + std::to_string(next(5)) + "\n";
    }
    out += "\n";
  }
  return out;
}

// Each event's values (the pmf, in action order), concatenated.
std::vector<float> run_events(CbLearner& cb, const std::string& events, bool learn) {
  Stats stats;
  RunOptions opt;
  opt.learn = learn;
  opt.collect = true;
  opt.account = learn;
  return run_cb_buffer(cb, stats, events, opt).predictions;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// A bandit rebuilt from a file's bytes only: its Config, CbConfig and state all come from the file.
struct Rebuilt {
  std::unique_ptr<Learner> base;
  std::unique_ptr<CbLearner> cb;
};
Rebuilt rebuild(const std::string& bytes) {
  const LoadedModel m = parse_model(bytes);
  CHECK(m.header.has_config);
  CHECK(m.header.has_cb);
  Rebuilt r;
  r.base = std::make_unique<Learner>(m.header.config);
  install_weights(m, *r.base);
  r.cb = std::make_unique<CbLearner>(*r.base, m.header.cb);
  install_cb_state(m, r.cb->state());
  return r;
}

void check_bandit_round_trip(CbConfig cb_cfg) {
  Config cfg;
  cfg.interactions = {"ua"};
  Learner base(cfg);
  CbLearner cb(base, cb_cfg);
  run_events(cb, bandit_events(1, 40, true), true);
  const std::string bytes = serialize_model(base, "test", "", "", false, {&cb.config(), &cb.state()});

  Rebuilt loaded = rebuild(bytes);
  const std::string probe = bandit_events(2, 10, false);
  const std::vector<float> want = run_events(cb, probe, false);
  CHECK_EQ(want.size(), size_t{30});
  CHECK(same_bits(run_events(*loaded.cb, probe, false), want));
  // The counters travel too: learning on from the file equals never having stopped.
  const std::string more = bandit_events(3, 30, true);
  CHECK(same_bits(run_events(*loaded.cb, more, true), run_events(cb, more, true)));
  CHECK(serialize_model(*loaded.base, "test", "", "", false, {&loaded.cb->config(), &loaded.cb->state()}) ==
        serialize_model(base, "test", "", "", false, {&cb.config(), &cb.state()}));
}

}  // namespace

TEST(epsilon_greedy_bandit_loads_from_the_file_alone) {
  CbConfig c;
  c.explore = CbExplore::kEpsilon;
  c.epsilon = 0.1f;
  check_bandit_round_trip(c);
}

TEST(squarecb_bandit_keeps_its_event_counter) {
  CbConfig c;
  c.explore = CbExplore::kSquareCb;
  c.epsilon = 0.f;
  check_bandit_round_trip(c);
}

TEST(tau_first_bandit_keeps_its_budget) {
  CbConfig c;
  c.explore = CbExplore::kFirst;
  c.first = 50;  // 40 learned before the save: 10 exploring events left
  c.epsilon = 0.f;
  check_bandit_round_trip(c);
}

TEST(linear_model_round_trips_bitwise) {
  Config cfg;
  cfg.bits = 12;
  cfg.loss = LossKind::kLogistic;
  cfg.interactions = {"ab"};
  cfg.ignore['z'] = true;
  Learner learner(cfg);
  Stats stats;
  RunOptions opt;
  run_buffer(learner, stats, "1 |a x:2 |b y |z q\n-1 |a w |b y:0.5\n1 2 |a x |b v\n", opt);
  const std::string bytes = serialize_model(learner, "test", "-b 12", "{}", false);
  const LoadedModel m = parse_model(bytes);
  CHECK_EQ(m.header.format_version, kModelFormatVersion);
  CHECK(!m.header.has_cb);
  CHECK(m.header.config.loss == LossKind::kLogistic);
  CHECK(m.header.config.ignore['z']);
  CHECK(!m.header.config.ignore['a']);
  CHECK(m.header.config.interactions == std::vector<std::string>{"ab"});
  Learner again(m.header.config);
  install_weights(m, again);
  CHECK(serialize_model(again, "test", "-b 12", "{}", false) == bytes);
  // the checksum the loader reports is the one stored in the last 4 bytes
  uint32_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
  CHECK_EQ(m.header.checksum, stored);
  CHECK_EQ(crc32(bytes.data(), bytes.size() - 4), stored);
}

TEST(a_flipped_byte_is_refused) {
  Config cfg;
  cfg.bits = 10;
  Learner learner(cfg);
  Stats stats;
  run_buffer(learner, stats, "1 |a x\n", RunOptions{});
  const std::string bytes = serialize_model(learner, "test", "-b 10", "", false);
  for (size_t at : {size_t{8}, size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
    std::string bad = bytes;
    bad[at] = static_cast<char>(bad[at] ^ 0x10);
    CHECK_THROWS(ModelError, parse_model(bad));
  }
}

namespace {

// The file with its last 4 bytes replaced by the CRC-32 of the rest.
std::string with_crc(std::string b) {
  const uint32_t crc = crc32(b.data(), b.size() - 4);
  std::memcpy(b.data() + b.size() - 4, &crc, 4);
  return b;
}

// Where the configuration section's size sits in a file written with version "test" and empty
// args and metadata: magic 8, format 4, three strings (4 + 4, 4, 4), online state 48 + 8, bits 4,
// stride 4, flags 1, encoding 1 (docs/model-format.md).
constexpr size_t kSectionAt = 8 + 4 + (4 + 4) + 4 + 4 + 48 + 8 + 4 + 4 + 1 + 1;

uint32_t u32_at(const std::string& b, size_t at) {
  uint32_t v = 0;
  std::memcpy(&v, b.data() + at, 4);
  return v;
}
void put_u32(std::string& b, size_t at, uint32_t v) { std::memcpy(b.data() + at, &v, 4); }

}  // namespace

// The configuration is keyed: a file without a field (written before the field was declared)
// reads as its default; a key this reader does not know is refused.
TEST(configuration_records_are_keyed) {
  Config cfg;
  cfg.bits = 8;
  cfg.classic_rule = 3;
  cfg.pa_eps = 0.25f;
  Learner learner(cfg);
  const std::string bytes = serialize_model(learner, "test", "", "", false);
  CHECK_EQ(parse_model(bytes).header.config.pa_eps, 0.25f);
  const std::string record = std::string("\x06\0\0\0pa_eps", 10) + std::string("\x04\0\0\0", 4);
  const size_t at = bytes.find(record);
  CHECK(at != std::string::npos && at > kSectionAt);

  std::string older = bytes;
  older.erase(at, record.size() + 4);  // the key, the size and the float
  put_u32(older, kSectionAt, u32_at(older, kSectionAt) - static_cast<uint32_t>(record.size() + 4));
  put_u32(older, kSectionAt + 4, u32_at(older, kSectionAt + 4) - 1);  // the record count
  const LoadedModel m = parse_model(with_crc(older));
  CHECK_EQ(m.header.config.pa_eps, Config{}.pa_eps);
  CHECK_EQ(m.header.config.classic_rule, 3);

  std::string newer = bytes;
  newer[at + 9] = 'X';  // "pa_epX"
  CHECK_THROWS(ModelError, parse_model(with_crc(newer)));
}
