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

#include <sys/mman.h>

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
  // indices to them; rows()[id] is the model's row. `bits`: the model's table's. If `table` is
  // given, also says whether any of its rows outside the examples' holds a non-zero weight (slot
  // 0): the whole-table truncation of --l1/--l2 (Learner::sync_weights) would change those.
  bool compact(uint32_t bits, const WeightTable* table) {
    const size_t bytes = sizeof(uint32_t) << bits;
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    auto* id = static_cast<uint32_t*>(p);  // row -> compact id + 1 (0: not seen)
    uint32_t* w = ids_.data();
    const size_t n = ids_.size();
    constexpr size_t kAhead = 16;
    for (size_t k = 0; k < n; ++k) {
      if (k + kAhead < n) __builtin_prefetch(id + (w[k + kAhead] & ~kValued), 1, 3);
      const uint32_t row = w[k] & ~kValued;
      uint32_t c = id[row];
      if (c == 0) {
        rows_.push_back(row);
        c = static_cast<uint32_t>(rows_.size());
        id[row] = c;
      }
      w[k] = (c - 1) | (w[k] & kValued);
    }
    bool others = false;
    if (table != nullptr) {
      const size_t stride = table->stride();
      const float* d = table->data();
      for (uint64_t r = 0; r < table->rows() && !others; ++r) others = id[r] == 0 && load_w(d + r * stride) != 0.f;
    }
    ::munmap(p, bytes);
    return !others;
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
  static constexpr uint32_t kValued = 0x80000000u;  // the feature's value is not 1: it is in vals_
  static constexpr uint32_t kOne = 0x3f800000u;     // 1.f
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
  std::vector<uint32_t> rows_;  // compact id -> the model's row
  size_t m_ = 0, i_ = 0, v_ = 0, t_ = 0;  // read positions
};

}  // namespace wabbit::run_detail
