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
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>

#include "cb/cb.h"
#include "core/hash.h"
#include "core/learner.h"
#include "formats/model_io.h"
#include "formats/vw_text.h"
#include "multiclass/config.h"
#include "python/text.h"
#include "run/audit.h"
#include "run/driver.h"

namespace py = pybind11;
using namespace wabbit;

namespace {

// A C-contiguous array of T: passed through without a copy when the caller's array already is one.
template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// One config field from its Python value, by the field's type (the fields are listed once, in
// core/config.h and cb/config.h): numbers and flags cast, enums by name, namespace masks from bytes.
template <class T>
void field_from_py(std::string_view key, py::handle v, T& out) {
  if constexpr (std::is_enum_v<T>) {
    const std::string s = py::cast<std::string>(v);
    const auto names = enum_names(T{});
    const auto it = std::find(names.begin(), names.end(), s);
    if (it == names.end()) throw py::value_error("unknown " + std::string(key) + ": " + s);
    out = static_cast<T>(it - names.begin());
  } else if constexpr (std::is_same_v<T, NamespaceMask>) {
    const std::string bytes = py::cast<py::bytes>(v);
    for (unsigned char ch : bytes) out[ch] = true;
  } else {
    out = py::cast<T>(v);
  }
}

// The Python value of one config field: the inverse of field_from_py. A float is the shortest
// decimal that reads back as the same float32 (0.05f is 0.05 here, not 0.05000000074505806), so
// Python shows and compares the declared defaults as written.
template <class T>
py::object field_to_py(const T& v) {
  if constexpr (std::is_enum_v<T>) {
    return py::str(std::string(enum_names(T{})[static_cast<size_t>(v)]));
  } else if constexpr (std::is_same_v<T, NamespaceMask>) {
    std::string bytes;
    for (size_t ch = 0; ch < v.size(); ++ch) {
      if (v[ch]) bytes.push_back(static_cast<char>(ch));
    }
    return py::bytes(bytes);
  } else if constexpr (std::is_same_v<T, float>) {
    char buf[32];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    return py::float_(std::strtod(std::string(buf, res.ptr).c_str(), nullptr));
  } else {
    return py::cast(v);
  }
}

// A config struct from a dict keyed by the fields' keys; a missing key keeps the field's default.
template <class C>
C config_struct_from_dict(const py::dict& d, const char* what) {
  C c;
  for (auto item : d) {
    const std::string k = py::cast<std::string>(item.first);
    bool known = false;
    for_each_field(c, [&](std::string_view key, auto& field) {
      if (key != k) return;
      field_from_py(key, item.second, field);
      known = true;
    });
    if (!known) throw py::value_error(std::string("unknown ") + what + " option: " + k);
  }
  return c;
}

template <class C>
py::dict config_struct_to_dict(const C& c) {
  py::dict d;
  for_each_field(c,
                 [&](std::string_view key, const auto& field) { d[py::str(std::string(key))] = field_to_py(field); });
  return d;
}

Config config_from_dict(const py::dict& d) { return config_struct_from_dict<Config>(d, "core"); }
CbConfig cb_config_from_dict(const py::dict& d) { return config_struct_from_dict<CbConfig>(d, "cb"); }
McConfig mc_config_from_dict(const py::dict& d) { return config_struct_from_dict<McConfig>(d, "mc"); }

// The declared defaults of every config field (core/config.h, cb/config.h): what wabbit/options.py
// applies when a flag is not given, so that no default number is written twice.
py::dict config_defaults() {
  py::dict d = config_struct_to_dict(Config{});
  d["cb"] = config_struct_to_dict(CbConfig{});
  d["mc"] = config_struct_to_dict(McConfig{});
  return d;
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
  d["current_pass"] = s.current_pass;
  d["holdout_on"] = s.holdout_on;
  d["weighted_holdout_examples"] = s.weighted_holdout_examples;
  d["holdout_sum_loss"] = s.holdout_sum_loss;
  d["holdout_best_loss"] = s.holdout_best_loss;  // FLT_MAX: none yet, FLT_MAX / 2: passes without a holdout
  d["holdout_best_pass"] = s.holdout_best_pass;
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
    else if (k == "input_format")
      o.format = static_cast<InputFormat>(std::clamp(py::cast<int>(v), 0, 2));
    else if (k == "chain_hash")
      o.chain_hash = py::cast<bool>(v);
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
    else if (k == "audit_notices")
      o.audit_notices = py::cast<bool>(v);
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
    else if (k == "passes")
      o.passes.passes = py::cast<uint64_t>(v);
    else if (k == "holdout")
      o.passes.holdout = py::cast<bool>(v);
    else if (k == "holdout_period")
      o.passes.holdout_period = py::cast<uint64_t>(v);
    else if (k == "holdout_after")
      o.passes.holdout_after = py::cast<uint64_t>(v);
    else if (k == "early_terminate")
      o.passes.early_terminate = py::cast<uint64_t>(v);
    else if (k == "decay_learning_rate")
      o.passes.decay = py::cast<float>(v);
    else if (k == "cache_read")
      o.passes.cache_read = py::cast<std::string>(v);
    else if (k == "cache_write")
      o.passes.cache_write = py::cast<std::string>(v);
    else if (k == "source_path")
      o.passes.source_path = py::cast<std::string>(v);
    else if (k == "hook") {
      if (!v.is_none()) {
        auto fn = std::make_shared<py::function>(py::reinterpret_borrow<py::function>(v));
        o.hook = [fn](uint64_t n) {
          py::gil_scoped_acquire gil;
          (*fn)(n);
        };
      }
    } else if (k == "raw_fd") {
      // read by the multiclass run (-r)
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
  py::list notes;
  for (const std::string& w : r.notes) notes.append(text_to_py(w));
  d["notes"] = notes;
  d["predictions_error"] = r.predictions_error;
  d["audit_error"] = r.audit_error;
  d["passes"] = r.passes;
  d["early_terminated"] = r.early_terminated;
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
