// Example: one labelled (or unlabelled) instance, its features grouped by namespace slot.
//
// As in Vowpal Wabbit, a namespace's slot is the first byte of its name (' ' for the unnamed
// namespace); all namespaces sharing a first byte share a slot, and interactions (-q ab) are
// between slots. Features are (32-bit unmasked index, value) pairs in structure-of-arrays form.
// An Example is reused from line to line: clear() keeps the capacity, so steady-state parsing
// does not allocate.
#pragma once

#include <algorithm>
#include <array>
#include <cfloat>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/hash.h"

namespace wabbit {

inline constexpr float kNoLabel = FLT_MAX;  // VW's marker for an unlabelled example

// VW's audit name of a feature: "feature" in the unnamed namespace, else "namespace^feature", and
// "^text" appended for a string-valued feature.
inline std::string audit_name(std::string_view ns, std::string_view feature, std::string_view text) {
  std::string s;
  s.reserve(ns.size() + feature.size() + text.size() + 2);
  if (!ns.empty()) {
    s.append(ns);
    s.push_back('^');
  }
  s.append(feature);
  if (!text.empty()) {
    s.push_back('^');
    s.append(text);
  }
  return s;
}

// A growable array of a trivially copyable type: the part of std::vector's interface the code uses
// (so FeatureGroup's columns read like vectors everywhere), plus a way to append through a raw
// pointer. The text parser writes a feature as two stores and a bump, where push_back re-reads and
// re-checks both vectors' ends for every feature. Capacity never shrinks, copies included.
template <class T>
class PodVector {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  PodVector() = default;
  PodVector(const PodVector& o) { assign(o.begin(), o.end()); }
  PodVector(PodVector&& o) noexcept { swap(o); }
  PodVector& operator=(const PodVector& o) {
    if (this != &o) assign(o.begin(), o.end());
    return *this;
  }
  PodVector& operator=(PodVector&& o) noexcept {
    swap(o);
    return *this;
  }
  void swap(PodVector& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    std::swap(cap_, o.cap_);
  }
  ~PodVector() { ::operator delete(data_); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return cap_; }
  void clear() { size_ = 0; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T* begin() { return data_; }
  T* end() { return data_ + size_; }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size_; }
  T& operator[](size_t k) { return data_[k]; }
  const T& operator[](size_t k) const { return data_[k]; }

  void reserve(size_t n) {
    if (n <= cap_) return;
    T* fresh = static_cast<T*>(::operator new(n * sizeof(T)));
    if (size_ > 0) std::memcpy(fresh, data_, size_ * sizeof(T));
    ::operator delete(data_);
    data_ = fresh;
    cap_ = n;
  }
  void push_back(T x) {
    if (size_ == cap_) grow(size_ + 1);
    data_[size_++] = x;
  }
  template <class It>
  void assign(It first, It last) {
    size_ = 0;
    insert(end(), first, last);
  }
  // [first, last) must not lie in this array.
  template <class It>
  T* insert(const T* pos, It first, It last) {
    const size_t at = static_cast<size_t>(pos - data_);
    const size_t n = static_cast<size_t>(std::distance(first, last));
    if (size_ + n > cap_) grow(size_ + n);
    T* const p = data_ + at;
    if (at < size_) std::memmove(p + n, p, (size_ - at) * sizeof(T));
    std::copy(first, last, p);
    size_ += n;
    return p;
  }

  // Appending through a pointer: room(n) makes room for at least n more elements and returns end();
  // set_end(past the last element written) then commits them. Elements written but never committed
  // are ignored.
  T* room(size_t n) {
    if (cap_ - size_ < n) grow(size_ + n);
    return end();
  }
  size_t spare() const { return cap_ - size_; }
  void set_end(T* e) { size_ = static_cast<size_t>(e - data_); }

 private:
  // Geometric growth, so that appending one at a time stays amortised O(1).
  void grow(size_t n) { reserve(std::max({n, 2 * cap_, size_t{16}})); }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = 0;
};

struct FeatureGroup {
  PodVector<uint32_t> index;
  PodVector<float> value;
  std::vector<std::string> name;  // audit names, only when the example was parsed with names

  size_t size() const { return index.size(); }
  bool empty() const { return index.empty(); }
  void clear() {
    index.clear();
    value.clear();
    name.clear();
  }
  void push(uint32_t i, float v) {
    index.push_back(i);
    value.push_back(v);
  }
};

struct Example {
  float label = kNoLabel;
  float weight = 1.f;
  float initial = 0.f;  // VW's "base": added to the prediction
  std::string tag;
  std::array<FeatureGroup, 256> groups;
  std::vector<unsigned char> order;  // non-empty slots in order of first appearance
  bool has_names = false;            // features carry audit names (FeatureGroup::name)

  void clear() {
    // Names are only ever added while has_names is set (add_named's callers check it, and finish()
    // adds one only then), so without it the groups' name lists are empty and need no clearing.
    if (has_names) {
      for (unsigned char s : order) groups[s].clear();
    } else {
      for (unsigned char s : order) {
        groups[s].index.clear();
        groups[s].value.clear();
      }
    }
    has_names = false;
    label = kNoLabel;
    weight = 1.f;
    initial = 0.f;
    tag.clear();
    order.clear();
  }

  void add(unsigned char slot, uint32_t index, float value) {
    FeatureGroup& g = groups[slot];
    if (g.empty()) order.push_back(slot);
    g.push(index, value);
  }
  void add_named(unsigned char slot, uint32_t index, float value, std::string name) {
    add(slot, index, value);
    groups[slot].name.push_back(std::move(name));
  }

  // Called once parsing is done: appends the constant feature, as VW does, last.
  void finish(bool add_constant) {
    if (!add_constant) return;
    if (has_names)
      add_named(kConstantNamespace, static_cast<uint32_t>(kConstantFeature), 1.f, "Constant");
    else
      add(kConstantNamespace, static_cast<uint32_t>(kConstantFeature), 1.f);
  }

  bool labelled() const { return label != kNoLabel; }

  size_t num_linear_features() const {
    size_t n = 0;
    for (unsigned char s : order) n += groups[s].size();
    return n;
  }
};

}  // namespace wabbit
