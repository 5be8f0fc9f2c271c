// Model.run_frame: a data frame's columns (numpy buffers, read in place) learned or predicted by the
// core's frame loop (run/frame.h), with no Python and no string per row. wabbit/frames.py turns
// pandas, pyarrow and polars columns into the buffers this takes. Part of the bindings' one
// translation unit (included by cpp/python/module.cc only).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <string_view>
#include <vector>

#include "formats/columns.h"
#include "python/convert.h"
#include "python/py_model.h"
#include "run/frame.h"

namespace py = pybind11;
using namespace wabbit;

namespace {

// The element type of a one-dimensional C-contiguous numpy array (TypeError for any other).
ColumnType column_type(const py::array& a, const std::string& what) {
  const py::dtype dt = a.dtype();
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'f' && size == 8) return ColumnType::kF64;
  if (kind == 'f' && size == 4) return ColumnType::kF32;
  if (kind == 'b' && size == 1) return ColumnType::kBool;
  if (kind == 'i') {
    if (size == 8) return ColumnType::kI64;
    if (size == 4) return ColumnType::kI32;
    if (size == 2) return ColumnType::kI16;
    if (size == 1) return ColumnType::kI8;
  }
  if (kind == 'u') {
    if (size == 8) return ColumnType::kU64;
    if (size == 4) return ColumnType::kU32;
    if (size == 2) return ColumnType::kU16;
    if (size == 1) return ColumnType::kU8;
  }
  throw py::type_error(what + ": a column of numbers is float64, float32, (unsigned) integers or bool, not " +
                       py::str(static_cast<py::object>(dt)).cast<std::string>());
}

// A column's buffer checked (one dimension, one entry a row, C-contiguous) and borrowed; `keep`
// holds the arrays for the call.
NumberBuffer number_buffer(const py::handle& values, const py::handle& nulls, size_t rows, const std::string& what,
                           std::vector<py::object>& keep) {
  NumberBuffer b;
  auto check = [&](const py::array& a, const char* part) {
    if (a.ndim() != 1 || static_cast<size_t>(a.shape(0)) != rows) {
      throw py::value_error(what + ": " + part + " must be one-dimensional with one entry a row (" +
                            std::to_string(rows) + ")");
    }
    if (!(a.flags() & py::array::c_style)) throw py::value_error(what + ": " + part + " must be C-contiguous");
  };
  if (!py::isinstance<py::array>(values)) throw py::type_error(what + ": the values must be a numpy array");
  const auto v = py::reinterpret_borrow<py::array>(values);
  check(v, "the values");
  b.type = column_type(v, what);
  b.data = v.data();
  keep.push_back(v);
  if (!nulls.is_none()) {
    if (!py::isinstance<py::array>(nulls)) throw py::type_error(what + ": the null mask must be a numpy array");
    const auto m = py::reinterpret_borrow<py::array>(nulls);
    check(m, "the null mask");
    if (m.dtype().itemsize() != 1 || (m.dtype().kind() != 'b' && m.dtype().kind() != 'u')) {
      throw py::type_error(what + ": the null mask must be bool (True: null)");
    }
    b.nulls = static_cast<const uint8_t*>(m.data());
    keep.push_back(m);
  }
  return b;
}

// columns: [(namespace, column, values, nulls or None, categories or None)]: a number column, or
// with categories (a list of str) a category column whose values are integer codes into them.
// label, weight: (values, nulls or None) or None.
py::dict model_run_frame(PyModel& model, const py::list& columns, const py::object& label, const py::object& weight,
                         size_t rows, const py::dict& opts) {
  RunOptions o = model.run_options(opts);
  FrameInput in;
  in.rows = rows;
  std::vector<py::object> keep;
  in.columns.reserve(columns.size());
  for (const py::handle item : columns) {
    const auto t = item.cast<py::tuple>();
    if (t.size() != 5) throw py::value_error("a frame column is (namespace, column, values, nulls, categories)");
    const std::string ns = t[0].cast<std::string>();
    const std::string name = t[1].cast<std::string>();
    const std::string what = "column \"" + name + "\"";
    NumberBuffer b = number_buffer(t[2], t[3], rows, what, keep);
    if (t[4].is_none()) {
      in.columns.push_back(number_column(ns, name, b));
      continue;
    }
    if (b.type == ColumnType::kF64 || b.type == ColumnType::kF32 || b.type == ColumnType::kBool) {
      throw py::type_error(what + ": category codes must be integers");
    }
    const auto cats = t[4].cast<py::list>();
    std::vector<std::string_view> values;
    values.reserve(cats.size());
    for (const py::handle c : cats) {
      if (!PyUnicode_Check(c.ptr())) throw py::type_error(what + ": categories must be str");
      Py_ssize_t n = 0;
      const char* s = PyUnicode_AsUTF8AndSize(c.ptr(), &n);
      if (s == nullptr) throw py::error_already_set();
      values.emplace_back(s, static_cast<size_t>(n));  // (the list holds the strings for the call)
    }
    in.columns.push_back(category_column(ns, name, values, b));
  }
  auto per_row = [&](const py::object& spec, const char* what) {
    if (spec.is_none()) return NumberBuffer{};
    const auto t = spec.cast<py::tuple>();
    if (t.size() != 2) throw py::value_error(std::string(what) + " is (values, nulls)");
    return number_buffer(t[0], t[1], rows, what, keep);
  };
  in.label = per_row(label, "the label column");
  in.weight = per_row(weight, "the weight column");
  py::array_t<float> preds;
  if (o.collect) {
    preds = py::array_t<float>(static_cast<py::ssize_t>(rows));
    in.predictions = preds.mutable_data();
  }
  o.collect = false;
  RunResult r = model.run_rows(o, [&](Learner& learner, Stats& stats, const RunOptions& ro) {
    return wabbit::run_frame(learner, stats, in, ro);
  });
  py::dict d = result_to_dict(std::move(r), false);
  d["predictions"] = in.predictions != nullptr ? py::object(preds) : py::object(py::none());
  return d;
}

}  // namespace
