// Wide examples are streamed: an example whose features (an upper bound: products of the
// interacting namespaces' sizes) exceed kMaxBufferedFeatures is not resolved into a buffer; every
// pass of its update walks the features afresh, in the same order (so every sum is the same), as
// VW does. Memory then does not grow with the square of a line's width. Included only by learner.cc.
#pragma once

#include <cstdint>
#include <type_traits>

#include "core/feature_rows.h"

namespace wabbit::detail {

namespace {  // (internal linkage for what is instantiated over them: see BufferedFeats)

// An output "iterator" for map_features whose every assignment of a FeatureRef calls f(w, x): the
// streamed walk.
template <class F>
struct RefSink {
  F* f;
  struct Slot {
    F* f;
    __attribute__((always_inline)) void operator=(const FeatureRef& r) const { (*f)(r.w, r.x); }
  };
  Slot operator*() const { return Slot{f}; }
  RefSink& operator++() { return *this; }
  RefSink operator++(int) { return *this; }
};

// A row while streaming, after the first pass (which wrote first to new pages): only the address.
struct PlainRow {
  float* base;
  uint32_t mask;
  uint32_t shift;
  uint32_t offset;
  __attribute__((always_inline)) FeatureRef operator()(float x, uint32_t i) const {
    return {base + (static_cast<size_t>((i + offset) & mask) << shift), x};
  }
};

}  // namespace

template <class F>
size_t FeatureRows::stream(Learner& L, const Example& ex, F& f, bool first) {
  size_t generated = 0;
  const RefSink<F> sink{&f};
  if (first || L.hot_ != nullptr) {
    walk_learn_rows(L, ex, sink, generated);
  } else {
    WeightTable& W = L.weights_;
    const PlainRow map{W.data(), W.mask(), W.stride_shift(), L.offset_};
    map_features(ex, L.interactions_, L.cfg_.permutations, &L.cfg_.ignore_linear, sink, map, generated);
  }
  return generated;
}

namespace {  // (internal linkage for what is instantiated over it: see BufferedFeats)

// Wide examples: every pass walks the features again (same order, same rows), holding none;
// returns the number of generated features. The first pass (the score) resolves rows as
// map_learn_rows does; the later ones only compute addresses (hot rows still redirected).
struct StreamedFeats {
  static constexpr bool kStreamed = true;
  Learner* L;
  const Example* ex;
  template <class F>
  size_t each(F&& f, bool first = false) const {
    return FeatureRows::stream(*L, *ex, f, first);
  }
};

}  // namespace

}  // namespace wabbit::detail
