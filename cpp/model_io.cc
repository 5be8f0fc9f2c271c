#include "model_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cerrno>
#include <cstring>
#include <random>

namespace wabbit {
namespace {

// Hard limits on sizes read from a file, checked before allocating anything.
constexpr uint32_t kMaxStringBytes = 16u << 20;
constexpr uint32_t kMaxBits = 32;
constexpr uint32_t kMaxStride = 4;

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
  Reader(const std::string& b, size_t end) : b_(b), end_(end) {}
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
    return s;
  }
  size_t pos() const { return pos_; }
  size_t remaining() const { return end_ - pos_; }

 private:
  const std::string& b_;
  size_t end_;
  size_t pos_ = 0;
};

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

std::string serialize_model(const Learner& learner, const std::string& wabbit_version, const std::string& args,
                            const std::string& metadata, bool predict_only) {
  const WeightTable& W = learner.weights();
  const uint32_t stride_mem = W.stride();
  const uint32_t stride = predict_only ? 1u : stride_mem;
  const uint64_t rows = W.rows();
  const float* d = W.data();
  // A predict-only file holds the weights as the model uses them: pending L1/L2 applied.
  OnlineState s = learner.state();
  const bool bake = predict_only && (s.gravity != 0. || s.contraction != 1.);
  auto weight_of = [&](const float* row) { return bake ? learner.effective_weight(row) : row[0]; };
  auto row_nonzero = [&](const float* row) {
    if (predict_only) return weight_of(row) != 0.f;
    bool nz = false;
    for (uint32_t k = 0; k < stride; ++k) nz |= row[k] != 0.f;
    return nz;
  };
  auto write_row = [&](Writer& out, const float* row) {
    if (predict_only) out.pod<float>(weight_of(row));
    else out.bytes(row, stride * sizeof(float));
  };
  uint64_t nonzero = 0;
  for (uint64_t r = 0; r < rows; ++r) nonzero += row_nonzero(d + r * stride_mem);
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
  w.out().reserve(w.out().size() + (encoding ? sparse_bytes + 8 : dense_bytes) + 4);
  if (encoding == 1) {
    w.pod<uint64_t>(nonzero);
    for (uint64_t r = 0; r < rows; ++r) {
      const float* row = d + r * stride_mem;
      if (!row_nonzero(row)) continue;
      w.pod<uint32_t>(static_cast<uint32_t>(r));
      write_row(w, row);
    }
  } else if (!predict_only) {
    w.bytes(d, dense_bytes);
  } else {
    for (uint64_t r = 0; r < rows; ++r) write_row(w, d + r * stride_mem);
  }
  const uint32_t crc = crc32(w.out().data(), w.out().size());
  w.pod<uint32_t>(crc);
  return std::move(w.out());
}

LoadedModel parse_model(std::string bytes) {
  LoadedModel m;
  m.bytes = std::move(bytes);
  const std::string& b = m.bytes;
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
  uint32_t version;
  std::memcpy(&version, b.data() + sizeof kModelMagic, 4);
  if (version == 0 || version > kModelFormatVersion) {
    throw ModelError("model file format version " + std::to_string(version) +
                     " is not supported by this wabbit (it reads versions 1 to " +
                     std::to_string(kModelFormatVersion) + "); upgrade wabbit to load it");
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
  m.header.predict_only = r.pod<uint8_t>("flags") != 0;
  m.encoding = r.pod<uint8_t>("encoding");
  const ModelHeader& h = m.header;
  if (h.bits < 1 || h.bits > kMaxBits) throw ModelError("model file is corrupt: bits = " + std::to_string(h.bits));
  if (h.stride != 1 && h.stride != 2 && h.stride != kMaxStride) {
    throw ModelError("model file is corrupt: row stride = " + std::to_string(h.stride));
  }
  if (m.encoding > 1) throw ModelError("model file is corrupt: unknown weight encoding");
  const uint64_t rows = uint64_t{1} << h.bits;
  if (m.encoding == 0) {
    const uint64_t need = rows * h.stride * sizeof(float);
    if (r.remaining() != need) {
      throw ModelError("model file is inconsistent: " + std::to_string(r.remaining()) + " bytes of weights, expected " +
                       std::to_string(need));
    }
  } else {
    m.sparse_count = r.pod<uint64_t>("weight count");
    const uint64_t row_bytes = sizeof(uint32_t) + h.stride * sizeof(float);
    if (m.sparse_count > rows || r.remaining() != m.sparse_count * row_bytes) {
      throw ModelError("model file is inconsistent: weight count does not match the bytes present");
    }
  }
  for (double v : {s.t, s.normalized_sum_norm_x, s.total_weight, s.weighted_unlabeled, s.gravity}) {
    if (!std::isfinite(v) || v < 0.) throw ModelError("model file is corrupt: online state out of range");
  }
  if (!(s.contraction > 0.) || !std::isfinite(s.contraction)) {
    throw ModelError("model file is corrupt: L2 contraction out of range");
  }
  if (!std::isfinite(s.min_label) || !std::isfinite(s.max_label) || s.min_label > s.max_label) {
    throw ModelError("model file is corrupt: prediction range out of order or not finite");
  }
  m.weights_offset = r.pos();
  return m;
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
  const char* p = m.bytes.data() + m.weights_offset;
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
      if (idx >= rows) throw ModelError("model file is corrupt: weight index out of range");
      std::memcpy(d + static_cast<uint64_t>(idx) * sm, p + k * row_bytes + 4, sf * sizeof(float));
    }
  }
  for (size_t i = 0; i < W.size_floats(); ++i) {
    if (!std::isfinite(d[i])) {
      std::memset(d, 0, W.size_floats() * sizeof(float));
      throw ModelError("model file is corrupt: non-finite weight");
    }
  }
  learner.state() = h.state;
}

void write_file_atomic(const std::string& path, std::string_view data) {
  std::string dir = ".";
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos) dir = slash == 0 ? "/" : path.substr(0, slash);
  std::random_device rd;
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rd());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno("cannot create temporary file for", path);
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      errno = e;
      throw_errno("cannot write model", path);
    }
    off += static_cast<size_t>(n);
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
  struct stat st {};
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
