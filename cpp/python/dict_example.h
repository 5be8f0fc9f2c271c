// The dict input format: {namespace: {feature: value}} to an Example, hashed as VW hashes the text.
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
    const std::string k = py::cast<std::string>(item.first);
    if (k != "cb" && k != "mc") d[item.first] = item.second;
  }
  return d;
}

}  // namespace
