// The model file (format documented in docs/model-format.md).
//
// Writing is atomic and durable: a temporary file in the target's folder, fsync, rename, fsync of
// the folder. Reading checks the magic, the format version and a CRC-32 over the whole file before
// trusting a byte, and bounds every size it reads, so a corrupt file is refused with a message
// instead of crashing or allocating without limit.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cb/config.h"
#include "core/config.h"
#include "core/learner.h"
#include "multiclass/config.h"

namespace wabbit {

inline constexpr char kModelMagic[8] = {'W', 'A', 'B', 'B', 'I', 'T', 'M', '\n'};
// 2: the resolved Config, CbConfig and the bandit's state follow the header (the core alone can
// rebuild the model); 1: only the args text (the bandit's state sat in the JSON metadata).
inline constexpr uint32_t kModelFormatVersion = 2;

struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A failed system call on a file: surfaces in Python as OSError (FileNotFoundError, ...).
struct IoError : std::runtime_error {
  IoError(int err, const std::string& what, std::string file)
      : std::runtime_error(what), error(err), path(std::move(file)) {}
  int error;
  std::string path;
};

// What a model file holds besides the weights' values.
struct ModelHeader {
  uint32_t format_version = kModelFormatVersion;
  std::string wabbit_version;
  std::string args;      // the VW-style flags the model was trained with (canonical form)
  std::string metadata;  // JSON text (lineage and such); opaque here
  OnlineState state;
  // --center_features: the nonzero rows of the features' running sums (row, sum), rows ascending
  std::vector<std::pair<uint32_t, double>> feature_sums;
  uint32_t bits = 0;
  uint32_t stride = 0;  // floats per row stored in the file (1 for --predict_only_model)
  bool predict_only = false;
  uint32_t checksum = 0;  // the CRC-32 stored in the file's last 4 bytes (checked on parse)
  // Format 2 on: the resolved configuration and, for a bandit, its configuration and state.
  bool has_config = false;
  Config config;
  bool has_cb = false;
  CbConfig cb;
  CbState cb_state;
  bool has_mc = false;  // a multiclass reduction (--oaa, --csoaa): its configuration and state
  McConfig mc;
  McState mc_state;
};

// What a contextual bandit saves besides the learner (both owned by the caller).
struct BanditSection {
  const CbConfig* config = nullptr;
  const CbState* state = nullptr;
};

// What a multiclass reduction saves besides the learner (both owned by the caller).
struct McSection {
  const McConfig* config = nullptr;
  const McState* state = nullptr;
};

// A parsed model file: header plus the rows, ready to be installed in a Learner.
struct LoadedModel {
  ModelHeader header;
  std::string bytes;  // the whole file
  size_t weights_offset = 0;
  uint8_t encoding = 0;  // 0 dense, 1 sparse
  uint64_t sparse_count = 0;
};

uint32_t crc32(const void* data, size_t len, uint32_t crc = 0);

// The model file of `learner`, safe while another thread learns (each row is read once). Throws
// ModelError, writing nothing, when a number is not finite (such a file would not load back).
std::string serialize_model(const Learner& learner, const std::string& wabbit_version, const std::string& args,
                            const std::string& metadata, bool predict_only, BanditSection bandit = {},
                            McSection mc = {});
// Reads a model file, checking every field (docs/model-format.md): throws ModelError.
LoadedModel parse_model(std::string bytes);
// The checks of parse_model on bytes about to be written (a save verifies before it renames);
// returns the header read.
ModelHeader verify_model(std::string_view bytes);
// Copies the rows of a parsed model into a learner built from its args (checks bits and layout).
void install_weights(const LoadedModel& m, Learner& learner);
// Copies a parsed bandit state into a bandit built from the file's CbConfig (its shapes must
// match: they follow from the configuration). Throws ModelError when the file has none.
void install_cb_state(const LoadedModel& m, CbState& state);
// The same for a multiclass reduction's state.
void install_mc_state(const LoadedModel& m, McState& state);

void write_file_atomic(const std::string& path, std::string_view data);
std::string read_file(const std::string& path);

}  // namespace wabbit
