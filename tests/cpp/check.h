// The core's own tests, without Python: a few macros and a runner, nothing more. Each
// tests/cpp/test_*.cc is one executable (CMake globs them) that CTest runs; a failed CHECK prints
// the file, line and expression and the test exits non-zero.
//
//   bash tools/cpp_tests.sh          # configure, build and run them all
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace wabbit_test {

struct Case {
  const char* name;
  std::function<void()> run;
};
inline std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}
inline int& failures() {
  static int n = 0;
  return n;
}
struct Register {
  Register(const char* name, std::function<void()> f) { cases().push_back({name, std::move(f)}); }
};
inline void fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "%s:%d: FAILED %s\n", file, line, what.c_str());
  ++failures();
}

}  // namespace wabbit_test

#define WT_CAT2(a, b) a##b
#define WT_CAT(a, b) WT_CAT2(a, b)
// TEST(name) { ... }: a test case, run in the order of declaration.
#define TEST(name)                                                          \
  static void name();                                                       \
  static const wabbit_test::Register WT_CAT(register_, name)(#name, &name); \
  static void name()
#define CHECK(cond) ((cond) ? (void)0 : wabbit_test::fail(__FILE__, __LINE__, "CHECK(" #cond ")"))
#define CHECK_EQ(a, b)                                \
  ((a) == (b) ? (void)0                               \
              : wabbit_test::fail(__FILE__, __LINE__, \
                                  "CHECK_EQ(" #a ", " #b "): " + std::to_string(a) + " != " + std::to_string(b)))
// |a - b| <= tol
#define CHECK_NEAR(a, b, tol)                                          \
  (std::fabs(static_cast<double>(a) - static_cast<double>(b)) <= (tol) \
       ? (void)0                                                       \
       : wabbit_test::fail(__FILE__, __LINE__,                         \
                           "CHECK_NEAR(" #a ", " #b "): " + std::to_string(a) + " vs " + std::to_string(b)))
// The statement throws an exception of type E.
#define CHECK_THROWS(E, stmt)                                                               \
  do {                                                                                      \
    bool thrown_ = false;                                                                   \
    try {                                                                                   \
      stmt;                                                                                 \
    } catch (const E&) {                                                                    \
      thrown_ = true;                                                                       \
    }                                                                                       \
    if (!thrown_) wabbit_test::fail(__FILE__, __LINE__, "CHECK_THROWS(" #E ", " #stmt ")"); \
  } while (0)

// One main per test executable (define WABBIT_TEST_MAIN in exactly one file of it: each
// tests/cpp/test_*.cc is its own executable, so each defines it).
#ifdef WABBIT_TEST_MAIN
int main() {
  for (const auto& c : wabbit_test::cases()) {
    const int before = wabbit_test::failures();
    try {
      c.run();
    } catch (const std::exception& e) {
      wabbit_test::fail(__FILE__, __LINE__, std::string(c.name) + " threw: " + e.what());
    }
    std::printf("%s %s\n", wabbit_test::failures() == before ? "ok  " : "FAIL", c.name);
  }
  return wabbit_test::failures() == 0 ? 0 : 1;
}
#endif
