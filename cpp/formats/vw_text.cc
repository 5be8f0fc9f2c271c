#include "formats/vw_text.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/hash.h"
#include "formats/utf8.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace wabbit {
namespace {

// Powers of ten as VW tabulates them: products (or quotients) of 10 in float, one step at a time.
struct Pow10Table {
  std::array<float, 39> pos{};  // 10^0 .. 10^38
  std::array<float, 38> neg{};  // neg[k] = 10^-k, k = 0..37
  Pow10Table() {
    pos[0] = 1.f;
    for (size_t i = 1; i < pos.size(); ++i) pos[i] = pos[i - 1] * 10.f;
    neg[0] = 1.f;
    for (size_t i = 1; i < neg.size(); ++i) neg[i] = neg[i - 1] / 10.f;
  }
  float operator()(int e) const {
    if (e > 38) return HUGE_VALF;
    if (e < -37) return 0.f;
    return e >= 0 ? pos[static_cast<size_t>(e)] : neg[static_cast<size_t>(-e)];
  }
};
const Pow10Table kPow10;

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "digits[.digits]" read as one integer (the point ignored): where it ends, the integer (exact for
// up to 9 digits), how many digits in all and how many after the point.
struct Decimal {
  const char* end;
  uint32_t whole;
  int digits;
  int num_dec;
};
inline Decimal read_decimal(const char* q, const char* end) {
  Decimal d{q, 0u, 0, 0};
  while (q < end && is_digit(*q)) {
    d.whole = d.whole * 10u + static_cast<uint32_t>(*q++ - '0');
    ++d.digits;
  }
  if (q < end && *q == '.') {
    ++q;
    while (q < end && is_digit(*q)) {
      d.whole = d.whole * 10u + static_cast<uint32_t>(*q++ - '0');
      ++d.digits;
      ++d.num_dec;
    }
  }
  d.end = q;
  return d;
}

// Byte classes for the feature scanner: 1 ends a token (space, tab, '|', CR), 2 also ends a name
// (':'), 4 is a digit, 8 is a byte VW's hasher would trim (other control characters).
struct ByteClass {
  std::array<uint8_t, 256> c{};
  std::array<bool, 256> separator{};  // space and tab: one lookup where two compares cost six instructions
  ByteClass() {
    for (int b = 0; b <= 0x20; ++b) c[static_cast<size_t>(b)] = 8;
    for (unsigned char b : {' ', '\t', '|', '\r'}) c[b] = 1;
    c[':'] = 2;
    for (int b = '0'; b <= '9'; ++b) c[static_cast<size_t>(b)] = 4;
    separator[' '] = separator['\t'] = true;
  }
};
const ByteClass kClass;
inline uint8_t byte_class(char ch) { return kClass.c[static_cast<unsigned char>(ch)]; }
inline bool is_separator(char ch) { return kClass.separator[static_cast<unsigned char>(ch)]; }

// Characters that end a feature name or value.
inline bool ends_token(const char* p, const char* end) { return p >= end || byte_class(*p) == 1; }

// Scans a feature name up to a token end or ':' and hashes it as VW's hash_string would, in one pass
// for the common case (no control characters to trim).
inline const char* scan_and_hash_name(const char* p, const char* end, uint32_t seed, uint32_t& hash) {
  const char* start = p;
#if defined(__SSE2__) && !defined(WABBIT_SCALAR)
  // 16 bytes at a time: find the first byte that ends the name (space, tab, '|', CR, ':'), and
  // note whether any byte before it is not a digit, or is one VW's hasher would trim.
  bool other = false;  // a byte that is not a digit
  bool ctrl = false;   // a control byte (< 0x20) other than the delimiters
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i delim = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\t'))),
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('|')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\r'))),
                     _mm_cmpeq_epi8(v, _mm_set1_epi8(':'))));
    const unsigned dmask = static_cast<unsigned>(_mm_movemask_epi8(delim));
    // digits: (v - '0') as unsigned <= 9  <=>  max(v - '0', 9) == 9 in unsigned bytes
    const __m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
    const unsigned digit =
        static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(d, _mm_set1_epi8(9)), _mm_set1_epi8(9))));
    // control bytes: 0x00..0x1f (signed compare: bytes >= 0x80 are negative and excluded)
    const __m128i c = _mm_and_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)), _mm_cmpgt_epi8(v, _mm_set1_epi8(-1)));
    const unsigned cmask = static_cast<unsigned>(_mm_movemask_epi8(c));
    const unsigned before = dmask ? (1u << __builtin_ctz(dmask)) - 1u : 0xFFFFu;
    other |= (~digit & before & 0xFFFFu) != 0;
    ctrl |= (cmask & before & ~dmask) != 0;
    if (dmask) {
      p += __builtin_ctz(dmask);
      break;
    }
    p += 16;
  }
  if (end - p < 16 || (p < end && (byte_class(*p) & 3) == 0)) {
    while (p < end) {
      const uint8_t k = byte_class(*p);
      if (k & 3) break;
      other |= k != 4;
      ctrl |= k == 8;
      ++p;
    }
  }
  const size_t len = static_cast<size_t>(p - start);
  if (ctrl)
    hash = hash_string(std::string_view(start, len), seed);  // trimming applies
  else if (other)
    hash = murmur3_x86_32(start, len, seed);
  else
    hash = hash_string(std::string_view(start, len), seed);  // digits only (or empty)
#else
  uint8_t seen = 0;
  uint32_t number = 0;
  while (p < end) {
    const uint8_t k = byte_class(*p);
    if (k & 3) break;
    seen |= static_cast<uint8_t>(k == 4 ? 0 : (k == 8 ? 8 : 16));
    number = number * 10u + static_cast<uint32_t>(*p - '0');
    ++p;
  }
  const size_t len = static_cast<size_t>(p - start);
  if (seen & 8)
    hash = hash_string(std::string_view(start, len), seed);  // trimming applies
  else if (seen & 16)
    hash = murmur3_x86_32(start, len, seed);
  else
    hash = number + seed;  // digits only (or empty): the integer value plus the seed
#endif
  return p;
}

// Namespace hashes of one-letter names (the usual case), computed once.
struct OneLetterNamespaces {
  std::array<uint32_t, 256> hash{};
  OneLetterNamespaces() {
    for (size_t c = 0; c < hash.size(); ++c) {
      const char ch = static_cast<char>(c);
      hash[c] = hash_namespace(std::string_view(&ch, 1));
    }
  }
};
const OneLetterNamespaces kOneLetter;

// ---- the fast path ----
// Most lines of a real stream are plain: "label |ns name name:value ...", one-token labels, no
// namespace scales, no string values, no control bytes. parse_fast reads those in one pass with no
// branch for the rare forms, and gives up (returns false) at the first byte it does not expect;
// parse_vw_line then parses the whole line again with the general reader, which also words the
// errors. So the fast path only has to agree with the general one on the lines it accepts.

// The value of "[-]digits[.digits]" read as `whole` (all its digits, at most 7) with `num_dec` of
// them after the point.
inline float fast_value(uint32_t whole, int num_dec, bool neg) {
  float v = static_cast<float>(whole);
  if (num_dec > 0) v *= kPow10.neg[static_cast<size_t>(num_dec)];  // num_dec <= 7: in the table
  return neg ? -v : v;
}

// A number "[-]digits[.digits]" of at most 7 digits that ends the token: the integer form of VW's
// reader (see parse_vw_float). Returns false for anything else.
inline bool fast_number(const char*& p, const char* end, float& out) {
  const char* q = p;
  bool neg = false;
  if (q < end && *q == '-') {
    neg = true;
    ++q;
  }
  const Decimal d = read_decimal(q, end);
  q = d.end;
  const uint32_t whole = d.whole;
  const int num_dec = d.num_dec;
  if (d.digits == 0 || d.digits > 7) return false;
  // VW's reader takes this form only before a space, a tab or the end; before anything else ('e',
  // '|', CR, junk) it calls strtof, which may round differently.
  if (q < end && *q != ' ' && *q != '\t') return false;
  out = fast_value(whole, num_dec, neg);
  p = q;
  return true;
}

// fast_number where a byte that is neither a digit nor '.' is known to come before the end of the
// line (a stop byte found by the SIMD scan): the same reading, without the end checks.
inline bool fast_number_before_stop(const char*& p, float& out) {
  const char* q = p;
  const bool neg = *q == '-';
  q += neg;
  const char* const first = q;
  uint32_t whole = 0;
  while (is_digit(*q)) whole = whole * 10u + static_cast<uint32_t>(*q++ - '0');
  int digits = static_cast<int>(q - first);
  int num_dec = 0;
  if (*q == '.') {
    const char* const frac = ++q;
    while (is_digit(*q)) whole = whole * 10u + static_cast<uint32_t>(*q++ - '0');
    num_dec = static_cast<int>(q - frac);
    digits += num_dec;
  }
  if (digits == 0 || digits > 7) return false;
  if (*q != ' ' && *q != '\t') return false;  // see fast_number
  out = fast_value(whole, num_dec, neg);
  p = q;
  return true;
}

// Scans a feature name (up to space, tab, '|', CR or ':') and hashes it as hash_string would, a byte
// at a time. Returns false at a control byte (hash_string's trimming) or an empty name.
inline bool fast_name(const char*& p, const char* end, uint32_t seed, uint32_t& hash) {
  const char* start = p;
  bool digits_only = true;
  while (p < end) {
    const uint8_t k = byte_class(*p);
    if (k & 3) break;
    if (k == 8) return false;
    if (k != 4) digits_only = false;
    ++p;
  }
  const size_t len = static_cast<size_t>(p - start);
  if (len == 0) return false;
  if (digits_only)
    hash = hash_string(std::string_view(start, len), seed);
  else if (static_cast<size_t>(end - start) >= (len & ~size_t{3}) + 4)
    hash = murmur3_x86_32_tail_word(start, len, seed);
  else
    hash = murmur3_x86_32(start, len, seed);
  return true;
}

#if defined(__SSE2__) && !defined(WABBIT_SCALAR)
// Which of the 16 bytes stop a name or a value, as a bit mask: bytes 0x00..0x20 (unsigned:
// min(v, 0x20) == v), '|' and ':'.
inline unsigned stop_mask(__m128i v) {
  const __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x20)), v);
  const __m128i stop =
      _mm_or_si128(low, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('|')), _mm_cmpeq_epi8(v, _mm_set1_epi8(':'))));
  return static_cast<unsigned>(_mm_movemask_epi8(stop));
}

// Which of the 16 bytes are ASCII digits, as a bit mask: (v - '0') as unsigned <= 9.
inline unsigned digit_mask(__m128i v) {
  const __m128i d = _mm_sub_epi8(v, _mm_set1_epi8('0'));
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(d, _mm_set1_epi8(9)), _mm_set1_epi8(9))));
}
#endif

// Reads one feature, "name" or "name:value", at p (the name's first byte, not a separator) as
// fast_name and fast_number would, and leaves p after it. When 16 bytes from p lie in the line and
// the name ends among them, one 16-byte load finds the name's end, tells a digits-only name, and
// usually finds and checks the value too; anything unusual in the value goes to fast_number.
// Within 16 bytes of the end, the line's last 16 bytes serve (when the line has 16), shifted.
inline bool fast_feature(const char*& p, [[maybe_unused]] const char* begin, const char* end, uint32_t seed,
                         uint32_t& index, float& x) {
#if defined(__SSE2__) && !defined(WABBIT_SCALAR)
  const auto left = static_cast<unsigned long>(end - p);  // (at least 1)
  if (left < 16 && end - begin >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(end - 16));
    const unsigned shift = 16u - static_cast<unsigned>(left);
    const unsigned smask = (stop_mask(v) >> shift) | (1u << left);  // the end stops the name too
    const unsigned len = static_cast<unsigned>(__builtin_ctz(smask));
    if (len == 0 || (len < left && byte_class(p[len]) == 8)) return false;
    const unsigned name_bits = (1u << len) - 1u;
    if (is_digit(*p) && ((digit_mask(v) >> shift) & name_bits) == name_bits) {
      uint32_t number = 0;  // digits only, as below
      for (unsigned k = 0; k < len; ++k) number = number * 10u + static_cast<uint32_t>(p[k] - '0');
      index = number + seed;
    } else if ((len & 12u) + 4 <= left) {
      index = murmur3_x86_32_short(p, len, seed);
    } else {
      index = murmur3_x86_32(p, len, seed);  // the tail word would run past the end
    }
    p += len;
    x = 1.f;
    if (len == left || *p != ':') return true;
    ++p;
    return fast_number(p, end, x);
  }
  if (left >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const unsigned smask = stop_mask(v);
    if (smask != 0u) {
      const unsigned len = static_cast<unsigned>(__builtin_ctz(smask));
      const char after_name = p[len];
      if (len == 0 || byte_class(after_name) == 8) return false;
      // Most names start with a letter: then they are not all digits and the digit mask can wait.
      if (!is_digit(*p)) {
        index = murmur3_x86_32_short(p, len, seed);  // len < 16: the tail word is among the 16 bytes
      } else {
        const unsigned name_bits = (1u << len) - 1u;
        if ((digit_mask(v) & name_bits) != name_bits) {
          index = murmur3_x86_32_short(p, len, seed);
        } else {  // digits only: hash_string's value plus seed (mod 2^32, as its size_t sum is truncated)
          uint32_t number = 0;
          for (unsigned k = 0; k < len; ++k) number = number * 10u + static_cast<uint32_t>(p[k] - '0');
          index = number + seed;
        }
      }
      if (after_name != ':') {
        x = 1.f;
        p += len;
        return true;
      }
      // The value: when a stop byte follows it among the 16 bytes, its digits need no end checks.
      const unsigned vs = len + 1;
      p += vs;
      if ((smask >> vs) != 0u) return fast_number_before_stop(p, x);  // (none when vs == 16)
      return fast_number(p, end, x);
    }
  }
#endif
  if (!fast_name(p, end, seed, index)) return false;
  x = 1.f;
  if (p < end && *p == ':') {
    ++p;
    return fast_number(p, end, x);
  }
  return true;
}

// Appends features to a FeatureGroup through raw pointers: a feature is two stores, a bump and one
// compare with the room left (the same for index and value: the smaller of the two). Nothing shows
// in the group until commit(): if the fast path gives up half-way, the group is as it was, so it is
// still empty when its slot is not listed in the example's order (which ex.clear() relies on).
class Appender {
 public:
  explicit Appender(FeatureGroup& g) : g_(g) { point(); }
  void push(uint32_t index, float x) {
    if (i_ == limit_) [[unlikely]]
      make_room();
    *i_++ = index;
    *v_++ = x;
  }
  void commit() {
    g_.index.set_end(i_);
    g_.value.set_end(v_);
  }

 private:
  void point() {
    i_ = g_.index.end();
    v_ = g_.value.end();
    limit_ = i_ + std::min(g_.index.spare(), g_.value.spare());
  }
  // Grows both columns. What was written is committed for the move to the new storage, then the
  // size goes back to what it was.
  void make_room() {
    const size_t base = g_.size();
    commit();
    g_.index.room(1);
    g_.value.room(1);
    point();
    g_.index.set_end(g_.index.data() + base);
    g_.value.set_end(g_.value.data() + base);
  }

  FeatureGroup& g_;
  uint32_t* i_;
  float* v_;
  uint32_t* limit_;
};

}  // namespace

bool parse_vw_line_fast(std::string_view line, Example& ex) {
  ex.clear();  // (cheap when parse_vw_line has just cleared it: no slot is listed)
  const char* p = line.data();
  const char* end = p + line.size();
  if (p == end) return false;
  if (*p != '|') {  // one label token, then spaces, then '|'
    float y;
    const bool neg = *p == '-';
    if (end - p >= 4 && is_digit(p[neg]) && p[neg + 1] == ' ' && p[neg + 2] == '|') {
      // the usual label, one digit (maybe negative) and " |": fast_number's value, read directly
      y = static_cast<float>(p[neg] - '0');
      if (neg) y = -y;
      p += neg + 2;
    } else {
      if (!fast_number(p, end, y)) return false;
      if (p == end || *p != ' ') return false;
      while (p < end && *p == ' ') ++p;
      if (p == end || *p != '|') return false;
    }
    ex.label = y;
  }
  while (p < end && *p == '|') {
    ++p;
    unsigned char slot = ' ';
    uint32_t ns_hash = 0;
    if (end - p >= 2 && (byte_class(p[0]) & ~4) == 0 && is_separator(p[1])) {
      // the usual namespace: one plain letter, then a separator
      slot = static_cast<unsigned char>(*p++);
      ns_hash = kOneLetter.hash[slot];
    } else if (p < end && byte_class(*p) != 1) {
      const char* name_start = p;
      while (p < end && (byte_class(*p) & ~4) == 0) ++p;  // letters, digits and other plain bytes
      if (p < end && byte_class(*p) != 1) return false;   // a scale, a control byte
      if (p == name_start) return false;
      slot = static_cast<unsigned char>(*name_start);
      const size_t n = static_cast<size_t>(p - name_start);
      ns_hash = n == 1 ? kOneLetter.hash[slot] : hash_namespace(std::string_view(name_start, n));
    }
    FeatureGroup& g = ex.groups[slot];
    // Features are committed (and the slot listed) only when the namespace has been read through;
    // if this path gives up half-way, the group is as it was.
    const bool was_empty = g.empty();
    Appender out(g);
    while (p < end && is_separator(*p)) {
      ++p;
      if (p == end || byte_class(*p) == 1) continue;
      uint32_t index;
      float x;
      if (!fast_feature(p, line.data(), end, ns_hash, index, x)) return false;
      if (x != 0.f) out.push(index, x);  // a value of 0 drops the feature
    }
    out.commit();
    if (was_empty && !g.empty()) ex.order.push_back(slot);
    if (p < end && *p != '|') break;
  }
  return p == end || (*p == '\r' && p + 1 == end);  // else the general reader (and its errors)
}

namespace {

void append_escaped(std::string& out, unsigned char c) {
  static const char kHex[] = "0123456789abcdef";
  out += "\\x";
  out.push_back(kHex[c >> 4]);
  out.push_back(kHex[c & 15]);
}

}  // namespace

std::string printable(std::string_view s, size_t max_bytes) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = utf8_char(s, i);
    if (i + std::max<size_t>(n, 1) > max_bytes) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (n == 0 || c < 0x20 || c == 0x7F) {  // invalid UTF-8 and control bytes (NUL, CR, ...)
      append_escaped(out, c);
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
  return out;
}

namespace {

// The offending text in an error message: at most 60 bytes of it, valid UTF-8 (see printable).
std::string excerpt(std::string_view s) { return printable(s, 60); }

// The token that starts at p (up to a space, tab or the end).
std::string_view token_at(const char* p, const char* end) {
  const char* q = p;
  while (q < end && *q != ' ' && *q != '\t') ++q;
  return std::string_view(p, static_cast<size_t>(q - p));
}

}  // namespace

float parse_vw_float(const char* p, const char* end, size_t& consumed) {
  consumed = 0;
  const char* start = p;
  if (p >= end) return 0.f;
  while (p < end && *p == ' ') ++p;
  float sign = 1.f;
  if (p < end && *p == '-') {
    sign = -1.f;
    ++p;
  }
  float acc = 0.f;
  int num_dec = 0;
  // The common case, at most 7 digits in all: VW's float accumulation acc = acc * 10 + d stays an
  // exact integer below 2^24 at every step, so an integer accumulator gives the very same float.
  const Decimal d = read_decimal(p, end);
  if (d.digits <= 7) {
    acc = static_cast<float>(d.whole);
    num_dec = d.num_dec;
    p = d.end;
  } else {  // VW's loop as it is: float steps, at most 35 decimals
    num_dec = 0;
    while (p < end && is_digit(*p)) acc = acc * 10.f + static_cast<float>(*p++ - '0');
    if (p < end && *p == '.') {
      ++p;
      while (p < end && is_digit(*p)) {
        if (num_dec < 35) {
          acc = acc * 10.f + static_cast<float>(*p - '0');
          ++num_dec;
        }
        ++p;
      }
    }
  }
  int exp_acc = 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    int exp_sign = 1;
    if (p < end && *p == '-') {
      exp_sign = -1;
      ++p;
    }
    while (p < end && is_digit(*p)) {
      if (exp_acc < 100000) exp_acc = exp_acc * 10 + (*p - '0');
      ++p;
    }
    exp_acc *= exp_sign;
  }
  if (p >= end || *p == ' ' || *p == '\n' || *p == '\t') {
    acc *= kPow10(exp_acc - num_dec);
    consumed = static_cast<size_t>(p - start);
    return sign * acc;
  }
  // Anything else ('+1', 'inf', '1e+5', '0x1p3', a number glued to junk): strtof, as VW does.
  char buf[128];
  const size_t n = std::min(static_cast<size_t>(end - start), sizeof(buf) - 1);
  std::memcpy(buf, start, n);
  buf[n] = '\0';
  char* stop = nullptr;
  const float v = std::strtof(buf, &stop);
  consumed = static_cast<size_t>(stop - buf);
  return v;
}

namespace {
std::string vw_warning_line(const char* what, std::string_view after, std::string_view line, uint64_t n) {
  std::string out = "[warning] malformed example! ";
  out += what;
  out += " expected after : \"";
  out.append(after.data(), after.size());
  out += "\"in Example #" + std::to_string(n) + ": \"";
  out.append(line.data(), std::min(line.find('\0'), line.size()));
  out += "\"\n";
  return out;
}
}  // namespace

std::string stray_nul_warning(std::string_view line, size_t at, uint64_t example_index) {
  const size_t bar = std::min(line.find('|'), at);
  const std::string_view from_bar = line.substr(bar);  // VW's feature parser sees the line from its first '|'
  const std::string_view after = from_bar.substr(0, at - bar);
  return vw_warning_line("'|',space, or EOL", after, from_bar, example_index) +
         vw_warning_line("'|' or EOL", after, from_bar, example_index);
}

std::string stray_nul_note(std::string_view line, size_t at) {
  std::string out = "\"";
  out += excerpt(line.substr(0, std::min<size_t>(at + 1, line.size())));
  out +=
      "\": a NUL byte after a feature's value: the value is read and the rest of the line ignored (VW warns the "
      "same)";
  return out;
}

ParseResult parse_vw_line(std::string_view line, Example& ex, bool names) {
  if (!names && parse_vw_line_fast(line, ex)) return ParseResult{};
  return parse_vw_line_general(line, ex, names);
}

ParseResult parse_vw_line_general(std::string_view line, Example& ex, bool names) {
  ex.clear();
  ParseResult res;
  ex.has_names = names;
  if (line.empty()) {
    res.status = ParseStatus::kBlank;
    return res;
  }
  auto fail = [&res](std::string msg) {
    res.status = ParseStatus::kError;
    res.error = std::move(msg);
    return res;
  };

  const size_t bar = line.find('|');
  // ---- label section ----
  if (bar != 0) {
    std::string_view label_space = bar == std::string_view::npos ? line : line.substr(0, bar);
    const size_t tab = label_space.find('\t');
    if (tab != std::string_view::npos) label_space.remove_prefix(tab + 1);
    std::array<std::string_view, 4> words;
    size_t nwords = 0;
    size_t i = 0;
    while (i < label_space.size()) {
      while (i < label_space.size() && label_space[i] == ' ') ++i;
      if (i >= label_space.size()) break;
      size_t j = i;
      while (j < label_space.size() && label_space[j] != ' ') ++j;
      if (nwords == words.size()) {
        return fail("too many tokens before '|' (expected: label [importance [base]] ['tag]): \"" +
                    excerpt(label_space) + "\"");
      }
      words[nwords++] = label_space.substr(i, j - i);
      i = j;
    }
    if (nwords > 0) {
      std::string_view last = words[nwords - 1];
      const bool touches_bar = last.data() + last.size() == label_space.data() + label_space.size();
      if (touches_bar || last.front() == '\'') {
        if (last.front() == '\'') last.remove_prefix(1);
        ex.tag.assign(last.data(), last.size());
        --nwords;
      }
    }
    if (nwords > 3) {
      return fail("too many tokens before '|' (expected: label [importance [base]] ['tag]): \"" + excerpt(label_space) +
                  "\"");
    }
    float nums[3] = {0.f, 1.f, 0.f};
    static const char* kWhat[3] = {"label", "importance weight", "base"};
    for (size_t k = 0; k < nwords; ++k) {
      size_t consumed = 0;
      const float v = parse_vw_float(words[k].data(), words[k].data() + words[k].size(), consumed);
      if (consumed != words[k].size()) {
        return fail(std::string("bad ") + kWhat[k] + " \"" + excerpt(words[k]) + "\": not a number");
      }
      if (!std::isfinite(v)) {
        return fail(std::string("bad ") + kWhat[k] + " \"" + excerpt(words[k]) + "\": not finite");
      }
      nums[k] = v;
    }
    if (nwords >= 1) ex.label = nums[0];
    if (nwords >= 2) {
      if (nums[1] < 0.f) {
        return fail("bad importance weight \"" + excerpt(words[1]) + "\": must be >= 0");
      }
      ex.weight = nums[1];
    }
    if (nwords >= 3) ex.initial = nums[2];
  }
  if (bar == std::string_view::npos) return res;

  // ---- namespaces ----
  const char* p = line.data() + bar;
  const char* end = line.data() + line.size();
  while (p < end && *p == '|') {
    ++p;
    float scale = 1.f;
    unsigned char slot = ' ';
    uint32_t ns_hash = 0;
    std::string_view ns_name;
    if (!ends_token(p, end)) {
      if (*p == ':') return fail("namespace name expected after '|': \"" + excerpt(line) + "\"");
      slot = static_cast<unsigned char>(*p);
      const char* name_start = p;
      while (!ends_token(p, end) && *p != ':') ++p;
      ns_name = std::string_view(name_start, static_cast<size_t>(p - name_start));
      ns_hash = ns_name.size() == 1 ? kOneLetter.hash[static_cast<unsigned char>(ns_name[0])] : hash_namespace(ns_name);
      if (p < end && *p == ':') {
        ++p;
        size_t consumed = 0;
        scale = parse_vw_float(p, end, consumed);
        if (consumed == 0 || !ends_token(p + consumed, end)) {
          return fail("bad namespace scale after \"" +
                      excerpt(std::string_view(name_start, static_cast<size_t>(p - name_start))) + "\": not a number");
        }
        if (!std::isfinite(scale)) return fail("bad namespace scale: not finite");
        p += consumed;
      }
    }
    uint32_t anon = 0;
    const char* nul = nullptr;  // a NUL byte right after a value
    // features
    while (p < end && (*p == ' ' || *p == '\t')) {
      ++p;
      if (ends_token(p, end)) continue;
      const char* name_start = p;
      uint32_t name_hash;
      p = scan_and_hash_name(p, end, ns_hash, name_hash);
      const std::string_view name(name_start, static_cast<size_t>(p - name_start));
      float value = 1.f;
      bool scaled = true;  // string-valued features are not scaled, as in VW
      std::string_view text;
      uint32_t index;
      if (p < end && *p == ':') {
        ++p;
        size_t consumed = 0;
        const float v = parse_vw_float(p, end, consumed);
        if (consumed == 0) {
          // name:text -- a string-valued feature, hashed as VW chains it. As in VW, blanks after
          // the ':' are skipped when text follows them ("name:   text" is name^text).
          const char* q = p;
          while (q < end && (*q == ' ' || *q == '\t' || *q == '\r')) ++q;
          if (q < end) p = q;
          const char* vs = p;
          while (p < end && *p != ' ' && *p != '\t' && *p != '\r') ++p;
          text = std::string_view(vs, static_cast<size_t>(p - vs));
          if (text.empty()) {
            index = name.empty() ? ns_hash + anon++ : name_hash;
          } else {
            index = hash_string(text, name_hash);
            scaled = false;
          }
        } else {
          p += consumed;
          if (p < end && *p == '\0') {
            nul = p;  // VW keeps the value and ignores the rest of the line (with a warning)
          } else if (!ends_token(p, end)) {
            return fail("bad value for feature \"" + excerpt(name) + "\": \"" + excerpt(token_at(p - consumed, end)) +
                        "\" is not a number");
          }
          if (!std::isfinite(v)) {
            return fail("bad value for feature \"" + excerpt(name) + "\": not finite");
          }
          value = v;
          index = name.empty() ? ns_hash + anon++ : name_hash;
        }
      } else {
        index = name_hash;
      }
      const float x = scaled ? scale * value : value;
      if (!std::isfinite(x))
        return fail("value of feature \"" + excerpt(name) + "\" times namespace scale is not finite");
      if (x != 0.f) {
        if (names) {
          ex.add_named(slot, index, x, audit_name(ns_name, name, text));
        } else {
          ex.add(slot, index, x);
        }
      }
      if (nul != nullptr) {
        res.stray_nul = static_cast<size_t>(nul - line.data());
        return res;
      }
    }
    if (p < end && *p != '|' && *p != '\r') {
      return fail("malformed features: expected '|', space or end of line at \"" +
                  excerpt(std::string_view(p, static_cast<size_t>(end - p))) + "\"");
    }
  }
  if (p < end && *p != '\r') {
    return fail("malformed line: expected '|' or end of line at \"" +
                excerpt(std::string_view(p, static_cast<size_t>(end - p))) + "\"");
  }
  return res;
}

}  // namespace wabbit
