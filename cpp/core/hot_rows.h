// HotRows: a Hogwild worker's private copies of the weight rows that nearly every example touches.
//
// Plain Hogwild shares every row. Rows of rare features (user ids, ad ids, their crosses) are almost
// never touched by two threads at once, but the constant, numeric features present on every line
// and the values of low-cardinality fields (device, hour, category) are written by every thread on
// nearly every example: each write then moves the cache line between cores, which costs more than
// the update itself and made two threads slower than one. So each worker learns those rows in a
// private copy and folds what it learned into the shared row every `period` examples: the shared
// value moves by the worker's change since the last fold (sums of gradients and weights add up;
// the normalizer, a running maximum, takes the larger). Other threads see a hot row's updates
// up to one period late, instead of immediately; rare rows stay plain Hogwild.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/weights.h"

namespace wabbit {

class HotRows {
 public:
  // rows: the hot row numbers (already masked); stride: floats per row; max_slot: the slot that is
  // a running maximum (-1: none); skip_slot: a scratch slot not to fold (-1: none).
  HotRows(const std::vector<uint32_t>& rows, WeightTable& shared, int max_slot, int skip_slot)
      : stride_(shared.stride()), max_slot_(max_slot), skip_slot_(skip_slot) {
    size_t cap = 16;
    while (cap < rows.size() * 4) cap <<= 1;  // at most a quarter full: one probe, nearly always
    shift_ = 32 - static_cast<uint32_t>(__builtin_ctzll(cap));
    table_.assign(cap, 0u);
    local_.assign(rows.size() * stride_, 0.f);
    base_.assign(rows.size() * stride_, 0.f);
    shared_.reserve(rows.size());
    touched_.assign(rows.size(), 0u);
    for (uint32_t r : rows) {
      const uint32_t n = static_cast<uint32_t>(shared_.size());
      size_t h = home(r, shift_);
      while (table_[h] != 0u) h = (h + 1) & (cap - 1);
      table_[h] = (uint64_t{n} << 32) | (r + 1u);
      shared_.push_back(shared.row(r));
      for (uint32_t s = 0; s < stride_; ++s) local_[n * stride_ + s] = base_[n * stride_ + s] = load_w(shared_[n] + s);
    }
  }

  size_t size() const { return shared_.size(); }

  // The per-feature lookup as a value of plain pointers, which a loop over features keeps in
  // registers (member vectors would be reloaded after every store through the output pointer).
  struct Lookup {
    const uint64_t* table;  // (slot << 32) | (row + 1); 0: empty
    float* local;
    uint8_t* touched;
    uint32_t mask;
    uint32_t shift;
    uint32_t stride;
    // The row to learn in for table row r (masked): the private copy if r is hot, else `row`.
    float* operator()(uint32_t r, float* row) const {
      size_t h = home(r, shift);
      for (;;) {
        const uint64_t e = table[h];
        const uint32_t k = static_cast<uint32_t>(e);
        if (k == r + 1u) {
          const size_t n = static_cast<size_t>(e >> 32);
          touched[n] = 1u;
          return local + n * stride;
        }
        if (k == 0u) return row;
        h = (h + 1) & mask;
      }
    }
  };
  Lookup lookup() {
    return Lookup{table_.data(), local_.data(), touched_.data(), static_cast<uint32_t>(table_.size() - 1),
                  shift_,        stride_};
  }
  float* redirect(uint32_t r, float* row) { return lookup()(r, row); }

  // Folds what this worker learned in its hot rows since the last fold into the shared rows and
  // refreshes the private copies with what the other workers folded in meanwhile. A row is folded
  // when it was looked up since the last fold, or with `all`. A row looked up just before a fold
  // and learned in just after it (the driver maps one example ahead) is folded the next time it is
  // looked up; the last fold of a run takes every row, so nothing is left behind.
  void fold(bool all = false) {
    for (size_t n = 0; n < touched_.size(); ++n) {
      if (touched_[n] == 0u && !all) continue;
      touched_[n] = 0u;
      float* loc = local_.data() + n * stride_;
      float* base = base_.data() + n * stride_;
      float* sh = shared_[n];
      for (uint32_t s = 0; s < stride_; ++s) {
        if (static_cast<int>(s) == skip_slot_) continue;
        const float now = load_w(sh + s);
        const float v = static_cast<int>(s) == max_slot_ ? std::max(now, loc[s]) : now + (loc[s] - base[s]);
        store_w(sh + s, v);
        loc[s] = base[s] = v;
      }
    }
  }

 private:
  static size_t home(uint32_t r, uint32_t shift) { return static_cast<size_t>((r * 0x9E3779B1u) >> shift); }

  uint32_t stride_;
  int max_slot_;
  int skip_slot_;
  uint32_t shift_ = 28;
  std::vector<uint64_t> table_;  // open addressing, see Lookup::table
  std::vector<float> local_;
  std::vector<float> base_;  // each private row as of the last fold
  std::vector<float*> shared_;
  std::vector<uint8_t> touched_;  // learned in since the last fold
};

}  // namespace wabbit
