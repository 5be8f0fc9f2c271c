// Feature interactions (-q ab, --cubic abc, --interactions ...), generated on the fly, never stored.
//
// As in VW 9.x: an interaction names namespace slots (first letters). For slots a, b, c the
// generated index is   b_j ^ (FNV * a_i)              (quadratic)
//                      c_k ^ (FNV * ((FNV * a_i) ^ b_j))   (cubic, and so on for higher orders)
// and the value is the product of the values. When two neighbouring terms name the same slot, only
// combinations with j >= i are generated (VW without --permutations), which includes the diagonal;
// with `permutations` (VW's --permutations) every ordered choice is (i, j and j, i both, and i, i).
// All arithmetic is on 32-bit unsigned ints: the table mask keeps at most 32 low bits, and the low
// bits of a product depend only on the low bits of its factors, so this equals VW's 64-bit form.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/example.h"

namespace wabbit {

using Interaction = std::vector<unsigned char>;

// VW's canonical list: sorted by length then bytes; duplicates (as unordered sets) removed; an
// interaction that repeats a slot gets its slots sorted so equal slots are adjacent.
inline std::vector<Interaction> compile_interactions(const std::vector<std::string>& specs) {
  std::vector<Interaction> list;
  for (const auto& s : specs) list.emplace_back(s.begin(), s.end());
  std::sort(list.begin(), list.end(), [](const Interaction& a, const Interaction& b) {
    if (a.size() != b.size()) return a.size() < b.size();
    return a < b;
  });
  std::vector<Interaction> out;
  std::vector<Interaction> seen;
  for (const auto& in : list) {
    Interaction sorted = in;
    std::stable_sort(sorted.begin(), sorted.end());
    if (std::find(seen.begin(), seen.end(), sorted) != seen.end()) continue;
    seen.push_back(sorted);
    const bool has_repeat = std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
    out.push_back(has_repeat ? sorted : in);
  }
  return out;
}

inline constexpr unsigned char kWildcard = ':';

inline bool has_wildcard(const std::string& spec) {
  return spec.find(static_cast<char>(kWildcard)) != std::string::npos;
}

// VW's expansion of ':' (any namespace seen so far, among the printable slots ' '..'~'):
// every choice of slots for the wildcards with repetition (as a multiset), the named slots kept in
// place; then the usual sorting and de-duplication.
inline std::vector<Interaction> expand_wildcards(const std::vector<std::string>& raw_specs,
                                                 const std::vector<unsigned char>& seen_sorted) {
  // VW first normalises the flags as written, ':' being just a byte ("a::" becomes "::a"), then
  // expands each wildcard interaction and normalises the result again.
  std::vector<std::string> specs;
  for (const Interaction& in : compile_interactions(raw_specs)) specs.emplace_back(in.begin(), in.end());
  std::vector<std::string> out;
  for (const std::string& spec : specs) {
    if (!has_wildcard(spec)) {
      out.push_back(spec);
      continue;
    }
    size_t wild = 0;
    for (char c : spec) wild += static_cast<unsigned char>(c) == kWildcard;
    if (seen_sorted.empty()) continue;
    std::vector<size_t> pick(wild, 0);
    for (;;) {
      // VW fills two wildcards in ascending order (its quadratic fast path) and three or more in
      // descending order (its general generator); the order matters for the hash.
      std::vector<size_t> chosen = pick;
      if (wild >= 3) std::reverse(chosen.begin(), chosen.end());
      std::string inter;
      size_t w = 0;
      for (char c : spec)
        inter.push_back(static_cast<unsigned char>(c) == kWildcard ? static_cast<char>(seen_sorted[chosen[w++]]) : c);
      out.push_back(std::move(inter));
      // next non-decreasing index vector (last position varies fastest)
      size_t k = wild;
      while (k > 0 && pick[k - 1] + 1 == seen_sorted.size()) --k;
      if (k == 0) break;
      ++pick[k - 1];
      for (size_t j = k; j < wild; ++j) pick[j] = pick[k - 1];
    }
  }
  return compile_interactions(out);
}

namespace detail {

template <class F>
inline size_t visit_higher(const Example& ex, const Interaction& in, bool permutations, size_t depth, size_t start,
                           uint32_t hash, float value, F& f) {
  const FeatureGroup& g = ex.groups[in[depth]];
  const size_t n = g.size();
  size_t count = 0;
  if (depth + 1 == in.size()) {
    for (size_t k = start; k < n; ++k) f(value * g.value[k], g.index[k] ^ hash);
    return n > start ? n - start : 0;
  }
  const bool same_next = !permutations && in[depth + 1] == in[depth];
  for (size_t k = start; k < n; ++k) {
    const uint32_t h = kFnvPrime * (hash ^ g.index[k]);
    count += visit_higher(ex, in, permutations, depth + 1, same_next ? k : 0, h, value * g.value[k], f);
  }
  return count;
}

}  // namespace detail

// The one walk over an example's features: linear features slot by slot (except slots in
// ignore_linear, if given), then every generated interaction feature; writes map(x, index) for each
// to *out++ and returns the end. `generated` gets the number of interaction features. `map` is
// taken by value and `out` stays a local, so the compiler keeps both in registers: the learner's
// hot loop passes a plain pointer (with a callback capturing its state by reference, GCC reloaded
// that state from memory for every feature).
template <class Out, class Map>
inline Out map_features(const Example& ex, const std::vector<Interaction>& interactions, bool permutations,
                        const std::array<bool, 256>* ignore_linear, Out out, const Map map, size_t& generated) {
  for (unsigned char s : ex.order) {
    if (ignore_linear != nullptr && (*ignore_linear)[s]) continue;
    const FeatureGroup& g = ex.groups[s];
    const size_t n = g.size();
    const uint32_t* idx = g.index.data();
    const float* val = g.value.data();
    for (size_t k = 0; k < n; ++k) *out++ = map(val[k], idx[k]);
  }
  generated = 0;
  for (const Interaction& in : interactions) {
    if (in.size() == 2) {
      const FeatureGroup& a = ex.groups[in[0]];
      const FeatureGroup& b = ex.groups[in[1]];
      const size_t na = a.size();
      const size_t nb = b.size();
      if (na == 0 || nb == 0) continue;
      const bool same = !permutations && in[0] == in[1];
      const uint32_t* bi = b.index.data();
      const float* bv = b.value.data();
      for (size_t i = 0; i < na; ++i) {
        const uint32_t half = kFnvPrime * a.index[i];
        const float xa = a.value[i];
        const size_t j0 = same ? i : 0;
        for (size_t j = j0; j < nb; ++j) *out++ = map(xa * bv[j], bi[j] ^ half);
        generated += nb - j0;
      }
    } else {
      bool any_empty = false;
      for (unsigned char s : in) any_empty |= ex.groups[s].empty();
      if (any_empty) continue;
      const FeatureGroup& a = ex.groups[in[0]];
      const bool same_next = !permutations && in[1] == in[0];
      Out o = out;  // captured by reference here only: `out` itself stays in a register
      auto put = [&o, &map](float x, uint32_t i) { *o++ = map(x, i); };
      for (size_t i = 0; i < a.size(); ++i) {
        generated +=
            detail::visit_higher(ex, in, permutations, 1, same_next ? i : 0, kFnvPrime * a.index[i], a.value[i], put);
      }
      out = o;
    }
  }
  return out;
}

namespace detail {

// An output "iterator" whose every assignment calls f(x, index): map_features as a callback walk.
template <class F>
struct CallEach {
  F* f;
  struct Slot {
    F* f;
    void operator=(std::pair<float, uint32_t> p) const { (*f)(p.first, p.second); }
  };
  Slot operator*() const { return Slot{f}; }
  CallEach& operator++() { return *this; }
  CallEach operator++(int) { return *this; }
};

}  // namespace detail

// Calls f(x, index) for every feature of ex, in map_features' order. Returns the number of
// generated interaction features.
template <class F>
inline size_t for_each_feature(const Example& ex, const std::vector<Interaction>& interactions, bool permutations,
                               const std::array<bool, 256>* ignore_linear, F&& f) {
  size_t generated = 0;
  map_features(
      ex, interactions, permutations, ignore_linear, detail::CallEach<std::remove_reference_t<F>>{&f},
      [](float x, uint32_t i) { return std::pair<float, uint32_t>(x, i); }, generated);
  return generated;
}

// The audit path: like for_each_feature, with each feature's name ("a^x*b^y" for interactions).
// Slow (builds strings); used only for --audit, --invert_hash and explain().
template <class F>
inline void for_each_feature_named(const Example& ex, const std::vector<Interaction>& interactions, bool permutations,
                                   const std::array<bool, 256>* ignore_linear, F&& f) {
  static const std::string kNoName;
  auto name_of = [&](const FeatureGroup& g, size_t k) -> const std::string& {
    return k < g.name.size() ? g.name[k] : kNoName;
  };
  for (unsigned char s : ex.order) {
    if (ignore_linear != nullptr && (*ignore_linear)[s]) continue;
    const FeatureGroup& g = ex.groups[s];
    for (size_t k = 0; k < g.size(); ++k) f(g.value[k], g.index[k], name_of(g, k));
  }
  for (const Interaction& in : interactions) {
    bool any_empty = false;
    for (unsigned char s : in) any_empty |= ex.groups[s].empty();
    if (any_empty) continue;
    // depth-first over the terms, mirroring for_each_feature's order and index arithmetic
    struct Frame {
      size_t depth;
      size_t start;
      uint32_t hash;
      float value;
      std::string name;
    };
    auto rec = [&](auto&& self, const Frame& fr) -> void {
      const FeatureGroup& g = ex.groups[in[fr.depth]];
      const bool last = fr.depth + 1 == in.size();
      const bool same_next = !permutations && !last && in[fr.depth + 1] == in[fr.depth];
      for (size_t k = fr.start; k < g.size(); ++k) {
        std::string nm = fr.depth == 0 ? name_of(g, k) : fr.name + "*" + name_of(g, k);
        if (last) {
          f(fr.value * g.value[k], g.index[k] ^ fr.hash, nm);
        } else {
          const uint32_t h = fr.depth == 0 ? kFnvPrime * g.index[k] : kFnvPrime * (fr.hash ^ g.index[k]);
          self(self, Frame{fr.depth + 1, same_next ? k : 0, h, fr.depth == 0 ? g.value[k] : fr.value * g.value[k],
                           std::move(nm)});
        }
      }
    };
    rec(rec, Frame{0, 0, 0u, 1.f, std::string()});
  }
}

}  // namespace wabbit
