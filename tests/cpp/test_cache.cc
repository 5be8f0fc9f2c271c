// The cache file (formats/cache.h): random examples come back exactly as written (labels, weights,
// bases, tags, slots in order, values including non-ones, empty groups, placeholders); a file cut
// at any byte, or with any single byte changed, is rejected by check().
// Records the text reader could never have produced (inf, NaN, a negative weight, a malformed group)
// under a matching checksum are refused by check() too, naming the record and the block.
#define WABBIT_TEST_MAIN
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "check.h"
#include "formats/cache.h"

using namespace wabbit;

namespace {

std::string temp_path(const char* name) { return "/tmp/wabbit_test_cache_" + std::to_string(::getpid()) + name; }

std::string read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void write_all(const std::string& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(s.data(), static_cast<std::streamsize>(s.size()));
}

// A random example; nullptr-free: some have no label, a tag, a weight, a base, several slots.
void random_example(std::mt19937& rng, Example& ex) {
  ex.clear();
  if (rng() % 4 != 0) ex.label = static_cast<float>(static_cast<int>(rng() % 7) - 3) * 0.5f;
  if (rng() % 3 == 0) ex.weight = static_cast<float>(rng() % 5) * 0.25f;
  if (rng() % 5 == 0) ex.initial = 0.125f;
  if (rng() % 3 == 0) ex.tag = "t" + std::to_string(rng() % 1000);
  const int groups = static_cast<int>(rng() % 4);
  for (int g = 0; g < groups; ++g) {
    const auto slot = static_cast<unsigned char>(rng() % 256);
    if (!ex.groups[slot].empty()) continue;
    const int n = 1 + static_cast<int>(rng() % 9);
    for (int k = 0; k < n; ++k) ex.add(slot, static_cast<uint32_t>(rng()), rng() % 3 == 0 ? 0.5f : 1.f);
  }
}

bool same(const Example& a, const Example& b) {
  if (a.order != b.order || a.tag != b.tag) return false;
  if (std::memcmp(&a.label, &b.label, 4) != 0 || a.weight != b.weight || a.initial != b.initial) return false;
  for (unsigned char s : a.order) {
    const FeatureGroup &x = a.groups[s], &y = b.groups[s];
    if (x.size() != y.size()) return false;
    for (size_t k = 0; k < x.size(); ++k) {
      if (x.index[k] != y.index[k] || x.value[k] != y.value[k]) return false;
    }
  }
  return true;
}

}  // namespace

TEST(examples_come_back_as_written) {
  const std::string path = temp_path("roundtrip");
  std::mt19937 rng(3);
  std::vector<Example> written(3000);
  std::vector<bool> placeholder(written.size());
  {
    cache::Writer w(path, cache::SourceId{});
    for (size_t i = 0; i < written.size(); ++i) {
      placeholder[i] = rng() % 11 == 0;
      if (placeholder[i]) {
        w.append_placeholder();
      } else {
        random_example(rng, written[i]);
        w.append(written[i]);
      }
    }
    w.finish();
  }
  CHECK(cache::check(path, cache::SourceId{}).empty());
  cache::Reader r(path);
  for (int pass = 0; pass < 2; ++pass) {
    r.rewind();
    Example ex;
    size_t i = 0;
    for (;;) {
      const auto rec = r.next(ex);
      if (rec == cache::Reader::Record::kEnd) break;
      CHECK(i < written.size());
      if (i >= written.size()) break;
      CHECK_EQ(rec == cache::Reader::Record::kPlaceholder, placeholder[i]);
      if (!placeholder[i]) CHECK(same(ex, written[i]));
      ++i;
    }
    CHECK_EQ(i, written.size());
  }
  std::remove(path.c_str());
}

TEST(any_cut_or_changed_byte_is_rejected) {
  const std::string path = temp_path("damage");
  std::mt19937 rng(5);
  {
    cache::Writer w(path, cache::SourceId{});
    Example ex;
    for (int i = 0; i < 12; ++i) {
      random_example(rng, ex);
      w.append(ex);
    }
    w.finish();
  }
  const std::string good = read_all(path);
  for (size_t cut = 0; cut < good.size(); ++cut) {
    write_all(path, good.substr(0, cut));
    CHECK(!cache::check(path, cache::SourceId{}).empty());
  }
  for (size_t at = 0; at < good.size(); ++at) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ (1 << (at % 8)));
    write_all(path, bad);
    CHECK(!cache::check(path, cache::SourceId{}).empty());
  }
  write_all(path, good);
  CHECK(cache::check(path, cache::SourceId{}).empty());
  std::remove(path.c_str());
}

TEST(an_unfinished_writer_leaves_nothing) {
  const std::string path = temp_path("unfinished");
  {
    cache::Writer w(path, cache::SourceId{});
    Example ex;
    ex.add(' ', 1, 1.f);
    w.append(ex);
  }
  CHECK(cache::check(path, cache::SourceId{}) == "does not exist");
  CHECK(::access((path + ".tmp" + std::to_string(::getpid())).c_str(), F_OK) != 0);
}

namespace {

// The file's first block payload starts after the 64-byte header and the 24-byte block header
// (tag, length, example count, zero, checksum at +16); its checksum is seeded with (count << 32) | length.
constexpr size_t kPayload = 64 + 24;
void reseal_first_block(std::string& file) {
  uint32_t len, count;
  std::memcpy(&len, file.data() + 64 + 4, 4);
  std::memcpy(&count, file.data() + 64 + 8, 4);
  const uint64_t sum = cache::checksum(file.data() + kPayload, len, (uint64_t{count} << 32) | len);
  std::memcpy(file.data() + 64 + 16, &sum, 8);
}

// check()'s reason for a cache of `records` (each appended as it is: the writer stores what it is given)
std::string reason_for(const std::string& path, const std::vector<Example>& records) {
  cache::Writer w(path, cache::SourceId{});
  for (const Example& ex : records) w.append(ex);
  w.finish();
  return cache::check(path, cache::SourceId{});
}

void check_text(const std::string& got, const std::string& want, int line) {
  if (got != want) wabbit_test::fail(__FILE__, line, "got \"" + got + "\", want \"" + want + "\"");
}

}  // namespace

// Records whose block checksums match but which the text reader could never have produced are
// refused by check() before a run, naming the record and the block; the reader refuses them too.
TEST(check_refuses_a_damaged_record_by_its_place) {
  const std::string path = temp_path("records");
  Example good;
  good.label = 1.f;
  good.add('a', 7, 0.5f);
  Example inf = good;
  inf.label = std::numeric_limits<float>::infinity();
  check_text(reason_for(path, {good, inf}), "holds a non-finite number in record 2 of block 1 (a damaged record)",
             __LINE__);
  {
    cache::Reader r(path);  // the file as if it changed after check(): next() still refuses the record
    Example ex;
    CHECK(r.next(ex) == cache::Reader::Record::kExample);
    CHECK_THROWS(std::runtime_error, r.next(ex));
  }
  Example nan_value = good;
  nan_value.groups['a'].value[0] = std::numeric_limits<float>::quiet_NaN();
  check_text(reason_for(path, {nan_value}), "holds a non-finite number in record 1 of block 1 (a damaged record)",
             __LINE__);

  Example negative = good;
  negative.weight = -2.f;
  check_text(reason_for(path, {good, good, good, negative}),
             "holds a negative weight in record 4 of block 1 (a damaged record)", __LINE__);

  // A group stored in a mode the writer has not got: the record is [flags 0][1 group][slot 5][1 feature][mode 1].
  Example plain;
  plain.add(5, 42, 1.f);
  CHECK(reason_for(path, {plain, good}).empty());
  std::string file = read_all(path);
  CHECK(file[kPayload + 4] == 1);
  file[kPayload + 4] = 9;
  reseal_first_block(file);
  write_all(path, file);
  check_text(cache::check(path, cache::SourceId{}), "holds a malformed record (record 1 of block 1)", __LINE__);
  {
    cache::Reader r(path);
    Example ex;
    CHECK_THROWS(std::runtime_error, r.next(ex));
  }
  // The same slot twice in one record.
  Example twice;
  twice.add(5, 42, 1.f);
  twice.order.push_back(5);
  check_text(reason_for(path, {good, twice}), "holds a malformed record (record 2 of block 1)", __LINE__);
  std::remove(path.c_str());
}
