#include "formats/columns.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/hash.h"
#include "formats/vw_text.h"

namespace wabbit {

namespace {

template <class T>
inline T at(const void* data, size_t r) {
  return static_cast<const T*>(data)[r];
}

uint32_t namespace_hash(std::string_view ns) { return ns.empty() ? 0u : hash_namespace(ns); }
unsigned char namespace_slot(std::string_view ns) { return ns.empty() ? ' ' : static_cast<unsigned char>(ns[0]); }

// The value VW's text reader gives the number's text: `text` as Python writes a number
// (str/repr), read by parse_vw_float.
float read_as_vw(const char* text, size_t n) {
  size_t consumed = 0;
  return parse_vw_float(text, text + n, consumed);
}

// A floating-point number as Python's repr writes it: the shortest
// digits that read back as the same number, positional when the decimal point falls within 16
// digits before or 4 zeros after them ("31.0", "0.0001", "12.34"), else scientific ("1e-05",
// "1.5e+16").
template <class F>
size_t python_repr(F x, char* out) {
  char sci[64];
  const auto r = std::to_chars(sci, sci + sizeof(sci), x, std::chars_format::scientific);
  const char* p = sci;
  char* o = out;
  if (*p == '-') *o++ = *p++;
  char digits[40];
  size_t nd = 0;
  for (; p < r.ptr && *p != 'e'; ++p) {
    if (*p != '.') digits[nd++] = *p;
  }
  int exp10 = 0;
  std::from_chars(p + 1 + (p[1] == '+'), r.ptr, exp10);
  const int decpt = exp10 + 1;  // x = 0.digits * 10^decpt
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      *o++ = '0';
      *o++ = '.';
      for (int k = 0; k < -decpt; ++k) *o++ = '0';
      std::memcpy(o, digits, nd);
      o += nd;
    } else if (static_cast<size_t>(decpt) >= nd) {
      std::memcpy(o, digits, nd);
      o += nd;
      for (size_t k = nd; k < static_cast<size_t>(decpt); ++k) *o++ = '0';
      *o++ = '.';
      *o++ = '0';
    } else {
      std::memcpy(o, digits, static_cast<size_t>(decpt));
      o += decpt;
      *o++ = '.';
      std::memcpy(o, digits + decpt, nd - static_cast<size_t>(decpt));
      o += nd - static_cast<size_t>(decpt);
    }
  } else {
    *o++ = digits[0];
    if (nd > 1) {
      *o++ = '.';
      std::memcpy(o, digits + 1, nd - 1);
      o += nd - 1;
    }
    *o++ = 'e';
    *o++ = exp10 < 0 ? '-' : '+';
    const int e = exp10 < 0 ? -exp10 : exp10;
    if (e < 10) *o++ = '0';
    o = std::to_chars(o, o + 8, e).ptr;
  }
  return static_cast<size_t>(o - out);
}

template <class F>
float vw_value_of_float(F x) {
  char text[64];
  return read_as_vw(text, python_repr(x, text));
}

template <class I>
float vw_value_of_int(I x) {
  if constexpr (std::is_signed_v<I>) {
    if (x < I{10000000} && x > -I{10000000}) return static_cast<float>(x);  // at most 7 digits: read exactly
  } else {
    if (x < I{10000000}) return static_cast<float>(x);
  }
  char text[32];
  const auto r = std::to_chars(text, text + sizeof(text), x);
  return read_as_vw(text, static_cast<size_t>(r.ptr - text));
}

// VW's powers of ten below 1, as its reader tabulates them (each the one before divided by 10, in
// float): the factors formats/vw_text.cc multiplies by.
struct NegativePowers {
  float p[8];
  NegativePowers() {
    p[0] = 1.f;
    for (int k = 1; k < 8; ++k) p[k] = p[k - 1] / 10.f;
  }
};
const NegativePowers kNeg;

// x's shortest decimal when it has at most 7 significant digits and at most 7 after the point:
// m * 10^-k with |m| < 10^7 and k the fewest decimals whose nearest double is x (then Python
// writes exactly those digits, "0.05", "12.34", "31.0", "5e-05", and no other decimal with k digits
// is that close: a double's rounding interval there is far narrower than 10^-k). VW's reader then
// gives float(m) * 10^-k (whether the text is positional or scientific, leading zeros or not, the
// digits accumulate exactly below 2^24), for an integer float(10 m) * 10^-1 ("31.0"). Returns
// false for other numbers (the general path writes and reads them).
bool short_decimal_value(double x, float& out) {
  const double ax = std::fabs(x);
  if (!(ax >= 1e-7 && ax < 1e7)) return false;
  double scale = 1.;
  for (int k = 0; k < 8; ++k, scale *= 10.) {
    const double m = std::nearbyint(x * scale);
    if (std::fabs(m) >= 1e7) return false;
    if (m / scale != x) continue;
    if (k == 0) {
      if (std::fabs(m) >= 1e6) return false;  // "1234567.0": 8 digits, VW's float loop
      out = static_cast<float>(m * 10.) * kNeg.p[1];
    } else {
      out = static_cast<float>(m) * kNeg.p[k];
    }
    return true;
  }
  return false;
}

}  // namespace

float vw_number(double x) {
  if (!std::isfinite(x) || x == 0.) return static_cast<float>(x);
  float v;
  if (short_decimal_value(x, v)) return v;
  return vw_value_of_float(x);
}
float vw_number(float x) { return vw_number(static_cast<double>(x)); }  // as tolist() and f"{x}" write it: widened

double NumberBuffer::as_double(size_t r) const {
  switch (type) {
    case ColumnType::kF64:
      return at<double>(data, r);
    case ColumnType::kF32:
      return at<float>(data, r);
    case ColumnType::kI64:
      return static_cast<double>(at<int64_t>(data, r));
    case ColumnType::kI32:
      return at<int32_t>(data, r);
    case ColumnType::kI16:
      return at<int16_t>(data, r);
    case ColumnType::kI8:
      return at<int8_t>(data, r);
    case ColumnType::kU64:
      return static_cast<double>(at<uint64_t>(data, r));
    case ColumnType::kU32:
      return at<uint32_t>(data, r);
    case ColumnType::kU16:
      return at<uint16_t>(data, r);
    case ColumnType::kU8:
      return at<uint8_t>(data, r);
    case ColumnType::kBool:
      return at<uint8_t>(data, r) != 0 ? 1. : 0.;
  }
  return 0.;
}

float NumberBuffer::as_float(size_t r) const {
  switch (type) {
    case ColumnType::kF64:
      return vw_number(at<double>(data, r));
    case ColumnType::kF32:
      return vw_number(at<float>(data, r));
    case ColumnType::kI64:
      return vw_value_of_int(at<int64_t>(data, r));
    case ColumnType::kU64:
      return vw_value_of_int(at<uint64_t>(data, r));
    case ColumnType::kI32:
      return vw_value_of_int(at<int32_t>(data, r));
    case ColumnType::kU32:
      return vw_value_of_int(at<uint32_t>(data, r));
    default:
      return static_cast<float>(as_double(r));  // at most 16-bit integers, booleans: exact, and read exactly
  }
}

int64_t NumberBuffer::as_int(size_t r) const {
  switch (type) {
    case ColumnType::kI64:
      return at<int64_t>(data, r);
    case ColumnType::kI32:
      return at<int32_t>(data, r);
    case ColumnType::kI16:
      return at<int16_t>(data, r);
    case ColumnType::kI8:
      return at<int8_t>(data, r);
    case ColumnType::kU64: {
      const uint64_t u = at<uint64_t>(data, r);
      return u > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(u);
    }
    case ColumnType::kU32:
      return at<uint32_t>(data, r);
    case ColumnType::kU16:
      return at<uint16_t>(data, r);
    case ColumnType::kU8:
    case ColumnType::kBool:
      return at<uint8_t>(data, r);
    default:
      return -1;  // (codes are integers; the binding refuses other types)
  }
}

FrameColumn number_column(std::string_view ns, std::string_view column, NumberBuffer values) {
  FrameColumn c;
  c.name.assign(column);
  c.slot = namespace_slot(ns);
  c.buffer = values;
  c.index = hash_string(column, namespace_hash(ns));
  return c;
}

FrameColumn category_column(std::string_view ns, std::string_view column, const std::vector<std::string_view>& values,
                            NumberBuffer codes) {
  FrameColumn c;
  c.name.assign(column);
  c.slot = namespace_slot(ns);
  c.categorical = true;
  c.buffer = codes;
  const uint32_t seed = namespace_hash(ns);
  std::string feature(column);
  feature.push_back('=');
  const size_t prefix = feature.size();
  c.categories.reserve(values.size());
  for (const std::string_view v : values) {
    feature.resize(prefix);
    feature.append(v);
    c.categories.push_back(hash_string(feature, seed));  // the text reader's hash of "column=value"
  }
  return c;
}

std::string frame_row(const FrameInput& in, size_t r, Example& ex) {
  ex.clear();
  for (const FrameColumn& c : in.columns) {
    if (c.buffer.null_at(r)) continue;
    if (c.categorical) {
      const int64_t code = c.buffer.as_int(r);
      if (code < 0) continue;
      if (static_cast<uint64_t>(code) >= c.categories.size()) {
        return "column \"" + c.name + "\": category code " + std::to_string(code) + " out of range";
      }
      ex.add(c.slot, c.categories[static_cast<size_t>(code)], 1.f);
      continue;
    }
    const float x = c.buffer.as_float(r);
    if (std::isnan(x)) continue;  // a null, as a float column holds one
    if (std::isinf(x)) return "column \"" + c.name + "\": value is not finite (as float32)";
    if (x != 0.f) ex.add(c.slot, c.index, x);  // 0 drops the feature, as "column:0" does
  }
  if (in.label.present() && !in.label.null_at(r)) {
    const float y = in.label.as_float(r);
    if (std::isinf(y)) return "label is not finite (as float32)";
    if (!std::isnan(y)) ex.label = y;
  }
  if (in.weight.present() && !in.weight.null_at(r)) {
    const float w = in.weight.as_float(r);
    if (!std::isnan(w)) {
      if (!(w >= 0.f) || std::isinf(w)) return "importance weight must be a finite number >= 0";
      ex.weight = w;
    }
  }
  return {};
}

}  // namespace wabbit
