// libFuzzer target: the cache reader (formats/cache.h). Even first byte: the rest is a whole cache
// file, given to check() and, when accepted, read to its end. Odd first byte: the rest is one block's
// payload (its example count in the second byte), framed here as the writer frames it (a valid
// header, the block's header with its checksum, a footer with the chained checksum), so mutations
// reach the record decoder. Every example read is learned; the weights must stay finite.
// Run: tools/fuzz.sh cache SECONDS.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include "formats/cache.h"
#include "fuzz_common.h"
#include "run/driver.h"

using namespace wabbit;

namespace {

// In memory (/dev/shm) when the machine has it: on a disk's file system, rewriting a file per input
// costs a writeback on every close (most of an execution's time).
const std::string& temp_path() {
  static const std::string path = std::string(::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp") +
                                  "/wabbit-fuzz-cache-" + std::to_string(::getpid());
  return path;
}

void write_file(const std::string& path, const std::string& bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) std::abort();
  std::fclose(f);
}

std::string read_all(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) std::abort();
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

// The 64-byte header of an empty cache written by cache::Writer (made once).
const std::string& valid_header() {
  static const std::string header = [] {
    {
      cache::Writer w(temp_path(), cache::SourceId{});
      w.finish();
    }
    std::string bytes = read_all(temp_path());
    if (bytes.size() != 64 + 32) std::abort();  // the layout this target frames blocks for
    return bytes.substr(0, 64);
  }();
  return header;
}

template <class T>
void put(std::string& b, T v) {
  b.append(reinterpret_cast<const char*>(&v), sizeof v);
}

// A cache file holding one block with `payload` and `examples` records, checksums as the writer's.
std::string framed(std::string_view payload, uint32_t examples) {
  std::string file = valid_header();
  uint64_t chain;
  std::memcpy(&chain, file.data() + 56, 8);
  const auto len = static_cast<uint32_t>(payload.size());
  const uint64_t seed = (uint64_t{examples} << 32) | len;  // the writer's block seed
  const uint64_t sum = cache::checksum(payload.data(), payload.size(), seed);
  file.append("BLCK", 4);
  put(file, len);
  put(file, examples);
  put(file, uint32_t{0});
  put(file, sum);
  file.append(payload);
  chain = cache::checksum(&sum, sizeof sum, chain);
  file.append("DONE", 4);
  put(file, uint32_t{0});
  put(file, uint64_t{1});
  put(file, uint64_t{examples});
  put(file, chain);
  return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const std::string_view rest = fuzz::as_view(data + 1, size - 1);
  std::string file;
  if ((data[0] & 1) != 0) {
    file = framed(rest.substr(1), data[1]);
  } else {
    file.assign(rest);
  }
  const std::string& path = temp_path();
  write_file(path, file);
  if (!cache::check(path, cache::SourceId{}).empty()) return 0;
  Learner& learner = fuzz::fresh_learner();
  Stats stats;
  try {
    cache::Reader reader(path);
    Example ex;
    for (int i = 0; i < 100000; ++i) {
      ex.clear();
      const auto r = reader.next(ex);
      if (r == cache::Reader::Record::kEnd) break;
      if (r != cache::Reader::Record::kExample) continue;
      learner.prepare(ex);  // the cache holds examples as parsed
      process_example(learner, stats, ex, true);
    }
  } catch (const std::runtime_error&) {  // a malformed record
  }
  fuzz::require_finite(learner, "cache");
  return 0;
}
