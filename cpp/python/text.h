// Text across the boundary: C++ bytes to str that never fails, str/bytes lines to views, errors.
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
#include "run/audit.h"
#include "run/driver.h"

namespace py = pybind11;
using namespace wabbit;

namespace {

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

}  // namespace
