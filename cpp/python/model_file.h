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
#include "formats/vw_model.h"
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
    cfg["mc"] = h.has_mc ? py::object(config_struct_to_dict(h.mc)) : py::object(py::none());
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

// A VW model file (formats/vw_model.h): its header as a dict and the parsed file, whose body a
// model built from the header's options installs (PyModel::install_vw). Detected by its first bytes.
py::tuple read_vw_model_file(const std::string& path) {
  std::shared_ptr<VwModel> m;
  {
    py::gil_scoped_release release;
    m = std::make_shared<VwModel>(parse_vw_model(read_file(path)));
  }
  py::dict d;
  d["format"] = "vw";
  d["vw_version"] = m->version;
  d["id"] = m->id;
  d["min_label"] = m->min_label;
  d["max_label"] = m->max_label;
  d["bits"] = m->bits;
  d["lda"] = m->lda;
  d["ngram"] = m->ngrams;
  d["skips"] = m->skips;
  d["options"] = m->options;
  d["vw_checksum"] = m->checksum;
  d["checksum"] = m->file_crc;  // the file's identity, as a wabbit file's CRC-32
  return py::make_tuple(d, std::move(m));
}

py::dict vw_body_to_dict(const VwBody& b) {
  py::dict d;
  d["resume"] = b.resume;
  d["initial_t"] = b.initial_t;
  d["t"] = b.t;
  d["normalized_sum_norm_x"] = b.normalized_sum_norm_x;
  d["total_weight"] = b.total_weight;
  d["gravity"] = b.gravity;
  d["contraction"] = b.contraction;
  d["example_number"] = b.example_number;
  d["weighted_labeled_examples"] = b.weighted_labeled_examples;
  d["sum_loss"] = b.sum_loss;
  d["floats_per_row"] = b.floats_per_row;
  d["rows"] = b.rows;
  return d;
}

}  // namespace
