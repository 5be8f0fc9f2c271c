// VW's -p number format (run/progress.h): format_prediction writes what printf's "%.0f" (whole
// numbers) or "%.6f" writes for the prediction as a double, for every kind of float.
#define WABBIT_TEST_MAIN
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "check.h"
#include "run/progress.h"

using namespace wabbit;

namespace {

std::string with_printf(float p) {
  char b[512];
  std::snprintf(b, sizeof b, std::floor(p) == p ? "%.0f" : "%.6f", static_cast<double>(p));
  return std::string(b) + "\n";
}

std::string ours(float p) {
  std::string out;
  format_prediction(out, p, {});
  return out;
}

}  // namespace

TEST(the_same_text_as_printf_for_random_bit_patterns) {
  std::mt19937 rng(7);
  int checked = 0;
  for (int i = 0; i < 2000000; ++i) {
    const uint32_t bits = rng();
    float f;
    std::memcpy(&f, &bits, sizeof f);
    if (std::isnan(f)) continue;
    if (ours(f) != with_printf(f)) {
      CHECK(ours(f) == with_printf(f));
      std::fprintf(stderr, "%a: %s vs %s", static_cast<double>(f), ours(f).c_str(), with_printf(f).c_str());
      return;
    }
    ++checked;
  }
  CHECK(checked > 1000000);
}

TEST(the_same_text_as_printf_near_rounding_edges_and_at_the_extremes) {
  const float cases[] = {0.f,
                         -0.f,
                         1.f,
                         -1.f,
                         0.5f,
                         0.0000005f,
                         0.0000015f,
                         0.0000025f,
                         2.5f,
                         0.1234565f,
                         0.9999995f,
                         1e-7f,
                         -1e-7f,
                         123456.7f,
                         16777216.f,
                         FLT_MAX,
                         -FLT_MAX,
                         FLT_MIN,
                         std::numeric_limits<float>::denorm_min(),
                         std::numeric_limits<float>::infinity(),
                         -std::numeric_limits<float>::infinity()};
  for (float f : cases) CHECK(ours(f) == with_printf(f));
  // a float at every step of 1e-6 around the rounding points of the sixth decimal
  for (int k = 0; k < 200000; ++k) {
    const float f = static_cast<float>(k) * 1e-6f + 5e-7f;
    CHECK(ours(f) == with_printf(f));
  }
}

TEST(a_tag_follows_after_a_space) {
  std::string out;
  format_prediction(out, 0.25f, "t1");
  CHECK(out == "0.250000 t1\n");
  out.clear();
  format_prediction(out, 2.f, "");
  CHECK(out == "2\n");
}
