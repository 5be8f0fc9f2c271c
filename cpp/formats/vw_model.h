// Model files written by Vowpal Wabbit 9.x (`vw -f`), read into a wabbit learner (docs/vw_model_files.md).
//
// A VW model file is a header (version, id, label range, bits, lda, ngram/skips, the options text, a
// checksum of the header) followed by what each reduction of the stack saves, top to bottom, the
// update rule (gd or ftrl) last: a flag for the online state, the state, then (row index, floats)
// records to the end of the file. The header is read on its own (parse_vw_model); the body's layout
// depends on the configuration the options text gives, so it is read against a learner built from
// that configuration (install_vw_model), which the Python side builds through its one flag parser.
//
// Everything is bounded and checked before it is used: a truncated or damaged file is refused with
// a ModelError that says what is wrong, and nothing in the learner changes unless the whole body
// reads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cb/config.h"
#include "core/learner.h"
#include "formats/model_io.h"

namespace wabbit {

// The header of a VW model file.
struct VwModel {
  std::string version;  // the VW version that wrote it, e.g. "9.11.0"
  std::string id;       // --id
  float min_label = 0.f;
  float max_label = 0.f;
  uint32_t bits = 0;
  uint32_t lda = 0;                 // --lda's topics (0: not an lda model)
  std::vector<std::string> ngrams;  // --ngram / --skips definitions
  std::vector<std::string> skips;
  std::string options;     // the model-defining flags VW stored (VW's own spelling)
  uint32_t checksum = 0;   // VW's checksum of the header (chained murmur3), checked
  uint32_t file_crc = 0;   // CRC-32 of the whole file: the file's identity in a lineage
  std::string bytes;       // the whole file
  size_t body_offset = 0;  // where the reductions' sections start
};

// What the body held besides the rows (reported by `wabbit inspect`).
struct VwBody {
  bool resume = false;  // the online state and the rows' adaptive/normalizer slots were saved
  float initial_t = 0.f;
  double t = 0.;
  double normalized_sum_norm_x = 0.;
  double total_weight = 0.;
  double gravity = 0.;
  double contraction = 1.;
  uint64_t example_number = 0;
  double weighted_labeled_examples = 0.;
  double sum_loss = 0.;
  uint32_t floats_per_row = 0;  // floats each (index, floats) record holds
  uint64_t rows = 0;            // records read
};

// Whether `head` (a file's first bytes, at least 16 of them when the file has them) starts as a
// VW model file does: a short length and a version string "M.m.p".
bool looks_like_vw_model(std::string_view head);

// Reads and checks the header of a VW model file (the whole file in `bytes`): the version (9.x),
// every length against the bytes present, and VW's header checksum. Throws ModelError.
VwModel parse_vw_model(std::string bytes);

// Reads the body of `m` with the layout `learner`'s configuration (and for a contextual bandit,
// `cb`'s) implies, and installs the rows, the online state and the bandit's counters (`cb_state`,
// may be null when `cb` is). Checks the whole body first; throws ModelError without changing the
// learner when it does not fit.
VwBody install_vw_model(const VwModel& m, Learner& learner, const CbConfig* cb = nullptr, CbState* cb_state = nullptr);

}  // namespace wabbit
