// pybind11 glue for cpp/drift/ (one header per detector): the submodule wabbit._core.drift, one
// class per detector. The Python classes in python/wabbit/drift/ wrap these; everything here is
// thin. Each default is the C++ Params default (spelled once, in the detector's header).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "drift/drift.h"

namespace wabbit {

namespace drift_bindings {

namespace py = pybind11;
using Values = py::array_t<double, py::array::c_style | py::array::forcecast>;

inline py::array_t<int64_t> to_array(const std::vector<int64_t>& v) {
  return py::array_t<int64_t>(static_cast<py::ssize_t>(v.size()), v.data());
}

// update() and drift_detected are called once per value from Python loops, where pybind11's
// dispatcher would cost more than the detector itself; they are plain CPython descriptors
// (METH_FASTCALL method, getset) on the bound class instead.
template <class D>
D* native(PyObject* self) {
  auto* inst = reinterpret_cast<py::detail::instance*>(self);
  if (inst->simple_layout) return static_cast<D*>(inst->simple_value_holder[0]);  // null before __init__
  try {
    return py::cast<D*>(py::handle(self));
  } catch (const std::exception&) {
    return nullptr;
  }
}

template <class D>
PyObject* fast_update(PyObject* self, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  const Py_ssize_t nkw = kwnames == nullptr ? 0 : PyTuple_GET_SIZE(kwnames);
  if (nargs + nkw != 1 || (nkw == 1 && PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "x") != 0)) {
    PyErr_SetString(PyExc_TypeError, "update() takes one value, x");
    return nullptr;
  }
  const double x = PyFloat_AsDouble(args[0]);
  if (x == -1.0 && PyErr_Occurred()) return nullptr;
  if (!std::isfinite(x)) {
    PyErr_Format(PyExc_ValueError, "drift detectors take finite numbers, got %R", args[0]);
    return nullptr;
  }
  D* d = native<D>(self);
  if (d == nullptr) {
    PyErr_SetString(PyExc_TypeError, "the detector was not initialised (__init__ was not called)");
    return nullptr;
  }
  try {
    return PyBool_FromLong(d->update(x));
  } catch (const std::bad_alloc&) {
    return PyErr_NoMemory();
  }
}

template <class D>
PyObject* fast_drift_detected(PyObject* self, void*) {
  D* d = native<D>(self);
  if (d == nullptr) {
    PyErr_SetString(PyExc_TypeError, "the detector was not initialised (__init__ was not called)");
    return nullptr;
  }
  return PyBool_FromLong(d->drift_detected());
}

// The methods every detector has (see the interface in drift/detector.h); a detector with a
// warning zone also gets warning_detected and update_many(..., return_warnings=True).
template <class D>
py::class_<D> bind_detector(py::module_& m, const char* name, bool has_warning) {
  py::class_<D> c(m, name);
  static PyMethodDef update_def = {
      "update", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&fast_update<D>)),
      METH_FASTCALL | METH_KEYWORDS, "update(x) -> bool\n\nUpdate with one value; True when drift is detected at it."};
  static PyGetSetDef drift_detected_def = {"drift_detected", &fast_drift_detected<D>, nullptr,
                                           "Whether the last value raised an alarm.", nullptr};
  auto* type = reinterpret_cast<PyTypeObject*>(c.ptr());
  PyObject* update = PyDescr_NewMethod(type, &update_def);
  PyObject* drift_detected = PyDescr_NewGetSet(type, &drift_detected_def);
  if (update == nullptr || drift_detected == nullptr) throw py::error_already_set();
  c.attr("update") = py::reinterpret_steal<py::object>(update);
  c.attr("drift_detected") = py::reinterpret_steal<py::object>(drift_detected);
  c.def("reset", &D::reset, "Forget the stream; keep the parameters.")
      .def("_state", &D::state)
      .def("_set_state", &D::set_state, py::arg("state"));
  if (has_warning) {
    c.def(
         "update_many",
         [](D& d, const Values& values, bool return_warnings) -> py::object {
           if (values.ndim() != 1) throw py::value_error("update_many takes a 1-D array of values");
           std::vector<int64_t> drifts, warnings;
           {
             py::gil_scoped_release release;
             drift::run_many(d, values.data(), static_cast<size_t>(values.shape(0)), drifts,
                             return_warnings ? &warnings : nullptr);
           }
           if (return_warnings) return py::make_tuple(to_array(drifts), to_array(warnings));
           return to_array(drifts);
         },
         py::arg("values"), py::arg("return_warnings") = false,
         "Update with each value in turn; the indices of the alarms (and, with return_warnings=True,\n"
         "also those of the values that left the detector in its warning zone, as a second array).")
        .def_property_readonly("warning_detected", &D::warning_detected,
                               "Whether the last value left the detector in its warning zone.");
  } else {
    c.def(
        "update_many",
        [](D& d, const Values& values) {
          if (values.ndim() != 1) throw py::value_error("update_many takes a 1-D array of values");
          std::vector<int64_t> drifts;
          {
            py::gil_scoped_release release;
            drift::run_many(d, values.data(), static_cast<size_t>(values.shape(0)), drifts, nullptr);
          }
          return to_array(drifts);
        },
        py::arg("values"), "Update with each value in turn; the indices of the values that raised an alarm.");
  }
  return c;
}

inline drift::PageHinkley::Mode page_hinkley_mode(const std::string& mode) {
  if (mode == "up") return drift::PageHinkley::Mode::kUp;
  if (mode == "down") return drift::PageHinkley::Mode::kDown;
  if (mode == "both") return drift::PageHinkley::Mode::kBoth;
  throw py::value_error("Invalid 'mode'. Valid values are: ['up', 'down', 'both']");
}

}  // namespace drift_bindings

// Adds the submodule `drift` to the extension module.
inline void bind_drift(pybind11::module_& m) {
  namespace py = pybind11;
  using namespace drift;
  using drift_bindings::bind_detector;
  py::module_ d = m.def_submodule("drift", "drift detectors (cpp/drift/)");

  bind_detector<Adwin>(d, "ADWIN", false)
      .def(py::init(
               [](double delta, int64_t clock, int64_t max_buckets, int64_t min_window_length, int64_t grace_period) {
                 return Adwin(Adwin::Params{delta, clock, max_buckets, min_window_length, grace_period});
               }),
           py::arg("delta") = Adwin::Params{}.delta, py::arg("clock") = Adwin::Params{}.clock,
           py::arg("max_buckets") = Adwin::Params{}.max_buckets,
           py::arg("min_window_length") = Adwin::Params{}.min_window_length,
           py::arg("grace_period") = Adwin::Params{}.grace_period)
      .def_property_readonly("width", &Adwin::width)
      .def_property_readonly("total", &Adwin::total)
      .def_property_readonly("variance", &Adwin::variance)
      .def_property_readonly("n_detections", &Adwin::n_detections);

  bind_detector<PageHinkley>(d, "PageHinkley", false)
      .def(py::init([](int64_t min_instances, double delta, double threshold, double alpha, const std::string& mode) {
             return PageHinkley(
                 PageHinkley::Params{min_instances, delta, threshold, alpha, drift_bindings::page_hinkley_mode(mode)});
           }),
           py::arg("min_instances") = PageHinkley::Params{}.min_instances,
           py::arg("delta") = PageHinkley::Params{}.delta, py::arg("threshold") = PageHinkley::Params{}.threshold,
           py::arg("alpha") = PageHinkley::Params{}.alpha, py::arg("mode") = "both");

  bind_detector<Ddm>(d, "DDM", true)
      .def(py::init([](int64_t warm_start, double warning_threshold, double drift_threshold) {
             return Ddm(Ddm::Params{warm_start, warning_threshold, drift_threshold});
           }),
           py::arg("warm_start") = Ddm::Params{}.warm_start,
           py::arg("warning_threshold") = Ddm::Params{}.warning_threshold,
           py::arg("drift_threshold") = Ddm::Params{}.drift_threshold);

  bind_detector<Eddm>(d, "EDDM", true)
      .def(py::init([](int64_t warm_start, double alpha, double beta) {
             return Eddm(Eddm::Params{warm_start, alpha, beta});
           }),
           py::arg("warm_start") = Eddm::Params{}.warm_start, py::arg("alpha") = Eddm::Params{}.alpha,
           py::arg("beta") = Eddm::Params{}.beta);

  bind_detector<HddmA>(d, "HDDMA", true)
      .def(py::init([](double drift_confidence, double warning_confidence, bool two_sided_test) {
             return HddmA(HddmA::Params{drift_confidence, warning_confidence, two_sided_test});
           }),
           py::arg("drift_confidence") = HddmA::Params{}.drift_confidence,
           py::arg("warning_confidence") = HddmA::Params{}.warning_confidence,
           py::arg("two_sided_test") = HddmA::Params{}.two_sided_test);

  bind_detector<HddmW>(d, "HDDMW", true)
      .def(py::init([](double drift_confidence, double warning_confidence, double lambda_val, bool two_sided_test) {
             return HddmW(HddmW::Params{drift_confidence, warning_confidence, lambda_val, two_sided_test});
           }),
           py::arg("drift_confidence") = HddmW::Params{}.drift_confidence,
           py::arg("warning_confidence") = HddmW::Params{}.warning_confidence,
           py::arg("lambda_val") = HddmW::Params{}.lambda_val,
           py::arg("two_sided_test") = HddmW::Params{}.two_sided_test);
}

}  // namespace wabbit
