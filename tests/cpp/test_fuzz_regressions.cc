// Inputs that once crashed a fuzz target (tests/fuzz/regressions/<target>/), replayed through the
// target's own entry point in the ordinary build: each must run to the end. tools/fuzz.sh replays
// them under ASan+UBSan too (where the undefined behaviour they found is reported).
#define WABBIT_TEST_MAIN
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "check.h"

// The cache target (its LLVMFuzzerTestOneInput; more targets would need their own test file).
#include "../fuzz/fuzz_cache.cc"

TEST(cache_regressions_replay) {
  int replayed = 0;
  for (const auto& e : std::filesystem::directory_iterator("tests/fuzz/regressions/cache")) {
    std::ifstream f(e.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    CHECK(!bytes.empty());
    CHECK(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()) == 0);
    ++replayed;
  }
  CHECK(replayed >= 1);
}

// The case the first regression found, built directly: a checksummed block whose record has a group
// of zero features (the reader copied zero bytes from a null pointer) reads as an example.
TEST(cache_group_of_zero_features_reads) {
  // record: flags 0, one group: slot 'a', 0 features, all values
  const std::string payload = {'\0', '\1', 'a', '\0', '\0'};
  write_file(temp_path(), framed(payload, 1));
  CHECK(cache::check(temp_path(), cache::SourceId{}).empty());
  cache::Reader r(temp_path());
  Example ex;
  CHECK(r.next(ex) == cache::Reader::Record::kExample);
  CHECK(ex.groups['a'].empty());
  CHECK(r.next(ex) == cache::Reader::Record::kEnd);
  std::remove(temp_path().c_str());
}
