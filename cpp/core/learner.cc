#include "core/learner.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <type_traits>
#include <unordered_set>

#include <stdexcept>
#include "core/hot_rows.h"

namespace wabbit {

std::shared_mutex& wildcard_mutex() {
  static std::shared_mutex m;
  return m;
}

namespace {

constexpr float kXMin = 1.084202e-19f;
constexpr float kX2Min = kXMin * kXMin;
constexpr float kX2Max = FLT_MAX;

// Slot positions in a weight row, as VW lays them out for each update rule.
template <bool Adaptive, bool Normalized>
struct Slots {
  static constexpr size_t adaptive = Adaptive ? 1 : 0;
  static constexpr size_t normalized = Normalized ? adaptive + 1 : 0;
  static constexpr size_t spare = Normalized ? adaptive + 2 : (Adaptive ? 2 : 0);
};

// FTRL-Proximal's row: weight, z (dual), sum of squared gradients.
constexpr size_t kFtrlZ = 1;
constexpr size_t kFtrlG2 = 2;

inline float inv_sqrt(float x) { return 1.f / std::sqrt(x); }

inline float finalize_prediction(const OnlineState& s, float p) {
  if (std::isnan(p)) return 0.f;
  if (p > s.max_label) return s.max_label;
  if (p < s.min_label) return s.min_label;
  return p;
}

// What is reported for a prediction: VW's scorer link, then --binary's sign.
inline float output_of(const Config& c, float p) {
  float out = p;
  switch (c.link) {
    case Link::kIdentity:
      break;
    case Link::kLogistic:
      out = 1.f / (1.f + std::exp(-p));
      break;
    case Link::kPoisson:
      out = std::exp(p);
      break;
    case Link::kGlf1:
      out = 2.f / (1.f + std::exp(-p)) - 1.f;
      break;
  }
  if (c.binary) out = out > 0.f ? 1.f : -1.f;
  return out;
}

template <class Loss>
Loss make_loss(const Config& cfg) {
  Loss l{};
  if constexpr (Loss::kind == LossKind::kLogistic) {
    l.lo = cfg.logistic_min;
    l.hi = cfg.logistic_max;
  } else if constexpr (Loss::kind == LossKind::kQuantile) {
    l.tau = cfg.quantile_tau;
  }
  return l;
}

// The loss VW reports for an example (--binary reports 0/1 error on -1/1 labels).
template <class Loss>
float reported_loss(const Loss& loss, const Config& c, const Range& r, float pred, float out, float y, float w) {
  if (c.binary && std::fabs(y) == 1.f) return y == out ? 0.f : w;
  return loss.loss(r, pred, y) * w;
}

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

// Walks ex's features resolved to the rows learning updates, as map_learn_rows does, into `out`
// (a FeatureRef* or a RefSink); returns the end and sets `generated`.
template <class Out>
__attribute__((always_inline)) inline Out walk_learn_rows(Learner& L, const Example& ex, Out out, size_t& generated) {
  WeightTable& W = L.weights_;
  HotRows* hot = L.hot_;
  generated = 0;
  if (L.written_.empty()) L.written_.assign((W.size_floats() >> 10) / 64 + 1, 0u);
  if (hot != nullptr) {
    const LearnRow<true> map{W.data(), L.written_.data(), hot->lookup(), W.mask(), W.stride_shift(), L.offset_};
    return map_features(ex, L.interactions_, &L.cfg_.ignore_linear, out, map, generated);
  }
  const LearnRow<false> map{W.data(), L.written_.data(), {}, W.mask(), W.stride_shift(), L.offset_};
  return map_features(ex, L.interactions_, &L.cfg_.ignore_linear, out, map, generated);
}

// Resolves every feature of ex (a buffered one) to the row learning updates (prefetching it) into
// `into`; returns the number of features (linear + generated).
__attribute__((always_inline)) inline uint32_t map_learn_rows(Learner& L, const Example& ex, size_t linear,
                                                              size_t bound, FeatureBuffer& into) {
  FeatureRef* out = into.reserve(bound);
  size_t generated = 0;
  out = walk_learn_rows(L, ex, out, generated);
  into.n = static_cast<size_t>(out - into.buf.data());
  into.linear = linear;
  return static_cast<uint32_t>(linear + generated);
}

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

// Wide examples: every pass walks the features again (same order, same rows), holding none;
// returns the number of generated features. The first pass (the score) resolves rows as
// map_learn_rows does; the later ones only compute addresses (hot rows still redirected).
struct StreamedFeats {
  static constexpr bool kStreamed = true;
  Learner* L;
  const Example* ex;
  template <class F>
  size_t each(F&& f, bool first = false) const {
    size_t generated = 0;
    const RefSink<std::remove_reference_t<F>> sink{&f};
    if (first || L->hot_ != nullptr) {
      walk_learn_rows(*L, *ex, sink, generated);
    } else {
      WeightTable& W = L->weights_;
      const PlainRow map{W.data(), W.mask(), W.stride_shift(), L->offset_};
      map_features(*ex, L->interactions_, &L->cfg_.ignore_linear, sink, map, generated);
    }
    return generated;
  }
};

// Maps ex's rows into L.scratch_ unless ex is streamed; returns whether it is (resolve's slow path).
__attribute__((noinline)) bool map_or_stream(Learner& L, const Example& ex, uint32_t& num_features) {
  const size_t linear = ex.num_linear_features();
  const size_t bound = feature_bound(ex, linear, L.interactions_);
  if (!buffered(bound)) return true;
  num_features = map_learn_rows(L, ex, linear, bound, L.scratch_);
  return false;
}

// Resolves ex's rows for learning: into L.scratch_ (taken from `rows` when map_rows made them for
// this learner as it is), unless ex is streamed; returns whether it is. Sets num_features for a
// buffered example (a streamed one's are counted by score()).
__attribute__((always_inline)) inline bool resolve(Learner& L, const Example& ex, uint32_t& num_features,
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

inline bool values_tame(const Example& ex, float lo, float hi);

// The raw score while learning: initial + sum of w*x, with L1 truncation and L2 contraction as
// VW's predict applies them (VW scales initial + sum by the contraction while training).
//
// `tame_values` tells whether every feature value lies in the guard's tame range (see Guard): for a
// buffered example it is folded into the sum over the linear features (a min and a max each).
template <class Feats>
__attribute__((always_inline)) inline float score(Learner& L, const Example& ex, const Feats& feats,
                                                  uint32_t& num_features, bool& tame_values) {
  float raw = ex.initial;
  const bool trunc = L.cfg_.l1 > 0.f && !L.cfg_.ftrl;
  const float g = static_cast<float>(L.state_.gravity);
  if constexpr (Feats::kStreamed) {
    size_t generated = 0;
    if (trunc) {
      generated = feats.each([&](float* w, float x) { raw += trunc_weight(load_w(w), g) * x; }, true);
    } else {
      generated = feats.each([&](float* w, float x) { raw += load_w(w) * x; }, true);
    }
    num_features = static_cast<uint32_t>(ex.num_linear_features() + generated);
    tame_values = values_tame(ex, L.guard_lo_, L.guard_hi_);
  } else {
    const FeatureRef* p = feats.buf->begin();
    const FeatureRef* end = feats.buf->end();
    const FeatureRef* linear_end = p + std::min(feats.buf->linear, feats.buf->size());
    float small = L.guard_lo_;
    float big = L.guard_hi_;
    if (trunc) {
      for (; p != linear_end; ++p) {
        raw += trunc_weight(load_w(p->w), g) * p->x;
        const float a = std::fabs(p->x);
        small = a < small ? a : small;
        big = a > big ? a : big;
      }
      for (; p != end; ++p) raw += trunc_weight(load_w(p->w), g) * p->x;
    } else {
      for (; p != linear_end; ++p) {
        raw += load_w(p->w) * p->x;
        const float a = std::fabs(p->x);
        small = a < small ? a : small;
        big = a > big ? a : big;
      }
      for (; p != end; ++p) raw += load_w(p->w) * p->x;
    }
    tame_values =
        L.guard_scan_ ? values_tame(ex, L.guard_lo_, L.guard_hi_) : small == L.guard_lo_ && big == L.guard_hi_;
  }
  if (!L.cfg_.ftrl) raw *= static_cast<float>(L.state_.contraction);
  return raw;
}

// The raw score when testing (-t): VW has folded the contraction into the weights when loading,
// so only the sum is scaled, then initial added. A narrow example's rows are all found (and
// prefetched) before the sum; a wide one's are summed as they are walked, storing none.
inline float test_score(Learner& L, const Example& ex, uint32_t& num_features) {
  WeightTable& W = L.weights_;
  HotRows* hot = L.hot_;
  const uint32_t offset = L.offset_;
  const bool trunc = L.cfg_.l1 > 0.f && !L.cfg_.ftrl;
  const float g = static_cast<float>(L.state_.gravity);
  const size_t linear = ex.num_linear_features();
  float raw = 0.f;
  size_t generated = 0;
  if (buffered(ex, L.interactions_)) {
    FeatureBuffer& feats = L.scratch_;
    FeatureRef* out = feats.reserve(feature_bound(ex, linear, L.interactions_));
    generated = for_each_feature(ex, L.interactions_, &L.cfg_.ignore_linear, [&](float x, uint32_t i) {
      float* w = W.row(i + offset);
      if (hot != nullptr) w = hot->redirect((i + offset) & W.mask(), w);
      __builtin_prefetch(w, 1, 3);
      *out++ = {w, x};
    });
    feats.n = static_cast<size_t>(out - feats.buf.data());
    if (trunc) {
      for (const FeatureRef& f : feats) raw += trunc_weight(load_w(f.w), g) * f.x;
    } else {
      for (const FeatureRef& f : feats) raw += load_w(f.w) * f.x;
    }
  } else {
    generated = for_each_feature(ex, L.interactions_, &L.cfg_.ignore_linear, [&](float x, uint32_t i) {
      float* w = W.row(i + offset);
      if (hot != nullptr) w = hot->redirect((i + offset) & W.mask(), w);
      const float v = load_w(w);
      raw += (trunc ? trunc_weight(v, g) : v) * x;
    });
  }
  num_features = static_cast<uint32_t>(linear + generated);
  if (!L.cfg_.ftrl) raw *= static_cast<float>(L.state_.contraction);
  return ex.initial + raw;
}

// Non-finite updates are refused. Feature values near float's limits (a raw nanosecond timestamp,
// 1e20, 1e-45), huge labels or importance weights can make an update overflow: x^2 = inf in the
// adaptive sums, inf * 0 = NaN in the rates, a step that overflows the weight. VW writes those
// values into the model; we refuse the example instead, leaving the model as it was, and the
// caller reports it like a malformed line. Where every number stays finite the update is VW's,
// bit for bit: the guard only watches.
//
// The common example pays a scan of its linear values (bit tests, vectorised) and a few scalar
// compares. An example outside the tame range (values whose products up to the interaction order
// keep x^2 far from float's limits; labels, weights, scores and the prediction range within 2^20)
// takes the guarded path: the rows it touches are saved before the update and checked after it; if
// any slot or the online state is not finite, the rows and the state are put back.
constexpr float kTameScalar = 1048576.f;  // 2^20

// Whether every value's magnitude lies in [lo, hi]: the smallest and largest are kept (one
// andps, minss and maxss a value) and compared once.
inline bool values_tame(const Example& ex, float lo, float hi) {
  float small = lo;
  float big = hi;
  for (unsigned char s : ex.order) {
    const FeatureGroup& g = ex.groups[s];
    const float* v = g.value.data();
    const size_t n = g.size();
    for (size_t k = 0; k < n; ++k) {
      const float a = std::fabs(v[k]);
      small = a < small ? a : small;
      big = a > big ? a : big;
    }
  }
  return small == lo && big == hi;
}

inline bool tame(const Learner& L, const Example& ex, float raw, bool tame_values) {
  return tame_values && !L.guard_always_ && std::fabs(ex.label) <= kTameScalar && ex.weight <= kTameScalar &&
         std::fabs(ex.initial) <= kTameScalar && std::fabs(raw) <= kTameScalar * kTameScalar &&
         std::fabs(load_w(&L.state_.min_label)) <= kTameScalar && std::fabs(load_w(&L.state_.max_label)) <= kTameScalar;
}

inline bool finite_state(const OnlineState& s) {
  return std::isfinite(s.t) && std::isfinite(s.normalized_sum_norm_x) && std::isfinite(s.total_weight) &&
         std::isfinite(s.weighted_unlabeled) && std::isfinite(s.gravity) && std::isfinite(s.contraction) &&
         std::isfinite(s.min_label) && std::isfinite(s.max_label);
}

class Guard;
template <class Feats>
std::unique_ptr<Guard> make_guard(Learner& L, const Feats& feats, float min_before, float max_before);

// The guarded path: the touched rows (each once) and the online state, saved before an update.
class Guard {
 public:
  // `range_before`: the label range before this example widened it.
  Guard(Learner& L, float min_before, float max_before) : L_(L), state_(L.state_), multiplier_(L.update_multiplier_) {
    state_.min_label = min_before;
    state_.max_label = max_before;
  }
  template <class Feats>
  void save(const Feats& feats) {
    const uint32_t stride = L_.weights_.stride();
    feats.each([&](float* w, float) {
      if (!seen_.insert(w).second) return;
      rows_.push_back(w);
      for (uint32_t k = 0; k < stride; ++k) values_.push_back(load_w(w + k));
    });
  }
  // Whether the update left everything finite; if not, puts the rows and the state back and
  // words the reason for ex.
  __attribute__((noinline)) bool keep(const Example& ex) {
    const uint32_t stride = L_.weights_.stride();
    bool finite = finite_state(L_.state_) && std::isfinite(L_.update_multiplier_);
    for (size_t r = 0; finite && r < rows_.size(); ++r) {
      for (uint32_t k = 0; k < stride; ++k) finite &= std::isfinite(load_w(rows_[r] + k));
    }
    if (finite) return true;
    for (size_t r = 0; r < rows_.size(); ++r) {
      for (uint32_t k = 0; k < stride; ++k) store_w(rows_[r] + k, values_[r * stride + k]);
    }
    L_.state_ = state_;
    L_.update_multiplier_ = multiplier_;
    float hi = 0.f;
    float lo = FLT_MAX;
    for (unsigned char s : ex.order) {
      for (float v : ex.groups[s].value) {
        hi = std::max(hi, std::fabs(v));
        if (v != 0.f) lo = std::min(lo, std::fabs(v));
      }
    }
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "the update would make weights non-finite (feature values from %g to %g, label %g, "
                  "importance weight %g: too large or too small for float arithmetic); example skipped",
                  static_cast<double>(lo == FLT_MAX ? 0.f : lo), static_cast<double>(hi), static_cast<double>(ex.label),
                  static_cast<double>(ex.weight));
    L_.skip_reason_ = buf;
    return false;
  }

 private:
  Learner& L_;
  OnlineState state_;
  float multiplier_;
  std::unordered_set<float*> seen_;
  std::vector<float*> rows_;
  std::vector<float> values_;
};

// Out of line, so the learning functions carry only a pointer test for it.
template <class Feats>
__attribute__((noinline, cold)) std::unique_ptr<Guard> make_guard(Learner& L, const Feats& feats, float min_before,
                                                                  float max_before) {
  auto g = std::make_unique<Guard>(L, min_before, max_before);
  g->save(feats);
  return g;
}

// The label range is read by concurrent predictions (predict_const), hence the atomic stores.
inline void widen_range(Learner& L, const Example& ex) {
  if (L.set_minmax_ && ex.labelled()) {
    if (ex.label < L.state_.min_label) store_w(&L.state_.min_label, ex.label);
    if (ex.label > L.state_.max_label) store_w(&L.state_.max_label, ex.label);
  }
}

inline void advance_clock(OnlineState& st, const Example& ex) {
  if (!ex.labelled()) store_d(&st.weighted_unlabeled, st.weighted_unlabeled + ex.weight);
  store_d(&st.t, st.t + ex.weight);  // (relaxed: save() may read the state meanwhile)
}

// The per-example update: VW's gd::learn for one (loss, adaptive, normalized, sqrt_rate), over
// the example's features as `feats` gives them (buffered or streamed: the same order).
template <class Loss, bool Adaptive, bool Normalized, bool SqrtRate, class Feats>
__attribute__((flatten)) Outcome gd_steps(Learner& L, Example& ex, const Feats& feats, Outcome out, float min_before,
                                          float max_before) {
  using S = Slots<Adaptive, Normalized>;
  OnlineState& st = L.state_;
  const Config& cfg = L.cfg_;
  const Loss loss = make_loss<Loss>(cfg);
  bool tame_values = true;
  const float raw = score(L, ex, feats, out.num_features, tame_values);
  const float pred = finalize_prediction(st, raw);
  out.prediction = pred;
  out.output = output_of(cfg, pred);
  const float weight = ex.weight;

  if (ex.labelled() && weight > 0.f) {
    const Range range{st.min_label, st.max_label};
    const float y = ex.label;
    const float example_loss = loss.loss(range, pred, y);  // computed once: it needs log and exp
    if (example_loss > 0.f) {
      std::unique_ptr<Guard> guard;
      if (!tame(L, ex, raw, tame_values)) [[unlikely]]
        guard = make_guard(L, feats, min_before, max_before);
      float pred_per_update;
      if constexpr (Adaptive || Normalized) {
        const float grad_squared = weight * loss.square_grad(pred, y);
        if (grad_squared == 0.f) {
          pred_per_update = 1.f;
        } else {
          float ppu = 0.f;
          float norm_x = 0.f;
          const float neg_power_t = L.neg_power_t_;
          const float neg_norm_power = L.neg_norm_power_;
          feats.each([&](float* w, float x) {
            float nx = 0.f;
            if constexpr (Normalized) nx = load_w(w + S::normalized);
            if constexpr (Adaptive && Normalized && SqrtRate) {
              // A binary feature whose normalizer is already 1 (most features of a click log):
              // x2, x2 / nx^2 and 1 / nx are exactly 1, so this is the general step below, bit for bit.
              if (x == 1.f && nx == 1.f) {
                const float g2 = load_w(w + S::adaptive) + grad_squared;
                store_w(w + S::adaptive, g2);
                const float rate = inv_sqrt(g2);
                store_w(w + S::spare, rate);
                norm_x += 1.f;
                ppu += rate;
                return;
              }
            }
            float x2 = x * x;
            if (x2 < kX2Min) [[unlikely]] {
              x = x > 0.f ? kXMin : -kXMin;
              x2 = kX2Min;
            }
            // Each slot is loaded once and stored once (relaxed atomics: see weights.h).
            float g2 = 0.f;
            if constexpr (Adaptive) {
              g2 = load_w(w + S::adaptive) + grad_squared * x2;
              store_w(w + S::adaptive, g2);
            }
            if constexpr (Normalized) {
              const float x_abs = std::fabs(x);
              if (x_abs > nx) [[unlikely]] {
                if (nx > 0.f) {
                  if constexpr (SqrtRate) {
                    const float rescale = nx / x_abs;
                    store_w(w, load_w(w) * (Adaptive ? rescale : rescale * rescale));
                  } else {
                    const float rescale = x_abs / nx;
                    store_w(w, load_w(w) * std::pow(rescale * rescale, neg_norm_power));
                  }
                }
                nx = x_abs;
                store_w(w + S::normalized, nx);
              }
              // x2 / (nx * nx) is exactly 1 when this feature set the maximum (nx * nx is then
              // the same product as x2): skip the division, the common case for 0/1 features. An
              // overflowing x2 counts 1.
              norm_x += nx == x_abs || x2 > kX2Max ? 1.f : x2 / (nx * nx);
            }
            float rate = 1.f;
            if constexpr (Adaptive) {
              if constexpr (SqrtRate)
                rate = inv_sqrt(g2);
              else
                rate = std::pow(g2, neg_power_t);
            }
            if constexpr (Normalized) {
              if constexpr (SqrtRate) {
                const float inv_norm = nx == 1.f ? 1.f : 1.f / nx;  // exact either way; skips a division
                rate *= Adaptive ? inv_norm : inv_norm * inv_norm;
              } else {
                rate *= std::pow(nx * nx, neg_norm_power);
              }
            }
            // VW keeps the rate in the row (a feature that occurs twice uses the last one).
            store_w(w + S::spare, rate);
            ppu += x2 * rate;
          });
          if constexpr (Normalized) {
            store_d(&st.normalized_sum_norm_x, st.normalized_sum_norm_x + static_cast<double>(weight) * norm_x);
            store_d(&st.total_weight, st.total_weight + weight);
            const float tw = static_cast<float>(st.total_weight);
            const float nsnx = static_cast<float>(st.normalized_sum_norm_x);
            if constexpr (SqrtRate) {
              const float avg = tw / nsnx;
              L.update_multiplier_ = Adaptive ? std::sqrt(avg) : avg;
            } else {
              L.update_multiplier_ = std::pow(nsnx / tw, neg_norm_power);
            }
            ppu *= L.update_multiplier_;
          }
          pred_per_update = ppu;
        }
      } else {
        float sum_sq = 0.f;
        feats.each([&](float*, float x) { sum_sq += x * x; });
        pred_per_update = sum_sq;
      }
      float update_scale = L.eta_ * weight;
      if constexpr (!Adaptive) {
        const float t = static_cast<float>(st.t + weight - st.weighted_unlabeled);
        update_scale *= std::pow(t, L.neg_power_t_);
      }
      float update = cfg.invariant ? loss.update(pred, y, update_scale, pred_per_update)
                                   : loss.unsafe_update(pred, y, update_scale);
      if ((cfg.l1 > 0.f || cfg.l2 > 0.f) && std::fabs(update) > 1e-8f) {
        // VW's lazy regularisation: shrink (L2) and truncate (L1) all weights implicitly.
        const double dev1 = loss.first_derivative(range, pred, y);
        const double eta_bar = std::fabs(dev1) > 1e-8 ? -update / dev1 : 0.0;
        if (std::fabs(dev1) > 1e-8) store_d(&st.contraction, st.contraction * (1. - cfg.l2 * eta_bar));
        update /= static_cast<float>(st.contraction);
        store_d(&st.gravity, st.gravity + eta_bar * cfg.l1);
      }
      if (std::isnan(update)) update = 0.f;

      if (update != 0.f) {
        if constexpr (Normalized) update *= L.update_multiplier_;
        if constexpr (S::spare != 0) {
          feats.each([&](float* w, float x) { store_w(w, load_w(w) + update * (x * load_w(w + S::spare))); });
        } else {
          feats.each([&](float* w, float x) {
            if (x < FLT_MAX && x > -FLT_MAX) store_w(w, load_w(w) + update * x);
          });
        }
      }
      if (guard && !guard->keep(ex)) [[unlikely]] {
        out.skipped = L.skip_reason_.c_str();
        return out;
      }
      if (st.contraction < 1e-9 || st.gravity > 1e3) L.sync_weights();
    }
    out.loss = cfg.binary ? reported_loss(loss, cfg, range, pred, out.output, y, weight) : example_loss * weight;
  }
  advance_clock(st, ex);
  return out;
}

template <class Loss, bool Adaptive, bool Normalized, bool SqrtRate>
Outcome learn_gd(Learner& L, Example& ex, MappedRows* rows) {
  const float min_before = L.state_.min_label;
  const float max_before = L.state_.max_label;
  widen_range(L, ex);
  L.observe_namespaces(ex);
  Outcome out;
  if (resolve(L, ex, out.num_features, rows)) {
    return gd_steps<Loss, Adaptive, Normalized, SqrtRate>(L, ex, StreamedFeats{&L, &ex}, out, min_before, max_before);
  }
  return gd_steps<Loss, Adaptive, Normalized, SqrtRate>(L, ex, BufferedFeats{&L.scratch_}, out, min_before, max_before);
}

// FTRL-Proximal (McMahan et al., KDD 2013) as VW's --ftrl implements it: per coordinate,
// z += g - sigma * w, n += g^2, w = 0 if |z| <= l1, else -(z - sign(z) l1) / (l2 + (beta + sqrt n) / alpha).
template <class Loss, class Feats>
Outcome ftrl_steps(Learner& L, Example& ex, const Feats& feats, Outcome out) {
  OnlineState& st = L.state_;
  const Config& cfg = L.cfg_;
  const Loss loss = make_loss<Loss>(cfg);
  bool tame_values = true;
  const float raw = score(L, ex, feats, out.num_features, tame_values);
  // VW's FTRL does not return its prediction from learn, so VW predicts first (reporting the score
  // clamped to the labels seen before this one) and then learns (widening the range with this
  // label, and computing the loss and gradient on the score clamped to the new range).
  out.output = output_of(cfg, finalize_prediction(st, raw));
  const float min_before = st.min_label;
  const float max_before = st.max_label;
  widen_range(L, ex);
  const float pred = finalize_prediction(st, raw);
  out.prediction = pred;
  if (ex.labelled() && ex.weight > 0.f) {
    const Range range{st.min_label, st.max_label};
    const float y = ex.label;
    const float update = loss.first_derivative(range, pred, y) * ex.weight;
    const float alpha = cfg.ftrl_alpha * L.rate_factor_;
    const float beta = cfg.ftrl_beta;
    const float l1 = cfg.l1;
    const float l2 = cfg.l2;
    std::unique_ptr<Guard> guard;
    if (!tame(L, ex, raw, tame_values)) [[unlikely]]
      guard = make_guard(L, feats, min_before, max_before);
    feats.each([&](float* w, float x) {
      const float gradient = update * x;
      const float g2 = load_w(w + kFtrlG2);
      const float ng2 = g2 + gradient * gradient;
      const float sqrt_ng2 = std::sqrt(ng2);
      const float sigma = (sqrt_ng2 - std::sqrt(g2)) / alpha;
      const float z = load_w(w + kFtrlZ) + (gradient - sigma * load_w(w));
      store_w(w + kFtrlZ, z);
      store_w(w + kFtrlG2, ng2);
      const float sign = z > 0.f ? 1.f : (z < 0.f ? -1.f : 0.f);
      const float abs_z = z * sign;
      if (abs_z <= l1) {
        store_w(w, 0.f);
      } else {
        const float step = 1.f / (l2 + (beta + sqrt_ng2) / alpha);
        store_w(w, step * sign * (l1 - abs_z));
      }
    });
    if (guard && !guard->keep(ex)) [[unlikely]] {
      out.skipped = L.skip_reason_.c_str();
      return out;
    }
    out.loss = reported_loss(loss, cfg, range, pred, out.output, y, ex.weight);
  }
  advance_clock(st, ex);
  return out;
}

template <class Loss>
Outcome learn_ftrl(Learner& L, Example& ex, MappedRows* rows) {
  L.observe_namespaces(ex);
  Outcome out;
  if (resolve(L, ex, out.num_features, rows)) return ftrl_steps<Loss>(L, ex, StreamedFeats{&L, &ex}, out);
  return ftrl_steps<Loss>(L, ex, BufferedFeats{&L.scratch_}, out);
}

// The perceptron and passive-aggressive rules, as river implements them: the constant feature is
// the intercept (updated with the same step, left out of ||x||^2), and predictions are not clamped.
template <class Loss, class Feats>
Outcome classic_steps(Learner& L, Example& ex, const Feats& feats, Outcome out) {
  OnlineState& st = L.state_;
  const Config& cfg = L.cfg_;
  const Loss loss = make_loss<Loss>(cfg);
  bool tame_values = true;
  float raw = score(L, ex, feats, out.num_features, tame_values);
  const float raw_before = raw;
  if (std::isnan(raw)) raw = 0.f;
  out.prediction = raw;
  out.output = output_of(cfg, raw);
  if (ex.labelled() && ex.weight > 0.f) {
    const float y = ex.label;
    float step = 0.f;
    if (cfg.classic_rule == 1) {
      if (y * raw <= 0.f) step = y * ex.weight;  // perceptron: hinge at threshold 0, learning rate 1
    } else {
      std::array<bool, 256> skip = cfg.ignore_linear;
      skip[kConstantNamespace] = true;
      double norm = 0.;  // in double: PA's step divides by it, and small norms magnify errors
      for_each_feature(ex, L.interactions_, &skip, [&](float x, uint32_t) { norm += static_cast<double>(x) * x; });
      const double hinge = cfg.classic_rule == 2 ? std::max(0., 1. - static_cast<double>(y) * raw)
                                                 : std::max(0., std::fabs(static_cast<double>(y) - raw) - cfg.pa_eps);
      double tau = 0.;
      if (cfg.pa_variant == 0)
        tau = norm > 0. ? hinge / norm : 0.;
      else if (cfg.pa_variant == 1)
        tau = norm > 0. ? std::min(static_cast<double>(cfg.pa_c), hinge / norm) : 0.;
      else
        tau = hinge / (norm + 0.5 / cfg.pa_c);
      const float direction = cfg.classic_rule == 2 ? y : (y > raw ? 1.f : (y < raw ? -1.f : 0.f));
      step = static_cast<float>(tau * direction * ex.weight);
    }
    if (step != 0.f) {
      std::unique_ptr<Guard> guard;
      if (!tame(L, ex, raw_before, tame_values) || !std::isfinite(step)) [[unlikely]] {
        guard = make_guard(L, feats, st.min_label, st.max_label);
      }
      feats.each([&](float* w, float x) { store_w(w, load_w(w) + step * x); });
      if (guard && !guard->keep(ex)) [[unlikely]] {
        out.skipped = L.skip_reason_.c_str();
        return out;
      }
    }
    out.loss = reported_loss(loss, cfg, Range{-FLT_MAX, FLT_MAX}, raw, out.output, y, ex.weight);
  }
  advance_clock(st, ex);
  return out;
}

template <class Loss>
Outcome learn_classic(Learner& L, Example& ex, MappedRows* rows) {
  L.observe_namespaces(ex);
  Outcome out;
  if (resolve(L, ex, out.num_features, rows)) return classic_steps<Loss>(L, ex, StreamedFeats{&L, &ex}, out);
  return classic_steps<Loss>(L, ex, BufferedFeats{&L.scratch_}, out);
}

template <class Loss>
ExampleFn pick_rule(const Config& c) {
  if (c.classic_rule != 0) return &learn_classic<Loss>;
  if (c.ftrl) return &learn_ftrl<Loss>;
  const bool sq = c.power_t == 0.5f;
  if (c.adaptive && c.normalized) return sq ? &learn_gd<Loss, true, true, true> : &learn_gd<Loss, true, true, false>;
  if (c.adaptive) return sq ? &learn_gd<Loss, true, false, true> : &learn_gd<Loss, true, false, false>;
  if (c.normalized) return sq ? &learn_gd<Loss, false, true, true> : &learn_gd<Loss, false, true, false>;
  return sq ? &learn_gd<Loss, false, false, true> : &learn_gd<Loss, false, false, false>;
}

ExampleFn pick_learn(const Config& c) {
  switch (c.loss) {
    case LossKind::kSquared:
      return pick_rule<SquaredLoss>(c);
    case LossKind::kLogistic:
      return pick_rule<LogisticLoss>(c);
    case LossKind::kClassic:
      return pick_rule<ClassicLoss>(c);
    case LossKind::kHinge:
      return pick_rule<HingeLoss>(c);
    case LossKind::kQuantile:
      return pick_rule<QuantileLoss>(c);
    case LossKind::kPoisson:
      return pick_rule<PoissonLoss>(c);
  }
  throw std::invalid_argument("unknown loss");
}

template <class Loss>
float loss_of(const Config& cfg, const Range& r, float pred, float out, float y, float w) {
  return reported_loss(make_loss<Loss>(cfg), cfg, r, pred, out, y, w);
}

float example_loss(const Config& cfg, const Range& r, float pred, float out, float y, float w) {
  switch (cfg.loss) {
    case LossKind::kSquared:
      return loss_of<SquaredLoss>(cfg, r, pred, out, y, w);
    case LossKind::kLogistic:
      return loss_of<LogisticLoss>(cfg, r, pred, out, y, w);
    case LossKind::kClassic:
      return loss_of<ClassicLoss>(cfg, r, pred, out, y, w);
    case LossKind::kHinge:
      return loss_of<HingeLoss>(cfg, r, pred, out, y, w);
    case LossKind::kQuantile:
      return loss_of<QuantileLoss>(cfg, r, pred, out, y, w);
    case LossKind::kPoisson:
      return loss_of<PoissonLoss>(cfg, r, pred, out, y, w);
  }
  return 0.f;
}

}  // namespace

bool foldable_rows(const Config& cfg, int& max_slot, int& skip_slot) {
  max_slot = skip_slot = -1;
  if (cfg.classic_rule != 0 || cfg.ftrl) return false;
  const int adaptive = cfg.adaptive ? 1 : 0;
  if (cfg.normalized) {
    max_slot = adaptive + 1;
    skip_slot = adaptive + 2;
  } else if (cfg.adaptive) {
    skip_slot = 2;
  }
  return true;
}

uint32_t stride_shift_for(const Config& cfg) {
  if (cfg.classic_rule != 0) return 0u;
  if (cfg.ftrl) return 2u;
  return (cfg.adaptive || cfg.normalized) ? 2u : 0u;
}

Learner::Learner(Config cfg) : cfg_(std::move(cfg)) {
  if (!(cfg_.learning_rate > 0.f) || !std::isfinite(cfg_.learning_rate)) {
    throw std::invalid_argument("learning rate must be a positive number");
  }
  if (!std::isfinite(cfg_.power_t) || cfg_.power_t < 0.f) throw std::invalid_argument("power_t must be >= 0");
  if (!std::isfinite(cfg_.initial_t) || cfg_.initial_t < 0.f) throw std::invalid_argument("initial_t must be >= 0");
  if (cfg_.loss == LossKind::kLogistic && !(cfg_.logistic_max > cfg_.logistic_min)) {
    throw std::invalid_argument("logistic_max must be greater than logistic_min");
  }
  if (!(cfg_.l1 >= 0.f) || !(cfg_.l2 >= 0.f)) throw std::invalid_argument("l1 and l2 must be >= 0");
  if (cfg_.ftrl && (!(cfg_.ftrl_alpha > 0.f) || !(cfg_.ftrl_beta >= 0.f))) {
    throw std::invalid_argument("ftrl_alpha must be > 0 and ftrl_beta >= 0");
  }
  if (!(cfg_.quantile_tau > 0.f && cfg_.quantile_tau < 1.f)) {
    throw std::invalid_argument("quantile_tau must be in (0, 1)");
  }
  weights_.reset(cfg_.bits, stride_shift_for(cfg_));
  for (const std::string& spec : cfg_.interactions) wildcards_ |= has_wildcard(spec);
  interactions_ = wildcards_ ? expand_wildcards(cfg_.interactions, {}) : compile_interactions(cfg_.interactions);
  neg_power_t_ = -cfg_.power_t;
  // VW computes this while its adaptive flag is still at its default (on), so it is power_t - 1
  // for every rule; it matters only for normalized updates with power_t != 0.5.
  neg_norm_power_ = cfg_.power_t - 1.f;
  eta_ = cfg_.learning_rate;
  state_.t = cfg_.initial_t;
  if (!cfg_.ftrl) {
    if (!cfg_.adaptive && !cfg_.normalized) eta_ *= std::pow(static_cast<float>(state_.t), cfg_.power_t);
    if (cfg_.initial_t > 0.f) {
      state_.normalized_sum_norm_x = cfg_.initial_t;
      state_.total_weight = cfg_.initial_t;
      if (cfg_.adaptive) weights_.fill_slot(1, cfg_.initial_t);
    }
  }
  if (cfg_.loss == LossKind::kLogistic || cfg_.loss == LossKind::kPoisson) {
    state_.min_label = -50.f;
    state_.max_label = 50.f;
  }
  if (cfg_.classic_rule != 0) {  // river's linear models do not clamp their scores
    state_.min_label = -FLT_MAX;
    state_.max_label = FLT_MAX;
  }
  if (cfg_.classic_rule < 0 || cfg_.classic_rule > 3) throw std::invalid_argument("unknown online rule");
  if (cfg_.classic_rule >= 2 &&
      (cfg_.pa_variant < 0 || cfg_.pa_variant > 2 || !(cfg_.pa_c > 0.f) || !(cfg_.pa_eps >= 0.f))) {
    throw std::invalid_argument("pa_variant must be 0, 1 or 2, pa_c > 0 and pa_eps >= 0");
  }
  if (cfg_.has_min_prediction) state_.min_label = cfg_.min_prediction;
  if (cfg_.has_max_prediction) state_.max_label = cfg_.max_prediction;
  set_minmax_ = !(cfg_.has_min_prediction || cfg_.has_max_prediction) && cfg_.classic_rule == 0;
  learn_fn_ = pick_learn(cfg_);
  base_eta_ = eta_;
  // The tame range of feature values (see Guard): [2^-e, 2^e] with e = 30 / (interaction order), so
  // a generated value's square stays within 2^+-60, far inside float's range.
  size_t order = 1;
  for (const std::string& spec : cfg_.interactions) order = std::max(order, spec.size());
  const int e = std::max(1, 30 / static_cast<int>(order));
  const float lo = std::ldexp(1.f, -e);
  const float hi = std::ldexp(1.f, e);
  guard_lo_ = lo;
  guard_hi_ = hi;
  for (bool b : cfg_.ignore_linear) guard_scan_ |= b;
  set_rate_factor(1.f);
}

void Learner::swap(Learner& o) noexcept {
  std::swap(cfg_, o.cfg_);
  std::swap(state_, o.state_);
  weights_.swap(o.weights_);
  std::swap(interactions_, o.interactions_);
  std::swap(eta_, o.eta_);
  std::swap(base_eta_, o.base_eta_);
  std::swap(rate_factor_, o.rate_factor_);
  std::swap(neg_power_t_, o.neg_power_t_);
  std::swap(neg_norm_power_, o.neg_norm_power_);
  std::swap(update_multiplier_, o.update_multiplier_);
  std::swap(set_minmax_, o.set_minmax_);
  std::swap(scratch_, o.scratch_);
  std::swap(written_, o.written_);
  std::swap(wildcards_, o.wildcards_);
  std::swap(seen_, o.seen_);
  std::swap(learn_fn_, o.learn_fn_);
  std::swap(guard_lo_, o.guard_lo_);
  std::swap(guard_hi_, o.guard_hi_);
  std::swap(guard_always_, o.guard_always_);
  std::swap(guard_scan_, o.guard_scan_);
}

void Learner::reset() {
  Learner fresh(cfg_);
  fresh.set_rate_factor(rate_factor_);
  weights_.reset(cfg_.bits, stride_shift_for(cfg_));
  written_.clear();
  if (!cfg_.ftrl && cfg_.classic_rule == 0 && cfg_.adaptive && cfg_.initial_t > 0.f)
    weights_.fill_slot(1, cfg_.initial_t);
  state_ = fresh.state_;
  interactions_ = fresh.interactions_;
  seen_ = fresh.seen_;
  update_multiplier_ = 1.f;
}

void Learner::set_rate_factor(float factor) {
  if (!(factor > 0.f) || !std::isfinite(factor)) throw std::invalid_argument("the rate factor must be > 0");
  rate_factor_ = factor;
  eta_ = base_eta_ * factor;
  // extreme rates: every update takes the guarded path
  guard_always_ = !(eta_ <= 1024.f) || !(cfg_.ftrl_alpha * factor <= 1024.f) || !(cfg_.pa_c <= kTameScalar) ||
                  !(cfg_.initial_t <= kTameScalar * kTameScalar);
}

Learner::Learner(const Learner& o)
    : cfg_(o.cfg_),
      state_(o.state_),
      interactions_(o.interactions_),
      eta_(o.eta_),
      neg_power_t_(o.neg_power_t_),
      neg_norm_power_(o.neg_norm_power_),
      update_multiplier_(o.update_multiplier_),
      set_minmax_(o.set_minmax_),
      wildcards_(o.wildcards_),
      seen_(o.seen_),
      learn_fn_(o.learn_fn_),
      guard_lo_(o.guard_lo_),
      guard_hi_(o.guard_hi_),
      guard_always_(o.guard_always_),
      guard_scan_(o.guard_scan_) {
  base_eta_ = o.base_eta_;
  rate_factor_ = o.rate_factor_;
  weights_.copy_from(o.weights_);
}

Learner::Learner(const Learner& o, ShareWeights)
    : cfg_(o.cfg_),
      state_(o.state_),
      interactions_(o.interactions_),
      eta_(o.eta_),
      base_eta_(o.base_eta_),
      rate_factor_(o.rate_factor_),
      neg_power_t_(o.neg_power_t_),
      neg_norm_power_(o.neg_norm_power_),
      update_multiplier_(o.update_multiplier_),
      set_minmax_(o.set_minmax_),
      wildcards_(o.wildcards_),
      seen_(o.seen_),
      learn_fn_(o.learn_fn_),
      guard_lo_(o.guard_lo_),
      guard_hi_(o.guard_hi_),
      guard_always_(o.guard_always_),
      guard_scan_(o.guard_scan_) {
  weights_.view_of(o.weights_);
}

void Learner::absorb(const Learner& w, const OnlineState& start) {
  const OnlineState& ws = w.state_;
  store_d(&state_.t, state_.t + (ws.t - start.t));
  store_d(&state_.normalized_sum_norm_x,
          state_.normalized_sum_norm_x + (ws.normalized_sum_norm_x - start.normalized_sum_norm_x));
  store_d(&state_.total_weight, state_.total_weight + (ws.total_weight - start.total_weight));
  store_d(&state_.weighted_unlabeled, state_.weighted_unlabeled + (ws.weighted_unlabeled - start.weighted_unlabeled));
  if (ws.min_label < state_.min_label) store_w(&state_.min_label, ws.min_label);
  if (ws.max_label > state_.max_label) store_w(&state_.max_label, ws.max_label);
  update_multiplier_ = w.update_multiplier_;
  if (wildcards_) {
    Example seen;
    for (size_t s = 0; s < w.seen_.size(); ++s) {
      if (w.seen_[s]) seen.order.push_back(static_cast<unsigned char>(s));
    }
    observe_slow(seen);
  }
}

void Learner::prepare(Example& ex) const {
  if (!ex.order.empty()) {
    size_t kept = 0;
    for (unsigned char s : ex.order) {
      if (cfg_.ignore[s])
        ex.groups[s].clear();
      else
        ex.order[kept++] = s;
    }
    ex.order.resize(kept);
  }
  ex.finish(cfg_.constant);
}

void Learner::map_rows(const Example& ex, MappedRows& rows) {
  rows.base = nullptr;
  if (wildcards_) return;  // learning ex may widen the interactions first
  const size_t linear = ex.num_linear_features();
  const size_t bound = feature_bound(ex, linear, interactions_);
  if (!buffered(bound)) return;  // a wide example is streamed when it is learned
  rows.num_features = map_learn_rows(*this, ex, linear, bound, rows.refs);
  rows.base = weights_.data();
  rows.hot = hot_;
  rows.offset = offset_;
}

void Learner::prefetch_rows(const Example& ex) const {
  // ':' interactions may be widened by a learning thread while this one only predicts (see
  // score_const); a hint is not worth the lock.
  if (wildcards_ || !buffered(ex, interactions_)) return;
  const float* base = weights_.data();
  const uint32_t mask = weights_.mask();
  const uint32_t shift = weights_.stride_shift();
  const uint32_t offset = offset_;
  for_each_feature(ex, interactions_, &cfg_.ignore_linear, [&](float, uint32_t i) {
    __builtin_prefetch(base + (static_cast<size_t>((i + offset) & mask) << shift), 1, 3);
  });
}

Outcome Learner::predict(Example& ex) {
  observe_namespaces(ex);
  Outcome out;
  const float pred = finalize_prediction(state_, test_score(*this, ex, out.num_features));
  out.prediction = pred;
  out.output = output_of(cfg_, pred);
  if (ex.labelled() && ex.weight > 0.f) {
    out.loss = example_loss(cfg_, Range{state_.min_label, state_.max_label}, pred, out.output, ex.label, ex.weight);
  }
  advance_clock(state_, ex);
  return out;
}

float Learner::score_const(const Example& ex, uint32_t offset, size_t* generated) const {
  // As VW predicts when testing (-t): initial + contraction * sum of truncated w * x.
  // Everything a learning thread may write is read with relaxed atomic loads; ':' interactions,
  // which a learning thread may widen, under the wildcard lock.
  std::shared_lock<std::shared_mutex> lock(wildcard_mutex(), std::defer_lock);
  if (wildcards_) lock.lock();
  float raw = 0.f;
  const bool trunc = cfg_.l1 > 0.f && !cfg_.ftrl;
  const float g = static_cast<float>(load_d(&state_.gravity));
  const size_t n = for_each_feature(ex, interactions_, &cfg_.ignore_linear, [&](float x, uint32_t i) {
    const float w = load_w(weights_.row(i + offset));
    raw += (trunc ? trunc_weight(w, g) : w) * x;
  });
  if (generated != nullptr) *generated = n;
  if (!cfg_.ftrl) raw *= static_cast<float>(load_d(&state_.contraction));
  return ex.initial + raw;
}

float Learner::predict_const(const Example& ex) const {
  OnlineState range;  // the label range a learning thread may be widening
  range.min_label = load_w(&state_.min_label);
  range.max_label = load_w(&state_.max_label);
  return output_of(cfg_, finalize_prediction(range, score_const(ex)));
}

bool Learner::sparse_predict_ok() const {
  return offset_ == 0 && interactions_.empty() && !wildcards_ && !cfg_.ignore[' '] && !cfg_.ignore_linear[' '] &&
         !cfg_.ignore[kConstantNamespace] && !cfg_.ignore_linear[kConstantNamespace];
}

float Learner::predict_sparse(const uint32_t* index, const float* value, size_t n) const {
  // The same sum, in the same order, as predict_const over the Example csr_row would build.
  float raw = 0.f;
  const bool trunc = cfg_.l1 > 0.f && !cfg_.ftrl;
  const float g = static_cast<float>(load_d(&state_.gravity));
  auto add = [&](uint32_t i, float x) {
    const float w = load_w(weights_.row(i));
    raw += (trunc ? trunc_weight(w, g) : w) * x;
  };
  for (size_t k = 0; k < n; ++k) {
    if (value[k] != 0.f) add(index[k], value[k]);
  }
  if (cfg_.constant) add(static_cast<uint32_t>(kConstantFeature), 1.f);
  if (!cfg_.ftrl) raw *= static_cast<float>(load_d(&state_.contraction));
  OnlineState range;
  range.min_label = load_w(&state_.min_label);
  range.max_label = load_w(&state_.max_label);
  return output_of(cfg_, finalize_prediction(range, raw));
}

void Learner::observe_slow(const Example& ex) {
  bool grew = false;
  for (unsigned char s : ex.order) {
    if (s >= ' ' && s <= '~' && !seen_[s]) {
      seen_[s] = true;
      grew = true;
    }
  }
  if (!grew) return;
  std::vector<unsigned char> seen;
  for (size_t s = 0; s < seen_.size(); ++s) {
    if (seen_[s]) seen.push_back(static_cast<unsigned char>(s));
  }
  std::vector<Interaction> widened = expand_wildcards(cfg_.interactions, seen);
  std::unique_lock<std::shared_mutex> lock(wildcard_mutex());
  interactions_ = std::move(widened);
}

void Learner::sync_weights() {
  if (state_.gravity == 0. && state_.contraction == 1.) return;
  const float g = static_cast<float>(state_.gravity);
  const float c = static_cast<float>(state_.contraction);
  const size_t stride = weights_.stride();
  float* d = weights_.data();
  for (uint64_t r = 0; r < weights_.rows(); ++r) {
    float* w = d + r * stride;
    const float v = load_w(w);
    if (v != 0.f) store_w(w, trunc_weight(v, g) * c);
  }
  store_d(&state_.gravity, 0.);
  store_d(&state_.contraction, 1.);
}

}  // namespace wabbit
