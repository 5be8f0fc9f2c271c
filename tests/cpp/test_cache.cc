// The cache file (formats/cache.h): random examples come back exactly as written (labels, weights,
// bases, tags, slots in order, values including non-ones, empty groups, placeholders); a file cut
// at any byte, or with any single byte changed, is rejected by check().
#define WABBIT_TEST_MAIN
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
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
