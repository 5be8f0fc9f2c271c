// The examples of a multi-pass run kept in memory by the first pass, prepared (Learner::prepare
// applied) and with each feature's index replaced by its weight row, so that passes 2..N read no
// file and decode no cache block.
//
// With a compact table, each distinct row the examples touch gets a dense id in order of first
// appearance, and the whole run learns on a table whose first rows are those (the row is copied
// from the model's table when it first appears; scatter() copies them all back at the end): at
// -b 24 the model's table is 256 MiB of rows scattered over 65,536 pages, and the rows of the
// 1M-line click log (22,264) fill 87 pages of the compact one, which the TLB reaches. The rows
// are the same floats, updated in the same order by the same code, so every number is the same
// bit for bit (docs/performance.md, "Passes over a compact row space"). Internal to cpp/run/
// (driver.cc).
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "core/example.h"
#include "core/weights.h"

namespace wabbit::run_detail {

class PassStore {
 public:
  // `full`: the model's table (a feature's row is index & its mask: the model has no offset).
  // `compact`: the table learned on instead, of the same size and stride, all zero; nullptr: the
  // examples keep the model's rows. `max_bytes`: past this much memory the store stops keeping
  // examples (keeping() false) and the passes read the cache; it still maps rows.
  // `max_rows`: past this many distinct rows the compact row space stops paying (its table and map
  // grow beyond the TLB's reach and add to the model's memory): over() says so, and the driver
  // scatters the rows back and calls decompact().
  PassStore(const WeightTable& full, WeightTable* compact, size_t max_bytes, size_t max_rows)
      : full_(full),
        compact_(compact),
        mask_(full.mask()),
        max_bytes_(max_bytes),
        max_rows_(max_rows),
        wide_(compact == nullptr) {}

  bool keeping() const { return keeping_; }
  size_t bytes() const {
    return (meta_.capacity() + ids_.capacity() + rows_.capacity()) * sizeof(uint32_t) +
           narrow_.capacity() * sizeof(uint16_t) + vals_.capacity() * sizeof(float) + tags_.capacity() +
           slots_.capacity() * sizeof(uint64_t);
  }
  size_t distinct_rows() const { return rows_.size(); }
  bool compact() const { return compact_ != nullptr; }
  bool over() const { return compact_ != nullptr && rows_.size() >= max_rows_; }
  // Back to the model's rows (after scatter()): the kept examples' ids become rows, and the
  // examples added from now on are mapped to rows.
  void decompact() {
    if (compact_ == nullptr) return;
    if (!wide_) widen();
    for (uint32_t& x : ids_) x = rows_[x & ~kValued] | (x & kValued);
    compact_ = nullptr;
    std::vector<uint32_t>().swap(rows_);
    std::vector<uint64_t>().swap(slots_);
  }

  // A prepared example, as the learner will see it: its indices are rewritten to rows (compact ids
  // with a compact table: a row seen for the first time is copied into it); kept until close().
  void add(Example& ex) {
    const bool keep = keeping_ && !closed_;
    shape_.clear();
    for (unsigned char s : ex.order) {
      FeatureGroup& g = ex.groups[s];
      const size_t n = g.size();
      uint32_t* index = g.index.data();
      if (compact_ != nullptr) {
        for (size_t k = 0; k < n; ++k) index[k] = id_of(index[k] & mask_);
      } else {
        for (size_t k = 0; k < n; ++k) index[k] &= mask_;
      }
      if (!keep) continue;
      for (size_t from = 0; from < n; from += kMaxCount) {
        const size_t count = std::min(n - from, kMaxCount);
        shape_.push_back(s | static_cast<uint32_t>(count << 8));
        for (size_t k = from; k < from + count; ++k) {
          if (bits_of(g.value[k]) == kOne) {
            push_id(index[k], false);
          } else {
            push_id(index[k], true);
            vals_.push_back(g.value[k]);
          }
        }
      }
    }
    if (!keep) return;
    const bool tagged = !ex.tag.empty();
    const bool plain = bits_of(ex.weight) == kOne && bits_of(ex.initial) == 0u;
    const uint32_t shape = shape_id();
    meta_.push_back(kExample | (tagged ? kTagged : 0u) | (plain ? kPlain : 0u) | shape << 8);
    meta_.push_back(bits_of(ex.label));
    if (!plain) {
      meta_.push_back(bits_of(ex.weight));
      meta_.push_back(bits_of(ex.initial));
    }
    if (tagged) {
      meta_.push_back(static_cast<uint32_t>(ex.tag.size()));
      tags_.append(ex.tag);
    }
    if (((++records_ & 1023u) == 0 && bytes() > max_bytes_) || shapes_.size() >= kMaxShapes) give_up();
  }
  // A line that gave no example (it counts towards the holdout period).
  void add_placeholder() {
    if (!keeping_ || closed_) return;
    ++records_;
    meta_.push_back(0u);
  }
  // The examples kept so far are all there will be (the first pass is over).
  void close() { closed_ = true; }

  // Copies the compact table's rows back to the model's table (every slot).
  void scatter(WeightTable& full) const {
    const size_t stride = full.stride();
    const float* src = compact_->data();
    float* dst = full.data();
    for (size_t c = 0; c < rows_.size(); ++c) {
      for (size_t k = 0; k < stride; ++k) store_w(dst + rows_[c] * stride + k, load_w(src + c * stride + k));
    }
  }

  // Reading, from the first record: next() fills ex (cleared first) and returns true for an
  // example, false for a placeholder; done() at the end.
  void rewind() { m_ = i_ = v_ = t_ = 0; }
  bool done() const { return m_ == meta_.size(); }
  bool next(Example& ex) {
    const uint32_t head = meta_[m_++];
    if ((head & kExample) == 0) return false;
    ex.clear();
    ex.label = float_of(meta_[m_++]);
    if ((head & kPlain) == 0) {
      ex.weight = float_of(meta_[m_]);
      ex.initial = float_of(meta_[m_ + 1]);
      m_ += 2;
    }
    if (head & kTagged) {
      const uint32_t len = meta_[m_++];
      ex.tag.assign(tags_, t_, len);
      t_ += len;
    }
    if (wide_)
      fill(ex, shapes_[head >> 8], ids_.data());
    else
      fill(ex, shapes_[head >> 8], narrow_.data());
    return true;
  }

 private:
  static constexpr uint32_t kExample = 1u;
  static constexpr uint32_t kTagged = 2u;
  static constexpr uint32_t kPlain = 4u;  // importance weight 1, base 0 (not stored)
  static constexpr size_t kMaxShapes = size_t{1} << 24;
  static constexpr uint16_t kValued16 = 0x8000u;        // kValued of a 16-bit id
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
  static size_t hash(uint32_t row) { return static_cast<size_t>((uint64_t{row} * 0x9E3779B97F4A7C15ull) >> 20); }

  // The compact id of a model's row (open addressing: (row + 1) << 32 | id + 1, 0 empty; a few
  // MiB where an array over every row of a -b 24 table would take 64).
  uint32_t id_of(uint32_t row) {
    const uint64_t key = uint64_t{row} + 1;
    size_t mask = slots_.size() - 1;
    size_t h = hash(row) & mask;
    while (slots_[h] != 0) {
      if ((slots_[h] >> 32) == key) return static_cast<uint32_t>(slots_[h]) - 1;
      h = (h + 1) & mask;
    }
    const uint32_t c = static_cast<uint32_t>(rows_.size());
    rows_.push_back(row);
    slots_[h] = key << 32 | (c + 1);
    // the row as the model has it (a model trained before, VW's initial_t in the adaptive slot)
    const size_t stride = full_.stride();
    const float* src = full_.data() + size_t{row} * stride;
    float* dst = compact_->data() + size_t{c} * stride;
    for (size_t k = 0; k < stride; ++k) store_w(dst + k, load_w(src + k));
    if (2 * rows_.size() > slots_.size()) grow();
    return c;
  }
  void grow() {
    std::vector<uint64_t> bigger(slots_.size() * 2);
    const size_t mask = bigger.size() - 1;
    for (uint64_t e : slots_) {
      if (e == 0) continue;
      size_t h = hash(static_cast<uint32_t>((e >> 32) - 1)) & mask;
      while (bigger[h] != 0) h = (h + 1) & mask;
      bigger[h] = e;
    }
    slots_.swap(bigger);
  }
  // Appends a feature's row id: 16 bits while every id is below 2^15 (a compact row space of up to
  // 32,768 rows), 32 from the first one that is not on.
  void push_id(uint32_t id, bool valued) {
    if (!wide_) {
      if (id < kValued16) {
        narrow_.push_back(static_cast<uint16_t>(id | (valued ? kValued16 : 0u)));
        return;
      }
      widen();
    }
    ids_.push_back(id | (valued ? kValued : 0u));
  }
  void widen() {
    ids_.reserve(narrow_.size() * 2);
    for (uint16_t v : narrow_) ids_.push_back((v & ~kValued16) | ((v & kValued16) != 0 ? kValued : 0u));
    std::vector<uint16_t>().swap(narrow_);
    wide_ = true;
  }
  // The id of the namespaces' sizes of the example being added (shape_): examples of the same shape
  // share one entry.
  uint32_t shape_id() {
    if (last_shape_ < shapes_.size() && shapes_[last_shape_] == shape_) return last_shape_;
    auto it = shape_ids_.find(shape_);
    if (it == shape_ids_.end()) {
      it = shape_ids_.emplace(shape_, static_cast<uint32_t>(shapes_.size())).first;
      shapes_.push_back(shape_);
    }
    last_shape_ = it->second;
    return last_shape_;
  }
  // Fills ex's groups from a shape and the ids (16 or 32 bits) and values read from i_ and v_ on.
  template <class Id>
  void fill(Example& ex, const std::vector<uint32_t>& shape, const Id* ids) {
    constexpr uint32_t valued = sizeof(Id) == 2 ? kValued16 : kValued;
    const float* vals = vals_.data();
    for (uint32_t g : shape) {
      const unsigned char slot = static_cast<unsigned char>(g & 255u);
      const size_t count = g >> 8;
      FeatureGroup& fg = ex.groups[slot];
      if (fg.empty()) ex.order.push_back(slot);
      uint32_t* pi = fg.index.room(count);
      float* pv = fg.value.room(count);
      for (size_t j = 0; j < count; ++j) {
        const uint32_t x = ids[i_++];
        pi[j] = x & ~valued;
        pv[j] = (x & valued) != 0 ? vals[v_++] : 1.f;
      }
      fg.index.set_end(pi + count);
      fg.value.set_end(pv + count);
    }
  }
  void give_up() {
    keeping_ = false;
    std::vector<uint32_t>().swap(meta_);
    std::vector<uint32_t>().swap(ids_);
    std::vector<uint16_t>().swap(narrow_);
    std::vector<float>().swap(vals_);
    std::string().swap(tags_);
  }

  const WeightTable& full_;
  WeightTable* compact_;
  uint32_t mask_;
  size_t max_bytes_;
  size_t max_rows_;
  bool keeping_ = true;
  bool closed_ = false;
  uint64_t records_ = 0;
  // per record: head (kind, tag and plain flags, shape << 8), label, [weight, base], [tag length]
  std::vector<uint32_t> meta_;
  std::vector<std::vector<uint32_t>> shapes_;  // per shape: slot | count << 8 of each group entry
  std::map<std::vector<uint32_t>, uint32_t> shape_ids_;
  std::vector<uint32_t> shape_;  // the example being added
  uint32_t last_shape_ = UINT32_MAX;
  bool wide_;                     // the ids are in ids_ (else narrow_)
  std::vector<uint16_t> narrow_;  // every feature's row id, kValued16 if its value is not 1
  std::vector<uint32_t> ids_;     // ...once some id needs more than 15 bits (always without a compact table)
  std::vector<float> vals_;       // the values that are not 1
  std::string tags_;
  std::vector<uint32_t> rows_;                                            // compact id -> the model's row
  std::vector<uint64_t> slots_ = std::vector<uint64_t>(size_t{1} << 12);  // the model's row -> compact id
  size_t m_ = 0, i_ = 0, v_ = 0, t_ = 0;                                  // read positions
};

}  // namespace wabbit::run_detail
