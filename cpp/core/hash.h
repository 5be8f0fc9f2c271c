// Feature hashing, bit-identical to Vowpal Wabbit 9.x.
//
// - murmur3_x86_32: Austin Appleby's MurmurHash3 (x86, 32-bit), written from the public algorithm.
// - hash_string: VW's "strings" hasher. Leading/trailing ASCII whitespace is ignored; a name made only
//   of digits hashes to its integer value plus the seed; anything else is murmur3(name, seed).
// - A namespace's hash is hash_string(name, 0); the unnamed namespace hashes to 0.
// - A feature's index is hash_string(name, namespace_hash).
// - Interaction features combine indices with the 32-bit FNV prime (see interactions.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace wabbit {

inline constexpr uint32_t kFnvPrime = 16777619u;
inline constexpr uint64_t kConstantFeature = 11650396u;   // VW's index of the constant (bias) feature
inline constexpr unsigned char kConstantNamespace = 128;  // VW's namespace slot for the constant

inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

namespace detail {
inline uint32_t murmur3_mix_block(uint32_t h, uint32_t k) {
  k *= 0xcc9e2d51u;
  k = rotl32(k, 15);
  k *= 0x1b873593u;
  h ^= k;
  h = rotl32(h, 13);
  return h * 5 + 0xe6546b64u;
}
// The last (partial) block's bytes k, and the final avalanche. A tail of no bytes mixes in k = 0,
// which leaves h as it is.
inline uint32_t murmur3_mix_tail(uint32_t h, uint32_t k) {
  k *= 0xcc9e2d51u;
  k = rotl32(k, 15);
  k *= 0x1b873593u;
  return h ^ k;
}
inline uint32_t murmur3_finish(uint32_t h, size_t len) {
  h ^= static_cast<uint32_t>(len);
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}
// The last (partial) block read as one word whose bytes past len are masked off, then the finish.
inline uint32_t murmur3_tail_and_finish(uint32_t h, const unsigned char* tail, size_t len) {
  static constexpr uint32_t kTailMask[4] = {0u, 0xFFu, 0xFFFFu, 0xFFFFFFu};  // the len % 4 bytes
  uint32_t k;
  std::memcpy(&k, tail, 4);
  return murmur3_finish(murmur3_mix_tail(h, k & kTailMask[len & 3u]), len);
}
inline uint32_t load32(const unsigned char* p) {
  uint32_t k;
  std::memcpy(&k, p, 4);  // little-endian hosts only (x86, arm64)
  return k;
}
}  // namespace detail

// The reference form: any length, the tail read byte by byte.
inline uint32_t murmur3_x86_32(const void* data, size_t len, uint32_t seed) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  const size_t nblocks = len / 4;
  uint32_t h = seed;
  for (size_t i = 0; i < nblocks; ++i) h = detail::murmur3_mix_block(h, detail::load32(bytes + 4 * i));
  const unsigned char* tail = bytes + 4 * nblocks;
  uint32_t k = 0;
  switch (len & 3u) {
    case 3:
      k ^= static_cast<uint32_t>(tail[2]) << 16;
      [[fallthrough]];
    case 2:
      k ^= static_cast<uint32_t>(tail[1]) << 8;
      [[fallthrough]];
    case 1:
      k ^= tail[0];
      break;
    default:
      break;
  }
  return detail::murmur3_finish(detail::murmur3_mix_tail(h, k), len);
}

// murmur3_x86_32 with the tail read as one word: the 4 bytes at data + 4 * (len / 4) must be readable
// even where they run past len (the text parser knows they lie inside its line). Same values as
// murmur3_x86_32 for every len, without its switch over the tail.
inline uint32_t murmur3_x86_32_tail_word(const void* data, size_t len, uint32_t seed) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  const unsigned char* const tail = bytes + (len & ~size_t{3});
  uint32_t h = seed;
  for (; bytes != tail; bytes += 4) h = detail::murmur3_mix_block(h, detail::load32(bytes));
  return detail::murmur3_tail_and_finish(h, tail, len);
}

// The same for a name shorter than 16 bytes (the parser's 16-byte scan): its at most three whole
// blocks unrolled, in order.
inline uint32_t murmur3_x86_32_short(const void* data, size_t len, uint32_t seed) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  uint32_t h = seed;
  if (len >= 4) {
    h = detail::murmur3_mix_block(h, detail::load32(bytes));
    if (len >= 8) {
      h = detail::murmur3_mix_block(h, detail::load32(bytes + 4));
      if (len >= 12) h = detail::murmur3_mix_block(h, detail::load32(bytes + 8));
    }
  }
  return detail::murmur3_tail_and_finish(h, bytes + (len & 12u), len);
}

// VW's whitespace test for trimming: control characters and space, but not bytes >= 0x80.
inline bool is_trim_space(char c) { return static_cast<signed char>(c) >= 0 && c <= 0x20; }

inline uint32_t hash_string(std::string_view s, uint32_t seed) {
  const char* p = s.data();
  size_t len = s.size();
  while (len > 0 && is_trim_space(p[0])) {
    ++p;
    --len;
  }
  while (len > 0 && is_trim_space(p[len - 1])) {
    --len;
  }
  size_t value = 0;
  for (size_t i = 0; i < len; ++i) {
    const char c = p[i];
    if (c < '0' || c > '9') return murmur3_x86_32(p, len, seed);
    value = 10 * value + static_cast<size_t>(c - '0');
  }
  return static_cast<uint32_t>(value) + seed;
}

inline uint32_t hash_namespace(std::string_view name) { return hash_string(name, 0); }

inline uint32_t hash_feature(std::string_view name, uint32_t namespace_hash) {
  return hash_string(name, namespace_hash);
}

}  // namespace wabbit
