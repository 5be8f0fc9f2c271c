// Inputs that once crashed a fuzz target (tests/fuzz/regressions/<target>/), replayed through the
// target's own entry point in the ordinary build: each must run to the end. tools/fuzz.sh replays
// them under ASan+UBSan too (where the undefined behaviour they found is reported).
#define WABBIT_TEST_MAIN
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <stdexcept>
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

// The third finding: a checksummed record holding an infinity (a label, then a feature value) is a
// damaged record: the reader refuses it instead of handing the learner a number the writer never
// stores.
TEST(cache_non_finite_numbers_are_refused) {
  const float inf = std::numeric_limits<float>::infinity();
  std::string label_rec = {'\1'};  // flags: labelled
  label_rec.append(reinterpret_cast<const char*>(&inf), 4);
  label_rec += std::string{'\0'};                         // no groups
  std::string value_rec = {'\0', '\1', 'a', '\1', '\0'};  // one group 'a', 1 feature, all values stored
  const uint32_t index = 7;
  value_rec.append(reinterpret_cast<const char*>(&index), 4);
  value_rec.append(reinterpret_cast<const char*>(&inf), 4);
  for (const std::string& payload : {label_rec, value_rec}) {
    write_file(temp_path(), framed(payload, 1));
    CHECK(cache::check(temp_path(), cache::SourceId{}).empty());
    cache::Reader r(temp_path());
    Example ex;
    bool refused = false;
    try {
      r.next(ex);
    } catch (const std::runtime_error& e) {
      refused = std::string(e.what()).find("non-finite") != std::string::npos;
    }
    CHECK(refused);
    std::remove(temp_path().c_str());
  }
}
