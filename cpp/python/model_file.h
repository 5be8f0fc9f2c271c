// Reading model files for Python: the header as a dict, the parsed model kept in the core.
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
#include "python/convert.h"
#include "run/audit.h"
#include "run/driver.h"

namespace py = pybind11;
using namespace wabbit;

namespace {

// The header of a parsed model as a dict (the one place Python reads a model file's fields from).
py::dict header_to_dict(const ModelHeader& h) {
  py::dict d;
  d["format_version"] = h.format_version;
  d["wabbit_version"] = h.wabbit_version;
  d["args"] = h.args;
  d["metadata"] = h.metadata;
  d["bits"] = h.bits;
  d["stride"] = h.stride;
  d["predict_only"] = h.predict_only;
  d["state"] = state_to_dict(h.state);
  d["checksum"] = h.checksum;  // the stored CRC-32 (checked on parse): identifies the file in lineage
  // Format 2 on: the resolved configuration the core stored (None in older files).
  if (h.has_config) {
    py::dict cfg = config_struct_to_dict(h.config);
    cfg["cb"] = h.has_cb ? py::object(config_struct_to_dict(h.cb)) : py::object(py::none());
    d["config"] = cfg;
  } else {
    d["config"] = py::none();
  }
  d["has_cb_state"] = h.has_cb;
  return d;
}

py::tuple loaded_to_tuple(std::shared_ptr<LoadedModel> m) {
  py::dict d = header_to_dict(m->header);
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
