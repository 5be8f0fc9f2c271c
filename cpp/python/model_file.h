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

py::tuple loaded_to_tuple(std::shared_ptr<LoadedModel> m) {
  const ModelHeader& h = m->header;
  py::dict d;
  d["format_version"] = h.format_version;
  d["wabbit_version"] = h.wabbit_version;
  d["args"] = h.args;
  d["metadata"] = h.metadata;
  d["bits"] = h.bits;
  d["stride"] = h.stride;
  d["predict_only"] = h.predict_only;
  d["state"] = state_to_dict(h.state);
  uint32_t crc = 0;  // the file's stored CRC-32 (checked on parse): identifies the file in lineage
  std::memcpy(&crc, m->bytes.data() + m->bytes.size() - 4, 4);
  d["checksum"] = crc;
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
