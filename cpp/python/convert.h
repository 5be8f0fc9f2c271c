// Plain conversions between Python dicts and the core's structs: configs, statistics, run options, results.
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
#include "core/hash.h"
#include "core/learner.h"
#include "formats/model_io.h"
#include "formats/vw_text.h"
#include "python/text.h"
#include "run/audit.h"
#include "run/driver.h"

namespace py = pybind11;
using namespace wabbit;

namespace {

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

}  // namespace
