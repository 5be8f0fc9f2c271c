// The module wabbit._core: declarations only; each concept's glue is in its own header here.
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
#include "formats/cache.h"
#include "formats/model_io.h"
#include "formats/vw_text.h"
#include "run/audit.h"
#include "run/driver.h"

#include "python/convert.h"
#include "python/drift_bindings.h"
#include "python/frame_bindings.h"
#include "python/model_file.h"
#include "python/py_model.h"
#include "python/serve_bindings.h"
#include "python/signal_watch.h"
#include "python/text.h"

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
  m.def("crc32", [](py::bytes b) {
    const std::string s = b;
    return crc32(s.data(), s.size());
  });
  m.def("cb_logged_event", &cb_logged_event, py::arg("lines"), py::arg("first_line"),
        "One logged bandit event through the core's event builder (wabbit.ope's reader).");
  m.def(
      "sample_pmf", [](const std::vector<float>& pmf, float draw) { return sample_pmf(pmf, draw); }, py::arg("pmf"),
      py::arg("draw"));
  m.def("read_model", &read_model);
  m.def("cache_checksum", [](py::bytes b) {
    const std::string s = b;
    return cache::checksum(s.data(), s.size());
  });
  m.def(
      "check_cache",
      [](const std::string& path, const std::string& source, uint32_t input) -> py::object {
        std::string why;
        {
          py::gil_scoped_release release;
          cache::SourceId id = source.empty() ? cache::SourceId{} : cache::source_id(source);
          id.input = input;
          why = cache::check(path, id);
        }
        return why.empty() ? py::object(py::none()) : py::object(py::str(why));
      },
      py::arg("path"), py::arg("source") = "", py::arg("input") = 0,
      "Why the file at path cannot be the cache of the data file `source` (None if it can; \"\": standard input), "
      "read as `input` (0 VW text, 1 --json, 2 --dsjson; + 4 with --chain_hash).");
  m.def("config_defaults", &config_defaults);
  // A serialized model file held by the core, readable as a buffer (memoryview, bytes(...)).
  py::class_<SerializedModel, std::shared_ptr<SerializedModel>>(m, "SerializedModel", py::buffer_protocol())
      .def_buffer([](SerializedModel& s) {
        return py::buffer_info(s.data.data(), 1, py::format_descriptor<uint8_t>::format(), 1,
                               {static_cast<py::ssize_t>(s.data.size())}, {static_cast<py::ssize_t>(1)}, true);
      })
      .def("__len__", [](const SerializedModel& s) { return s.data.size(); });
  // The loader's checks on bytes about to be saved (ModelError if they would not load back); returns
  // the header, as read_model does.
  m.def(
      "verify_model",
      [](const py::buffer& data) {
        const py::buffer_info info = data.request();
        const std::string_view view(static_cast<const char*>(info.ptr), static_cast<size_t>(info.size * info.itemsize));
        ModelHeader h;
        {
          py::gil_scoped_release release;
          h = verify_model(view);
        }
        return header_to_dict(h);
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
  m.def("looks_like_vw_model", [](py::bytes head) { return looks_like_vw_model(std::string(head)); });
  m.def("read_vw_model_file", &read_vw_model_file);
  py::class_<VwModel, std::shared_ptr<VwModel>>(m, "VwModel");

  py::class_<PyModel>(m, "Model")
      .def(py::init<const py::dict&>())
      .def("copy", [](const PyModel& self) { return PyModel(self); })
      .def("is_cb", &PyModel::is_cb)
      .def("is_mc", &PyModel::is_mc)
      .def("mc_state", &PyModel::mc_state)
      .def("set_mc_state", &PyModel::set_mc_state)
      .def("cb_event", &PyModel::cb_event)
      .def("cb_predict", &PyModel::cb_predict)
      .def("cb_state", &PyModel::cb_state)
      .def("set_cb_state", &PyModel::set_cb_state)
      .def("cb_draw", &PyModel::cb_draw)
      .def("learn_line", &PyModel::learn_line)
      .def("learn_lines", &PyModel::learn_lines, py::arg("lines"), py::arg("start") = 0)
      .def("set_input_format", &PyModel::set_input_format, py::arg("format"), py::arg("chain_hash") = false)
      .def_property_readonly("input_format", &PyModel::input_format)
      .def("predict_line", &PyModel::predict_line)
      .def("learn_dict", &PyModel::learn_dict)
      .def("predict_dict", &PyModel::predict_dict)
      .def("run_fd", &PyModel::run_fd)
      .def("run_buffer", &PyModel::run_buffer)
      .def("run_csr", &PyModel::run_csr)
      .def("run_frame", &model_run_frame)
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
      .def("weight_table", &PyModel::weight_table)
      .def("table_layout", &PyModel::table_layout)
      .def("set_state", &PyModel::set_state)
      .def("sync_weights", &PyModel::sync_weights)
      .def("end_pass", &PyModel::end_pass, py::arg("decay") = 1.f)
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
      .def("install", &PyModel::install)
      .def("install_vw", &PyModel::install_vw);

  bind_drift(m);
  bind_server(m);
}
