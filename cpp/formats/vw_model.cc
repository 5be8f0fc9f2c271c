#include "formats/vw_model.h"

#include <cmath>
#include <cstring>

#include "core/hash.h"
#include "formats/utf8.h"

namespace wabbit {
namespace {

// Bounds on what a header may hold (VW's own reader allows 512 bytes for the version and the id and
// 100 MB for the options text; no options text is near that).
constexpr uint32_t kMaxShortString = 512;
constexpr uint32_t kMaxOptions = 16u << 20;
constexpr uint32_t kMaxGrams = 256;
constexpr uint32_t kMaxBits = 32;

[[noreturn]] void corrupt(const std::string& what) { throw ModelError("VW model file is corrupt: " + what); }
[[noreturn]] void truncated(const char* what) {
  throw ModelError(std::string("VW model file is truncated: it ends inside ") + what);
}

// A cursor over the file's bytes that keeps VW's header checksum: VW hashes each read of the header
// (after the version) with murmur3, seeded by the hash so far, so the chunks must be VW's.
class Cursor {
 public:
  Cursor(std::string_view b, size_t pos) : b_(b), pos_(pos) {}
  const char* take(size_t n, const char* what) {
    if (n > b_.size() - pos_) truncated(what);
    const char* p = b_.data() + pos_;
    pos_ += n;
    if (hashing_ && n > 0) hash_ = murmur3_x86_32(p, n, hash_);
    return p;
  }
  template <class T>
  T pod(const char* what) {
    T v;
    std::memcpy(&v, take(sizeof v, what), sizeof v);
    return v;
  }
  // VW's length-prefixed field: a u32 length then that many bytes, a NUL-terminated string.
  std::string cstr(uint32_t max, const char* what) {
    const auto n = pod<uint32_t>(what);
    if (n > max) corrupt(std::string(what) + " is " + std::to_string(n) + " bytes long");
    const char* p = take(n, what);
    const size_t len = n == 0 ? 0 : strnlen(p, n);
    std::string s(p, len);
    if (!valid_utf8(s)) corrupt(std::string(what) + " is not text");
    return s;
  }
  void start_hash() { hashing_ = true; }
  void stop_hash() { hashing_ = false; }
  uint32_t hash() const { return hash_; }
  size_t pos() const { return pos_; }
  size_t remaining() const { return b_.size() - pos_; }

 private:
  std::string_view b_;
  size_t pos_;
  bool hashing_ = false;
  uint32_t hash_ = 0;
};

// "M.m.p" (VW's version_struct reads three numbers); false when the text is not a version.
bool parse_version(const std::string& s, int v[3]) {
  size_t i = 0;
  for (int part = 0; part < 3; ++part) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
    long n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && n < 100000) n = n * 10 + (s[i++] - '0');
    v[part] = static_cast<int>(n);
    if (part < 2) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  return true;
}

}  // namespace

bool looks_like_vw_model(std::string_view head) {
  if (head.size() < 5) return false;
  uint32_t n;
  std::memcpy(&n, head.data(), 4);
  if (n < 2 || n > 64) return false;
  const std::string_view text = head.substr(4, n - 1);  // what the head holds of it (its NUL excluded)
  if (text[0] < '0' || text[0] > '9') return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || c == '.')) return false;
  }
  return head.size() < 4 + n || head[4 + n - 1] == '\0';
}

VwModel parse_vw_model(std::string bytes) {
  VwModel m;
  m.bytes = std::move(bytes);
  m.file_crc = crc32(m.bytes.data(), m.bytes.size());
  if (!looks_like_vw_model(m.bytes)) throw ModelError("not a VW model file (it does not start with VW's version)");
  Cursor c(m.bytes, 0);
  m.version = c.cstr(kMaxShortString, "the version");
  int v[3];
  if (!parse_version(m.version, v)) corrupt("its version '" + m.version + "' is not a version");
  if (v[0] != 9) {
    throw ModelError("VW model file version " + m.version +
                     " is not supported: wabbit reads model files written by VW 9.x");
  }
  // From 8.0.2 on, every read of the header after the version feeds the checksum.
  c.start_hash();
  m.id = c.cstr(kMaxShortString, "the id");
  if (c.pod<char>("the model marker") != 'm') corrupt("the model marker 'm' is missing");
  m.min_label = c.pod<float>("the label range");
  m.max_label = c.pod<float>("the label range");
  m.bits = c.pod<uint32_t>("the number of bits");
  m.lda = c.pod<uint32_t>("the lda field");
  for (auto* grams : {&m.ngrams, &m.skips}) {
    const char* what = grams == &m.ngrams ? "the ngram definitions" : "the skip definitions";
    const auto n = c.pod<uint32_t>(what);
    if (n > kMaxGrams) corrupt(std::string(what) + ": " + std::to_string(n) + " of them");
    for (uint32_t k = 0; k < n; ++k) {
      const char* p = c.take(3, what);
      grams->emplace_back(p, strnlen(p, 3));
    }
  }
  m.options = c.cstr(kMaxOptions, "the options text");
  c.stop_hash();
  const uint32_t computed = c.hash();
  if (c.pod<uint32_t>("the checksum") != sizeof(uint32_t)) corrupt("the checksum field has the wrong size");
  m.checksum = c.pod<uint32_t>("the checksum");
  if (m.checksum != computed) {
    throw ModelError("VW model file is corrupt: the checksum of its header does not match (the file was damaged)");
  }
  // The header's fields are checked after the checksum: a damaged byte is reported as damage.
  if (m.bits < 1 || m.bits > kMaxBits) corrupt("bits = " + std::to_string(m.bits));
  if (!std::isfinite(m.min_label) || !std::isfinite(m.max_label)) corrupt("the label range is not finite");
  m.body_offset = c.pos();
  return m;
}

VwBody install_vw_model(const VwModel& m, Learner& learner, const CbConfig* cb, CbState* cb_state) {
  const Config& cfg = learner.config();
  WeightTable& W = learner.weights();
  if (W.bits() != m.bits) {
    throw ModelError("VW model has " + std::to_string(m.bits) + " bits but the learner was built with " +
                     std::to_string(W.bits()));
  }
  if (cfg.classic_rule != 0) throw ModelError("a VW model file cannot hold a classic rule's weights");
  VwBody body;
  Cursor c(m.bytes, m.body_offset);
  // The reductions above the update rule save their parts first, top of the stack first.
  CbState next;
  if (cb) {
    if (cb_state == nullptr) throw ModelError("a bandit's VW model needs the bandit's state");
    next = *cb_state;
    if (cb->explore == CbExplore::kSquareCb) next.counter = c.pod<uint64_t>("SquareCB's counter");
    if (cb->explore == CbExplore::kFirst) next.tau = c.pod<uint64_t>("tau-first's counter");
    // cb_adf (under --cb K too): the first model's event and action counts.
    const auto events = c.pod<uint64_t>("cb_adf's counts");
    const auto actions = c.pod<uint64_t>("cb_adf's counts");
    if (!next.event_sum.empty()) next.event_sum[0] = events;
    if (!next.action_sum.empty()) next.action_sum[0] = actions;
  }
  // The update rule: a flag, the online state when it is set, then the rows to the end of the file.
  const auto resume = c.pod<uint8_t>("the update rule's resume flag");
  if (resume > 1) corrupt("the resume flag is " + std::to_string(resume));
  body.resume = resume == 1;
  OnlineState state = learner.state();  // a plain file: the state a new learner starts with
  if (body.resume) {
    const char* what = "the online state";
    body.initial_t = c.pod<float>(what);
    body.normalized_sum_norm_x = c.pod<double>(what);
    body.t = c.pod<double>(what);
    body.sum_loss = c.pod<double>(what);
    c.pod<double>(what);  // sum_loss_since_last_dump
    c.pod<float>(what);   // dump_interval
    state.min_label = c.pod<float>(what);
    state.max_label = c.pod<float>(what);
    body.weighted_labeled_examples = c.pod<double>(what);
    c.pod<double>(what);  // weighted_labels
    c.pod<double>(what);  // weighted_unlabeled_examples (VW zeroes it when it loads a model)
    body.example_number = c.pod<uint64_t>(what);
    c.pod<uint64_t>(what);  // total_features
    body.total_weight = c.pod<double>(what);
    c.pod<double>(what);    // old_weighted_labeled_examples
    c.pod<uint64_t>(what);  // current_pass
    body.gravity = c.pod<double>(what);
    body.contraction = c.pod<double>(what);
    for (double x : {body.normalized_sum_norm_x, body.t, body.total_weight, body.gravity}) {
      if (!std::isfinite(x) || x < 0.) corrupt("its online state is out of range");
    }
    if (!std::isfinite(body.initial_t) || body.initial_t < 0.f) corrupt("its initial_t is out of range");
    if (!(body.contraction > 0. && body.contraction <= 1.)) corrupt("its L2 state is out of range");
    if (!std::isfinite(state.min_label) || !std::isfinite(state.max_label)) {
      corrupt("the label range is not finite");
    }
    // (initial_t is recorded only: VW sets its rates up from the command line's before it reads it)
    state.t = body.t;
    state.normalized_sum_norm_x = body.normalized_sum_norm_x;
    state.total_weight = body.total_weight;
    state.weighted_unlabeled = 0.;  // as VW: loading resets the example counters
    state.gravity = body.gravity;
    state.contraction = body.contraction;
  } else {
    state.min_label = m.min_label;
    state.max_label = m.max_label;
  }
  // Floats per record: the weight alone in a plain file; FTRL's (weight, z, n); gradient descent's
  // weight, then the adaptive sum and the normalizer when those are on (VW's slots, and wabbit's).
  uint32_t k = 1;
  if (body.resume) {
    k = cfg.ftrl ? 3u : 1u + (cfg.adaptive ? 1u : 0u) + (cfg.normalized ? 1u : 0u);
    if (cfg.coin || cfg.freegrad) k = 6u;  // VW's ftrl_size / freegrad_size
  }
  body.floats_per_row = k;
  const uint32_t stride = W.stride();
  if (k > stride) throw ModelError("VW model rows do not fit the learner's rows");
  const size_t index_bytes = m.bits < 31 ? 4 : 8;
  const size_t record = index_bytes + k * sizeof(float);
  const size_t left = c.remaining();
  if (left % record != 0) {
    throw ModelError("VW model file is truncated or corrupt: its " + std::to_string(left) +
                     " bytes of weights are not whole records of " + std::to_string(record) +
                     " bytes (or the file was trained with update-rule flags its options do not record)");
  }
  body.rows = left / record;
  const char* p = c.take(left, "the weights");
  // Which slots can never be negative: FTRL's n, gradient descent's adaptive sum and normalizer.
  int nonneg[2] = {-1, -1};
  if (k > 1) {
    if (cfg.ftrl) {
      nonneg[0] = 2;
    } else if (cfg.coin || cfg.freegrad) {  // coin: sum of |g|, largest |x|; FreeGrad: the hints
      nonneg[0] = cfg.coin ? 2 : 3;
      nonneg[1] = cfg.coin ? 3 : 4;
    } else {
      nonneg[0] = 1;
      if (k == 3) nonneg[1] = 2;
    }
  }
  const uint64_t rows = W.rows();
  for (uint64_t r = 0; r < body.rows; ++r) {
    const char* rec = p + r * record;
    uint64_t idx = 0;
    std::memcpy(&idx, rec, index_bytes);  // little-endian: a u32 fills the low bytes
    if (idx >= rows) {
      corrupt("a weight's row index " + std::to_string(idx) + " is outside its 2^" + std::to_string(m.bits) + " rows");
    }
    for (uint32_t j = 0; j < k; ++j) {
      float x;
      std::memcpy(&x, rec + index_bytes + j * sizeof(float), sizeof x);
      if (!std::isfinite(x)) corrupt("a weight is not a finite number");
      if ((static_cast<int>(j) == nonneg[0] || static_cast<int>(j) == nonneg[1]) && x < 0.f) {
        corrupt("a weight row holds a negative sum of squared gradients or normalizer");
      }
    }
  }
  if (c.remaining() != 0) corrupt("bytes after the weights");
  // Everything read: install (the learner is changed only from here on).
  learner.reset();
  float* d = W.data();
  for (uint64_t r = 0; r < body.rows; ++r) {
    const char* rec = p + r * record;
    uint64_t idx = 0;
    std::memcpy(&idx, rec, index_bytes);
    float* row = d + idx * stride;
    std::memcpy(row, rec + index_bytes, k * sizeof(float));
    // A saved state replaces the whole row (VW reads it into a zeroed row); a plain file sets the
    // weight only, the other slots keep a new learner's values.
    if (body.resume) std::memset(row + k, 0, (stride - k) * sizeof(float));
  }
  learner.state() = state;
  if (!ftrl_family(cfg) && (state.contraction < 1e-9 || (cfg.l1 > 0.f && state.gravity > 1e3))) learner.sync_weights();
  if (cb) *cb_state = std::move(next);
  return body;
}

}  // namespace wabbit
