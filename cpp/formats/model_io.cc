#include "formats/model_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <type_traits>

#include "formats/utf8.h"

namespace wabbit {
namespace {

// Hard limits on sizes read from a file, checked before allocating anything.
constexpr uint32_t kMaxStringBytes = 16u << 20;
constexpr uint32_t kMaxBits = 32;
constexpr uint32_t kMaxStride = 8;

struct Crc32Table {
  std::array<uint32_t, 256> t{};
  Crc32Table() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
  }
};
const Crc32Table kCrc;

class Writer {
 public:
  void bytes(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  template <class T>
  void pod(T v) {
    bytes(&v, sizeof v);
  }
  void str(const std::string& s) {
    pod<uint32_t>(static_cast<uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(std::string_view b, size_t end, size_t start = 0) : b_(b), end_(end), pos_(start) {}
  void need(size_t n, const char* what) const {
    if (n > end_ - pos_) {
      throw ModelError(std::string("model file is truncated or inconsistent: not enough bytes for ") + what);
    }
  }
  template <class T>
  T pod(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::string str(const char* what) {
    const auto n = pod<uint32_t>(what);
    if (n > kMaxStringBytes) throw ModelError(std::string("model file is corrupt: ") + what + " is implausibly long");
    need(n, what);
    std::string s(b_.data() + pos_, n);
    pos_ += n;
    if (!valid_utf8(s)) throw ModelError(std::string("model file is corrupt: ") + what + " is not UTF-8 text");
    return s;
  }
  void skip(size_t n, const char* what) {
    need(n, what);
    pos_ += n;
  }
  size_t pos() const { return pos_; }
  std::string_view view() const { return b_; }
  size_t remaining() const { return end_ - pos_; }

 private:
  std::string_view b_;
  size_t end_;
  size_t pos_;
};

// The configuration section (format 2): each field of core/config.h and cb/config.h in declaration
// order, by type: bool and enums one byte, numbers as they are, a namespace mask as 32 bytes of
// bits, a list of strings as a count and the strings.
template <class T>
void put_field(Writer& w, const T& v) {
  if constexpr (std::is_enum_v<T> || std::is_same_v<T, bool>) {
    w.pod<uint8_t>(static_cast<uint8_t>(v));
  } else if constexpr (std::is_same_v<T, NamespaceMask>) {
    uint8_t bits[32] = {};
    for (size_t ch = 0; ch < v.size(); ++ch) {
      if (v[ch]) bits[ch / 8] = static_cast<uint8_t>(bits[ch / 8] | (1u << (ch % 8)));
    }
    w.bytes(bits, sizeof bits);
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    w.pod<uint32_t>(static_cast<uint32_t>(v.size()));
    for (const std::string& s : v) w.str(s);
  } else {
    w.pod<T>(v);
  }
}

template <class T>
void get_field(Reader& r, std::string_view key, T& v) {
  const char* what = key.data();  // the keys are string literals
  auto corrupt = [&] { throw ModelError("model file is corrupt: configuration field " + std::string(key)); };
  if constexpr (std::is_enum_v<T>) {
    const auto raw = r.pod<uint8_t>(what);
    if (raw >= enum_names(T{}).size()) corrupt();
    v = static_cast<T>(raw);
  } else if constexpr (std::is_same_v<T, bool>) {
    const auto raw = r.pod<uint8_t>(what);
    if (raw > 1) corrupt();
    v = raw == 1;
  } else if constexpr (std::is_same_v<T, NamespaceMask>) {
    for (size_t byte = 0; byte < 32; ++byte) {
      const auto bits = r.pod<uint8_t>(what);
      for (size_t k = 0; k < 8; ++k) v[byte * 8 + k] = (bits >> k) & 1u;
    }
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    const auto n = r.pod<uint32_t>(what);
    if (n > r.remaining() / 4) corrupt();
    v.resize(n);
    for (std::string& s : v) s = r.str(what);
  } else {
    v = r.pod<T>(what);
    if constexpr (std::is_floating_point_v<T>) {
      if (!std::isfinite(v)) corrupt();
    }
  }
}

template <class T>
void put_list(Writer& w, const std::vector<T>& v) {
  w.pod<uint32_t>(static_cast<uint32_t>(v.size()));
  for (T x : v) w.pod<T>(x);
}

template <class T>
void get_list(Reader& r, const char* what, std::vector<T>& v) {
  const auto n = r.pod<uint32_t>(what);
  if (n > r.remaining() / sizeof(T)) throw ModelError(std::string("model file is corrupt: ") + what);
  v.resize(n);
  for (T& x : v) {
    x = r.pod<T>(what);
    if constexpr (std::is_floating_point_v<T>) {
      if (!(std::isfinite(x) && x >= 0)) throw ModelError(std::string("model file is corrupt: ") + what);
    }
  }
}

// A configuration as keyed records: a u32 count, then per field its key (str), the byte size of its
// value (u32) and the value. A field added to a declaration list needs no new format version: a
// file without it reads as the field's default. A key this wabbit does not know is refused (the
// model would mean something this reader cannot honour).
template <class C>
void put_config(Writer& w, const C& cfg) {
  uint32_t n = 0;
  for_each_field(cfg, [&](std::string_view, const auto&) { ++n; });
  w.pod<uint32_t>(n);
  for_each_field(cfg, [&](std::string_view key, const auto& field) {
    Writer value;
    put_field(value, field);
    w.str(std::string(key));
    w.pod<uint32_t>(static_cast<uint32_t>(value.out().size()));
    w.bytes(value.out().data(), value.out().size());
  });
}

template <class C>
void get_config(Reader& r, C& cfg, const char* what) {
  const auto n = r.pod<uint32_t>(what);
  std::vector<std::string> seen;
  for (uint32_t i = 0; i < n; ++i) {
    const std::string key = r.str(what);
    const auto size = r.pod<uint32_t>(what);
    r.need(size, what);
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      throw ModelError("model file is corrupt: configuration field " + key + " appears twice");
    }
    bool known = false;
    for_each_field(cfg, [&](std::string_view k, auto& field) {
      if (k != key) return;
      known = true;
      Reader value(r.view(), r.pos() + size, r.pos());
      get_field(value, k, field);
      if (value.remaining() != 0) throw ModelError("model file is corrupt: configuration field " + key + " size");
    });
    if (!known) {
      throw ModelError("model file has a configuration field this wabbit does not know: " + key +
                       " (written by a newer wabbit?)");
    }
    seen.push_back(key);
    r.skip(size, what);
  }
}

[[noreturn]] void refuse_non_finite(const std::string& what);  // (below)

// After the learner's configuration, a byte says what sits on it: 0 nothing, 1 a contextual bandit
// (its configuration and state follow), 2 a multiclass reduction (likewise).
std::string config_section(const Config& cfg, const OnlineState& state, const WeightTable& sums, BanditSection bandit,
                           McSection mc) {
  Writer w;
  put_config(w, cfg);
  if (cfg.freegrad) {  // FreeGrad's two learner-wide numbers (OnlineState)
    w.pod<float>(state.fg_grad_norms);
    w.pod<float>(state.fg_max_grad_norm);
  }
  if (cfg.standardize) {  // the labels' running statistics
    w.pod<double>(state.label_weight);
    w.pod<double>(state.label_mean);
    w.pod<double>(state.label_m2);
  }
  if (cfg.center) {  // the features' running statistics: the weight, then the nonzero rows' sums
    w.pod<double>(state.feature_weight);
    const size_t count_at = w.out().size();
    w.pod<uint64_t>(0);
    uint64_t written = 0;
    for (uint64_t r = 0; r < sums.rows(); ++r) {
      const double v = load_d(Learner::sum_at(sums, static_cast<uint32_t>(r)));
      if (v == 0.) continue;
      if (!std::isfinite(v)) refuse_non_finite("the running sum of the features of row " + std::to_string(r));
      w.pod<uint32_t>(static_cast<uint32_t>(r));
      w.pod<double>(v);
      ++written;
    }
    std::memcpy(w.out().data() + count_at, &written, sizeof written);
  }
  w.pod<uint8_t>(bandit.config ? 1 : (mc.config ? 2 : 0));
  if (mc.config && !bandit.config) {
    put_config(w, *mc.config);
    const McState& s = *mc.state;
    w.pod<uint32_t>(s.indexing);
    put_list(w, s.norm_x);
    put_list(w, s.total_weight);
    w.pod<double>(s.log_loss);
  }
  if (bandit.config) {
    put_config(w, *bandit.config);
    const CbState& s = *bandit.state;
    put_list(w, s.event_sum);
    put_list(w, s.action_sum);
    w.pod<uint64_t>(s.counter);
    w.pod<uint64_t>(s.tau);
    w.pod<uint64_t>(s.rng);
    put_list(w, s.norm_x);
    put_list(w, s.total_weight);
  }
  return std::move(w.out());
}

void read_config_section(Reader& r, ModelHeader& h) {
  get_config(r, h.config, "configuration");
  if (h.config.bits != h.bits) {
    throw ModelError("model file is inconsistent: its configuration says " + std::to_string(h.config.bits) +
                     " bits, its weight table has " + std::to_string(h.bits));
  }
  h.has_config = true;
  if (h.config.freegrad) {
    h.state.fg_grad_norms = r.pod<float>("freegrad state");
    h.state.fg_max_grad_norm = r.pod<float>("freegrad state");
    if (!(std::isfinite(h.state.fg_grad_norms) && h.state.fg_grad_norms >= 0.f &&
          std::isfinite(h.state.fg_max_grad_norm) && h.state.fg_max_grad_norm >= 0.f)) {
      throw ModelError("model file is corrupt: freegrad state out of range");
    }
  }
  if (h.config.standardize) {
    h.state.label_weight = r.pod<double>("label statistics");
    h.state.label_mean = r.pod<double>("label statistics");
    h.state.label_m2 = r.pod<double>("label statistics");
    if (!(std::isfinite(h.state.label_weight) && h.state.label_weight >= 0. && std::isfinite(h.state.label_mean) &&
          std::isfinite(h.state.label_m2) && h.state.label_m2 >= 0.)) {
      throw ModelError("model file is corrupt: label statistics out of range");
    }
  }
  if (h.config.center) {
    h.state.feature_weight = r.pod<double>("feature statistics");
    const auto n = r.pod<uint64_t>("feature statistics");
    if (!(std::isfinite(h.state.feature_weight) && h.state.feature_weight >= 0.) || n > (uint64_t{1} << h.bits)) {
      throw ModelError("model file is corrupt: feature statistics out of range");
    }
    r.need(n * (sizeof(uint32_t) + sizeof(double)), "feature statistics");
    h.feature_sums.resize(n);
    uint32_t last = 0;
    for (uint64_t k = 0; k < n; ++k) {
      const auto row = r.pod<uint32_t>("feature statistics");
      const auto v = r.pod<double>("feature statistics");
      if ((h.bits < 32 && row >= (uint64_t{1} << h.bits)) || (k > 0 && row <= last) || !std::isfinite(v)) {
        throw ModelError("model file is corrupt: feature statistics out of range");
      }
      h.feature_sums[k] = {row, v};
      last = row;
    }
  }
  const auto has_cb = r.pod<uint8_t>("bandit flag");
  if (has_cb > 2) throw ModelError("model file is corrupt: bandit flag");
  h.has_cb = has_cb == 1;
  if (has_cb == 2) {
    h.has_mc = true;
    get_config(r, h.mc, "multiclass configuration");
    McState& s = h.mc_state;
    s.indexing = r.pod<uint32_t>("multiclass indexing");
    if (s.indexing > 2) throw ModelError("model file is corrupt: multiclass indexing");
    get_list(r, "multiclass norm_x", s.norm_x);
    get_list(r, "multiclass total_weight", s.total_weight);
    s.log_loss = r.pod<double>("multiclass log loss");
    if (!(std::isfinite(s.log_loss) && s.log_loss >= 0)) throw ModelError("model file is corrupt: multiclass log loss");
    return;
  }
  if (!h.has_cb) return;
  get_config(r, h.cb, "bandit configuration");
  CbState& s = h.cb_state;
  get_list(r, "bandit event counts", s.event_sum);
  get_list(r, "bandit action counts", s.action_sum);
  s.counter = r.pod<uint64_t>("bandit counter");
  s.tau = r.pod<uint64_t>("bandit tau");
  s.rng = r.pod<uint64_t>("bandit rng");
  get_list(r, "bandit norm_x", s.norm_x);
  get_list(r, "bandit total_weight", s.total_weight);
}

[[noreturn]] void throw_errno(const std::string& what, const std::string& path) {
  const int e = errno;
  throw IoError(e, what + " '" + path + "': " + std::strerror(e), path);
}

}  // namespace

uint32_t crc32(const void* data, size_t len, uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < len; ++i) crc = kCrc.t[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

namespace {

// Why a saved model would not load back: a non-finite number in the online state or the rows.
[[noreturn]] void refuse_non_finite(const std::string& what) {
  throw ModelError("cannot save the model: " + what +
                   " is not a finite number, and a file holding it would not load back (nothing was written)");
}

}  // namespace

std::string serialize_model(const Learner& learner, const std::string& wabbit_version, const std::string& args,
                            const std::string& metadata, bool predict_only, BanditSection bandit, McSection mc) {
  // Another thread may be learning while this runs (Python's save()/to_bytes() do not wait for a
  // learning run). As a snapshot does, every row is read exactly once, into a local copy, and what
  // is written (and counted) is that copy: the file is always self-consistent, a picture of the
  // rows at the moments they were read.
  const WeightTable& W = learner.weights();
  const uint32_t stride_mem = W.stride();
  const uint32_t stride = predict_only ? 1u : stride_mem;
  const uint64_t rows = W.rows();
  const float* d = W.data();
  OnlineState s;
  {
    const OnlineState& live = learner.state();
    s.t = load_d(&live.t);
    s.normalized_sum_norm_x = load_d(&live.normalized_sum_norm_x);
    s.total_weight = load_d(&live.total_weight);
    s.weighted_unlabeled = load_d(&live.weighted_unlabeled);
    s.gravity = load_d(&live.gravity);
    s.contraction = load_d(&live.contraction);
    s.min_label = load_w(&live.min_label);
    s.max_label = load_w(&live.max_label);
    s.fg_grad_norms = live.fg_grad_norms;
    s.fg_max_grad_norm = live.fg_max_grad_norm;
    s.label_weight = live.label_weight;
    s.label_mean = live.label_mean;
    s.label_m2 = live.label_m2;
    s.feature_weight = load_d(&live.feature_weight);
  }
  if (!std::isfinite(s.fg_grad_norms) || !std::isfinite(s.fg_max_grad_norm)) refuse_non_finite("FreeGrad's state");
  for (double v : {s.t, s.normalized_sum_norm_x, s.total_weight, s.weighted_unlabeled, s.gravity, s.contraction}) {
    if (!std::isfinite(v)) refuse_non_finite("the online state (VW's t, its sums, or the pending L1/L2)");
  }
  if (!std::isfinite(s.min_label) || !std::isfinite(s.max_label)) refuse_non_finite("the label range");
  // A predict-only file holds the weights as the model uses them: pending L1/L2 applied.
  const bool bake = predict_only && (s.gravity != 0. || s.contraction != 1.);
  // The rate slot is scratch, rewritten before every use: a non-finite value left there is saved
  // as 0 rather than make the whole model unsavable.
  int max_slot = -1, scratch_slot = -1;
  foldable_rows(learner.config(), max_slot, scratch_slot);
  // One row as it will be stored, read once: returns whether it is all zero.
  float row[kMaxStride];
  auto read_row = [&](uint64_t r) {
    const float* src = d + r * stride_mem;
    bool nz = false;
    if (predict_only) {
      row[0] = bake ? learner.effective_weight(src) : load_w(src);
      nz = row[0] != 0.f;
    } else {
      for (uint32_t k = 0; k < stride; ++k) {
        row[k] = load_w(src + k);
        nz |= row[k] != 0.f;
      }
    }
    for (uint32_t k = 0; k < stride; ++k) {
      if (std::isfinite(row[k])) continue;
      if (static_cast<int>(k) == scratch_slot && !predict_only) {
        row[k] = 0.f;
        continue;
      }
      refuse_non_finite("weight row " + std::to_string(r) + " (slot " + std::to_string(k) + ")");
    }
    return nz;
  };
  // The encoding is chosen from a first count; the count written is the rows actually written.
  uint64_t nonzero = 0;
  for (uint64_t r = 0; r < rows; ++r) {
    const float* src = d + r * stride_mem;
    bool nz = false;
    if (predict_only) {
      nz = (bake ? learner.effective_weight(src) : load_w(src)) != 0.f;
    } else {
      for (uint32_t k = 0; k < stride; ++k) nz |= load_w(src + k) != 0.f;
    }
    nonzero += nz;
  }
  const uint64_t dense_bytes = rows * stride * sizeof(float);
  const uint64_t sparse_bytes = nonzero * (sizeof(uint32_t) + stride * sizeof(float));
  const uint8_t encoding = sparse_bytes < dense_bytes ? 1 : 0;

  Writer w;
  w.bytes(kModelMagic, sizeof kModelMagic);
  w.pod<uint32_t>(kModelFormatVersion);
  w.str(wabbit_version);
  w.str(args);
  w.str(metadata);
  if (predict_only) {
    s.gravity = 0.;
    s.contraction = 1.;
  }
  w.pod<double>(s.t);
  w.pod<double>(s.normalized_sum_norm_x);
  w.pod<double>(s.total_weight);
  w.pod<double>(s.weighted_unlabeled);
  w.pod<double>(s.gravity);
  w.pod<double>(s.contraction);
  w.pod<float>(s.min_label);
  w.pod<float>(s.max_label);
  w.pod<uint32_t>(W.bits());
  w.pod<uint32_t>(stride);
  w.pod<uint8_t>(predict_only ? 1 : 0);
  w.pod<uint8_t>(encoding);
  const std::string section = config_section(learner.config(), s, learner.feature_sums(), bandit, mc);
  w.pod<uint32_t>(static_cast<uint32_t>(section.size()));
  w.bytes(section.data(), section.size());
  w.out().reserve(w.out().size() + (encoding ? sparse_bytes + sparse_bytes / 8 + 64 : dense_bytes) + 12);
  if (encoding == 1) {
    const size_t count_at = w.out().size();
    w.pod<uint64_t>(0);
    uint64_t written = 0;
    for (uint64_t r = 0; r < rows; ++r) {
      if (!read_row(r)) continue;
      w.pod<uint32_t>(static_cast<uint32_t>(r));
      w.bytes(row, stride * sizeof(float));
      ++written;
    }
    std::memcpy(w.out().data() + count_at, &written, sizeof written);
  } else {
    const size_t at = w.out().size();
    w.out().resize(at + dense_bytes);
    char* out = w.out().data() + at;
    const size_t row_bytes = stride * sizeof(float);
    for (uint64_t r = 0; r < rows; ++r) {
      read_row(r);
      std::memcpy(out + r * row_bytes, row, row_bytes);
    }
  }
  const uint32_t crc = crc32(w.out().data(), w.out().size());
  w.pod<uint32_t>(crc);
  return std::move(w.out());
}

namespace {

// Reads and checks everything in `b` (a whole model file) into m's header and layout fields.
void parse_view(std::string_view b, LoadedModel& m) {
  if (b.size() < sizeof kModelMagic || std::memcmp(b.data(), kModelMagic, sizeof kModelMagic) != 0) {
    throw ModelError("not a wabbit model file (wrong magic bytes)");
  }
  if (b.size() < sizeof kModelMagic + 8) throw ModelError("model file is truncated (no header)");
  // Every format version ends with a CRC-32 of all bytes before it: check it first, so a damaged
  // file is reported as damaged whatever part of it was hit.
  uint32_t stored_crc;
  std::memcpy(&stored_crc, b.data() + b.size() - 4, 4);
  if (crc32(b.data(), b.size() - 4) != stored_crc) {
    throw ModelError("model file is corrupt or truncated: checksum mismatch");
  }
  m.header.checksum = stored_crc;
  uint32_t version;
  std::memcpy(&version, b.data() + sizeof kModelMagic, 4);
  if (version == 0 || version > kModelFormatVersion) {
    throw ModelError("model file format version " + std::to_string(version) +
                     " is not supported by this wabbit (it reads versions 1 to " + std::to_string(kModelFormatVersion) +
                     "); upgrade wabbit to load it");
  }
  Reader r(b, b.size() - 4);
  r.need(sizeof kModelMagic + 4, "magic");
  r.pod<uint64_t>("magic");
  m.header.format_version = r.pod<uint32_t>("format version");
  m.header.wabbit_version = r.str("wabbit version");
  m.header.args = r.str("options");
  m.header.metadata = r.str("metadata");
  OnlineState& s = m.header.state;
  s.t = r.pod<double>("online state");
  s.normalized_sum_norm_x = r.pod<double>("online state");
  s.total_weight = r.pod<double>("online state");
  s.weighted_unlabeled = r.pod<double>("online state");
  s.gravity = r.pod<double>("online state");
  s.contraction = r.pod<double>("online state");
  s.min_label = r.pod<float>("online state");
  s.max_label = r.pod<float>("online state");
  m.header.bits = r.pod<uint32_t>("bits");
  m.header.stride = r.pod<uint32_t>("stride");
  const uint8_t flags = r.pod<uint8_t>("flags");
  m.encoding = r.pod<uint8_t>("encoding");
  const ModelHeader& h = m.header;
  if (h.bits < 1 || h.bits > kMaxBits) throw ModelError("model file is corrupt: bits = " + std::to_string(h.bits));
  if (h.stride != 1 && h.stride != 2 && h.stride != 4 && h.stride != kMaxStride) {
    throw ModelError("model file is corrupt: row stride = " + std::to_string(h.stride));
  }
  if (flags > 1) throw ModelError("model file is corrupt: flags byte = " + std::to_string(flags));
  m.header.predict_only = flags == 1;
  if (h.predict_only && h.stride != 1) {
    throw ModelError("model file is corrupt: a predict-only file with " + std::to_string(h.stride) + " slots per row");
  }
  if (m.encoding > 1) throw ModelError("model file is corrupt: unknown weight encoding");
  if (h.format_version >= 2) {
    const auto size = r.pod<uint32_t>("configuration size");
    r.need(size, "configuration");
    Reader section(b, r.pos() + size, r.pos());
    read_config_section(section, m.header);
    if (section.remaining() != 0) throw ModelError("model file is inconsistent: configuration size");
    r.skip(size, "configuration");
  }
  for (double v : {s.t, s.normalized_sum_norm_x, s.total_weight, s.weighted_unlabeled, s.gravity}) {
    if (!std::isfinite(v) || v < 0.) throw ModelError("model file is corrupt: online state out of range");
  }
  // The L2 factor only shrinks, and is folded into the weights before it nears 0 (learner.cc).
  if (!(s.contraction > 0. && s.contraction <= 1.)) {
    throw ModelError("model file is corrupt: L2 contraction out of range");
  }
  // (min > max is possible: --min_prediction above the labels seen; predictions then clamp as VW's)
  if (!std::isfinite(s.min_label) || !std::isfinite(s.max_label)) {
    throw ModelError("model file is corrupt: prediction range not finite");
  }
  const uint64_t rows = uint64_t{1} << h.bits;
  const char* p = b.data() + r.pos();
  auto finite_floats = [](const char* q, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      float v;
      std::memcpy(&v, q + i * sizeof v, sizeof v);
      if (!std::isfinite(v)) return false;
    }
    return true;
  };
  if (m.encoding == 0) {
    const uint64_t need = rows * h.stride * sizeof(float);
    if (r.remaining() != need) {
      throw ModelError("model file is inconsistent: " + std::to_string(r.remaining()) + " bytes of weights, expected " +
                       std::to_string(need));
    }
    if (!finite_floats(p, rows * h.stride)) throw ModelError("model file is corrupt: non-finite weight");
  } else {
    m.sparse_count = r.pod<uint64_t>("weight count");
    p += sizeof(uint64_t);
    const uint64_t row_bytes = sizeof(uint32_t) + h.stride * sizeof(float);
    if (m.sparse_count > rows || r.remaining() != m.sparse_count * row_bytes) {
      throw ModelError("model file is inconsistent: weight count does not match the bytes present");
    }
    for (uint64_t k = 0; k < m.sparse_count; ++k) {
      uint32_t idx;
      std::memcpy(&idx, p + k * row_bytes, 4);
      if (idx >= rows) throw ModelError("model file is corrupt: weight index out of range");
      if (!finite_floats(p + k * row_bytes + 4, h.stride)) throw ModelError("model file is corrupt: non-finite weight");
    }
  }
  m.weights_offset = r.pos();
}

}  // namespace

LoadedModel parse_model(std::string bytes) {
  LoadedModel m;
  m.bytes = std::move(bytes);
  parse_view(m.bytes, m);
  return m;
}

ModelHeader verify_model(std::string_view bytes) {
  LoadedModel m;
  parse_view(bytes, m);
  return std::move(m.header);
}

void install_weights(const LoadedModel& m, Learner& learner) {
  WeightTable& W = learner.weights();
  const ModelHeader& h = m.header;
  if (W.bits() != h.bits) {
    throw ModelError("model has " + std::to_string(h.bits) + " bits but the learner was built with " +
                     std::to_string(W.bits()));
  }
  const uint32_t sm = W.stride();
  const uint32_t sf = h.stride;
  if (sf != 1 && sf != sm) {
    throw ModelError("model rows have " + std::to_string(sf) + " slots; the learner's update rule needs " +
                     std::to_string(sm));
  }
  // parse_model checked the sizes, the row indices and that every number is finite; what the rule
  // needs of its slots is checked here, before the table is touched: sums of squared gradients
  // and the normalizer's largest |x| are never negative.
  const char* p = m.bytes.data() + m.weights_offset;
  if (sf == sm && sm > 1) {
    const Config& cfg = learner.config();
    int nonneg[2] = {-1, -1};
    if (cfg.ftrl) {
      nonneg[0] = 2;
    } else if (cfg.coin || cfg.freegrad) {  // coin: sum of |g|, largest |x|; FreeGrad: the hints
      nonneg[0] = cfg.coin ? 2 : 3;
      nonneg[1] = cfg.coin ? 3 : 4;
    } else if (cfg.classic_rule == 0) {
      if (cfg.adaptive) nonneg[0] = 1;
      if (cfg.normalized) nonneg[1] = cfg.adaptive ? 2 : 1;
    }
    const bool sparse = m.encoding != 0;
    const size_t row_bytes = (sparse ? sizeof(uint32_t) : 0) + sf * sizeof(float);
    const uint64_t n = sparse ? m.sparse_count : W.rows();
    for (uint64_t k = 0; k < n; ++k) {
      const char* row = p + k * row_bytes + (sparse ? sizeof(uint32_t) : 0);
      for (int slot : nonneg) {
        if (slot < 0) continue;
        float v;
        std::memcpy(&v, row + static_cast<size_t>(slot) * sizeof(float), sizeof v);
        if (v < 0.f) {
          throw ModelError("model file is corrupt: a weight row holds a negative " +
                           std::string(cfg.coin || cfg.freegrad                    ? "gradient bound or |x| bound"
                                       : (cfg.ftrl || (slot == 1 && cfg.adaptive)) ? "sum of squared gradients"
                                                                                   : "normalizer") +
                           " (the rows do not fit the file's options)");
        }
      }
    }
  }
  float* d = W.data();
  const uint64_t rows = W.rows();
  std::memset(d, 0, W.size_floats() * sizeof(float));
  if (m.encoding == 0) {
    if (sf == sm) {
      std::memcpy(d, p, rows * sm * sizeof(float));
    } else {
      for (uint64_t r = 0; r < rows; ++r) std::memcpy(d + r * sm, p + r * sf * sizeof(float), sf * sizeof(float));
    }
  } else {
    const size_t row_bytes = sizeof(uint32_t) + sf * sizeof(float);
    for (uint64_t k = 0; k < m.sparse_count; ++k) {
      uint32_t idx;
      std::memcpy(&idx, p + k * row_bytes, 4);
      std::memcpy(d + static_cast<uint64_t>(idx) * sm, p + k * row_bytes + 4, sf * sizeof(float));
    }
  }
  learner.state() = h.state;
  if (learner.config().center) {  // (the table is fresh: every other row's sum is 0)
    WeightTable& sums = learner.feature_sums();
    for (const auto& [row, v] : h.feature_sums) store_d(Learner::sum_at(sums, row), v);
  }
  // Gradient descent folds pending L2/L1 into the weights before the factor nears 0 (or the
  // gravity grows large): a file saved at that moment (or made by hand) is folded now, so that
  // learning never divides by a vanishing factor.
  const Config& cfg = learner.config();
  if (!ftrl_family(cfg) && cfg.classic_rule == 0 &&
      (h.state.contraction < 1e-9 || (cfg.l1 > 0.f && h.state.gravity > 1e3))) {
    learner.sync_weights();
  }
}

void install_cb_state(const LoadedModel& m, CbState& state) {
  const ModelHeader& h = m.header;
  if (!h.has_cb) throw ModelError("model file holds no contextual bandit state");
  const CbState& s = h.cb_state;
  if (s.event_sum.size() != state.event_sum.size() || s.action_sum.size() != state.action_sum.size() ||
      s.norm_x.size() != state.norm_x.size() || s.total_weight.size() != state.total_weight.size()) {
    throw ModelError("model file is inconsistent: its bandit state does not fit its bandit configuration");
  }
  state = s;
}

void install_mc_state(const LoadedModel& m, McState& state) {
  const ModelHeader& h = m.header;
  if (!h.has_mc) throw ModelError("model file holds no multiclass state");
  const McState& s = h.mc_state;
  if (s.norm_x.size() != state.norm_x.size() || s.total_weight.size() != state.total_weight.size()) {
    throw ModelError("model file is inconsistent: its multiclass state does not fit its configuration");
  }
  state = s;
}

namespace {

// Writes all of data to fd; false (errno set) on failure.
bool write_fully(int fd, std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

void write_file_atomic(const std::string& given, std::string_view data) {
  // A symlink is followed, so the file it points to is replaced and the link stays a link.
  std::string path = given;
  if (char* real = ::realpath(given.c_str(), nullptr)) {
    path = real;
    std::free(real);
  }
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    // Not a regular file: a directory is an error; a device or a pipe (/dev/null, /dev/stdout) is
    // written in place. Renaming a temporary file over it would replace the device node itself.
    if (S_ISDIR(st.st_mode)) {
      errno = EISDIR;
      throw_errno("cannot write model", given);
    }
    const int out = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (out < 0) throw_errno("cannot open", given);
    const bool ok = write_fully(out, data);
    const int e = errno;
    ::close(out);
    if (!ok) {
      errno = e;
      throw_errno("cannot write model", given);
    }
    return;
  }
  std::string dir = ".";
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos) dir = slash == 0 ? "/" : path.substr(0, slash);
  std::random_device rd;
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno("cannot create temporary file for", path);
  if (!write_fully(fd, data)) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    errno = e;
    throw_errno("cannot write model", given);
  }
  if (::fsync(fd) != 0) {
    const int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    errno = e;
    throw_errno("cannot fsync model", path);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    errno = e;
    throw_errno("cannot rename temporary file onto", path);
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("cannot open", path);
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw_errno("cannot stat", path);
  }
  std::string out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t off = 0;
  while (off < out.size()) {
    const ssize_t n = ::read(fd, out.data() + off, out.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      throw_errno("cannot read", path);
    }
    if (n == 0) break;
    off += static_cast<size_t>(n);
  }
  out.resize(off);
  ::close(fd);
  return out;
}

}  // namespace wabbit
