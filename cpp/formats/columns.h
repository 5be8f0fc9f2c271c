// Columns -> Example: the rows of a data frame read straight from its column buffers, with the
// features VW's text reader would make of the same row written as a line.
//
//   namespaces {"u": ["user", "age"]}, row user="alice", age=31  ==  "|u user=alice age:31"
//
// - A number column gives the feature named after the column (hash_string(column, namespace hash))
//   with the value VW's reader gives the number as Python writes it (repr: "31", "12.34", "31.0",
//   "1e-05"; a float32 as the double it widens to, as tolist() and f"{x}" write it), so that the row equals the line a
//   user writes with f"age:{x}" bit for bit (VW's reader is not always the nearest float32: "12.34" may be one unit off
//   in the last place, and the frame's value is off in the same way); 0 drops it, as "age:0" does; a null (or NaN)
//   leaves it out, as if the line did not name it; an infinite value (or one beyond float32) refuses the row, as the
//   text reader refuses "age:inf". Booleans are 1 and 0.
// - A category column (strings, categoricals) gives the feature "column=value" with value 1. Its
//   distinct values are hashed once (FrameColumn::categories); a row holds a code into them
//   (negative: null, the feature left out).
// - Columns are added in the order given, each to its namespace's slot (the first byte of the
//   namespace's name; "" is the unnamed namespace), so a slot shared by two namespaces gets their
//   features in the order a line naming them in that order would give.
// - The label column: a null (NaN) is an unlabelled example, as a line without a label; the weight
//   column: a null is weight 1, as a line without one; a negative or infinite weight, or an
//   infinite label, refuses the row.
// The buffers are borrowed, not copied: they must outlive the run and not change during it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/example.h"

namespace wabbit {

// The element type of a column buffer.
enum class ColumnType : uint8_t { kF64, kF32, kI64, kI32, kI16, kI8, kU64, kU32, kU16, kU8, kBool };

// One buffer of `rows` numbers, with an optional null mask (one byte a row, non-zero: null).
struct NumberBuffer {
  ColumnType type = ColumnType::kF64;
  const void* data = nullptr;
  const uint8_t* nulls = nullptr;

  bool present() const { return data != nullptr; }
  bool null_at(size_t r) const { return nulls != nullptr && nulls[r] != 0; }
  double as_double(size_t r) const;  // exact for floats and for integers up to 2^53
  float as_float(size_t r) const;    // the value VW's text reader gives the number's text (vw_number)
  int64_t as_int(size_t r) const;    // for codes (integer types only)
};

// What VW's text reader makes of x written as Python writes it (repr; a float32 widened to double).
// Non-finite numbers are returned as they are.
float vw_number(double x);
float vw_number(float x);

struct FrameColumn {
  std::string name;          // for messages
  unsigned char slot = ' ';  // the namespace's first byte
  bool categorical = false;
  NumberBuffer buffer;               // the numbers, or the category codes
  uint32_t index = 0;                // number column: the feature's hash
  std::vector<uint32_t> categories;  // category column: each distinct value's feature hash
};

// A column of numbers in namespace `ns`, named `column`.
FrameColumn number_column(std::string_view ns, std::string_view column, NumberBuffer values);
// A column of categories: `values` are the distinct values (each hashed once as "column=value"),
// `codes` index them per row (negative or null: the row has none).
FrameColumn category_column(std::string_view ns, std::string_view column, const std::vector<std::string_view>& values,
                            NumberBuffer codes);

struct FrameInput {
  std::vector<FrameColumn> columns;
  size_t rows = 0;
  NumberBuffer label;            // optional
  NumberBuffer weight;           // optional
  float* predictions = nullptr;  // optional: one output per row (NaN for a refused row)
};

// Fills ex with row r (cleared first; the constant is the learner's to add, see Learner::prepare);
// returns why the row cannot be learned ("" when it can).
std::string frame_row(const FrameInput& in, size_t r, Example& ex);

}  // namespace wabbit
