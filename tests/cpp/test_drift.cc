// The drift detectors (cpp/drift/), without Python: alarms at the steps a hand computation gives,
// and the state vector's round trip and refusals.
#define WABBIT_TEST_MAIN
#include <vector>

#include "check.h"
#include "drift/drift.h"

using namespace wabbit::drift;

// Page-Hinkley with delta 0, alpha 1 (no forgetting), threshold 9, upward test, on 0 0 0 0 10 10:
// the running mean is 0 for four values (sum_increase 0, its minimum 0); at the fifth, mean 2 and
// deviation 8 (8 - 0 <= 9: no alarm); at the sixth, mean 20/6 and deviation 10 - 20/6, so
// sum_increase = 8 + 6.667 = 14.667 > 9: the alarm is at index 5.
TEST(page_hinkley_alarms_where_the_hand_computation_says) {
  PageHinkley::Params p;
  p.min_instances = 1;
  p.delta = 0.0;
  p.alpha = 1.0;
  p.threshold = 9.0;
  p.mode = PageHinkley::Mode::kUp;
  PageHinkley ph(p);
  const double xs[] = {0, 0, 0, 0, 10, 10};
  std::vector<int64_t> drifts;
  run_many(ph, xs, 6, drifts, nullptr);
  CHECK_EQ(drifts.size(), size_t{1});
  CHECK_EQ(drifts.at(0), int64_t{5});
  // The alarm resets the detector at the next value (as river's does).
  CHECK(!ph.update(10));
  CHECK_EQ(ph.state()[0], 1.0);  // n
}

// ADWIN keeps every value of a stationary stream (width = values seen); after a jump in the mean
// it drops the older values: the alarm comes soon after the change, and the window then holds
// only values after it.
TEST(adwin_shrinks_its_window_after_a_change) {
  Adwin adwin(Adwin::Params{});
  for (int i = 0; i < 1000; ++i) CHECK(!adwin.update(0.0));
  CHECK_EQ(adwin.width(), 1000.0);
  int alarm = -1;
  for (int i = 0; i < 1000 && alarm < 0; ++i) {
    if (adwin.update(1.0)) alarm = i;
  }
  CHECK(alarm >= 0 && alarm < 200);
  CHECK(adwin.width() < 1000.0);
  adwin.update(1.0);  // the next value starts afresh
  CHECK_EQ(adwin.width(), 1.0);
}

// The state vector holds everything mutable: a copy restored from it continues identically.
TEST(state_round_trip_continues_identically) {
  HddmW a(HddmW::Params{});
  for (int i = 0; i < 50; ++i) a.update(i % 7 == 0 ? 1.0 : 0.0);
  HddmW b(HddmW::Params{});
  b.set_state(a.state());
  for (int i = 0; i < 200; ++i) {
    const double x = i > 100 ? 1.0 : 0.0;
    CHECK_EQ(a.update(x), b.update(x));
  }
  CHECK(a.state() == b.state());
}

// A state of the wrong length, or with a flag or count that is not one, is refused and changes
// nothing.
TEST(a_bad_state_is_refused_and_changes_nothing) {
  Eddm e(Eddm::Params{});
  for (int i = 0; i < 40; ++i) e.update(i % 3 == 0 ? 1.0 : 0.0);
  const std::vector<double> good = e.state();
  std::vector<double> short_state = good;
  short_state.pop_back();
  CHECK_THROWS(std::invalid_argument, e.set_state(short_state));
  std::vector<double> bad_count = good;
  bad_count[3] = 0.5;  // n, a count
  CHECK_THROWS(std::invalid_argument, e.set_state(bad_count));
  std::vector<double> bad_flag = good;
  bad_flag[7] = 2.0;  // drift, a flag
  CHECK_THROWS(std::invalid_argument, e.set_state(bad_flag));
  CHECK(e.state() == good);
}
