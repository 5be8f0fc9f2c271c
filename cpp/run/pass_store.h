// The examples of a multi-pass run kept in memory after the first pass, prepared (Learner::prepare
// applied) and with each feature's index replaced by its weight row, so that passes 2..N read no
// file and decode no cache block. With compact(), each distinct row the examples touch gets a dense
// id in order of first appearance, and the later passes learn on a small table of those rows only
// (gathered from the model's table before them, scattered back after): at -b 24 the model's table
// is 256 MiB of rows scattered over 65,536 pages, the compact one a few MiB that the TLB reaches.
// The rows are the same floats, updated in the same order by the same code, so every number is
// the same bit for bit (docs/performance.md, "Passes over a compact row space"). Internal to
// cpp/run/ (driver.cc).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/example.h"
#include "core/weights.h"

namespace wabbit::run_detail {

class PassStore {
 public:
  // `mask`: the model's row mask (a feature's row is index & mask: the model has no offset).
  // `max_bytes`: past this much memory the store gives up (ok() false) and the passes read the cache.
  PassStore(uint32_t mask, size_t max_bytes) : mask_(mask), max_bytes_(max_bytes) {}

  bool ok() const { return ok_; }
  uint64_t records() const { return records_; }
  size_t bytes() const {
    return (meta_.capacity() + ids_.capacity() + rows_.capacity()) * sizeof(uint32_t) +
           vals_.capacity() * sizeof(float) + tags_.capacity();
  }

  // A prepared example, as the learner will see it.
  void add(const Example& ex) {
    if (!ok_) return;
    ++records_;
    const bool tagged = !ex.tag.empty();
    size_t groups = 0;
    for (unsigned char s : ex.order) groups += (ex.groups[s].size() + kMaxCount - 1) / kMaxCount;
    meta_.push_back(kExample | (tagged ? kTagged : 0u) | static_cast<uint32_t>(groups << 8));
    meta_.push_back(bits_of(ex.label));
    meta_.push_back(bits_of(ex.weight));
    meta_.push_back(bits_of(ex.initial));
    if (tagged) {
      meta_.push_back(static_cast<uint32_t>(ex.tag.size()));
      tags_.append(ex.tag);
    }
    for (unsigned char s : ex.order) {
      const FeatureGroup& g = ex.groups[s];
      const size_t n = g.size();
      for (size_t from = 0; from < n; from += kMaxCount) {
        const size_t count = std::min(n - from, kMaxCount);
        meta_.push_back(s | static_cast<uint32_t>(count << 8));
        for (size_t k = from; k < from + count; ++k) {
          const uint32_t v = bits_of(g.value[k]);
          const uint32_t row = g.index[k] & mask_;
          if (v == kOne) {
            ids_.push_back(row);
          } else {
            ids_.push_back(row | kValued);
            vals_.push_back(g.value[k]);
          }
        }
      }
    }
    if ((records_ & 1023u) == 0 && bytes() > max_bytes_) give_up();
  }
  // A line that gave no example (it counts towards the holdout period).
  void add_placeholder() {
    if (!ok_) return;
    ++records_;
    meta_.push_back(0u);
  }

  // Gives each distinct row a compact id in order of first appearance and rewrites the examples'
  // indices to them; rows()[id] is the model's row. If `table` is given, returns false if any of
  // its rows outside the examples' holds a non-zero weight (slot 0): the whole-table truncation of
  // --l1/--l2 (Learner::sync_weights) would change those rows, which the compact passes do not see.
  bool compact(const WeightTable* table) {
    // row -> compact id + 1 (0: not seen), open addressing; a few MiB where an array over every row
    // of a -b 24 table would take 64 (the examples of a pass touch few rows: 22,264 on the
    // 1M-line click log).
    std::vector<uint64_t> slots(size_t{1} << 12);  // (row + 1) << 32 | id + 1, 0: empty
    size_t used = 0;
    uint32_t* w = ids_.data();
    const size_t n = ids_.size();
    for (size_t k = 0; k < n; ++k) {
      const uint32_t row = w[k] & ~kValued;
      const uint64_t key = uint64_t{row} + 1;
      size_t mask = slots.size() - 1;
      size_t h = hash(row) & mask;
      while (slots[h] != 0 && (slots[h] >> 32) != key) h = (h + 1) & mask;
      uint32_t c;
      if (slots[h] != 0) {
        c = static_cast<uint32_t>(slots[h]);
      } else {
        rows_.push_back(row);
        c = static_cast<uint32_t>(rows_.size());
        slots[h] = key << 32 | c;
        if (2 * ++used > slots.size()) grow(slots);
      }
      w[k] = (c - 1) | (w[k] & kValued);
    }
    if (table == nullptr) return true;
    const size_t stride = table->stride();
    const float* d = table->data();
    const size_t mask = slots.size() - 1;
    for (uint64_t r = 0; r < table->rows(); ++r) {
      if (load_w(d + r * stride) == 0.f) continue;
      size_t h = hash(static_cast<uint32_t>(r)) & mask;
      while (slots[h] != 0 && (slots[h] >> 32) != r + 1) h = (h + 1) & mask;
      if (slots[h] == 0) return false;
    }
    return true;
  }
  const std::vector<uint32_t>& rows() const { return rows_; }
  // The smallest table (bits) that holds every compact id.
  uint32_t compact_bits() const {
    uint32_t b = 1;
    while ((uint64_t{1} << b) < rows_.size()) ++b;
    return b;
  }
  // Copies the examples' rows (every slot) between the model's table and the compact one.
  void gather(const WeightTable& full, WeightTable& small) const { copy_rows(full, small, true); }
  void scatter(const WeightTable& small, WeightTable& full) const { copy_rows(small, full, false); }

  // Reading, from the first record: next() fills ex (cleared first) and returns true for an
  // example, false for a placeholder; done() at the end.
  void rewind() { m_ = i_ = v_ = t_ = 0; }
  bool done() const { return m_ == meta_.size(); }
  bool next(Example& ex) {
    const uint32_t head = meta_[m_++];
    if ((head & kExample) == 0) return false;
    ex.clear();
    ex.label = float_of(meta_[m_]);
    ex.weight = float_of(meta_[m_ + 1]);
    ex.initial = float_of(meta_[m_ + 2]);
    m_ += 3;
    if (head & kTagged) {
      const uint32_t len = meta_[m_++];
      ex.tag.assign(tags_, t_, len);
      t_ += len;
    }
    const uint32_t groups = head >> 8;
    const uint32_t* ids = ids_.data();
    const float* vals = vals_.data();
    for (uint32_t k = 0; k < groups; ++k) {
      const uint32_t g = meta_[m_++];
      const unsigned char slot = static_cast<unsigned char>(g & 255u);
      const size_t count = g >> 8;
      FeatureGroup& fg = ex.groups[slot];
      if (fg.empty()) ex.order.push_back(slot);
      uint32_t* pi = fg.index.room(count);
      float* pv = fg.value.room(count);
      for (size_t j = 0; j < count; ++j) {
        const uint32_t x = ids[i_++];
        pi[j] = x & ~kValued;
        pv[j] = (x & kValued) != 0 ? vals[v_++] : 1.f;
      }
      fg.index.set_end(pi + count);
      fg.value.set_end(pv + count);
    }
    return true;
  }

 private:
  static constexpr uint32_t kExample = 1u;
  static constexpr uint32_t kTagged = 2u;
  static constexpr uint32_t kValued = 0x80000000u;      // the feature's value is not 1: it is in vals_
  static constexpr uint32_t kOne = 0x3f800000u;         // 1.f
  static constexpr size_t kMaxCount = size_t{1} << 23;  // features of one group entry (24 bits, < 2^24)

  static uint32_t bits_of(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
  }
  static float float_of(uint32_t b) {
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  }
  static size_t hash(uint32_t row) { return (uint64_t{row} * 0x9E3779B97F4A7C15ull) >> 20; }
  static void grow(std::vector<uint64_t>& slots) {
    std::vector<uint64_t> bigger(slots.size() * 2);
    const size_t mask = bigger.size() - 1;
    for (uint64_t e : slots) {
      if (e == 0) continue;
      size_t h = hash(static_cast<uint32_t>((e >> 32) - 1)) & mask;
      while (bigger[h] != 0) h = (h + 1) & mask;
      bigger[h] = e;
    }
    slots.swap(bigger);
  }
  void give_up() {
    ok_ = false;
    std::vector<uint32_t>().swap(meta_);
    std::vector<uint32_t>().swap(ids_);
    std::vector<float>().swap(vals_);
    std::string().swap(tags_);
  }
  void copy_rows(const WeightTable& from, WeightTable& to, bool to_small) const {
    const size_t stride = from.stride();
    const float* src = from.data();
    float* dst = to.data();
    for (size_t c = 0; c < rows_.size(); ++c) {
      const size_t s = (to_small ? rows_[c] : c) * stride;
      const size_t d = (to_small ? c : rows_[c]) * stride;
      for (size_t k = 0; k < stride; ++k) store_w(dst + d + k, load_w(src + s + k));
    }
  }

  uint32_t mask_;
  size_t max_bytes_;
  bool ok_ = true;
  uint64_t records_ = 0;
  std::vector<uint32_t> meta_;  // per record: head (kind, tag flag, group entries << 8), label, weight, base,
                                // [tag length], then per group entry: slot | count << 8
  std::vector<uint32_t> ids_;   // every feature's row (compact id after compact()), kValued if not 1
  std::vector<float> vals_;     // the values that are not 1
  std::string tags_;
  std::vector<uint32_t> rows_;            // compact id -> the model's row
  size_t m_ = 0, i_ = 0, v_ = 0, t_ = 0;  // read positions
};

}  // namespace wabbit::run_detail
