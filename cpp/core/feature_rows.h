// An example's features resolved to the weight rows an update changes: the buffered path, which
// resolves a narrow example's rows once into a FeatureBuffer that every pass of the update reads.
// (Wide examples are streamed instead: core/streamed_rows.h.) Included only by learner.cc.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

#include "core/hot_rows.h"
#include "core/learner.h"

namespace wabbit::detail {

// The first access to a never-touched page of the table must be a write: a read would map the
// kernel's shared zero page, and the write that follows would replace that mapping, which costs a
// second fault and, with several threads learning, a TLB shootdown on every other core (measured:
// 7x the system time with two threads). An atomic add of 0 is a write that changes nothing, even
// if another thread is writing the same row.
// (Only the first touch of each page per learner pays the locked instruction.)
inline void first_write(uint64_t* written, const float* base, float* w) {
  const size_t page = static_cast<size_t>(w - base) >> 10;  // 1024 floats a page
  uint64_t& word = written[page >> 6];
  const uint64_t bit = uint64_t{1} << (page & 63);
  if ((word & bit) == 0u) [[unlikely]] {
#if defined(__x86_64__) || defined(__i386__)
    // one locked instruction: the first access is the write (a CAS loop would load first)
    asm volatile("lock orl $0, %0" : "+m"(*reinterpret_cast<uint32_t*>(w))::"memory");
#else
    __atomic_fetch_or(reinterpret_cast<uint32_t*>(w), 0u, __ATOMIC_RELAXED);
#endif
    word |= bit;
  }
}

// An upper bound on the features map_features generates for ex (products of group sizes), given
// its number of linear features; saturates at SIZE_MAX.
inline size_t feature_bound(const Example& ex, size_t linear, const std::vector<Interaction>& interactions) {
  size_t n = linear;
  for (const Interaction& in : interactions) {
    size_t p = 1;
    for (unsigned char s : in) {
      if (__builtin_mul_overflow(p, ex.groups[s].size(), &p)) return SIZE_MAX;
    }
    if (__builtin_add_overflow(n, p, &n)) return SIZE_MAX;
  }
  return n;
}

// Whether ex's rows are resolved into a buffer (a narrow example) or streamed, walked afresh for
// each pass (see kMaxBufferedFeatures).
inline bool buffered(size_t bound) { return bound <= kMaxBufferedFeatures; }
inline bool buffered(const Example& ex, const std::vector<Interaction>& interactions) {
  return interactions.empty() || buffered(feature_bound(ex, ex.num_linear_features(), interactions));
}

namespace {  // (internal linkage for what is instantiated over it: see BufferedFeats)

// gather's step for one feature while learning: its row (the worker's private copy when it is a
// hot row), written first if its page is new to this learner, and prefetched.
template <bool Hot>
struct LearnRow {
  float* base;
  uint64_t* written;
  HotRows::Lookup hot;
  uint32_t mask;
  uint32_t shift;
  uint32_t offset;
  __attribute__((always_inline)) FeatureRef operator()(float x, uint32_t i) const {
    const uint32_t r = (i + offset) & mask;
    float* w = base + (static_cast<size_t>(r) << shift);
    if constexpr (Hot) {
      float* mine = hot(r, w);
      if (mine == w) first_write(written, base, w);
      w = mine;
    } else {
      first_write(written, base, w);
    }
    __builtin_prefetch(w, 1, 3);
    return {w, x};
  }
};

}  // namespace

// The row walks of learning, over a Learner's table, hot rows and offset.
struct FeatureRows {
  // Calls f(w, x) for each feature of a streamed (wide) example, walking them afresh: the first
  // pass resolves rows as walk_learn_rows does, the later ones only compute addresses. Returns the
  // number of generated features. Defined in core/streamed_rows.h.
  template <class F>
  static size_t stream(Learner& L, const Example& ex, F& f, bool first);

  // Walks ex's features resolved to the rows learning updates, as map_learn_rows does, into `out`
  // (a FeatureRef* or a RefSink); returns the end and sets `generated`.
  template <class Out>
  __attribute__((always_inline)) static Out walk_learn_rows(Learner& L, const Example& ex, Out out, size_t& generated) {
    WeightTable& W = L.weights_;
    HotRows* hot = L.hot_;
    generated = 0;
    if (L.written_.empty()) L.written_.assign((W.size_floats() >> 10) / 64 + 1, 0u);
    if (hot != nullptr) {
      const LearnRow<true> map{W.data(), L.written_.data(), hot->lookup(), W.mask(), W.stride_shift(), L.offset_};
      return map_features(ex, L.interactions_, L.cfg_.permutations, &L.cfg_.ignore_linear, out, map, generated);
    }
    const LearnRow<false> map{W.data(), L.written_.data(), {}, W.mask(), W.stride_shift(), L.offset_};
    return map_features(ex, L.interactions_, L.cfg_.permutations, &L.cfg_.ignore_linear, out, map, generated);
  }

  // Resolves every feature of ex (a buffered one) to the row learning updates (prefetching it) into
  // `into`; returns the number of features (linear + generated).
  __attribute__((always_inline)) static uint32_t map_learn_rows(Learner& L, const Example& ex, size_t linear,
                                                                size_t bound, FeatureBuffer& into) {
    FeatureRef* out = into.reserve(bound);
    size_t generated = 0;
    out = walk_learn_rows(L, ex, out, generated);
    into.n = static_cast<size_t>(out - into.buf.data());
    into.linear = linear;
    return static_cast<uint32_t>(linear + generated);
  }

  // Maps ex's rows into L.scratch_ unless ex is streamed; returns whether it is (resolve's slow path).
  __attribute__((noinline)) static bool map_or_stream(Learner& L, const Example& ex, uint32_t& num_features) {
    const size_t linear = ex.num_linear_features();
    const size_t bound = feature_bound(ex, linear, L.interactions_);
    if (!buffered(bound)) return true;
    num_features = map_learn_rows(L, ex, linear, bound, L.scratch_);
    return false;
  }

  // Resolves ex's rows for learning: into L.scratch_ (taken from `rows` when map_rows made them for
  // this learner as it is), unless ex is streamed; returns whether it is. Sets num_features for a
  // buffered example (a streamed one's are counted by score()).
  __attribute__((always_inline)) static bool resolve(Learner& L, const Example& ex, uint32_t& num_features,
                                                     MappedRows* rows) {
    if (rows != nullptr && rows->base == L.weights_.data() && rows->hot == L.hot_ && rows->offset == L.offset_) {
      FeatureBuffer& feats = L.scratch_;
      std::swap(feats.buf, rows->refs.buf);  // (the runner's buffer keeps ours for its next example)
      feats.n = rows->refs.n;
      feats.linear = rows->refs.linear;
      num_features = rows->num_features;
      rows->base = nullptr;
      return false;
    }
    return map_or_stream(L, ex, num_features);
  }
};

// In an unnamed namespace (this header is included by learner.cc alone): every update function
// instantiated over BufferedFeats or StreamedFeats, and every lambda in it, then has internal
// linkage, so the compiler may inline a rule's single call and rewrite its local signatures as it
// did when all of this was one file (measured: ~0.5-2% fewer instructions than with external
// linkage).
namespace {

// The features of the example being learned, as the passes of an update see them: f(w, x) for
// each, in map_features' order. Narrow examples: from the buffer (L.scratch_) filled once.
struct BufferedFeats {
  static constexpr bool kStreamed = false;
  const FeatureBuffer* buf;
  template <class F>
  __attribute__((always_inline)) size_t each(F&& f, bool = false) const {
    for (const FeatureRef& r : *buf) f(r.w, r.x);
    return 0;
  }
};

}  // namespace

}  // namespace wabbit::detail
