#include "formats/cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace wabbit::cache {
namespace {

constexpr char kMagic[8] = {'W', 'B', 'T', 'C', 'A', 'C', 'H', 'E'};
constexpr char kBlockTag[4] = {'B', 'L', 'C', 'K'};
constexpr char kDoneTag[4] = {'D', 'O', 'N', 'E'};
constexpr size_t kHeaderSize = 64;
constexpr size_t kBlockHeaderSize = 24;
constexpr size_t kFooterSize = 32;
constexpr size_t kBlockTarget = size_t{1} << 20;  // a block is closed once its payload passes 1 MiB
constexpr uint32_t kMaxPayload = uint32_t{1} << 31;

// record flags
constexpr uint8_t kLabelled = 1, kWeight = 2, kInitial = 4, kTag = 8, kPlaceholder = 0x80;
// group flags: how the values are stored (all of them, none: all are 1, or a bitmap of the
// ones that are not 1 followed by those)
constexpr uint8_t kAllValues = 0, kAllOnes = 1, kSomeValues = 2;

constexpr uint64_t kP1 = 0x9FB21C651E98DF25ULL;
constexpr uint64_t kP2 = 0xD6E8FEB86659FD93ULL;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t mix(uint64_t x) {
  x ^= x >> 32;
  x *= kP2;
  x ^= x >> 29;
  x *= kP1;
  x ^= x >> 32;
  return x;
}

template <class T>
void put(std::vector<char>& b, T v) {
  const size_t at = b.size();
  b.resize(at + sizeof v);
  std::memcpy(b.data() + at, &v, sizeof v);
}
void put_varint(std::vector<char>& b, uint64_t v) {
  while (v >= 0x80) {
    b.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  b.push_back(static_cast<char>(v));
}
void put_bytes(std::vector<char>& b, const void* p, size_t n) {
  if (n == 0) return;
  const size_t at = b.size();
  b.resize(at + n);
  std::memcpy(b.data() + at, p, n);
}

template <class T>
T get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::string errno_text() { return std::strerror(errno); }

// Reads up to n bytes (fewer only at the end of the file).
size_t read_full(int fd, void* buf, size_t n) {
  size_t got = 0;
  char* p = static_cast<char*>(buf);
  while (got < n) {
    const ssize_t r = ::read(fd, p + got, n - got);
    if (r == 0) break;
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot read the cache file: " + errno_text());
    }
    got += static_cast<size_t>(r);
  }
  return got;
}

struct Header {
  uint32_t format = 0;
  uint32_t parser = 0;
  SourceId source;
};

void encode_header(char* h, const SourceId& s) {
  std::memset(h, 0, kHeaderSize);
  std::memcpy(h, kMagic, 8);
  const uint32_t format = kFormatVersion, parser = kParserVersion, known = s.known ? 1 : 0;
  std::memcpy(h + 8, &format, 4);
  std::memcpy(h + 12, &parser, 4);
  std::memcpy(h + 16, &known, 4);
  std::memcpy(h + 20, &s.input, 4);
  std::memcpy(h + 24, &s.size, 8);
  std::memcpy(h + 32, &s.mtime_ns, 8);
  const uint64_t sum = checksum(h, 56);
  std::memcpy(h + 56, &sum, 8);
}

// "" and the header, or why the first bytes are not a usable header.
std::string decode_header(const char* h, size_t got, Header& out) {
  if (got < 8 || std::memcmp(h, kMagic, 8) != 0) return "is not a wabbit cache file (foreign or corrupted)";
  if (got < kHeaderSize) return "is truncated (it ends inside its header)";
  if (get<uint64_t>(h + 56) != checksum(h, 56)) return "is corrupted (its header does not match its checksum)";
  out.format = get<uint32_t>(h + 8);
  out.parser = get<uint32_t>(h + 12);
  out.source.known = get<uint32_t>(h + 16) != 0;
  out.source.input = get<uint32_t>(h + 20);
  out.source.size = get<uint64_t>(h + 24);
  out.source.mtime_ns = get<int64_t>(h + 32);
  if (out.format != kFormatVersion) {
    return "was written in cache format version " + std::to_string(out.format) + " (this wabbit writes version " +
           std::to_string(kFormatVersion) + ")";
  }
  if (out.parser != kParserVersion) {
    return "was written by another version of wabbit's text reader (parser version " + std::to_string(out.parser) +
           ", this one is " + std::to_string(kParserVersion) + ")";
  }
  return "";
}

// A block's checksum covers its header's fields too (length, example count; the rest must be 0).
uint64_t block_seed(uint32_t len, uint32_t examples) { return (uint64_t{examples} << 32) | len; }

std::string describe_input(uint32_t input) {
  const uint32_t format = input & 3u;
  std::string s = format == 0 ? "VW text" : format == 1 ? "--json" : format == 2 ? "--dsjson" : "an unknown format";
  if ((input & 4u) != 0) s += " with --chain_hash";
  return s;
}

std::string describe(const SourceId& s) {
  return std::to_string(s.size) + " bytes, modified at " + std::to_string(s.mtime_ns / 1000000000) + "." +
         std::to_string(s.mtime_ns % 1000000000 / 1000000) + " s";
}

// What is wrong with a record, if anything. The writer stores finite numbers only (the text reader
// refuses the others) and no negative importance weight (the text reader refuses those too): a
// stored infinity, NaN or negative weight is a damaged record, never a number to learn from.
enum class Damage : uint8_t { kNone, kMalformed, kNonFinite, kNegativeWeight };

const char* damage_text(Damage d) {
  switch (d) {
    case Damage::kNone:
      return "";
    case Damage::kNonFinite:
      return "holds a non-finite number (a damaged record)";
    case Damage::kNegativeWeight:
      return "holds a negative weight (a damaged record)";
    case Damage::kMalformed:
      break;
  }
  return "holds a malformed record";
}

// The record's rules, in one place for check() and Reader::next: decodes the record at p[pos]
// (p[end] is the end of its block), moving pos past it. A placeholder leaves `ex` untouched;
// otherwise `ex` is cleared and refilled, reusing its capacity (no allocation once it is warm).
// On damage, `ex` holds part of the record and pos is anywhere in the block.
Damage decode_record(const char* p, size_t end, size_t& pos, Example& ex, bool& placeholder) {
  auto has = [&](size_t n) { return end - pos >= n; };
  auto varint = [&](uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!has(1)) return false;
      const auto b = static_cast<unsigned char>(p[pos++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  };
  // 0: a finite number read; else what is wrong
  auto f32 = [&](float& v) {
    if (!has(4)) return Damage::kMalformed;
    v = get<float>(p + pos);
    pos += 4;
    return std::isfinite(v) ? Damage::kNone : Damage::kNonFinite;
  };
  if (!has(1)) return Damage::kMalformed;
  const auto flags = static_cast<uint8_t>(p[pos++]);
  placeholder = flags == kPlaceholder;
  if (placeholder) return Damage::kNone;
  if ((flags & ~(kLabelled | kWeight | kInitial | kTag)) != 0) return Damage::kMalformed;
  ex.clear();
  Damage d = Damage::kNone;
  if ((flags & kLabelled) && (d = f32(ex.label)) != Damage::kNone) return d;
  if (flags & kWeight) {
    if ((d = f32(ex.weight)) != Damage::kNone) return d;
    if (ex.weight < 0.f) return Damage::kNegativeWeight;
  }
  if ((flags & kInitial) && (d = f32(ex.initial)) != Damage::kNone) return d;
  if (flags & kTag) {
    uint64_t n = 0;
    if (!varint(n) || !has(n)) return Damage::kMalformed;
    ex.tag.assign(p + pos, n);
    pos += n;
  }
  uint64_t groups = 0;
  if (!varint(groups) || groups > 256) return Damage::kMalformed;
  for (uint64_t k = 0; k < groups; ++k) {
    if (!has(1)) return Damage::kMalformed;
    const auto slot = static_cast<unsigned char>(p[pos++]);
    uint64_t n = 0;
    if (!varint(n) || !has(1)) return Damage::kMalformed;
    const auto gflags = static_cast<uint8_t>(p[pos++]);
    FeatureGroup& g = ex.groups[slot];
    if (!g.empty()) return Damage::kMalformed;  // a slot twice
    if (gflags != kAllValues && gflags != kAllOnes && gflags != kSomeValues) return Damage::kMalformed;
    if (n > (end - pos) / sizeof(uint32_t)) return Damage::kMalformed;
    ex.order.push_back(slot);
    uint32_t* idx = g.index.room(n);
    if (n != 0) std::memcpy(idx, p + pos, n * sizeof(uint32_t));  // (room(0) may be null)
    g.index.set_end(idx + n);
    pos += n * sizeof(uint32_t);
    float* val = g.value.room(n);
    if (gflags == kAllValues) {
      if (!has(n * sizeof(float))) return Damage::kMalformed;
      if (n != 0) std::memcpy(val, p + pos, n * sizeof(float));
      pos += n * sizeof(float);
      g.value.set_end(val + n);
      for (size_t j = 0; j < n; ++j) {
        if (!std::isfinite(val[j])) return Damage::kNonFinite;
      }
    } else {
      std::fill(val, val + n, 1.f);
      g.value.set_end(val + n);
      if (gflags == kSomeValues) {
        const size_t bitmap = (n + 7) / 8;
        if (!has(bitmap)) return Damage::kMalformed;
        const char* bits = p + pos;
        pos += bitmap;
        for (size_t j = 0; j < n; ++j) {
          if (((static_cast<unsigned char>(bits[j / 8]) >> (j % 8)) & 1u) && (d = f32(val[j])) != Damage::kNone) {
            return d;
          }
        }
      }
    }
  }
  return Damage::kNone;
}

}  // namespace

uint64_t checksum(const void* data, size_t n, uint64_t seed) {
  const char* p = static_cast<const char*>(data);
  uint64_t a = seed + kP1, b = seed ^ kP2, c = seed - kP1, d = ~seed;
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a = rotl((a ^ get<uint64_t>(p + i)) * kP1, 29);
    b = rotl((b ^ get<uint64_t>(p + i + 8)) * kP1, 29);
    c = rotl((c ^ get<uint64_t>(p + i + 16)) * kP1, 29);
    d = rotl((d ^ get<uint64_t>(p + i + 24)) * kP1, 29);
  }
  uint64_t h = mix(a) ^ rotl(mix(b), 17) ^ rotl(mix(c), 31) ^ rotl(mix(d), 47) ^ (n * kP2);
  for (; i + 8 <= n; i += 8) h = rotl((h ^ get<uint64_t>(p + i)) * kP1, 31);
  for (; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * kP2;
  return mix(h);
}

SourceId source_id(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("cannot read " + path + ": " + errno_text());
  SourceId s;
  s.known = true;
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return s;
}

std::string check(const std::string& path, const SourceId& source) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? "does not exist" : "cannot be opened: " + errno_text();
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  char h[kHeaderSize];
  Header header;
  std::string why = decode_header(h, read_full(fd, h, kHeaderSize), header);
  if (!why.empty()) return why;
  if (header.source.known != source.known && source.known) {
    return "was made from standard input, not from this data file";
  }
  if (header.source.input != source.input) {
    return "was made from input read another way (" + describe_input(header.source.input) + ", this run reads " +
           describe_input(source.input) + ")";
  }
  if (source.known && (header.source.size != source.size || header.source.mtime_ns != source.mtime_ns)) {
    return "is stale: it was made from the data file as it was (" + describe(header.source) + "); it is now " +
           describe(source);
  }
  uint64_t chain = get<uint64_t>(h + 56), blocks = 0, examples = 0;
  std::vector<char> payload;
  Example scratch;  // every record is decoded into it in turn
  for (;;) {
    char bh[kBlockHeaderSize];
    const size_t got = read_full(fd, bh, kBlockHeaderSize);
    if (got >= 4 && std::memcmp(bh, kDoneTag, 4) == 0) {
      char f[kFooterSize];
      std::memcpy(f, bh, got);
      if (got < kBlockHeaderSize ||
          read_full(fd, f + kBlockHeaderSize, kFooterSize - kBlockHeaderSize) < kFooterSize - kBlockHeaderSize) {
        return "is truncated (it ends inside its footer)";
      }
      if (get<uint32_t>(f + 4) != 0 || get<uint64_t>(f + 8) != blocks || get<uint64_t>(f + 16) != examples ||
          get<uint64_t>(f + 24) != chain) {
        return "is corrupted (its footer does not match its blocks)";
      }
      char extra;
      if (read_full(fd, &extra, 1) != 0) return "is corrupted (there are bytes after its footer)";
      return "";
    }
    if (got < kBlockHeaderSize) {
      return got == 0 ? "is truncated (it ends after " + std::to_string(blocks) + " complete blocks, without a footer)"
                      : "is truncated (it ends inside a block header)";
    }
    if (std::memcmp(bh, kBlockTag, 4) != 0) return "is corrupted (block " + std::to_string(blocks + 1) + "'s header)";
    const uint32_t len = get<uint32_t>(bh + 4);
    if (len > kMaxPayload) return "is corrupted (block " + std::to_string(blocks + 1) + "'s length)";
    struct stat st;  // a length past the file's end is a cut file: no buffer of that size for it
    if (::fstat(fd, &st) == 0 && len > static_cast<uint64_t>(st.st_size)) {
      return "is truncated (it ends inside block " + std::to_string(blocks + 1) + ")";
    }
    payload.resize(len);
    if (read_full(fd, payload.data(), len) < len) {
      return "is truncated (it ends inside block " + std::to_string(blocks + 1) + ")";
    }
    const uint64_t sum = get<uint64_t>(bh + 16);
    if (get<uint32_t>(bh + 12) != 0 || checksum(payload.data(), len, block_seed(len, get<uint32_t>(bh + 8))) != sum) {
      return "is corrupted (block " + std::to_string(blocks + 1) + " does not match its checksum)";
    }
    // Every record too, with the reader's own decoder: a cache is used whole or not at all, so a
    // damaged record must be found here, not after the records before it were learned.
    const uint32_t count = get<uint32_t>(bh + 8);
    size_t pos = 0;
    for (uint32_t r = 0; r < count; ++r) {
      bool placeholder = false;
      const Damage d = decode_record(payload.data(), len, pos, scratch, placeholder);
      if (d != Damage::kNone) {
        const std::string where = "record " + std::to_string(r + 1) + " of block " + std::to_string(blocks + 1);
        if (d == Damage::kNonFinite) return "holds a non-finite number in " + where + " (a damaged record)";
        if (d == Damage::kNegativeWeight) return "holds a negative weight in " + where + " (a damaged record)";
        return "holds a malformed record (" + where + ")";
      }
    }
    if (pos != len) {
      return "holds a malformed record (block " + std::to_string(blocks + 1) + " has bytes after its last record)";
    }
    chain = checksum(&sum, sizeof sum, chain);
    ++blocks;
    examples += count;
  }
}

// --- Writer -------------------------------------------------------------------------------

Writer::Writer(std::string path, const SourceId& source) : path_(std::move(path)) {
  tmp_ = path_ + ".tmp" + std::to_string(::getpid());
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot create the cache file " + tmp_ + ": " + errno_text());
  char h[kHeaderSize];
  encode_header(h, source);
  chain_ = get<uint64_t>(h + 56);
  write_all(h, kHeaderSize);
  block_.reserve(kBlockTarget + (size_t{1} << 16));
}

Writer::~Writer() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void Writer::write_all(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::write(fd_, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot write the cache file " + tmp_ + ": " + errno_text());
    }
    c += w;
    n -= static_cast<size_t>(w);
  }
}

void Writer::append(const Example& ex) {
  uint8_t flags = 0;
  if (ex.labelled()) flags |= kLabelled;
  if (ex.weight != 1.f) flags |= kWeight;
  if (ex.initial != 0.f) flags |= kInitial;
  if (!ex.tag.empty()) flags |= kTag;
  block_.push_back(static_cast<char>(flags));
  if (flags & kLabelled) put(block_, ex.label);
  if (flags & kWeight) put(block_, ex.weight);
  if (flags & kInitial) put(block_, ex.initial);
  if (flags & kTag) {
    put_varint(block_, ex.tag.size());
    put_bytes(block_, ex.tag.data(), ex.tag.size());
  }
  put_varint(block_, ex.order.size());
  for (const unsigned char slot : ex.order) {
    const FeatureGroup& g = ex.groups[slot];
    const size_t n = g.size();
    block_.push_back(static_cast<char>(slot));
    put_varint(block_, n);
    size_t others = 0;  // values that are not exactly 1
    for (size_t k = 0; k < n; ++k) {
      uint32_t bits;
      std::memcpy(&bits, &g.value[k], 4);
      others += bits != 0x3f800000u;
    }
    const size_t bitmap = (n + 7) / 8;
    const uint8_t mode = others == 0 ? kAllOnes : bitmap + others * 4 < n * 4 ? kSomeValues : kAllValues;
    block_.push_back(static_cast<char>(mode));
    put_bytes(block_, g.index.data(), n * sizeof(uint32_t));
    if (mode == kAllValues) {
      put_bytes(block_, g.value.data(), n * sizeof(float));
    } else if (mode == kSomeValues) {
      const size_t at = block_.size();
      block_.resize(at + bitmap, 0);
      for (size_t k = 0; k < n; ++k) {
        uint32_t bits;
        std::memcpy(&bits, &g.value[k], 4);
        if (bits != 0x3f800000u) {
          block_[at + k / 8] = static_cast<char>(block_[at + k / 8] | (1 << (k % 8)));
          put(block_, g.value[k]);
        }
      }
    }
  }
  ++block_examples_;
  ++examples_;
  if (block_.size() >= kBlockTarget) flush_block();
}

void Writer::append_placeholder() {
  block_.push_back(static_cast<char>(kPlaceholder));
  ++block_examples_;
  ++examples_;
  if (block_.size() >= kBlockTarget) flush_block();
}

void Writer::flush_block() {
  if (block_examples_ == 0) return;
  if (block_.size() > kMaxPayload) throw std::runtime_error("an example is too large for the cache (over 2 GiB)");
  char bh[kBlockHeaderSize] = {};
  std::memcpy(bh, kBlockTag, 4);
  const uint32_t len = static_cast<uint32_t>(block_.size());
  const uint64_t sum = checksum(block_.data(), block_.size(), block_seed(len, block_examples_));
  std::memcpy(bh + 4, &len, 4);
  std::memcpy(bh + 8, &block_examples_, 4);
  std::memcpy(bh + 16, &sum, 8);
  write_all(bh, kBlockHeaderSize);
  write_all(block_.data(), block_.size());
  chain_ = checksum(&sum, sizeof sum, chain_);
  ++blocks_;
  block_.clear();
  block_examples_ = 0;
}

void Writer::finish() {
  flush_block();
  char f[kFooterSize] = {};
  std::memcpy(f, kDoneTag, 4);
  std::memcpy(f + 8, &blocks_, 8);
  std::memcpy(f + 16, &examples_, 8);
  std::memcpy(f + 24, &chain_, 8);
  write_all(f, kFooterSize);
  if (::close(fd_) != 0) {
    fd_ = -1;
    ::unlink(tmp_.c_str());
    throw std::runtime_error("cannot write the cache file " + tmp_ + ": " + errno_text());
  }
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp_.c_str());
    throw std::runtime_error("cannot rename the cache file " + tmp_ + " to " + path_ + ": " + why);
  }
}

// --- Reader -------------------------------------------------------------------------------

Reader::Reader(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error("cannot open the cache file " + path + ": " + errno_text());
  rewind();
}

Reader::~Reader() {
  if (fd_ >= 0) ::close(fd_);
}

void Reader::rewind() {
  if (::lseek(fd_, static_cast<off_t>(kHeaderSize), SEEK_SET) < 0) {
    throw std::runtime_error("cannot read the cache file " + path_ + ": " + errno_text());
  }
  block_.clear();
  pos_ = 0;
  left_ = 0;
  ended_ = false;
}

bool Reader::load_block() {
  const std::string changed = "the cache file " + path_ + " changed while it was read (";
  char bh[kBlockHeaderSize];
  const size_t got = read_full(fd_, bh, kBlockHeaderSize);
  if (got >= 4 && std::memcmp(bh, kDoneTag, 4) == 0) return false;
  if (got < kBlockHeaderSize || std::memcmp(bh, kBlockTag, 4) != 0) throw std::runtime_error(changed + "a block)");
  const uint32_t len = get<uint32_t>(bh + 4);
  if (len > kMaxPayload) throw std::runtime_error(changed + "a block's length)");
  block_.resize(len);
  if (read_full(fd_, block_.data(), len) < len) throw std::runtime_error(changed + "it ends early)");
  if (get<uint32_t>(bh + 12) != 0 ||
      checksum(block_.data(), len, block_seed(len, get<uint32_t>(bh + 8))) != get<uint64_t>(bh + 16)) {
    throw std::runtime_error(changed + "a checksum)");
  }
  pos_ = 0;
  left_ = get<uint32_t>(bh + 8);
  return true;
}

Reader::Record Reader::next(Example& ex) {
  while (left_ == 0) {
    if (ended_ || !load_block()) {
      ended_ = true;
      return Record::kEnd;
    }
  }
  bool placeholder = false;
  const Damage d = decode_record(block_.data(), block_.size(), pos_, ex, placeholder);
  if (d != Damage::kNone) throw std::runtime_error("the cache file " + path_ + " " + damage_text(d));
  --left_;
  return placeholder ? Record::kPlaceholder : Record::kExample;
}

}  // namespace wabbit::cache
