// pybind11 module wabbit._core: the only file that knows about Python. Everything that does real
// work releases the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <pythread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "audit.h"
#include "cb.h"
#include "drift_bindings.h"
#include "driver.h"
#include "hash.h"
#include "learner.h"
#include "model_io.h"
#include "vw_text.h"

namespace py = pybind11;
using namespace wabbit;

namespace {

// Signals during a run (Ctrl-C, SIGTERM). Python's C-level handler only notes a signal for the main
// thread's next bytecode, which a run without the GIL never reaches. While a run is on the main
// thread, a signal that Python handles goes first through on_signal, which also sets g_signal: the
// run stops at its next block boundary (or while it waits for input), then Python's handler runs
// (PyErr_CheckSignals) and raises KeyboardInterrupt, or what the handler raises.
std::atomic<int> g_signal{0};
constexpr int kWatched[2] = {SIGINT, SIGTERM};
struct sigaction g_previous[2];  // Python's handlers, called by on_signal
bool g_installed[2] = {false, false};
int g_watch_depth = 0;  // nested runs (a hook that learns); touched with the GIL held
unsigned long g_main_thread = 0;

extern "C" void on_signal(int sig, siginfo_t* info, void* context) {
  g_signal.store(sig, std::memory_order_relaxed);
  const struct sigaction& prev = g_previous[sig == SIGINT ? 0 : 1];
  if ((prev.sa_flags & SA_SIGINFO) != 0)
    prev.sa_sigaction(sig, info, context);
  else if (prev.sa_handler != SIG_DFL && prev.sa_handler != SIG_IGN)
    prev.sa_handler(sig);
}

// Watches SIGINT/SIGTERM for one run (constructed and destroyed with the GIL held). Runs on other
// threads are not interrupted: Python delivers signals to the main thread only.
class SignalWatch {
 public:
  SignalWatch() {
    if (PyThread_get_thread_ident() != g_main_thread) return;
    active_ = true;
    if (g_watch_depth++ > 0) return;
    g_signal.store(0, std::memory_order_relaxed);
    for (int k = 0; k < 2; ++k) {
      struct sigaction cur{};
      if (sigaction(kWatched[k], nullptr, &cur) != 0) continue;
      const bool handled = (cur.sa_flags & SA_SIGINFO) != 0 || (cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN);
      if (!handled) continue;  // default (SIGTERM ends the process) or ignored: left as it is
      g_previous[k] = cur;
      struct sigaction mine = cur;
      mine.sa_flags |= SA_SIGINFO;
      mine.sa_sigaction = on_signal;
      g_installed[k] = sigaction(kWatched[k], &mine, nullptr) == 0;
    }
  }
  ~SignalWatch() {
    if (!active_ || --g_watch_depth > 0) return;
    for (int k = 0; k < 2; ++k) {
      if (g_installed[k]) sigaction(kWatched[k], &g_previous[k], nullptr);
      g_installed[k] = false;
    }
  }
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;
  const std::atomic<int>* flag() const { return active_ ? &g_signal : nullptr; }
  // After the run, with the GIL: a run stopped by a signal lets Python's handler run now. Its
  // exception propagates; a handler that returns leaves the run stopped all the same (said so).
  static void after(const RunResult& r) {
    if (r.interrupted == 0) return;
    g_signal.store(0, std::memory_order_relaxed);
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    PyErr_SetString(PyExc_InterruptedError, ("the run was stopped by signal " + std::to_string(r.interrupted) +
                                             " after " + std::to_string(r.examples) + " examples (learned and kept)")
                                                .c_str());
    throw py::error_already_set();
  }

 private:
  bool active_ = false;
};

// C++ text (messages, feature names, readable models) as a Python str that never fails: bytes that
// are not UTF-8 (names come from the input as they are) read as \xNN, as errors="backslashreplace".
py::str text_to_py(std::string_view s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "backslashreplace");
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

// Error text for Python: control bytes (a NUL would end the message there) and bytes that are not
// UTF-8 written as \xNN (vw_text.h's printable), so the message arrives whole and never fails to decode.
py::str error_text(std::string_view msg) { return text_to_py(printable(msg)); }

// Raises `type` (ValueError by default) with msg made printable.
[[noreturn]] void raise_error(std::string_view msg, PyObject* type = PyExc_ValueError) {
  PyErr_SetObject(type, error_text(msg).ptr());
  throw py::error_already_set();
}

// A str that UTF-8 cannot hold (a lone surrogate, as errors="surrogateescape" leaves for bytes that
// were not UTF-8): a ValueError naming the text and the position, in place of the codec's error.
[[noreturn, gnu::noinline]] void not_utf8(PyObject* text, const char* what) {
  PyObject *type = nullptr, *value = nullptr, *trace = nullptr;
  PyErr_Fetch(&type, &value, &trace);
  Py_ssize_t at = -1;
  if (value != nullptr && PyUnicodeEncodeError_GetStart(value, &at) != 0) at = -1;
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(trace);
  PyErr_Clear();
  std::string shown;
  PyObject* r = PyObject_Repr(text);
  if (r != nullptr) {
    Py_ssize_t n = 0;
    const char* p = PyUnicode_AsUTF8AndSize(r, &n);
    if (p != nullptr) shown.assign(p, static_cast<size_t>(std::min<Py_ssize_t>(n, 200)));
    Py_DECREF(r);
  }
  PyErr_Clear();
  std::string msg = std::string(what) + " " + shown + " is not valid Unicode: it holds a lone surrogate";
  if (at >= 0) {
    const Py_UCS4 c = PyUnicode_ReadChar(text, at);
    char b[48];
    std::snprintf(b, sizeof b, " (U+%04X at position %zd)", static_cast<unsigned>(c), at);
    msg += b;
  }
  msg += ", which UTF-8 cannot encode; pass bytes, or decode the source as UTF-8";
  raise_error(msg);
}

// Raises exception type `type` with message `what` decoded as text_to_py does (PyErr_SetString
// would turn a message with non-UTF-8 bytes into a UnicodeDecodeError, and cut it at a NUL).
void set_error(PyObject* type, std::string_view what) { PyErr_SetObject(type, error_text(what).ptr()); }

// The text of one example given as str (UTF-8) or bytes/bytearray, without a copy.
std::string_view example_text(py::handle h) {
  PyObject* o = h.ptr();
  if (PyUnicode_Check(o)) {
    if (PyUnicode_IS_COMPACT_ASCII(o)) {
      return std::string_view(static_cast<const char*>(PyUnicode_DATA(o)),
                              static_cast<size_t>(PyUnicode_GET_LENGTH(o)));
    }
    Py_ssize_t n = 0;
    const char* p = PyUnicode_AsUTF8AndSize(o, &n);
    if (p == nullptr) not_utf8(o, "the example");
    return std::string_view(p, static_cast<size_t>(n));
  }
  if (PyBytes_Check(o)) return std::string_view(PyBytes_AS_STRING(o), static_cast<size_t>(PyBytes_GET_SIZE(o)));
  if (PyByteArray_Check(o))
    return std::string_view(PyByteArray_AS_STRING(o), static_cast<size_t>(PyByteArray_GET_SIZE(o)));
  raise_error(std::string("an example is a VW text line (str or bytes), not ") + Py_TYPE(o)->tp_name, PyExc_TypeError);
}

// A single example's text: one line. A trailing "\n" (or "\r\n") is dropped; a newline inside
// would otherwise be read as part of a feature name, so it is refused.
std::string_view one_line(std::string_view line, const char* call,
                          const char* hint = "pass several examples to learn_many()/predict_many()") {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  const size_t nl = line.find('\n');
  if (nl != std::string_view::npos) {
    throw py::value_error(std::string(call) + " takes one line, but the text has a newline at offset " +
                          std::to_string(nl) + " (\"" + printable(line.substr(0, nl), 40) + "\\n...\"): " + hint);
  }
  return line;
}

// A single example's text from a str (as UTF-8; a lone surrogate cannot be: ValueError), bytes, or
// another buffer (kept alive in `hold`), then one_line().
std::string_view line_arg(py::handle h, py::object& hold, const char* call) {
  PyObject* o = h.ptr();
  std::string_view s;
  if (PyUnicode_Check(o) || PyBytes_Check(o) || PyByteArray_Check(o)) {
    s = example_text(h);
  } else if (PyObject_CheckBuffer(o)) {
    hold = py::reinterpret_steal<py::object>(PyBytes_FromObject(o));  // bytearray, memoryview (a copy)
    if (!hold) throw py::error_already_set();
    s = std::string_view(PyBytes_AS_STRING(hold.ptr()), static_cast<size_t>(PyBytes_GET_SIZE(hold.ptr())));
  } else {
    s = example_text(h);  // a TypeError naming the type
  }
  return one_line(s, call);
}

// A C-contiguous array of T: passed through without a copy when the caller's array already is one.
template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

Config config_from_dict(const py::dict& d) {
  Config c;
  for (auto item : d) {
    const std::string k = py::cast<std::string>(item.first);
    py::handle v = item.second;
    if (k == "bits")
      c.bits = py::cast<uint32_t>(v);
    else if (k == "loss") {
      const std::string s = py::cast<std::string>(v);
      if (s == "squared")
        c.loss = LossKind::kSquared;
      else if (s == "logistic")
        c.loss = LossKind::kLogistic;
      else if (s == "classic")
        c.loss = LossKind::kClassic;
      else if (s == "hinge")
        c.loss = LossKind::kHinge;
      else if (s == "quantile")
        c.loss = LossKind::kQuantile;
      else if (s == "poisson")
        c.loss = LossKind::kPoisson;
      else
        throw py::value_error("unknown loss function: " + s);
    } else if (k == "link") {
      const std::string s = py::cast<std::string>(v);
      if (s == "identity")
        c.link = Link::kIdentity;
      else if (s == "logistic")
        c.link = Link::kLogistic;
      else if (s == "poisson")
        c.link = Link::kPoisson;
      else if (s == "glf1")
        c.link = Link::kGlf1;
      else
        throw py::value_error("unknown link: " + s);
    } else if (k == "quantile_tau")
      c.quantile_tau = py::cast<float>(v);
    else if (k == "binary")
      c.binary = py::cast<bool>(v);
    else if (k == "l1")
      c.l1 = py::cast<float>(v);
    else if (k == "l2")
      c.l2 = py::cast<float>(v);
    else if (k == "ftrl")
      c.ftrl = py::cast<bool>(v);
    else if (k == "classic_rule")
      c.classic_rule = py::cast<int>(v);
    else if (k == "pa_c")
      c.pa_c = py::cast<float>(v);
    else if (k == "pa_variant")
      c.pa_variant = py::cast<int>(v);
    else if (k == "pa_eps")
      c.pa_eps = py::cast<float>(v);
    else if (k == "ftrl_alpha")
      c.ftrl_alpha = py::cast<float>(v);
    else if (k == "ftrl_beta")
      c.ftrl_beta = py::cast<float>(v);
    else if (k == "ignore" || k == "ignore_linear") {
      auto& mask = k == "ignore" ? c.ignore : c.ignore_linear;
      const std::string bytes = py::cast<py::bytes>(v);
      for (unsigned char ch : bytes) mask[ch] = true;
    } else if (k == "logistic_min")
      c.logistic_min = py::cast<float>(v);
    else if (k == "logistic_max")
      c.logistic_max = py::cast<float>(v);
    else if (k == "learning_rate")
      c.learning_rate = py::cast<float>(v);
    else if (k == "power_t")
      c.power_t = py::cast<float>(v);
    else if (k == "initial_t")
      c.initial_t = py::cast<float>(v);
    else if (k == "adaptive")
      c.adaptive = py::cast<bool>(v);
    else if (k == "normalized")
      c.normalized = py::cast<bool>(v);
    else if (k == "invariant")
      c.invariant = py::cast<bool>(v);
    else if (k == "constant")
      c.constant = py::cast<bool>(v);
    else if (k == "interactions")
      c.interactions = py::cast<std::vector<std::string>>(v);
    else if (k == "min_prediction") {
      if (!v.is_none()) {
        c.has_min_prediction = true;
        c.min_prediction = py::cast<float>(v);
      }
    } else if (k == "max_prediction") {
      if (!v.is_none()) {
        c.has_max_prediction = true;
        c.max_prediction = py::cast<float>(v);
      }
    } else {
      throw py::value_error("unknown core option: " + k);
    }
  }
  return c;
}

CbConfig cb_config_from_dict(const py::dict& d) {
  CbConfig c;
  for (auto item : d) {
    const std::string k = py::cast<std::string>(item.first);
    py::handle v = item.second;
    if (k == "num_actions")
      c.num_actions = py::cast<uint32_t>(v);
    else if (k == "cb_type") {
      const std::string t = py::cast<std::string>(v);
      if (t == "mtr")
        c.type = CbType::kMtr;
      else if (t == "ips")
        c.type = CbType::kIps;
      else if (t == "dr")
        c.type = CbType::kDr;
      else if (t == "dm")
        c.type = CbType::kDm;
      else
        throw py::value_error("unknown cb_type: " + t);
    } else if (k == "explore") {
      const std::string t = py::cast<std::string>(v);
      if (t == "none")
        c.explore = CbExplore::kNone;
      else if (t == "epsilon")
        c.explore = CbExplore::kEpsilon;
      else if (t == "softmax")
        c.explore = CbExplore::kSoftmax;
      else if (t == "squarecb")
        c.explore = CbExplore::kSquareCb;
      else if (t == "first")
        c.explore = CbExplore::kFirst;
      else if (t == "bag")
        c.explore = CbExplore::kBag;
      else
        throw py::value_error("unknown exploration: " + t);
    } else if (k == "epsilon")
      c.epsilon = py::cast<float>(v);
    else if (k == "lambda")
      c.lambda = py::cast<float>(v);
    else if (k == "gamma_scale")
      c.gamma_scale = py::cast<float>(v);
    else if (k == "gamma_exponent")
      c.gamma_exponent = py::cast<float>(v);
    else if (k == "first")
      c.first = py::cast<uint64_t>(v);
    else if (k == "bag")
      c.bag = py::cast<uint32_t>(v);
    else if (k == "greedify")
      c.greedify = py::cast<bool>(v);
    else if (k == "first_only")
      c.first_only = py::cast<bool>(v);
    else if (k == "rank_all")
      c.rank_all = py::cast<bool>(v);
    else if (k == "clip_p")
      c.clip_p = py::cast<float>(v);
    else if (k == "seed")
      c.seed = py::cast<uint64_t>(v);
    else
      throw py::value_error("unknown cb option: " + k);
  }
  return c;
}

py::dict stats_to_dict(const Stats& s) {
  py::dict d;
  d["sum_loss"] = s.sum_loss;
  d["weighted_labeled_examples"] = s.weighted_labeled_examples;
  d["weighted_unlabeled_examples"] = s.weighted_unlabeled_examples;
  d["weighted_examples"] = s.weighted_examples();
  d["weighted_labels"] = s.weighted_labels;
  d["example_number"] = s.example_number;
  d["total_features"] = s.total_features;
  d["first_observed_label"] = s.first_observed_label == FLT_MAX ? py::none() : py::cast(s.first_observed_label);
  d["second_observed_label"] = s.second_observed_label == FLT_MAX ? py::none() : py::cast(s.second_observed_label);
  d["more_than_two_labels"] = s.more_than_two_labels;
  d["bad_lines"] = s.bad_lines;
  return d;
}

py::dict state_to_dict(const OnlineState& s) {
  py::dict d;
  d["t"] = s.t;
  d["normalized_sum_norm_x"] = s.normalized_sum_norm_x;
  d["total_weight"] = s.total_weight;
  d["weighted_unlabeled"] = s.weighted_unlabeled;
  d["min_label"] = s.min_label;
  d["max_label"] = s.max_label;
  return d;
}

RunOptions run_options_from_dict(const py::dict& d, NameMap* names, Signals* signals) {
  RunOptions o;
  for (auto item : d) {
    const std::string k = py::cast<std::string>(item.first);
    py::handle v = item.second;
    if (k == "learn")
      o.learn = py::cast<bool>(v);
    else if (k == "print_progress")
      o.print_progress = py::cast<bool>(v);
    else if (k == "progress_add")
      o.progress_add = py::cast<bool>(v);
    else if (k == "progress_arg")
      o.progress_arg = py::cast<double>(v);
    else if (k == "strict")
      o.strict = py::cast<bool>(v);
    else if (k == "print_warnings")
      o.print_warnings = py::cast<bool>(v);
    else if (k == "predictions_fd")
      o.predictions_fd = py::cast<int>(v);
    else if (k == "collect")
      o.collect = py::cast<bool>(v);
    else if (k == "account")
      o.account = py::cast<bool>(v);
    else if (k == "first_line_number")
      o.first_line_number = py::cast<uint64_t>(v);
    else if (k == "audit_fd")
      o.audit_fd = py::cast<int>(v);
    else if (k == "head")
      o.head = py::cast<std::string>(py::bytes(py::reinterpret_borrow<py::object>(v)));
    else if (k == "record_names") {
      if (py::cast<bool>(v)) o.names = names;
    } else if (k == "signals") {
      if (py::cast<bool>(v)) o.signals = signals;
    } else if (k == "shadow") {
      // resolved by PyModel::run_options (it needs the other model's learner)
    } else if (k == "every")
      o.every = py::cast<uint64_t>(v);
    else if (k == "threads")
      o.threads = std::max(1u, py::cast<unsigned>(v));
    else if (k == "hook") {
      if (!v.is_none()) {
        auto fn = std::make_shared<py::function>(py::reinterpret_borrow<py::function>(v));
        o.hook = [fn](uint64_t n) {
          py::gil_scoped_acquire gil;
          (*fn)(n);
        };
      }
    } else
      throw py::value_error("unknown run option: " + k);
  }
  return o;
}

py::dict result_to_dict(RunResult&& r, bool collect) {
  py::dict d;
  d["lines"] = r.lines;
  d["examples"] = r.examples;
  d["bad_lines"] = r.bad_lines;
  py::list warnings;
  for (const std::string& w : r.warnings) warnings.append(text_to_py(w));
  d["warnings"] = warnings;
  d["predictions_error"] = r.predictions_error;
  d["audit_error"] = r.audit_error;
  if (!collect) {  // no numpy needed (keeps the command line from importing it)
    d["predictions"] = py::none();
    return d;
  }
  auto* vec = new std::vector<float>(std::move(r.predictions));
  py::capsule owner(vec, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  d["predictions"] = py::array_t<float>({static_cast<py::ssize_t>(vec->size())}, {sizeof(float)}, vec->data(), owner);
  return d;
}

// The UTF-8 text of a str without a copy (other objects: their str(), kept alive in `hold`).
[[gnu::noinline]] std::string_view text_of_slow(py::handle h, py::object& hold) {
  PyObject* o = h.ptr();
  if (!PyUnicode_Check(o)) {
    hold = py::str(h);
    o = hold.ptr();
    if (PyUnicode_IS_COMPACT_ASCII(o))
      return std::string_view(static_cast<const char*>(PyUnicode_DATA(o)),
                              static_cast<size_t>(PyUnicode_GET_LENGTH(o)));
  }
  Py_ssize_t n = 0;
  const char* p = PyUnicode_AsUTF8AndSize(o, &n);
  if (p == nullptr) not_utf8(o, "the name");
  return std::string_view(p, static_cast<size_t>(n));
}
inline std::string_view text_of(py::handle h, py::object& hold) {
  // ASCII str (nearly all names) are their own UTF-8: read in place, without a C API call
  PyObject* o = h.ptr();
  if (PyUnicode_Check(o) && PyUnicode_IS_COMPACT_ASCII(o)) {
    return std::string_view(static_cast<const char*>(PyUnicode_DATA(o)), static_cast<size_t>(PyUnicode_GET_LENGTH(o)));
  }
  return text_of_slow(h, hold);
}

// The last namespace read: its slot (first byte; ' ' when unnamed) and hash. The candidates of a
// ranking request name the same namespaces, usually with the same str objects: one seen last is
// not hashed again (recognised by identity, the object kept alive meanwhile, so the address cannot
// be reused by another).
struct NamespaceMemo {
  py::object key;
  std::string_view name;
  unsigned char slot = ' ';
  uint32_t hash = 0;
};

[[noreturn, gnu::noinline]] void non_finite(std::string_view name, std::string_view ns) {
  throw py::value_error("feature '" + std::string(name) + "' in namespace '" + std::string(ns) +
                        "' has a non-finite value");
}

// Calls f(slot, index, value, namespace, feature, text) for every feature of {namespace: {feature:
// value} | [feature, ...] | feature}, hashed as the text parser would (text: a str value's, else
// empty). Reads str keys and float values through the C API (no temporary strings): the dict path
// is what a ranking service calls for every candidate.
template <class F>
void dict_features(const py::dict& namespaces, NamespaceMemo& memo, F&& f) {
  py::object hold_ns;
  py::object hold_name;
  PyObject* key;
  PyObject* feats;
  Py_ssize_t at = 0;
  // (counted: PyDict_Next's last call, which finds nothing, scans the rest of the table)
  for (Py_ssize_t left = PyDict_GET_SIZE(namespaces.ptr());
       left > 0 && PyDict_Next(namespaces.ptr(), &at, &key, &feats); --left) {
    if (key != memo.key.ptr()) {
      const std::string_view ns = text_of(key, hold_ns);
      memo.slot = ns.empty() ? static_cast<unsigned char>(' ') : static_cast<unsigned char>(ns[0]);
      memo.hash = ns.empty() ? 0u : hash_namespace(ns);
      memo.name = ns;
      // remembered only for a str (a view into another object's str() dies with hold_ns)
      memo.key = PyUnicode_Check(key) ? py::reinterpret_borrow<py::object>(key) : py::object();
    }
    const std::string_view ns = memo.name;
    const unsigned char slot = memo.slot;
    const uint32_t ns_hash = memo.hash;
    auto add = [&](PyObject* name_obj, PyObject* value) {
      if (value != nullptr && PyUnicode_Check(value)) {
        py::object hold_text;
        const std::string_view name = text_of(name_obj, hold_name);
        const std::string_view text = text_of(value, hold_text);
        f(slot, hash_string(text, hash_string(name, ns_hash)), 1.f, ns, name, text);
        return;
      }
      float x = 1.f;
      py::object keep;
      if (value != nullptr) {
        if (PyFloat_CheckExact(value)) {
          x = static_cast<float>(PyFloat_AS_DOUBLE(value));
        } else {  // float() may run Python code that changes the dict: the name stays alive
          keep = py::reinterpret_borrow<py::object>(name_obj);
          const double d = PyFloat_AsDouble(value);
          if (d == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            const std::string_view name = text_of(name_obj, hold_name);
            raise_error("feature '" + std::string(name) + "' in namespace '" + std::string(ns) +
                            "': a value is a number (or a str: a text feature), not " + Py_TYPE(value)->tp_name,
                        PyExc_TypeError);
          }
          x = static_cast<float>(d);
        }
      }
      const std::string_view name = text_of(name_obj, hold_name);
      if (!std::isfinite(x)) non_finite(name, ns);
      if (x != 0.f) f(slot, hash_feature(name, ns_hash), x, ns, name, std::string_view());
    };
    const py::object keep_feats = py::reinterpret_borrow<py::object>(feats);  // (the same)
    if (PyDict_Check(feats)) {
      PyObject* name;
      PyObject* value;
      Py_ssize_t pos = 0;
      for (Py_ssize_t left_f = PyDict_GET_SIZE(feats); left_f > 0 && PyDict_Next(feats, &pos, &name, &value); --left_f)
        add(name, value);
    } else if (PyUnicode_Check(feats)) {
      add(feats, nullptr);
    } else {
      for (auto name : py::handle(feats)) add(name.ptr(), nullptr);
    }
  }
}

// Builds an Example from {namespace: {feature: value} | [feature, ...]} without going through text.
void example_from_dict(const py::dict& namespaces, Example& ex) {
  NamespaceMemo memo;
  dict_features(namespaces, memo,
                [&](unsigned char slot, uint32_t index, float x, std::string_view ns, std::string_view name,
                    std::string_view text) {
                  if (ex.has_names)
                    ex.add_named(slot, index, x, audit_name(ns, name, text));
                  else
                    ex.add(slot, index, x);
                });
}

py::dict without_cb(const py::dict& cfg) {
  py::dict d;
  for (auto item : cfg) {
    if (py::cast<std::string>(item.first) != "cb") d[item.first] = item.second;
  }
  return d;
}

// rank()'s per-thread scratch, reached through a function the compiler cannot see into: a
// reference bound straight to a thread_local may be re-derived (a __tls_get_addr call in a shared
// library) at every use, many times per candidate.
struct RankScratch {
  Example shared;
  CbFlatActions flat;
  CbResult result;
};
[[gnu::noinline]] RankScratch& rank_scratch() {
  thread_local RankScratch scratch;
  return scratch;
}

// A model file's bytes held by the core and exposed as a read-only buffer (no copy into bytes).
struct SerializedModel {
  std::string data;
};

class PyModel {
 public:
  explicit PyModel(const py::dict& cfg) : learner_(std::make_unique<Learner>(config_from_dict(without_cb(cfg)))) {
    if (cfg.contains("cb") && !cfg["cb"].is_none()) {
      cb_ = std::make_unique<CbLearner>(*learner_, cb_config_from_dict(cfg["cb"].cast<py::dict>()));
    }
  }
  PyModel(const PyModel& o) : learner_(std::make_unique<Learner>(*o.learner_)), stats_(o.stats_), names_(o.names_) {
    if (o.cb_) {
      cb_ = std::make_unique<CbLearner>(*o.cb_);
      cb_->rebind(*learner_);
    }
  }

  // Contextual bandits -----------------------------------------------------------------------
  bool is_cb() const { return cb_ != nullptr; }
  // One event through the cb learner. `lines`: VW text lines, or (shared dict|None, [action dicts])
  // when `dicts`. `label`: None or (action index, cost, probability). Returns (actions in VW's
  // order, their values, loss, labelled).
  py::tuple cb_event(py::object shared, const py::list& actions, bool dicts, py::object label, bool learn) {
    require_cb();
    const auto lock = learning_lock();  // one learning call at a time (cb_event_ is shared)
    CbEvent& ev = cb_event_;
    build_event(shared, actions, dicts, label, ev);
    CbResult& r = cb_result_;
    {
      py::gil_scoped_release release;
      cb_->process(ev, learn, r);
      if (r.labelled)
        stats_.weighted_labeled_examples += 1.;
      else
        stats_.weighted_unlabeled_examples += 1.;
      stats_.sum_loss += r.loss;
      stats_.sum_loss_since_last_dump += r.loss;
      stats_.total_features += r.total_features;
      ++stats_.example_number;
    }
    return result_tuple(r);
  }
  py::tuple cb_predict(py::object shared, const py::list& actions, bool dicts) const {
    require_cb();
    if (dicts && !cb_->fixed()) {
      // candidates as dicts (a ranking request): read straight into one flat buffer, prepared
      // feature by feature (no Example per candidate)
      RankScratch& scratch = rank_scratch();  // see rank_scratch()
      Example& sh = scratch.shared;
      CbFlatActions& flat = scratch.flat;
      flat.clear();
      const bool has_shared = !shared.is_none();
      NamespaceMemo memo;
      if (has_shared) {
        if (!py::isinstance<py::dict>(shared))
          throw py::type_error("the shared context is a dict {namespace: {feature: value}} or None");
        sh.clear();
        example_from_dict(py::reinterpret_borrow<py::dict>(shared), sh);
        cb_->prepare(sh);
      }
      const CbLearner& cb = *cb_;
      auto add = [&](unsigned char slot, uint32_t index, float x, std::string_view, std::string_view,
                     std::string_view) {
        if (cb.keeps(slot)) flat.add(slot, cb.spread(index), x);
      };
      for (Py_ssize_t i = 0; i < PyList_GET_SIZE(actions.ptr()); ++i) {  // (a float() may shrink the list)
        PyObject* a = PyList_GET_ITEM(actions.ptr(), i);
        if (!PyDict_Check(a)) throw py::type_error("each action is a dict {namespace: {feature: value}}");
        dict_features(py::reinterpret_borrow<py::dict>(a), memo, add);
        cb.end_flat_candidate(flat);
      }
      if (flat.size() == 0)
        throw py::value_error("an event needs at least one action (a shared line alone is not an event)");
      CbResult& r = scratch.result;
      {
        py::gil_scoped_release release;
        cb.predict_flat(has_shared ? &sh : nullptr, flat, r);
      }
      return result_tuple(r);
    }
    thread_local CbEvent ev;
    build_event(shared, actions, dicts, py::none(), ev);
    thread_local CbResult r;
    {
      py::gil_scoped_release release;
      cb_->predict_const(ev, r);
    }
    return result_tuple(r);
  }
  py::dict cb_state() const {
    require_cb();
    const CbState& s = cb_->state();
    py::dict d;
    d["event_sum"] = s.event_sum;
    d["action_sum"] = s.action_sum;
    d["counter"] = s.counter;
    d["tau"] = s.tau;
    d["rng"] = s.rng;
    d["norm_x"] = s.norm_x;
    d["total_weight"] = s.total_weight;
    return d;
  }
  void set_cb_state(const py::dict& d) {
    require_cb();
    CbState& s = cb_->state();
    auto es = d["event_sum"].cast<std::vector<uint64_t>>();
    auto as = d["action_sum"].cast<std::vector<uint64_t>>();
    if (es.size() != s.event_sum.size() || as.size() != s.action_sum.size()) {
      throw py::value_error("cb state does not fit this model's options");
    }
    s.event_sum = es;
    s.action_sum = as;
    s.counter = d["counter"].cast<uint64_t>();
    s.tau = d["tau"].cast<uint64_t>();
    s.rng = d["rng"].cast<uint64_t>();
    if (d.contains("norm_x")) {
      auto nx = d["norm_x"].cast<std::vector<double>>();
      auto tw = d["total_weight"].cast<std::vector<double>>();
      if (nx.size() != s.norm_x.size() || tw.size() != s.total_weight.size()) {
        throw py::value_error("cb state does not fit this model's options");
      }
      s.norm_x = nx;
      s.total_weight = tw;
    }
  }
  // A draw in [0, 1) from VW's merand48: from `seed` without advancing it, or from the model's
  // own generator (seeded by --random_seed), advancing it.
  float cb_draw(py::object seed) {
    require_cb();
    if (!seed.is_none()) {
      uint64_t s = seed.cast<uint64_t>();
      return merand48(s);
    }
    return merand48(cb_->state().rng);
  }

  // Single examples ------------------------------------------------------------------------
  // A single example the learner refused (it would have made weights non-finite) is an error.
  static float learned(const Outcome& o) {
    if (o.skipped != nullptr) throw std::invalid_argument(o.skipped);
    return o.output;
  }
  float learn_line(py::handle text) {
    py::object hold;
    const std::string_view line = line_arg(text, hold, "learn()");
    const auto lock = learning_lock();
    Example& ex = scratch_;
    parse_or_throw(line, ex);
    learner_->prepare(ex);
    return learned(process_example(*learner_, stats_, ex, true));
  }
  float predict_line(py::handle text) const {
    py::object hold;
    const std::string_view line = line_arg(text, hold, "predict()");
    thread_local Example ex;
    parse_or_throw(line, ex);
    learner_->prepare(ex);
    return learner_->predict_const(ex);
  }
  float learn_dict(const py::dict& ns, py::object label, float weight, float initial) {
    const auto lock = learning_lock();
    Example& ex = scratch_;
    fill_dict(ns, label, weight, initial, ex);
    return learned(process_example(*learner_, stats_, ex, true));
  }
  float predict_dict(const py::dict& ns, float initial) const {
    thread_local Example ex;
    fill_dict(ns, py::none(), 1.f, initial, ex);
    return learner_->predict_const(ex);
  }

  // Batches --------------------------------------------------------------------------------
  py::dict run_fd(int fd, const py::dict& opts) {
    RunOptions o = run_options(opts);
    const SignalWatch watch;
    o.interrupt = watch.flag();
    RunResult r;
    {
      py::gil_scoped_release release;
      std::unique_lock<std::recursive_mutex> lock(learning_, std::defer_lock);
      if (o.learn || o.account || cb_) lock.lock();  // pure linear predictions run alongside learning
      r = cb_ ? run_cb_fd(*cb_, stats_, fd, o) : wabbit::run_fd(*learner_, stats_, fd, o);
    }
    SignalWatch::after(r);
    return result_to_dict(std::move(r), o.collect);
  }
  py::dict run_buffer(const py::buffer& data, const py::dict& opts) {
    RunOptions o = run_options(opts);
    const py::buffer_info info = data.request();
    const std::string_view view(static_cast<const char*>(info.ptr), static_cast<size_t>(info.size * info.itemsize));
    const SignalWatch watch;
    o.interrupt = watch.flag();
    RunResult r;
    {
      py::gil_scoped_release release;
      std::unique_lock<std::recursive_mutex> lock(learning_, std::defer_lock);
      if (o.learn || o.account || cb_) lock.lock();  // pure linear predictions run alongside learning
      r = cb_ ? run_cb_buffer(*cb_, stats_, view, o) : wabbit::run_buffer(*learner_, stats_, view, o);
    }
    SignalWatch::after(r);
    return result_to_dict(std::move(r), o.collect);
  }
  // Pre-hashed CSR rows, read in place (the arrays must stay alive and unchanged during the call).
  py::dict run_csr(const CArray<uint32_t>& indices, const CArray<float>& values, const CArray<int64_t>& indptr,
                   const py::object& labels, const py::object& weights, const py::dict& opts) {
    RunOptions o = run_options(opts);
    if (indices.ndim() != 1 || values.ndim() != 1 || indptr.ndim() != 1) {
      throw py::value_error("CSR arrays (indices, values, row offsets) must be one-dimensional");
    }
    if (indices.size() != values.size()) {
      throw py::value_error("CSR indices and values differ in length: " + std::to_string(indices.size()) + " vs " +
                            std::to_string(values.size()));
    }
    if (indptr.size() < 1) throw py::value_error("CSR row offsets need at least one entry (0)");
    CsrInput in;
    in.indices = indices.data();
    in.values = values.data();
    in.indptr = indptr.data();
    in.rows = static_cast<size_t>(indptr.size() - 1);
    if (in.indptr[0] != 0 || in.indptr[in.rows] > static_cast<int64_t>(indices.size())) {
      throw py::value_error("CSR row offsets must start at 0 and end within the indices (last offset " +
                            std::to_string(in.indptr[in.rows]) + ", " + std::to_string(indices.size()) + " indices)");
    }
    CArray<float> y, w;
    auto per_row = [&](const py::object& arr, CArray<float>& out, const char* what) -> const float* {
      if (arr.is_none()) return nullptr;
      out = CArray<float>::ensure(arr);
      if (!out || out.ndim() != 1 || static_cast<size_t>(out.size()) != in.rows) {
        throw py::value_error(std::string(what) + " must be a 1-d array with one number per row (" +
                              std::to_string(in.rows) + ")");
      }
      return out.data();
    };
    in.labels = per_row(labels, y, "labels");
    in.weights = per_row(weights, w, "weights");
    py::array_t<float> preds;
    if (o.collect) {
      preds = py::array_t<float>(static_cast<py::ssize_t>(in.rows));
      in.predictions = preds.mutable_data();
    }
    o.collect = false;
    const SignalWatch watch;
    o.interrupt = watch.flag();
    RunResult r;
    {
      py::gil_scoped_release release;
      std::unique_lock<std::recursive_mutex> lock(learning_, std::defer_lock);
      if (o.learn || o.account) lock.lock();  // pure predictions run alongside learning
      r = wabbit::run_csr(*learner_, stats_, in, o);
    }
    SignalWatch::after(r);
    py::dict d = result_to_dict(std::move(r), false);
    d["predictions"] = in.predictions != nullptr ? py::object(preds) : py::object(py::none());
    return d;
  }
  // Why these run options would run on one thread despite "threads" (None if they would not).
  py::object parallel_blocker(const py::dict& opts) {
    if (cb_) return py::str("a contextual-bandit model (its events are learned in order)");
    const char* why = wabbit::parallel_blocker(*learner_, run_options(opts));
    return why == nullptr ? py::object(py::none()) : py::object(py::str(why));
  }

  // State ----------------------------------------------------------------------------------
  py::dict stats() const { return stats_to_dict(stats_); }
  void reset_stats(double dump_interval) {
    stats_ = Stats{};
    stats_.dump_interval = dump_interval;
  }
  py::dict state() const { return state_to_dict(learner_->state()); }
  // ':' interactions: the namespace slots seen so far (what they are expanded over), None without
  // ':'. A model file keeps them, or a loaded model would predict without the interactions its
  // weights were learned with until it saw each namespace again.
  py::object wildcard_namespaces() const {
    if (!learner_->wildcards_) return py::none();
    std::string out;
    for (size_t c = 0; c < learner_->seen_.size(); ++c) {
      if (learner_->seen_[c]) out.push_back(static_cast<char>(c));
    }
    return py::bytes(out);
  }
  void observe_wildcard_namespaces(const py::bytes& slots) {
    const std::string s = slots;
    Example ex;
    for (const char c : s) ex.order.push_back(static_cast<unsigned char>(c));
    const auto lock = learning_lock();
    learner_->observe_namespaces(ex);
  }
  uint32_t bits() const { return learner_->weights().bits(); }
  float effective_learning_rate() const { return learner_->effective_learning_rate(); }
  std::vector<std::string> interactions() const {
    std::vector<std::string> out;
    for (const auto& in : learner_->interactions()) out.emplace_back(in.begin(), in.end());
    return out;
  }
  py::array_t<float> weight_row(uint32_t index) const {
    const WeightTable& W = learner_->weights();
    const float* r = W.row(index);
    return py::array_t<float>(W.stride(), r);
  }
  py::tuple nonzero_weights() const {
    const WeightTable& W = learner_->weights();
    std::vector<uint32_t> idx;
    std::vector<float> val;
    {
      py::gil_scoped_release release;
      for (uint64_t r = 0; r < W.rows(); ++r) {
        const float w = learner_->effective_weight(W.data() + (r << W.stride_shift()));
        if (w != 0.f) {
          idx.push_back(static_cast<uint32_t>(r));
          val.push_back(w);
        }
      }
    }
    return py::make_tuple(py::array_t<uint32_t>(idx.size(), idx.data()), py::array_t<float>(val.size(), val.data()));
  }

  // Seeing inside -------------------------------------------------------------------------
  py::list explain_line(py::handle text) const {
    Example ex;
    py::object hold;
    const std::string_view line = line_arg(text, hold, "explain()");
    const ParseResult pr = parse_vw_line(line, ex, true);
    if (pr.status == ParseStatus::kError) raise_error(pr.error);
    learner_->prepare(ex);
    return contributions(ex);
  }
  py::list explain_dict(const py::dict& ns, float initial) const {
    Example ex;
    ex.has_names = true;
    example_from_dict(ns, ex);
    if (!std::isfinite(initial)) throw py::value_error("initial must be a finite number");
    ex.initial = initial;
    learner_->prepare(ex);
    return contributions(ex);
  }
  py::str readable(const std::string& version, const std::string& args, bool invert, bool predict_only) const {
    std::string text;
    {
      py::gil_scoped_release release;
      text = readable_model(*learner_, invert ? &names_ : nullptr, predict_only, args, version);
    }
    return text_to_py(text);  // names as read from the input: not necessarily UTF-8
  }
  size_t named_rows() const { return names_.size(); }

  RunOptions run_options(const py::dict& opts) {
    RunOptions o = run_options_from_dict(opts, &names_, &signals_);
    if (opts.contains("shadow") && !opts["shadow"].is_none()) {
      PyModel& other = opts["shadow"].cast<PyModel&>();
      if (&other == this) throw py::value_error("a model cannot shadow itself");
      o.shadow = other.learner_.get();
    }
    return o;
  }

  // Monitoring and responses ---------------------------------------------------------------
  py::dict take_signals() {
    py::dict d;
    d["label"] = py::array_t<float>(signals_.label.size(), signals_.label.data());
    d["prediction"] = py::array_t<float>(signals_.prediction.size(), signals_.prediction.data());
    d["loss"] = py::array_t<float>(signals_.loss.size(), signals_.loss.data());
    d["shadow_prediction"] = py::array_t<float>(signals_.shadow_prediction.size(), signals_.shadow_prediction.data());
    d["shadow_loss"] = py::array_t<float>(signals_.shadow_loss.size(), signals_.shadow_loss.data());
    signals_.clear();
    return d;
  }
  void reset_learner() {
    learner_->reset();
    if (cb_) cb_ = std::make_unique<CbLearner>(*learner_, cb_->config());
  }
  // Held by every call that learns (runs release the GIL first): one learning call at a time;
  // recursive so that a run's own hooks may learn. Predictions never take it.
  std::unique_lock<std::recursive_mutex> learning_lock() {
    std::unique_lock<std::recursive_mutex> lock(learning_, std::try_to_lock);
    if (!lock.owns_lock()) {
      py::gil_scoped_release release;
      lock.lock();
    }
    return lock;
  }
  void set_rate_factor(float f) { learner_->set_rate_factor(f); }
  float rate_factor() const { return learner_->rate_factor(); }
  // Exchanges what the two models have learned (weights and online state), not their statistics.
  // In place: a run in progress on either model goes on with the exchanged contents.
  void swap_learner(PyModel& other) {
    if (&other == this) return;
    learner_->swap(*other.learner_);
  }
  Learner* learner() { return learner_.get(); }

  // Model file -----------------------------------------------------------------------------
  // The model file's bytes. A learning run in another thread is not waited for: then the rows are
  // read once each as the run goes on (as a snapshot copies them), which is self-consistent; when
  // no run holds the learning lock it is taken, so no single learn() lands halfway.
  py::bytes to_bytes(const std::string& version, const std::string& args, const std::string& metadata,
                     bool predict_only) {
    std::string s;
    {
      py::gil_scoped_release release;
      std::unique_lock<std::recursive_mutex> lock(learning_, std::try_to_lock);
      s = serialize_model(*learner_, version, args, metadata, predict_only);
    }
    return py::bytes(s);
  }
  // The same bytes without a copy into a Python bytes object (save() verifies and writes them).
  std::shared_ptr<SerializedModel> serialize(const std::string& version, const std::string& args,
                                             const std::string& metadata, bool predict_only) {
    auto out = std::make_shared<SerializedModel>();
    py::gil_scoped_release release;
    std::unique_lock<std::recursive_mutex> lock(learning_, std::try_to_lock);
    out->data = serialize_model(*learner_, version, args, metadata, predict_only);
    return out;
  }
  // Serializes, verifies that the bytes load back, then writes them atomically.
  void save(const std::string& path, const std::string& version, const std::string& args, const std::string& metadata,
            bool predict_only) {
    py::gil_scoped_release release;
    std::string s;
    {
      std::unique_lock<std::recursive_mutex> lock(learning_, std::try_to_lock);
      s = serialize_model(*learner_, version, args, metadata, predict_only);
    }
    verify_model(s);
    write_file_atomic(path, s);
  }
  void install(const std::shared_ptr<LoadedModel>& m) {
    py::gil_scoped_release release;
    install_weights(*m, *learner_);
  }

 private:
  void require_cb() const {
    if (!cb_) throw py::type_error("this model is not a contextual bandit (use --cb_adf, --cb_explore_adf, ...)");
  }
  static py::tuple result_tuple(const CbResult& r) {
    return py::make_tuple(py::array_t<uint32_t>(r.action.size(), r.action.data()),
                          py::array_t<float>(r.value.size(), r.value.data()), r.loss, r.labelled);
  }
  // Builds an event from text lines or dicts (needs the GIL); throws ValueError naming the line.
  void build_event(const py::object& shared, const py::list& actions, bool dicts, const py::object& label,
                   CbEvent& ev) const {
    ev.clear();
    if (dicts && cb_->fixed()) {
      throw py::type_error("with --cb K an event is a text line (\"action:cost:probability |ns features\")");
    }
    if (dicts) {
      if (!shared.is_none()) {
        ev.shared.clear();
        example_from_dict(shared.cast<py::dict>(), ev.shared);
        cb_->prepare(ev.shared);
        ev.has_shared = true;
      }
      for (auto a : actions) {
        if (!py::isinstance<py::dict>(a)) throw py::type_error("each action is a dict {namespace: {feature: value}}");
        Example& ex = ev.add_action();
        ex.clear();
        example_from_dict(py::reinterpret_borrow<py::dict>(a), ex);
        cb_->prepare(ex);
      }
    } else if (cb_->fixed()) {
      thread_local Example scratch;
      if (py::len(actions) != 1) {
        throw py::value_error("with --cb K an event is one line (the example), got " +
                              std::to_string(py::len(actions)));
      }
      const std::string_view line =
          one_line(py::cast<std::string_view>(actions[0]), "a --cb K event", "pass several events to learn_many()");
      CbLineLabel lab;
      const ParseResult pr = parse_cb_line(line, scratch, lab);
      if (pr.status == ParseStatus::kError) raise_error("line 1: " + pr.error);
      cb_->prepare(scratch);
      const std::string err = cb_->expand_fixed(scratch, lab, ev);
      if (!err.empty()) throw py::value_error("line 1: " + err);
    } else {
      size_t no = 0;
      thread_local Example scratch;
      for (auto item : actions) {
        ++no;
        const std::string_view line = one_line(py::cast<std::string_view>(item), "each item of an event",
                                               "pass the event's lines as a list, or as one string");
        CbLineLabel lab;
        const ParseResult pr = parse_cb_line(line, scratch, lab);
        if (pr.status == ParseStatus::kError) raise_error("line " + std::to_string(no) + ": " + pr.error);
        if (pr.status == ParseStatus::kBlank || line.find_first_not_of(" \t") == std::string_view::npos) {
          throw py::value_error("line " + std::to_string(no) + ": blank line inside an event");
        }
        if (lab.shared) {
          if (ev.n > 0 || ev.has_shared)
            throw py::value_error("line " + std::to_string(no) + ": a shared line must come first, once");
          swap_examples(ev.shared, scratch);
          cb_->prepare(ev.shared);
          ev.has_shared = true;
          continue;
        }
        if (lab.labelled) {
          if (ev.label_index >= 0) {
            throw py::value_error("line " + std::to_string(no) + ": a second labelled action in one event");
          }
          ev.label_index = static_cast<int>(ev.n);
          ev.label = lab.cost;
          ev.label.action = static_cast<uint32_t>(ev.n);
        }
        Example& ex = ev.add_action();
        swap_examples(ex, scratch);
        cb_->prepare(ex);
      }
    }
    if (!label.is_none()) {
      const py::tuple t = label.cast<py::tuple>();
      if (t.size() != 3) throw py::value_error("label is (action_index, cost, probability)");
      const long long idx = t[0].cast<long long>();
      const float cost = t[1].cast<float>();
      const float prob = t[2].cast<float>();
      if (ev.label_index >= 0)
        throw py::value_error("the event's text already has a labelled action; pass label= or a cost, not both");
      if (idx < 0 || static_cast<size_t>(idx) >= ev.n) {
        throw py::value_error("label action index " + std::to_string(idx) + " is not an action of this event (it has " +
                              std::to_string(ev.n) + ")");
      }
      if (!std::isfinite(cost)) throw py::value_error("label cost must be a finite number");
      if (!(prob > 0.f && prob <= 1.f))
        throw py::value_error("label probability must be in (0, 1], got " + std::to_string(prob));
      ev.label_index = static_cast<int>(idx);
      ev.label = CbCost{static_cast<uint32_t>(idx), cost, prob};
    }
    const std::string why = cb_->check(ev);
    if (!why.empty()) throw py::value_error(why);
  }

  static void parse_or_throw(std::string_view line, Example& ex) {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    const ParseResult pr = parse_vw_line(line, ex);
    if (pr.status == ParseStatus::kError) raise_error(pr.error);
  }
  void fill_dict(const py::dict& ns, const py::object& label, float weight, float initial, Example& ex) const {
    ex.clear();
    example_from_dict(ns, ex);
    if (!label.is_none()) {
      const double d = PyFloat_AsDouble(label.ptr());
      if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        raise_error(std::string("label must be a number (or None: unlabelled), not ") + Py_TYPE(label.ptr())->tp_name,
                    PyExc_TypeError);
      }
      const auto y = static_cast<float>(d);
      if (!std::isfinite(y)) throw py::value_error("label must be a finite number");
      ex.label = y;
    }
    if (!std::isfinite(weight) || weight < 0.f) throw py::value_error("weight must be a finite number >= 0");
    if (!std::isfinite(initial)) throw py::value_error("initial must be a finite number");
    ex.weight = weight;
    ex.initial = initial;
    learner_->prepare(ex);
  }

  py::list contributions(const Example& ex) const {
    py::list out;
    for (const Contribution& c : explain(*learner_, ex))
      out.append(py::make_tuple(text_to_py(c.name), c.index, c.value, c.weight));
    return out;
  }

  std::unique_ptr<Learner> learner_;
  std::recursive_mutex learning_;
  std::unique_ptr<CbLearner> cb_;
  CbEvent cb_event_;
  CbResult cb_result_;
  Stats stats_;
  Example scratch_;
  NameMap names_;
  Signals signals_;
};

py::tuple loaded_to_tuple(std::shared_ptr<LoadedModel> m) {
  const ModelHeader& h = m->header;
  py::dict d;
  d["format_version"] = h.format_version;
  d["wabbit_version"] = h.wabbit_version;
  d["args"] = h.args;
  d["metadata"] = h.metadata;
  d["bits"] = h.bits;
  d["stride"] = h.stride;
  d["predict_only"] = h.predict_only;
  d["state"] = state_to_dict(h.state);
  uint32_t crc = 0;  // the file's stored CRC-32 (checked on parse): identifies the file in lineage
  std::memcpy(&crc, m->bytes.data() + m->bytes.size() - 4, 4);
  d["checksum"] = crc;
  return py::make_tuple(d, std::move(m));
}

py::tuple read_model(py::bytes data) {
  std::string s = data;
  std::shared_ptr<LoadedModel> m;
  {
    py::gil_scoped_release release;
    m = std::make_shared<LoadedModel>(parse_model(std::move(s)));
  }
  return loaded_to_tuple(std::move(m));
}

py::tuple read_model_file(const std::string& path) {
  std::shared_ptr<LoadedModel> m;
  {
    py::gil_scoped_release release;
    m = std::make_shared<LoadedModel>(parse_model(read_file(path)));
  }
  return loaded_to_tuple(std::move(m));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "wabbit's compiled core";
  g_main_thread = py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>();
  m.attr("MAX_THREADS") = kMaxThreads;
  py::register_exception<ModelError>(m, "ModelError", PyExc_ValueError);
  py::register_exception<StrictParseError>(m, "ParseError", PyExc_ValueError);
  py::register_exception<TableAllocError>(m, "TableAllocError", PyExc_MemoryError);
  // The two types, kept for the life of the process (a translator has no module to look them up in).
  static PyObject* const model_error = py::object(m.attr("ModelError")).release().ptr();
  static PyObject* const parse_error = py::object(m.attr("ParseError")).release().ptr();
  // (tried before the translators above: their PyErr_SetString could turn a message into a
  // UnicodeDecodeError; set_error decodes it safely)
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const StrictParseError& e) {
      set_error(parse_error, e.message);
    } catch (const ModelError& e) {
      set_error(model_error, e.what());
    } catch (const py::value_error& e) {
      set_error(PyExc_ValueError, e.what());
    } catch (const IoError& e) {
      // OSError(errno, message[, filename]) picks the subclass (FileNotFoundError, ...) from errno.
      py::object err =
          e.path.empty()
              ? py::reinterpret_steal<py::object>(PyObject_CallFunction(PyExc_OSError, "is", e.error, e.what()))
              : py::reinterpret_steal<py::object>(
                    PyObject_CallFunction(PyExc_OSError, "iss", e.error, e.what(), e.path.c_str()));
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(err.ptr())), err.ptr());
    }
  });

  m.def("hash_namespace", [](std::string_view s) { return hash_namespace(s); }, py::arg("name"));
  m.def(
      "hash_feature", [](std::string_view s, uint32_t ns) { return hash_feature(s, ns); }, py::arg("name"),
      py::arg("namespace_hash"));
  m.def("murmur3_32", [](py::bytes b, uint32_t seed) {
    const std::string s = b;
    return murmur3_x86_32(s.data(), s.size(), seed);
  });
  // What the text reader makes of one line: (status, error, label, weight, base, tag, [(slot, index,
  // value), ...] in namespace order, whether the fast path read it). `general`: the general reader
  // only, without the fast path.
  m.def(
      "parse_line",
      [](py::bytes b, bool general) {
        const std::string s = b;
        Example ex;
        const ParseResult pr = general ? parse_vw_line_general(s, ex) : parse_vw_line(s, ex);
        Example probe;
        const bool fast = !general && parse_vw_line_fast(s, probe);
        py::list feats;
        for (unsigned char slot : ex.order) {
          const FeatureGroup& g = ex.groups[slot];
          for (size_t k = 0; k < g.size(); ++k) feats.append(py::make_tuple(slot, g.index[k], g.value[k]));
        }
        const char* status =
            pr.status == ParseStatus::kExample ? "example" : (pr.status == ParseStatus::kBlank ? "blank" : "error");
        return py::make_tuple(status, py::bytes(pr.error), ex.label, ex.weight, ex.initial, py::bytes(ex.tag), feats,
                              fast);
      },
      py::arg("line"), py::arg("general") = false);
  // A calibration loop for bench/bench_suite.py: what a second thread gets out of this machine.
  // "alu": eight independent chains of additions (throughput-bound, as parsing is); "latency": one
  // chain of dependent multiplications (as a pointer chase). Returns a checksum; runs without the GIL.
  m.def(
      "_spin",
      [](const std::string& kind, uint64_t n) {
        if (kind != "alu" && kind != "latency") throw py::value_error("kind is 'alu' or 'latency'");
        py::gil_scoped_release release;
        if (kind == "latency") {
          uint64_t h = 1;
          for (uint64_t i = 0; i < n; ++i) {
            h = h * 0x9E3779B97F4A7C15ull + i;
            asm volatile("" : "+r"(h));
          }
          return h;
        }
        uint64_t a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, g = 7, h = 8;
        for (uint64_t i = 0; i < n; ++i) {
          a += i;
          b ^= i;
          c += a;
          d ^= b;
          e += c;
          f ^= d;
          g += e;
          h ^= f;
          asm volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e), "+r"(f), "+r"(g), "+r"(h));
        }
        return a + b + c + d + e + f + g + h;
      },
      py::arg("kind"), py::arg("n"));
  m.def("crc32", [](py::bytes b) {
    const std::string s = b;
    return crc32(s.data(), s.size());
  });
  m.def(
      "sample_pmf", [](const std::vector<float>& pmf, float draw) { return sample_pmf(pmf, draw); }, py::arg("pmf"),
      py::arg("draw"));
  m.def("read_model", &read_model);
  // A serialized model file held by the core, readable as a buffer (memoryview, bytes(...)).
  py::class_<SerializedModel, std::shared_ptr<SerializedModel>>(m, "SerializedModel", py::buffer_protocol())
      .def_buffer([](SerializedModel& s) {
        return py::buffer_info(s.data.data(), 1, py::format_descriptor<uint8_t>::format(), 1,
                               {static_cast<py::ssize_t>(s.data.size())}, {static_cast<py::ssize_t>(1)}, true);
      })
      .def("__len__", [](const SerializedModel& s) { return s.data.size(); });
  // The loader's checks on bytes about to be saved (ModelError if they would not load back).
  m.def(
      "verify_model",
      [](const py::buffer& data) {
        const py::buffer_info info = data.request();
        const std::string_view view(static_cast<const char*>(info.ptr), static_cast<size_t>(info.size * info.itemsize));
        py::gil_scoped_release release;
        verify_model(view);
      },
      py::arg("data"));
  // Writes bytes atomically and durably (temporary file, fsync, rename, fsync of the folder).
  m.def(
      "write_file_atomic",
      [](const std::string& path, const py::buffer& data) {
        const py::buffer_info info = data.request();
        const std::string_view view(static_cast<const char*>(info.ptr), static_cast<size_t>(info.size * info.itemsize));
        py::gil_scoped_release release;
        write_file_atomic(path, view);
      },
      py::arg("path"), py::arg("data"));
  m.def("read_model_file", &read_model_file);
  m.attr("MODEL_FORMAT_VERSION") = kModelFormatVersion;

  py::class_<LoadedModel, std::shared_ptr<LoadedModel>>(m, "LoadedModel");

  py::class_<PyModel>(m, "Model")
      .def(py::init<const py::dict&>())
      .def("copy", [](const PyModel& self) { return PyModel(self); })
      .def("is_cb", &PyModel::is_cb)
      .def("cb_event", &PyModel::cb_event)
      .def("cb_predict", &PyModel::cb_predict)
      .def("cb_state", &PyModel::cb_state)
      .def("set_cb_state", &PyModel::set_cb_state)
      .def("cb_draw", &PyModel::cb_draw)
      .def("learn_line", &PyModel::learn_line)
      .def("predict_line", &PyModel::predict_line)
      .def("learn_dict", &PyModel::learn_dict)
      .def("predict_dict", &PyModel::predict_dict)
      .def("run_fd", &PyModel::run_fd)
      .def("run_buffer", &PyModel::run_buffer)
      .def("run_csr", &PyModel::run_csr)
      .def("parallel_blocker", &PyModel::parallel_blocker)
      .def("stats", &PyModel::stats)
      .def("reset_stats", &PyModel::reset_stats)
      .def("state", &PyModel::state)
      .def("wildcard_namespaces", &PyModel::wildcard_namespaces)
      .def("observe_wildcard_namespaces", &PyModel::observe_wildcard_namespaces)
      .def("bits", &PyModel::bits)
      .def("effective_learning_rate", &PyModel::effective_learning_rate)
      .def("interactions", &PyModel::interactions)
      .def("weight_row", &PyModel::weight_row)
      .def("nonzero_weights", &PyModel::nonzero_weights)
      .def("explain_line", &PyModel::explain_line)
      .def("explain_dict", &PyModel::explain_dict)
      .def("readable_model", &PyModel::readable)
      .def("named_rows", &PyModel::named_rows)
      .def("take_signals", &PyModel::take_signals)
      .def("reset_learner", &PyModel::reset_learner)
      .def("set_rate_factor", &PyModel::set_rate_factor)
      .def("rate_factor", &PyModel::rate_factor)
      .def("swap_learner", &PyModel::swap_learner)
      .def("to_bytes", &PyModel::to_bytes)
      .def("serialize", &PyModel::serialize)
      .def("save", &PyModel::save)
      .def("install", &PyModel::install);

  bind_drift(m);
}
