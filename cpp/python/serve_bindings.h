// The serving engine (cpp/serve/) as wabbit._core.Server: the daemon's network side and the same
// engine's requests for the HTTP face (text, dicts, rankings), saves, hot swaps and counters.
// Part of the bindings' one translation unit (included by cpp/python/module.cc only).
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "python/dict_example.h"
#include "python/py_model.h"
#include "serve/engine.h"
#include "serve/server.h"
#include "serve/session.h"

namespace {

using wabbit::serve::Engine;
using wabbit::serve::EngineOptions;
using wabbit::serve::Kind;
using wabbit::serve::Server;
using wabbit::serve::ServerOptions;
using wabbit::serve::Version;

template <class T>
T option_or(const py::dict& d, const char* key, T fallback) {
  return d.contains(key) && !d[key].is_none() ? d[key].cast<T>() : fallback;
}

class PyServer {
 public:
  PyServer(const PyModel& model, const py::dict& opts, const std::string& version, const std::string& args,
           const std::string& metadata)
      : like_(std::make_unique<PyModel>(model)) {
    EngineOptions eo;
    eo.learn = option_or<bool>(opts, "learn", true);
    eo.publish_every = option_or<uint64_t>(opts, "publish_every", 0);
    eo.publish_seconds = option_or<double>(opts, "publish_seconds", 0.);
    eo.save_path = option_or<std::string>(opts, "save_path", "");
    eo.loss_window = option_or<size_t>(opts, "loss_window", 1000);
    eo.prediction_log = option_or<size_t>(opts, "prediction_log", 0);
    eo.format = static_cast<wabbit::InputFormat>(model.input_format());  // the model's --json/--dsjson
    eo.chain_hash = model.chain_hash();
    eo.wabbit_version = version;
    if (eo.publish_seconds < 0.) throw py::value_error("publish_seconds must be >= 0");
    so_.listen = option_or<std::string>(opts, "listen", "127.0.0.1");
    so_.port = option_or<int>(opts, "port", 26542);
    so_.threads = option_or<unsigned>(opts, "threads", 1);
    so_.max_line_bytes = option_or<size_t>(opts, "max_line_bytes", size_t{1} << 20);
    if (so_.threads == 0 || so_.threads > wabbit::kMaxThreads)
      throw py::value_error("threads must be between 1 and " + std::to_string(wabbit::kMaxThreads));
    if (so_.max_line_bytes < 64) throw py::value_error("max_line_bytes must be at least 64");
    auto v = Version::copy_of(model.learner_ref(), model.cb(), "", args, metadata);
    engine_ = std::make_unique<Engine>(std::move(v), std::move(eo));
  }
  ~PyServer() {
    py::gil_scoped_release release;
    if (server_) server_->stop(0.5);
    server_.reset();
    pool_.clear();
    engine_->shutdown();
  }

  void start() {
    py::gil_scoped_release release;
    if (!server_) server_ = std::make_unique<Server>(*engine_, so_);
    server_->start();
  }
  int port() const { return server_ ? server_->port() : 0; }
  bool running() const { return server_ && server_->running(); }
  void stop(bool save, double drain_seconds) {
    py::gil_scoped_release release;
    if (server_) server_->stop(drain_seconds);
    engine_->shutdown();
    if (save && !engine_->options().save_path.empty()) engine_->save(engine_->options().save_path);
  }

  std::string request(std::string text) {
    py::gil_scoped_release release;
    if (!text.empty() && text.back() != '\n') text.push_back('\n');
    Lease ctx(*this);
    wabbit::serve::Session session(*engine_, so_.max_line_bytes);
    std::string out;
    session.feed(*ctx, text, out);
    session.finish(*ctx, out);
    return out;
  }
  float predict_dict(const py::dict& features) {
    Example ex;
    example_from_dict(features, ex);
    py::gil_scoped_release release;
    Lease ctx(*this);
    return engine_->predict_example(*ctx, ex);
  }
  float learn_dict(const py::dict& features, float label, float weight) {
    if (!std::isfinite(label)) throw py::value_error("the label must be a finite number");
    if (!(weight >= 0.f) || !std::isfinite(weight)) throw py::value_error("the weight must be a finite number >= 0");
    Example ex;
    example_from_dict(features, ex);
    ex.label = label;
    ex.weight = weight;
    py::gil_scoped_release release;
    Lease ctx(*this);
    return engine_->learn_example(*ctx, ex);
  }
  py::tuple rank(py::object shared, const py::list& actions) {
    const std::shared_ptr<Version> v = engine_->current();
    if (!v->cb) throw py::value_error("rank needs a contextual-bandit model (--cb_adf or --cb_explore_adf)");
    if (v->cb->fixed()) throw py::value_error("rank needs an ADF model (--cb_adf, --cb_explore_adf), not --cb K");
    const CbLearner& cb = *v->cb;
    Example sh;
    CbFlatActions flat;
    const bool has_shared = !shared.is_none();
    NamespaceMemo memo;
    if (has_shared) {
      if (!py::isinstance<py::dict>(shared))
        throw py::type_error("the shared context is a dict {namespace: {feature: value}} or None");
      example_from_dict(py::reinterpret_borrow<py::dict>(shared), sh);
      cb.prepare(sh);
    }
    auto add = [&](unsigned char slot, uint32_t index, float x, std::string_view, std::string_view, std::string_view) {
      if (cb.keeps(slot)) flat.add(slot, cb.spread(index), x);
    };
    for (py::handle a : actions) {
      if (!py::isinstance<py::dict>(a)) throw py::type_error("each action is a dict {namespace: {feature: value}}");
      dict_features(py::reinterpret_borrow<py::dict>(a), memo, add);
      cb.end_flat_candidate(flat);
    }
    if (flat.size() == 0) throw py::value_error(kNoActionMessage);
    CbResult r;
    {
      py::gil_scoped_release release;
      engine_->rank(*v, has_shared ? &sh : nullptr, flat, r);
    }
    return py::make_tuple(r.action, r.value);
  }
  std::string save(const std::string& path) {
    py::gil_scoped_release release;
    const std::string where = path.empty() ? engine_->options().save_path : path;
    try {
      engine_->save(where);
    } catch (...) {
      engine_->metrics().count(Kind::kSave, false);
      throw;
    }
    engine_->metrics().count(Kind::kSave, true);
    return where;
  }
  void swap(const PyModel& model, const std::string& id, const std::string& args, const std::string& metadata) {
    py::gil_scoped_release release;
    engine_->swap(Version::copy_of(model.learner_ref(), model.cb(), id, args, metadata));
  }
  void set_candidate(const PyModel& model, const std::string& id, const std::string& args, const std::string& metadata,
                     double fraction) {
    py::gil_scoped_release release;
    engine_->set_candidate(Version::copy_of(model.learner_ref(), model.cb(), id, args, metadata), fraction);
  }
  void clear_candidate() {
    py::gil_scoped_release release;
    engine_->clear_candidate();
  }
  // The candidate becomes the served version (a swap), and the canary ends.
  std::string promote_candidate() {
    py::gil_scoped_release release;
    std::shared_ptr<Version> c = engine_->candidate();
    if (!c) throw std::runtime_error("there is no candidate to promote (set_candidate first)");
    engine_->clear_candidate();
    const std::string id = c->id;
    engine_->swap(std::move(c));
    return id;
  }
  PyModel snapshot() {
    PyModel copy(*like_);
    {
      py::gil_scoped_release release;
      const std::shared_ptr<Version> v = engine_->snapshot();
      copy.learner()->swap(*v->learner);
      if (v->cb && copy.cb() != nullptr) copy.cb()->state() = v->cb->state();
    }
    return copy;
  }
  std::string version() const { return engine_->current()->id; }
  std::vector<std::string> take_predictions(size_t max) {
    py::gil_scoped_release release;
    return engine_->prediction_log().take(max);
  }
  py::dict stats() const {
    const wabbit::serve::Metrics& m = engine_->metrics();
    py::dict d;
    py::dict req;
    const char* names[] = {"predict", "learn", "save", "rank"};
    for (size_t k = 0; k < wabbit::serve::kKinds; ++k) {
      req[py::str(std::string(names[k]) + "_ok")] = m.ok(static_cast<Kind>(k));
      req[py::str(std::string(names[k]) + "_error")] = m.errors(static_cast<Kind>(k));
    }
    d["requests"] = req;
    auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
    d["examples_learned"] = get(m.examples_learned);
    d["bytes_in"] = get(m.bytes_in);
    d["bytes_out"] = get(m.bytes_out);
    d["connections_open"] = get(m.connections_open);
    d["connections_total"] = get(m.connections_total);
    d["lines_too_long"] = get(m.lines_too_long);
    d["publishes"] = get(m.publishes);
    d["swaps"] = get(m.swaps);
    const wabbit::serve::PredictionLog& log = engine_->prediction_log();
    d["predictions_logged"] = log.logged();
    d["predictions_log_dropped"] = log.dropped();
    d["predictions_log_skipped"] = log.skipped();
    d["latency_bounds"] =
        std::vector<double>(wabbit::serve::kLatencyBounds.begin(), wabbit::serve::kLatencyBounds.end());
    d["latency_predict"] = m.predict_latency.counts();
    d["latency_learn"] = m.learn_latency.counts();
    d["latency_predict_sum"] = m.predict_latency.sum_seconds();
    d["latency_learn_sum"] = m.learn_latency.sum_seconds();
    const auto loss = m.loss.snapshot();
    d["loss_window"] = loss.window_mean;
    d["loss_window_count"] = loss.window_count;
    d["loss_total"] = loss.total;
    d["loss_count"] = loss.count;
    d["drift_alarms"] = loss.alarms;
    py::dict canary;
    const std::shared_ptr<Version> cand = engine_->candidate();
    canary["version"] = cand ? py::object(py::str(cand->id)) : py::object(py::none());
    canary["fraction"] = engine_->canary_fraction();
    canary["requests"] = get(m.canary_requests);
    const auto champ = m.canary_champion.snapshot(), cl = m.canary_candidate.snapshot();
    canary["champion_loss_window"] = champ.window_mean;
    canary["candidate_loss_window"] = cl.window_mean;
    canary["paired_count"] = cl.count;
    d["canary"] = canary;
    const std::shared_ptr<Version> v = engine_->current();
    d["version"] = v->id;
    d["version_time"] = v->created;
    return d;
  }

 private:
  // A context for one call from Python (several HTTP threads may call at once): taken from a pool.
  class Lease {
   public:
    explicit Lease(PyServer& s) : s_(s) {
      std::lock_guard<std::mutex> lock(s.pool_mu_);
      if (s.pool_.empty()) {
        ctx_ = s.engine_->make_context();
      } else {
        ctx_ = std::move(s.pool_.back());
        s.pool_.pop_back();
      }
    }
    ~Lease() {
      std::lock_guard<std::mutex> lock(s_.pool_mu_);
      s_.pool_.push_back(std::move(ctx_));
    }
    Engine::Context& operator*() { return *ctx_; }

   private:
    PyServer& s_;
    std::unique_ptr<Engine::Context> ctx_;
  };

  std::unique_ptr<PyModel> like_;  // the starting model (snapshots are copies of it with the served weights)
  ServerOptions so_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Server> server_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Engine::Context>> pool_;
};

void bind_server(py::module_& m) {
  py::class_<PyServer>(m, "Server")
      .def(py::init<const PyModel&, const py::dict&, const std::string&, const std::string&, const std::string&>(),
           py::arg("model"), py::arg("options"), py::arg("version"), py::arg("args"), py::arg("metadata"))
      .def("start", &PyServer::start)
      .def_property_readonly("port", &PyServer::port)
      .def_property_readonly("running", &PyServer::running)
      .def("stop", &PyServer::stop, py::arg("save") = false, py::arg("drain_seconds") = 5.0)
      .def("request", &PyServer::request, py::arg("text"))
      .def("predict_dict", &PyServer::predict_dict, py::arg("features"))
      .def("learn_dict", &PyServer::learn_dict, py::arg("features"), py::arg("label"), py::arg("weight") = 1.0f)
      .def("rank", &PyServer::rank, py::arg("shared"), py::arg("actions"))
      .def("save", &PyServer::save, py::arg("path") = "")
      .def("swap", &PyServer::swap, py::arg("model"), py::arg("version_id"), py::arg("args"), py::arg("metadata"))
      .def("snapshot", &PyServer::snapshot)
      .def("set_candidate", &PyServer::set_candidate, py::arg("model"), py::arg("version_id"), py::arg("args"),
           py::arg("metadata"), py::arg("fraction"))
      .def("clear_candidate", &PyServer::clear_candidate)
      .def("promote_candidate", &PyServer::promote_candidate)
      .def_property_readonly("version", &PyServer::version)
      .def("take_predictions", &PyServer::take_predictions, py::arg("max") = 10000)
      .def("stats", &PyServer::stats);
}

}  // namespace
