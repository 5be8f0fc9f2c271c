// WeightTable: 2^bits rows of `stride` floats: the weight and the optimizer's per-feature state side
// by side, so one feature's update touches one 16-byte row (4 rows per cache line).
//
// Memory is an anonymous mapping: page-aligned, zero, and untouched until a feature lands on a page
// (a 2^24-row table costs only what is used). Row slots for VW's default update:
// [0] weight, [1] sum of squared gradients (adaptive), [2] largest |x| seen (normalized),
// [3] scratch: the per-feature rate computed by the sensitivity pass and used by the update.
#pragma once

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace wabbit {

// Every access to a weight row that may race with another thread (Hogwild learners, predictions
// made while learning) goes through these: relaxed atomic loads and stores, which compile to plain
// moves on x86 and make the concurrent accesses well defined. Updates are load-then-store, not
// read-modify-write: a lost update between two threads is Hogwild's accepted cost.
static_assert(std::atomic_ref<float>::is_always_lock_free);
static_assert(std::atomic_ref<float>::required_alignment == alignof(float));

inline float load_w(const float* p) {
  return std::atomic_ref<float>(*const_cast<float*>(p)).load(std::memory_order_relaxed);
}
inline void store_w(float* p, float v) { std::atomic_ref<float>(*p).store(v, std::memory_order_relaxed); }
inline double load_d(const double* p) {
  return std::atomic_ref<double>(*const_cast<double*>(p)).load(std::memory_order_relaxed);
}
inline void store_d(double* p, double v) { std::atomic_ref<double>(*p).store(v, std::memory_order_relaxed); }

// The table could not be allocated (-b too large for this machine or its limits). The message says
// how much memory the table needs and how much there is; Python turns it into OptionError (a new
// model) or ModelError (a model file).
struct TableAllocError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline std::string describe_bytes(double b) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (b >= 1024. && u < 5) {
    b /= 1024.;
    ++u;
  }
  std::ostringstream os;
  os.precision(b < 10. && u > 0 ? 2 : 3);
  os << b << ' ' << units[u];
  return os.str();
}

// "-b 31 needs 32 GiB for the weight table (2^31 rows x 16 bytes), but this machine has 23.4 GiB
// of memory; ..." : what a refused table costs, against the machine's memory and `ulimit -v`.
inline std::string table_alloc_message(uint32_t bits, uint32_t stride_shift) {
  const double bytes = std::ldexp(1.0, static_cast<int>(bits + stride_shift)) * sizeof(float);
  std::ostringstream os;
  os << "-b " << bits << " needs " << describe_bytes(bytes) << " for the weight table (2^" << bits << " rows x "
     << (sizeof(float) << stride_shift) << " bytes), which the system refused to reserve";
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGE_SIZE);
  if (pages > 0 && page > 0)
    os << "; this machine has " << describe_bytes(static_cast<double>(pages) * static_cast<double>(page))
       << " of memory";
  struct rlimit lim{};
  if (::getrlimit(RLIMIT_AS, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    os << " and the address space is limited to " << describe_bytes(static_cast<double>(lim.rlim_cur))
       << " (ulimit -v)";
  }
  os << ". Use a smaller -b: each bit less halves the table (unused rows cost nothing until a feature lands on them)";
  return os.str();
}

class WeightTable {
 public:
  WeightTable() = default;
  WeightTable(uint32_t bits, uint32_t stride_shift) { reset(bits, stride_shift); }
  WeightTable(const WeightTable&) = delete;
  WeightTable& operator=(const WeightTable&) = delete;
  ~WeightTable() { release(); }

  // A non-owning view of another table (a Hogwild worker's): same rows, nothing freed on exit.
  void view_of(const WeightTable& o) {
    release();
    data_ = o.data_;
    mapped_ = 0;
    owned_ = false;
    bytes_ = o.bytes_;
    bits_ = o.bits_;
    shift_ = o.shift_;
    rows_ = o.rows_;
    mask_ = o.mask_;
  }

  // Maps a fresh zero table; if the mapping is refused (TableAllocError) this table is unchanged.
  void reset(uint32_t bits, uint32_t stride_shift) {
    if (bits < 1 || bits > 32) throw std::invalid_argument("bits must be in [1, 32], got " + std::to_string(bits));
    const uint64_t rows = uint64_t{1} << bits;
    const size_t bytes = static_cast<size_t>(rows << stride_shift) * sizeof(float);
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw TableAllocError(table_alloc_message(bits, stride_shift));
    release();
    bits_ = bits;
    shift_ = stride_shift;
    rows_ = rows;
    mask_ = static_cast<uint32_t>(rows - 1);
    bytes_ = bytes;
    data_ = static_cast<float*>(p);
    mapped_ = bytes;
    owned_ = true;
  }

  float* row(uint32_t index) { return data_ + (static_cast<size_t>(index & mask_) << shift_); }
  const float* row(uint32_t index) const { return data_ + (static_cast<size_t>(index & mask_) << shift_); }

  uint32_t bits() const { return bits_; }
  uint32_t stride() const { return 1u << shift_; }
  uint32_t stride_shift() const { return shift_; }
  uint64_t rows() const { return rows_; }
  uint32_t mask() const { return mask_; }
  float* data() { return data_; }
  const float* data() const { return data_; }
  size_t size_floats() const { return static_cast<size_t>(rows_ << shift_); }

  // Sets slot `slot` of every row to v (VW's initial_t for the adaptive slot).
  void fill_slot(uint32_t slot, float v) {
    const size_t s = stride();
    float* d = data_;
    for (uint64_t r = 0; r < rows_; ++r) store_w(d + r * s + slot, v);
  }

  void swap(WeightTable& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(mapped_, o.mapped_);
    std::swap(owned_, o.owned_);
    std::swap(bytes_, o.bytes_);
    std::swap(bits_, o.bits_);
    std::swap(shift_, o.shift_);
    std::swap(rows_, o.rows_);
    std::swap(mask_, o.mask_);
  }

  // Copies another table. Pages that are all zero in the source are skipped, so the copy of a
  // sparsely used table touches (and costs) only the pages that hold weights.
  void copy_from(const WeightTable& other) {
    reset(other.bits_, other.shift_);
    constexpr size_t kPage = 4096;
    const size_t bytes = size_floats() * sizeof(float);
    const auto* src = reinterpret_cast<const unsigned char*>(other.data_);
    auto* dst = reinterpret_cast<unsigned char*>(data_);
    for (size_t off = 0; off < bytes; off += kPage) {
      const size_t n = std::min(kPage, bytes - off);
      uint64_t any = 0;
      for (size_t k = 0; k + sizeof(uint64_t) <= n; k += sizeof(uint64_t)) {
        uint64_t v;
        std::memcpy(&v, src + off + k, sizeof v);
        any |= v;
      }
      for (size_t k = n - n % sizeof(uint64_t); k < n; ++k) any |= src[off + k];
      if (any != 0) std::memcpy(dst + off, src + off, n);
    }
  }

 private:
  void release() {
    if (data_ != nullptr && owned_) ::munmap(data_, mapped_);
    data_ = nullptr;
  }
  float* data_ = nullptr;
  size_t mapped_ = 0;
  bool owned_ = true;
  size_t bytes_ = 0;
  uint32_t bits_ = 0;
  uint32_t shift_ = 0;
  uint64_t rows_ = 0;
  uint32_t mask_ = 0;
};

}  // namespace wabbit
