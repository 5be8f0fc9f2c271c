// The serving engine: the model a daemon answers from and learns into, independent of sockets.
// A request is one VW text line (or, for a bandit, one event of lines); the engine predicts it,
// learns it when it has a label, and writes the reply as VW's -p would.
//
// Two ways to learn while serving (docs/serving.md):
//   in place (default, VW's daemon): every worker thread learns into the one shared weight table
//     through its own learner (Hogwild: a copy sharing the weights, as run/hogwild.h makes them),
//     and predictions read that table as it changes;
//   publish (publish_every / publish_seconds): a learner thread owns a private copy and learns the
//     labelled requests queued to it; every N examples or S seconds it publishes a copy, which is
//     swapped in atomically. Predictions read only published versions, which never change, and a
//     request finishes on the version it started with.
// A hot swap (a replica following a ModelStore) replaces the served version the same way.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cb/cb.h"
#include "core/learner.h"
#include "run/driver.h"
#include "serve/metrics.h"
#include "serve/prediction_log.h"

namespace wabbit::serve {

// One version of the model: a learner, a bandit over it for bandit models, and what a save of it
// writes besides the weights.
struct Version {
  std::unique_ptr<Learner> learner;
  std::unique_ptr<CbLearner> cb;
  std::string id;       // "" for the starting model; "p1", "p2", ... published; a store's id when swapped in
  double created = 0.;  // unix time it began to be served
  std::string args;     // the model file's args and metadata (see formats/model_io.h)
  std::string metadata;
  std::mutex cb_learning;  // a bandit learns one event at a time (predictions do not take it)

  // A deep copy of `learner` (and `cb`, rebound to the copy).
  static std::shared_ptr<Version> copy_of(const Learner& learner, const CbLearner* cb, std::string id, std::string args,
                                          std::string metadata);
};

struct EngineOptions {
  bool learn = true;           // false: -t, nothing is learned
  uint64_t publish_every = 0;  // publish mode when either is set
  double publish_seconds = 0.;
  std::string save_path;       // -f: where a `save` request writes
  std::string wabbit_version;  // written into saved files
  size_t loss_window = 1000;
  size_t learn_queue = 1u << 16;            // publish mode: requests waiting for the learner thread, at most
  size_t prediction_log = 0;                // lines the prediction log may hold (0: no log); see prediction_log.h
  InputFormat format = InputFormat::kText;  // --json/--dsjson: each line is a JSON example (a bandit's: an event)
  bool chain_hash = false;
  bool publish_mode() const { return publish_every > 0 || publish_seconds > 0.; }
};

class Engine {
 public:
  Engine(std::shared_ptr<Version> initial, EngineOptions opt);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // A worker thread's scratch and, in place, its learner sharing the served weights. Make one per
  // thread; calls with one context never run at once.
  class Context;
  std::unique_ptr<Context> make_context();

  bool is_cb() const { return cb_; }
  bool fixed_cb() const { return fixed_cb_; }
  const EngineOptions& options() const { return opt_; }
  bool json() const { return opt_.format != InputFormat::kText; }

  // One line of a single-line model (linear, or --cb K), numbered `no` for messages: the reply
  // (a -p line, "error ..." or a save's line) is appended to out, what it was to `tally` (the
  // caller adds the tally to metrics() with the batch's time, see Tally).
  void line(Context& ctx, std::string_view text, uint64_t no, std::string& out, Tally& tally);
  // One bandit event: its lines (each ending in '\n'), the first numbered `first_no`.
  void event(Context& ctx, std::string_view lines, uint64_t first_no, std::string& out, Tally& tally);
  // Whether a line is a save request (no features, tag `save` or `save_PATH`), and where to.
  bool save_request(std::string_view text, std::string& path) const;
  // Saves the served model atomically to path ("" = save_path); serialised with other saves.
  // Throws (IoError, ModelError, std::runtime_error) and writes nothing on failure.
  std::string save(const std::string& path);

  // Dict-built requests (the Python and HTTP faces): `ex` already filled (not prepared).
  float predict_example(Context& ctx, Example& ex);
  float learn_example(Context& ctx, Example& ex);
  // A ranking request on version v (current(), held by the caller while it built the candidates
  // with v's bandit): candidates in a flat buffer (see CbFlatActions).
  void rank(const Version& v, const Example* shared, const CbFlatActions& actions, CbResult& out);
  // The version being served (a request holds it while it runs).
  std::shared_ptr<Version> current() const {
    std::lock_guard<std::mutex> lock(current_mu_);
    return current_;
  }

  // Hot swap: `v` is served from now on (requests in flight finish on theirs). In publish mode the
  // learner thread continues from it.
  void swap(std::shared_ptr<Version> v);
  // Canary: from now on a share `fraction` (0..1] of the unlabelled requests is answered by `v`
  // (spread evenly: every 1/fraction-th request of each worker), and on every labelled request
  // both models' losses are recorded side by side (Metrics::canary_*). Learning, saves and
  // swaps concern the served version only. The candidate must be the same kind of model.
  void set_candidate(std::shared_ptr<Version> v, double fraction);
  void clear_candidate();
  std::shared_ptr<Version> candidate() const {
    std::lock_guard<std::mutex> lock(current_mu_);
    return candidate_;
  }
  double canary_fraction() const {
    std::lock_guard<std::mutex> lock(current_mu_);
    return candidate_ ? canary_ : 0.;
  }
  // In place: folds the workers' online states into the served model (before a save or a snapshot).
  void gather();
  // A copy of the served version with every context's progress folded in (for a snapshot).
  std::shared_ptr<Version> snapshot();
  // Stops the learner thread (publish mode), publishing what it learned.
  void shutdown();

  PredictionLog& prediction_log() { return log_; }
  const PredictionLog& prediction_log() const { return log_; }
  Metrics& metrics() { return metrics_; }
  const Metrics& metrics() const { return metrics_; }

 private:
  friend class Context;
  void install(std::shared_ptr<Version> v);
  void learner_loop();
  void learn_queued(const std::string& text, uint64_t no, Tally& tally);
  void publish_draft();
  void enqueue(std::string_view request, uint64_t first_no);
  void refresh(Context& ctx);
  Outcome learn_in_place(Context& ctx, Example& ex, Tally& tally);
  void widen_range(OnlineState& to, const OnlineState& from);

  EngineOptions opt_;
  bool cb_ = false;
  bool fixed_cb_ = false;
  Metrics metrics_;
  PredictionLog log_;
  // The served version. Workers look at generation_ (bumped by every install) before each request
  // and take the lock only when it changed. (A mutex, not std::atomic<std::shared_ptr>: libstdc++'s
  // lock bit inside the pointer is invisible to ThreadSanitizer.)
  mutable std::mutex current_mu_;
  std::shared_ptr<Version> current_;
  std::shared_ptr<Version> candidate_;  // canary (under current_mu_, bumps generation_ too)
  double canary_ = 0.;
  std::atomic<uint64_t> generation_{0};
  // Versions replaced but maybe still in use (see install()).
  std::mutex retired_mu_;
  std::vector<std::shared_ptr<Version>> retired_;
  std::mutex save_mu_;  // one save at a time

  // The served learner's online state, which in place every context folds its own into: taken by
  // absorb(), by the widening of the label range (rare: only when a range grows) and by whole
  // copies of the served learner (a context's sharing learner, a snapshot, a save).
  std::mutex state_mu_;
  // In place: the live contexts (for gather()).
  std::mutex contexts_mu_;
  std::vector<Context*> contexts_;

  // Publish mode: the learner thread and its queue of requests (text, first line number).
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::condition_variable room_cv_;
  std::deque<std::pair<std::string, uint64_t>> queue_;
  bool stopping_ = false;
  std::thread learner_thread_;
  // The learner thread's private model and what it learns with; draft_mu_ guards them (the learner
  // thread holds it while it learns a batch; a swap or a dict request takes it).
  std::mutex draft_mu_;
  std::shared_ptr<Version> draft_;
  struct Scratch {
    Example ex;
    CbEvent ev;
    CbResult result;
    CbEventBuilder builder;
    Stats stats;
  } queued_;
  uint64_t draft_learned_ = 0;  // examples learned since the last publish
  uint64_t published_ = 0;
  std::chrono::steady_clock::time_point last_publish_;
};

class Engine::Context {
 public:
  explicit Context(Engine& e);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // Held while the context works (gather() takes every context's lock to read a quiet state).
  std::mutex busy;

 private:
  friend class Engine;
  Engine& engine_;
  std::shared_ptr<Version> version_;
  std::shared_ptr<Version> candidate_;
  double canary_ = 0.;
  double canary_credit_ = 0.;  // the candidate answers when it reaches 1
  uint64_t generation_ = ~uint64_t{0};
  std::unique_ptr<Learner> learner_;  // in place: shares version_'s weights
  OnlineState start_;                 // learner_'s state when last folded into version_
  Stats stats_;                       // what process_example counts (unused beyond the loss)
  Example ex_;
  CbEvent ev_;
  CbResult result_;
  CbEventBuilder builder_;
};

// Seconds since the Unix epoch (a version's creation time).
double unix_now();

}  // namespace wabbit::serve
