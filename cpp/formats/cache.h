// wabbit's cache file (-c, --cache_file): the examples of a text input as the parser left them
// (hashed, before Learner::prepare), so that later passes (--passes) skip parsing and hashing.
// This file is the format's one owner; docs/decisions.md ("Passes, the holdout and the cache")
// gives the rules around it.
//
//   header   64 bytes: magic "WBTCACHE", format version, parser version, the source's identity
//            (size and modification time of the data file, when there is one), a checksum
//   blocks   each: a 24-byte block header (tag "BLCK", payload length, example count, payload
//            checksum) and its payload: the examples, one record after another
//   footer   32 bytes: tag "DONE", block and example counts, a checksum over the header's and
//            the blocks' checksums
//
// A record keeps what the parser produced (or marks a line that gave none: see append_placeholder): label, importance
// weight, base, tag, and each namespace slot's (32-bit unmasked index, value) pairs in order (values are left out when
// all are 1). What the learner does afterwards (-b's mask, --ignore/--keep, --noconstant, -q and the other
// interactions) is applied when an example is read back, so none of those flags changes a cache; only the parser (its
// version, stored in the header) and the data file do.
//
// A cache is trusted only whole: check() reads every block and decodes every record (with the
// reader's decoder) before a run uses it, and the reader checks each block and record again as it
// reads it. The writer writes to a temporary name and renames it
// into place when the pass is complete, so an interrupted first pass leaves no cache behind.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/example.h"

namespace wabbit::cache {

inline constexpr uint32_t kFormatVersion = 1;
// Bumped whenever the text reader (formats/vw_text.cc) or the hashing would produce different
// examples from the same line: a cache written by another parser is rebuilt.
inline constexpr uint32_t kParserVersion = 1;

// Where the examples came from: the data file's size and modification time (nanoseconds).
// `known` is false for standard input (a cache made from it is accepted as it is, as VW does).
// `input` is how the lines were read (input_code()): a cache made from JSON is not the cache of a
// run that reads the same file as VW text, and the other way round.
struct SourceId {
  bool known = false;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint32_t input = 0;
};
// 0 VW text, 1 --json, 2 --dsjson; + 4 with --chain_hash (it changes the hashes of JSON strings).
inline uint32_t input_code(uint32_t format, bool chain_hash) { return format + (chain_hash ? 4u : 0u); }
SourceId source_id(const std::string& path);  // throws std::runtime_error if it cannot be read

// Why the file at `path` cannot be used as the cache of `source` ("" if it can): missing,
// foreign (not a wabbit cache), another format or parser version, stale (made from another
// version of the data file), truncated, corrupted, or holding a record the text reader could not
// have produced (named by its place: "record K of block B"). Reads and decodes the whole file.
std::string check(const std::string& path, const SourceId& source);

// Writes a cache: append() every example of the pass, then finish(); destroying an unfinished
// writer removes its temporary file.
class Writer {
 public:
  Writer(std::string path, const SourceId& source);  // throws std::runtime_error
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void append(const Example& ex);
  // A line that is no example (blank, or refused by the parser): VW counts it towards the holdout
  // period, so the later passes must see it too.
  void append_placeholder();
  void finish();  // the footer, then the rename into place; throws std::runtime_error
  uint64_t examples() const { return examples_; }

 private:
  void flush_block();
  void write_all(const void* p, size_t n);
  std::string path_;
  std::string tmp_;
  int fd_ = -1;
  std::vector<char> block_;
  uint32_t block_examples_ = 0;
  uint64_t blocks_ = 0;
  uint64_t examples_ = 0;
  uint64_t chain_ = 0;  // the footer's checksum, over the header's and every block's
};

// Reads a cache from its first example to its last; rewind() starts another pass.
class Reader {
 public:
  explicit Reader(const std::string& path);  // throws std::runtime_error (use check() first)
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  enum class Record { kEnd, kExample, kPlaceholder };
  // The next record: an example (into `ex`, cleared first), a placeholder (see
  // Writer::append_placeholder; `ex` untouched) or the end (again at every later call). Throws
  // std::runtime_error if the file changed since check() (a block that does not match its
  // checksum, or ends early).
  Record next(Example& ex);
  void rewind();

 private:
  bool load_block();
  int fd_ = -1;
  std::string path_;
  std::vector<char> block_;
  size_t pos_ = 0;
  uint32_t left_ = 0;   // examples left in the current block
  bool ended_ = false;  // the footer was read: next() returns kEnd until rewind()
};

// The checksum the format uses (64 bits, several GB/s): exposed for the tests.
uint64_t checksum(const void* data, size_t n, uint64_t seed = 0);

}  // namespace wabbit::cache
