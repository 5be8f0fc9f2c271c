#include "formats/columns.h"

#include <cmath>

#include "core/hash.h"

namespace wabbit {

namespace {

template <class T>
inline T at(const void* data, size_t r) {
  return static_cast<const T*>(data)[r];
}

uint32_t namespace_hash(std::string_view ns) { return ns.empty() ? 0u : hash_namespace(ns); }
unsigned char namespace_slot(std::string_view ns) { return ns.empty() ? ' ' : static_cast<unsigned char>(ns[0]); }

}  // namespace

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
      return static_cast<float>(at<double>(data, r));
    case ColumnType::kF32:
      return at<float>(data, r);
    case ColumnType::kI64:
      return static_cast<float>(at<int64_t>(data, r));
    case ColumnType::kU64:
      return static_cast<float>(at<uint64_t>(data, r));
    default:
      return static_cast<float>(as_double(r));  // exact: at most 32-bit integers
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
