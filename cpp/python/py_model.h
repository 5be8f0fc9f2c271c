// The Model class the Python package wraps: a Learner (and a CbLearner for bandits) behind the GIL rules.
// Part of the bindings' one translation unit (included by cpp/python/module.cc only), so the
// helpers stay in an anonymous namespace.
#pragma once

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

#include "cb/cb.h"
#include "cb/run.h"
#include "core/hash.h"
#include "core/learner.h"
#include "formats/model_io.h"
#include "formats/vw_json.h"
#include "formats/vw_model.h"
#include "formats/vw_text.h"
#include "multiclass/run.h"
#include "python/convert.h"
#include "python/dict_example.h"
#include "python/model_file.h"
#include "python/signal_watch.h"
#include "python/text.h"
#include "run/audit.h"
#include "run/driver.h"

namespace py = pybind11;
using namespace wabbit;

namespace {

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
    if (cfg.contains("mc") && !cfg["mc"].is_none()) {
      mc_ = std::make_unique<McLearner>(*learner_, mc_config_from_dict(cfg["mc"].cast<py::dict>()));
    }
  }
  PyModel(const PyModel& o)
      : learner_(std::make_unique<Learner>(*o.learner_)),
        stats_(o.stats_),
        input_format_(o.input_format_),
        chain_hash_(o.chain_hash_),
        names_(o.names_) {
    if (o.cb_) {
      cb_ = std::make_unique<CbLearner>(*o.cb_);
      cb_->rebind(*learner_);
    }
    if (o.mc_) {
      mc_ = std::make_unique<McLearner>(*o.mc_);
      mc_->rebind(*learner_);
    }
  }

  // Multiclass (--oaa, --csoaa) --------------------------------------------------------------
  bool is_mc() const { return mc_ != nullptr; }
  py::dict mc_state() const {
    require_mc();
    const McState& s = mc_->state();
    py::dict d;
    d["indexing"] = s.indexing;
    d["norm_x"] = s.norm_x;
    d["total_weight"] = s.total_weight;
    d["log_loss"] = s.log_loss;
    return d;
  }
  void set_mc_state(const py::dict& d) {
    require_mc();
    McState s;
    s.indexing = d["indexing"].cast<uint32_t>();
    s.norm_x = d["norm_x"].cast<std::vector<double>>();
    s.total_weight = d["total_weight"].cast<std::vector<double>>();
    if (d.contains("log_loss")) s.log_loss = d["log_loss"].cast<double>();
    if (s.indexing > 2 || s.norm_x.size() != mc_->classes() || s.total_weight.size() != mc_->classes()) {
      throw py::value_error("multiclass state does not fit this model's options");
    }
    mc_->state() = std::move(s);
  }
  void require_mc() const {
    if (!mc_) throw py::value_error("not a multiclass model (--oaa, --csoaa)");
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
      if (r.skipped == nullptr) count_cb_event(stats_, r);
    }
    if (r.skipped != nullptr) throw std::invalid_argument(r.skipped);  // the event changed nothing
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
      if (flat.size() == 0) throw py::value_error(kNoActionMessage);
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
  // learn_line() for each of lines[start:], without a Python call per line: the same parse and
  // the same update, in order. Stops at the first line learn_line() would refuse with a ValueError
  // or TypeError (malformed, not text, or an update refused as non-finite), which changes nothing.
  // Returns (the predictions of the lines learned, float32; the index of the refused line, or
  // len(lines) when all were learned; the refusal's message, or None).
  py::tuple learn_lines(const py::list& lines, size_t start) {
    const size_t n = lines.size();
    if (start > n) throw py::value_error("start is beyond the lines");
    py::array_t<float> out(static_cast<py::ssize_t>(n - start));
    float* p = out.mutable_data();
    size_t i = start;
    py::object why = py::none();
    {
      const auto lock = learning_lock();
      for (; i < n; ++i) {
        try {
          py::object hold;
          const std::string_view line = line_arg(lines[i], hold, "learn()");
          Example& ex = scratch_;
          parse_or_throw(line, ex);
          learner_->prepare(ex);
          p[i - start] = learned(process_example(*learner_, stats_, ex, true));
        } catch (py::error_already_set& e) {
          if (!e.matches(PyExc_ValueError) && !e.matches(PyExc_TypeError)) throw;
          why = py::str(e.value());
          break;
        } catch (const py::value_error& e) {
          why = py::str(e.what());
          break;
        } catch (const py::type_error& e) {
          why = py::str(e.what());
          break;
        } catch (const std::invalid_argument& e) {
          why = py::str(e.what());
          break;
        }
      }
    }
    out.resize({static_cast<py::ssize_t>(i - start)});
    return py::make_tuple(out, i, why);
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
    const int raw_fd = opts.contains("raw_fd") ? opts["raw_fd"].cast<int>() : -1;
    const SignalWatch watch;
    o.interrupt = watch.flag();
    RunResult r;
    {
      py::gil_scoped_release release;
      std::unique_lock<std::recursive_mutex> lock(learning_, std::defer_lock);
      if (o.learn || o.account || cb_ || mc_) lock.lock();  // pure linear predictions run alongside learning
      if (mc_)
        r = run_mc_fd(*mc_, stats_, fd, o, raw_fd);
      else
        r = cb_ ? run_cb_fd(*cb_, stats_, fd, o) : wabbit::run_fd(*learner_, stats_, fd, o);
    }
    SignalWatch::after(r);
    return result_to_dict(std::move(r), o.collect);
  }
  py::dict run_buffer(const py::buffer& data, const py::dict& opts) {
    RunOptions o = run_options(opts);
    const int raw_fd = opts.contains("raw_fd") ? opts["raw_fd"].cast<int>() : -1;
    const py::buffer_info info = data.request();
    const std::string_view view(static_cast<const char*>(info.ptr), static_cast<size_t>(info.size * info.itemsize));
    const SignalWatch watch;
    o.interrupt = watch.flag();
    RunResult r;
    {
      py::gil_scoped_release release;
      std::unique_lock<std::recursive_mutex> lock(learning_, std::defer_lock);
      if (o.learn || o.account || cb_ || mc_) lock.lock();  // pure linear predictions run alongside learning
      if (mc_)
        r = run_mc_buffer(*mc_, stats_, view, o, raw_fd);
      else
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
  // A run over rows another binding prepared (python/frame_bindings.h): run(learner, stats, options)
  // without the GIL, under the learning lock when it learns (pure predictions run alongside).
  template <class Run>
  RunResult run_rows(RunOptions& o, Run&& run) {
    const SignalWatch watch;
    o.interrupt = watch.flag();
    RunResult r;
    {
      py::gil_scoped_release release;
      std::unique_lock<std::recursive_mutex> lock(learning_, std::defer_lock);
      if (o.learn || o.account) lock.lock();
      r = run(*learner_, stats_, static_cast<const RunOptions&>(o));
    }
    SignalWatch::after(r);
    return r;
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
    if (!learner_->has_wildcards()) return py::none();
    std::string out;
    const auto& seen = learner_->seen_namespaces();
    for (size_t c = 0; c < seen.size(); ++c) {
      if (seen[c]) out.push_back(static_cast<char>(c));
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

  // The whole weight table as a writable float32 array of shape (rows, stride), without a copy
  // (wabbit.distributed averages it in place). The array keeps the Python model alive, but not its
  // table: it is valid only until the model's table is replaced (reset_learner, swap_learner,
  // install, load) and must not be read or written while the model learns on another thread.
  static py::array weight_table(const py::object& self) {
    PyModel& m = self.cast<PyModel&>();
    WeightTable& W = m.learner_->weights();
    const auto rows = static_cast<py::ssize_t>(W.rows());
    const auto stride = static_cast<py::ssize_t>(W.stride());
    const auto item = static_cast<py::ssize_t>(sizeof(float));
    return py::array(py::dtype::of<float>(), {rows, stride}, {stride * item, item}, W.data(), self);
  }
  // What each column of weight_table() holds for this model's update rule: {"rule": ..., "stride":
  // ..., "slots": {name: column}}. Rules: "adaptive" (VW's default: weight, adaptive = sum of
  // squared gradients, normalized = largest |x| seen, spare = scratch rate), "gd" (no adaptive
  // column: --sgd, or --normalized/--invariant alone), "ftrl" (weight, z, n), "classic" (weight).
  py::dict table_layout() const {
    const Config& c = learner_->config();
    const WeightTable& W = learner_->weights();
    py::dict slots;
    slots["weight"] = 0;
    std::string rule;
    if (c.classic_rule != 0) {
      rule = "classic";
    } else if (c.ftrl) {
      rule = "ftrl";
      slots["z"] = 1;
      slots["n"] = 2;
    } else {
      rule = c.adaptive ? "adaptive" : "gd";
      const int adaptive = c.adaptive ? 1 : 0;
      if (c.adaptive) slots["adaptive"] = 1;
      if (c.normalized) slots["normalized"] = adaptive + 1;
      if (c.adaptive || c.normalized) slots["spare"] = c.normalized ? adaptive + 2 : 2;
    }
    py::dict d;
    d["rule"] = rule;
    d["stride"] = W.stride();
    d["rows"] = W.rows();
    d["slots"] = slots;
    d["l1_l2_pending"] = learner_->state().gravity != 0. || learner_->state().contraction != 1.;
    return d;
  }
  // Replaces the online state's numbers named in d (the keys state() gives; others are refused).
  void set_state(const py::dict& d) {
    const auto lock = learning_lock();
    OnlineState s = learner_->state();
    for (auto item : d) {
      const std::string k = py::cast<std::string>(item.first);
      if (k == "t")
        s.t = py::cast<double>(item.second);
      else if (k == "normalized_sum_norm_x")
        s.normalized_sum_norm_x = py::cast<double>(item.second);
      else if (k == "total_weight")
        s.total_weight = py::cast<double>(item.second);
      else if (k == "weighted_unlabeled")
        s.weighted_unlabeled = py::cast<double>(item.second);
      else if (k == "min_label")
        s.min_label = py::cast<float>(item.second);
      else if (k == "max_label")
        s.max_label = py::cast<float>(item.second);
      else
        throw py::value_error("set_state: unknown online state '" + k + "'");
    }
    learner_->state() = s;
  }
  // VW's sync_weights: pending lazy L1/L2 applied to the stored weights; and its end of a pass.
  void sync_weights() {
    const auto lock = learning_lock();
    py::gil_scoped_release release;
    learner_->sync_weights();
  }
  void end_pass(float decay) {
    const auto lock = learning_lock();
    learner_->end_pass(decay);
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
      text = readable_model(*learner_, invert ? &names_ : nullptr, predict_only, args, version, &stats_);
    }
    return text_to_py(text);  // names as read from the input: not necessarily UTF-8
  }
  size_t named_rows() const { return names_.size(); }

  // --json/--dsjson (and --chain_hash): how this model reads text given to learn(), predict() and the
  // batch calls (a run's "input_format" option overrides it).
  void set_input_format(int format, bool chain_hash) {
    input_format_ = static_cast<InputFormat>(std::clamp(format, 0, 2));
    chain_hash_ = chain_hash;
  }
  int input_format() const { return static_cast<int>(input_format_); }
  bool chain_hash() const { return chain_hash_; }

  RunOptions run_options(const py::dict& opts) {
    RunOptions o = run_options_from_dict(opts, &names_, &signals_);
    if (!opts.contains("input_format")) {
      o.format = input_format_;
      if (!opts.contains("chain_hash")) o.chain_hash = chain_hash_;
    }
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
    if (mc_) mc_ = std::make_unique<McLearner>(*learner_, mc_->config());
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
  const Learner& learner_ref() const { return *learner_; }
  CbLearner* cb() { return cb_.get(); }
  const CbLearner* cb() const { return cb_.get(); }

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
      s = serialize_model(*learner_, version, args, metadata, predict_only, bandit_section(), mc_section());
    }
    return py::bytes(s);
  }
  // The same bytes without a copy into a Python bytes object (save() verifies and writes them).
  std::shared_ptr<SerializedModel> serialize(const std::string& version, const std::string& args,
                                             const std::string& metadata, bool predict_only) {
    auto out = std::make_shared<SerializedModel>();
    py::gil_scoped_release release;
    std::unique_lock<std::recursive_mutex> lock(learning_, std::try_to_lock);
    out->data = serialize_model(*learner_, version, args, metadata, predict_only, bandit_section(), mc_section());
    return out;
  }
  // Serializes, verifies that the bytes load back, then writes them atomically.
  void save(const std::string& path, const std::string& version, const std::string& args, const std::string& metadata,
            bool predict_only) {
    py::gil_scoped_release release;
    std::string s;
    {
      std::unique_lock<std::recursive_mutex> lock(learning_, std::try_to_lock);
      s = serialize_model(*learner_, version, args, metadata, predict_only, bandit_section(), mc_section());
    }
    verify_model(s);
    write_file_atomic(path, s);
  }
  // The weights and online state, and (format 2 on) a bandit's state. A format-1 file's bandit
  // state comes from its metadata (set_cb_state).
  void install(const std::shared_ptr<LoadedModel>& m) {
    py::gil_scoped_release release;
    if (mc_ && m->header.has_mc) {
      McState fresh = mc_->state();
      install_mc_state(*m, fresh);  // checks the shapes before anything changes
      install_weights(*m, *learner_);
      mc_->state() = std::move(fresh);
      return;
    }
    if (cb_ && m->header.has_cb) {
      CbState fresh = cb_->state();
      install_cb_state(*m, fresh);  // checks the shapes before anything changes
      install_weights(*m, *learner_);
      cb_->state() = std::move(fresh);
      return;
    }
    install_weights(*m, *learner_);
  }

  // The body of a VW model file (formats/vw_model.h), read against this model's configuration.
  py::dict install_vw(const std::shared_ptr<VwModel>& m) {
    VwBody body;
    {
      py::gil_scoped_release release;
      body = cb_ ? install_vw_model(*m, *learner_, &cb_->config(), &cb_->state()) : install_vw_model(*m, *learner_);
    }
    return vw_body_to_dict(body);
  }

 private:
  BanditSection bandit_section() const {
    if (!cb_) return {};
    return {&cb_->config(), &cb_->state()};
  }
  McSection mc_section() const {
    if (!mc_) return {};
    return {&mc_->config(), &mc_->state()};
  }
  void require_cb() const {
    if (!cb_) throw py::type_error("this model is not a contextual bandit (use --cb_adf, --cb_explore_adf, ...)");
  }
  static py::tuple result_tuple(const CbResult& r) {
    return py::make_tuple(py::array_t<uint32_t>(r.action.size(), r.action.data()),
                          py::array_t<float>(r.value.size(), r.value.data()), r.loss, r.labelled);
  }
  // Builds an event from text lines or dicts (needs the GIL) with the core's one event builder
  // (cb/event.h): the CLI's rules and messages; throws ValueError naming the line.
  void build_event(const py::object& shared, const py::list& actions, bool dicts, const py::object& label,
                   CbEvent& ev) const {
    if (dicts && cb_->fixed()) {
      throw py::type_error("with --cb K an event is a text line (\"action:cost:probability |ns features\")");
    }
    thread_local CbEventBuilder builder;  // reused: its scratch example keeps its storage
    builder.use(cb_.get());
    builder.begin(ev);
    if (dicts) {
      if (!shared.is_none()) {
        Example& sh = builder.shared_example(ev);
        example_from_dict(shared.cast<py::dict>(), sh);
        builder.added(sh);
      }
      for (auto a : actions) {
        if (!py::isinstance<py::dict>(a)) throw py::type_error("each action is a dict {namespace: {feature: value}}");
        Example& ex = builder.action_example(ev);
        ex.clear();
        example_from_dict(py::reinterpret_borrow<py::dict>(a), ex);
        builder.added(ex);
      }
    } else if (input_format_ != InputFormat::kText) {  // --json, --dsjson: an event is one line
      if (py::len(actions) != 1) {
        throw py::value_error("with --json/--dsjson an event is one line (one JSON object), got " +
                              std::to_string(py::len(actions)) + " lines");
      }
      const std::string_view line =
          one_line(py::cast<std::string_view>(actions[0]), "a JSON event", "pass several events to learn_many()");
      const int r = parse_json_event(line, 1, builder, ev, cb_->fixed(), json_options());
      if (r < 0) raise_error(builder.error());
      if (r == 0) throw py::value_error("the JSON line holds no event to learn (blank, _skipLearn, or no \"a\")");
      if (!label.is_none()) {
        const py::tuple t = label.cast<py::tuple>();
        if (t.size() != 3) throw py::value_error("label is (action_index, cost, probability)");
        if (!builder.set_label(ev, t[0].cast<long long>(), t[1].cast<float>(), t[2].cast<float>()))
          raise_error(builder.error());
        if (!builder.end(ev)) raise_error(builder.error());
      }
      return;
    } else if (cb_->fixed()) {
      if (py::len(actions) != 1) {
        throw py::value_error("with --cb K an event is one line (the example), got " +
                              std::to_string(py::len(actions)));
      }
      const std::string_view line =
          one_line(py::cast<std::string_view>(actions[0]), "a --cb K event", "pass several events to learn_many()");
      if (!builder.fixed_line(ev, line, 1)) raise_error(builder.error());
    } else {
      uint64_t no = 0;
      for (auto item : actions) {
        ++no;
        const std::string_view line = one_line(py::cast<std::string_view>(item), "each item of an event",
                                               "pass the event's lines as a list, or as one string");
        const bool ok = line.find_first_not_of(" \t") == std::string_view::npos ? builder.blank_line(no)
                                                                                : builder.line(ev, line, no);
        if (!ok) raise_error(builder.error());
      }
    }
    if (!label.is_none()) {
      const py::tuple t = label.cast<py::tuple>();
      if (t.size() != 3) throw py::value_error("label is (action_index, cost, probability)");
      if (!builder.set_label(ev, t[0].cast<long long>(), t[1].cast<float>(), t[2].cast<float>()))
        raise_error(builder.error());
    }
    if (!builder.end(ev)) raise_error(builder.error());
  }

  JsonOptions json_options() const { return JsonOptions{input_format_ == InputFormat::kDsJson, chain_hash_, false}; }
  void parse_or_throw(std::string_view line, Example& ex) const {
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
    const ParseResult pr =
        input_format_ == InputFormat::kText ? parse_vw_line(line, ex) : parse_json_example(line, ex, json_options());
    if (pr.status == ParseStatus::kError) raise_error(pr.error);
    if (pr.stray_nul != std::string_view::npos) {  // read as VW reads it; VW warns
      if (PyErr_WarnEx(PyExc_UserWarning, stray_nul_note(line, pr.stray_nul).c_str(), 1) != 0)
        throw py::error_already_set();
    }
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
  std::unique_ptr<McLearner> mc_;
  CbEvent cb_event_;
  CbResult cb_result_;
  Stats stats_;
  Example scratch_;
  InputFormat input_format_ = InputFormat::kText;
  bool chain_hash_ = false;
  NameMap names_;
  Signals signals_;
};

// Off-policy evaluation's reader (wabbit.ope): one logged event checked by the event builder
// without a learner, so a log is refused with the CLI's rules and words. `lines`: the event's
// lines, the first numbered first_line. None for an event without a label, else (action index,
// cost, probability, actions, index of the labelled line, that line without its label, the label
// word: a reader that wants the numbers at double precision reads them from it).
py::object cb_logged_event(const py::list& lines, uint64_t first_line) {
  thread_local CbEventBuilder builder;
  thread_local CbEvent ev;
  builder.use(nullptr);
  builder.begin(ev);
  size_t label_line = 0;
  std::string stripped;
  std::string word;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = py::cast<std::string_view>(lines[i]);
    const uint64_t no = first_line + i;
    const bool ok =
        line.find_first_not_of(" \t") == std::string_view::npos ? builder.blank_line(no) : builder.line(ev, line, no);
    if (!ok) raise_error(builder.error());
    const CbLineLabel& lab = builder.last_label();
    if (lab.labelled) {  // the label word and the spaces after it go
      size_t end = lab.word_end;
      while (end < line.size() && line[end] == ' ') ++end;
      label_line = i;
      stripped.assign(line.substr(0, lab.word_begin));
      stripped.append(line.substr(end));
      word.assign(line.substr(lab.word_begin, lab.word_end - lab.word_begin));
    }
  }
  if (!builder.end(ev)) raise_error(builder.error());
  if (ev.label_index < 0) return py::none();
  return py::make_tuple(ev.label_index, ev.label.cost, ev.label.probability, ev.n, label_line, stripped, word);
}

}  // namespace
