#include "serve/engine.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>

#include "cb/run.h"
#include "formats/model_io.h"
#include "formats/vw_text.h"
#include "run/driver.h"

namespace wabbit::serve {

double unix_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::shared_ptr<Version> Version::copy_of(const Learner& learner, const CbLearner* cb, std::string id, std::string args,
                                          std::string metadata) {
  auto v = std::make_shared<Version>();
  v->learner = std::make_unique<Learner>(learner);
  if (cb != nullptr) {
    v->cb = std::make_unique<CbLearner>(*cb);
    v->cb->rebind(*v->learner);
  }
  v->id = std::move(id);
  v->created = unix_now();
  v->args = std::move(args);
  v->metadata = std::move(metadata);
  return v;
}

namespace {

using Clock = std::chrono::steady_clock;

JsonOptions json_options(const EngineOptions& o) {
  return JsonOptions{o.format == InputFormat::kDsJson, o.chain_hash, false};
}

// A plain model's request line, in the engine's input format.
ParseResult parse_request(const EngineOptions& o, std::string_view text, Example& ex) {
  return o.format == InputFormat::kText ? parse_vw_line(text, ex) : parse_json_example(text, ex, json_options(o));
}

// A bandit event from its text: ADF lines, a --cb K line, or (--json, --dsjson) one JSON line.
bool build_event(const EngineOptions& o, CbEventBuilder& b, CbEvent& ev, std::string_view text, uint64_t no,
                 bool fixed) {
  if (o.format != InputFormat::kText) {
    while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    const int r = parse_json_event(text, no, b, ev, fixed, json_options(o));
    if (r == 0) b.refuse(no, "the line holds no event to answer (_skipLearn, or no \"a\")");
    return r > 0;
  }
  if (fixed) return b.fixed_line(ev, text, no);
  b.begin(ev);
  uint64_t n = no;
  for_each_line(text, [&](std::string_view l) { b.line(ev, l, n++); });
  return b.end(ev);
}

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void error_reply(std::string& out, const std::string& why, bool event) {
  out += "error: ";
  for (char c : why) out.push_back(c == '\n' || c == '\r' ? ' ' : c);  // one line, whatever it says
  out.push_back('\n');
  if (event) out.push_back('\n');
}

}  // namespace

Engine::Engine(std::shared_ptr<Version> initial, EngineOptions opt)
    : opt_(std::move(opt)), metrics_(opt_.loss_window), log_(opt_.prediction_log) {
  if (!initial || !initial->learner) throw std::invalid_argument("the engine needs a model to serve");
  cb_ = initial->cb != nullptr;
  fixed_cb_ = cb_ && initial->cb->fixed();
  if (initial->created == 0.) initial->created = unix_now();
  if (opt_.publish_mode() && opt_.learn) {
    draft_ = Version::copy_of(*initial->learner, initial->cb.get(), initial->id, initial->args, initial->metadata);
    last_publish_ = Clock::now();
  }
  install(std::move(initial));
  if (draft_) learner_thread_ = std::thread([this] { learner_loop(); });
}

Engine::~Engine() { shutdown(); }

void Engine::install(std::shared_ptr<Version> v) {
  std::vector<std::shared_ptr<Version>> freed;  // released outside the locks
  {
    std::lock_guard<std::mutex> lock(current_mu_);
    std::shared_ptr<Version> old = std::exchange(current_, std::move(v));
    generation_.fetch_add(1, std::memory_order_acq_rel);
    // The version replaced stays referenced here until no request holds it: then the installing
    // thread frees it (a table may be large), never a worker in the middle of a request.
    std::lock_guard<std::mutex> retired(retired_mu_);
    if (old) retired_.push_back(std::move(old));
    for (auto it = retired_.begin(); it != retired_.end();) {
      if (it->use_count() == 1) {
        freed.push_back(std::move(*it));
        it = retired_.erase(it);
      } else {
        ++it;
      }
    }
  }
}

std::unique_ptr<Engine::Context> Engine::make_context() { return std::make_unique<Context>(*this); }

Engine::Context::Context(Engine& e) : engine_(e) {
  std::lock_guard<std::mutex> lock(e.contexts_mu_);
  e.contexts_.push_back(this);
}

Engine::Context::~Context() {
  {
    std::lock_guard<std::mutex> busy_lock(busy);
    std::lock_guard<std::mutex> state(engine_.state_mu_);
    if (learner_ && version_) version_->learner->absorb(*learner_, start_);
  }
  std::lock_guard<std::mutex> lock(engine_.contexts_mu_);
  std::erase(engine_.contexts_, this);
}

// Makes ctx follow the served version: in place, a learner sharing its weights (the old one's
// progress folded into the version it learned in).
void Engine::refresh(Context& ctx) {
  const uint64_t g = generation_.load(std::memory_order_acquire);
  if (g == ctx.generation_) return;
  std::lock_guard<std::mutex> state(state_mu_);
  if (ctx.learner_ && ctx.version_) ctx.version_->learner->absorb(*ctx.learner_, ctx.start_);
  ctx.learner_.reset();
  {
    std::lock_guard<std::mutex> lock(current_mu_);
    ctx.version_ = current_;
    ctx.candidate_ = candidate_;
    ctx.canary_ = canary_;
  }
  ctx.generation_ = g;
  if (!opt_.publish_mode() && opt_.learn && !cb_) {
    ctx.learner_ = std::make_unique<Learner>(*ctx.version_->learner, Learner::ShareWeights{});
    ctx.start_ = ctx.learner_->state();
  }
  ctx.builder_.use(ctx.version_->cb.get());
}

// Widens `to`'s label range (which VW clamps predictions to) to cover `from`'s: the workers learn
// in their own learners, and each must predict within the range all of them have seen.
void Engine::widen_range(OnlineState& to, const OnlineState& from) {
  const float lo = load_w(&from.min_label), hi = load_w(&from.max_label);
  if (lo >= load_w(&to.min_label) && hi <= load_w(&to.max_label)) return;
  std::lock_guard<std::mutex> lock(state_mu_);
  if (lo < load_w(&to.min_label)) store_w(&to.min_label, lo);
  if (hi > load_w(&to.max_label)) store_w(&to.max_label, hi);
}

Outcome Engine::learn_in_place(Context& ctx, Example& ex, Tally& tally) {
  OnlineState& shared = ctx.version_->learner->state();
  widen_range(ctx.learner_->state(), shared);
  Outcome o = process_example(*ctx.learner_, ctx.stats_, ex, true);
  widen_range(shared, ctx.learner_->state());
  if (o.skipped == nullptr && ex.labelled()) tally.learned_one(ex.weight > 0.f ? o.loss / ex.weight : 0.f);
  return o;
}

bool Engine::save_request(std::string_view text, std::string& path) const {
  if (text.find("save") == std::string_view::npos) return false;  // (most lines: no second parse)
  thread_local Example ex;
  if (parse_vw_line(text, ex).status != ParseStatus::kExample) return false;
  if (!ex.order.empty() || ex.labelled() || ex.tag.size() < 4 || ex.tag.compare(0, 4, "save") != 0) return false;
  path = ex.tag.size() >= 6 && ex.tag[4] == '_' ? ex.tag.substr(5) : opt_.save_path;
  return true;
}

void Engine::line(Context& ctx, std::string_view text, uint64_t no, std::string& out, Tally& tally) {
  std::string path;
  if (save_request(text, path)) {  // (not under ctx.busy: a save gathers every context)
    try {
      save(path);
      tally.count(Kind::kSave, true);
      std::string tag = "save";
      if (text.find("save_") != std::string_view::npos) tag = "save_" + path;
      format_prediction(out, 0.f, tag);
      if (cb_) out.push_back('\n');
    } catch (const std::exception& e) {
      tally.count(Kind::kSave, false);
      error_reply(out, "cannot save: " + std::string(e.what()), cb_);
    }
    return;
  }
  std::lock_guard<std::mutex> busy(ctx.busy);
  refresh(ctx);
  Version& v = *ctx.version_;
  if (cb_) {  // --cb K: one line is one event
    ctx.builder_.use(v.cb.get());
    if (!build_event(opt_, ctx.builder_, ctx.ev_, text, no, true)) {
      tally.count(Kind::kPredict, false);
      error_reply(out, ctx.builder_.error(), true);
      return;
    }
    const bool labelled = ctx.ev_.label_index >= 0;
    if (labelled && opt_.learn && !opt_.publish_mode()) {
      std::lock_guard<std::mutex> lock(v.cb_learning);
      v.cb->process(ctx.ev_, true, ctx.result_);
      if (ctx.result_.skipped != nullptr) {
        tally.count(Kind::kLearn, false);
        error_reply(out, "line " + std::to_string(no) + ": " + ctx.result_.skipped, false);
        return;
      }
    } else {
      v.cb->predict_const(ctx.ev_, ctx.result_);
      if (labelled && opt_.learn) enqueue(text, no);
    }
    if (labelled && opt_.learn && !opt_.publish_mode()) tally.learned_one(ctx.result_.loss);
    format_cb_prediction(out, *v.cb, ctx.result_, ctx.ev_.tag);
    const Kind k = labelled ? Kind::kLearn : Kind::kPredict;
    tally.count(k, true);
    return;
  }
  Example& ex = ctx.ex_;
  const ParseResult pr = parse_request(opt_, text, ex);
  if (pr.status == ParseStatus::kBlank) return;  // as the driver: a blank line is not an example
  if (pr.status == ParseStatus::kError) {
    tally.count(Kind::kPredict, false);
    error_reply(out, "line " + std::to_string(no) + ": " + pr.error, false);
    return;
  }
  const bool labelled = ex.labelled();
  const Kind k = labelled && opt_.learn ? Kind::kLearn : Kind::kPredict;
  v.learner->prepare(ex);
  float output;
  float champion_loss = 0.f;
  if (ctx.learner_) {  // in place, learning: every example goes through the worker's learner, as VW's does
    const Outcome o = learn_in_place(ctx, ex, tally);
    champion_loss = o.loss;
    if (o.skipped != nullptr) {
      tally.count(k, false);
      error_reply(out, "line " + std::to_string(no) + ": " + o.skipped, false);
      return;
    }
    output = o.output;
  } else {
    output = v.learner->predict_const(ex);
    if (labelled && opt_.learn) enqueue(text, no);  // publish mode
  }
  if (ctx.candidate_) {  // canary
    if (labelled) {
      const float champion = ctx.learner_ ? champion_loss : v.learner->evaluate_const(ex).loss;
      const float w = ex.weight > 0.f ? ex.weight : 1.f;
      tally.paired(champion / w, ctx.candidate_->learner->evaluate_const(ex).loss / w);
    } else if ((ctx.canary_credit_ += ctx.canary_) >= 1.) {
      ctx.canary_credit_ -= 1.;
      output = ctx.candidate_->learner->predict_const(ex);
      ++tally.canary;
    }
  }
  format_prediction(out, output, ex.tag);
  if (!labelled && !ex.tag.empty() && log_.enabled()) log_.record(ex.tag, text, output, unix_now());
  tally.count(k, true);
}

void Engine::event(Context& ctx, std::string_view lines, uint64_t first_no, std::string& out, Tally& tally) {
  std::lock_guard<std::mutex> busy(ctx.busy);
  refresh(ctx);
  Version& v = *ctx.version_;
  ctx.builder_.use(v.cb.get());
  if (!build_event(opt_, ctx.builder_, ctx.ev_, lines, first_no, false)) {
    tally.count(Kind::kPredict, false);
    error_reply(out, ctx.builder_.error(), true);
    return;
  }
  const bool labelled = ctx.ev_.label_index >= 0;
  const Kind k = labelled && opt_.learn ? Kind::kLearn : Kind::kPredict;
  if (opt_.learn && !opt_.publish_mode()) {
    // in place: every event goes through the bandit, one at a time (VW's order of events)
    std::lock_guard<std::mutex> lock(v.cb_learning);
    v.cb->process(ctx.ev_, true, ctx.result_);
    if (ctx.result_.skipped != nullptr) {
      tally.count(k, false);
      error_reply(out, "line " + std::to_string(first_no) + ": " + ctx.result_.skipped, false);
      return;
    }
    if (labelled) tally.learned_one(ctx.result_.loss);
  } else {
    v.cb->predict_const(ctx.ev_, ctx.result_);
    if (labelled && opt_.learn) enqueue(lines, first_no);
  }
  format_cb_prediction(out, *v.cb, ctx.result_, ctx.ev_.tag);
  tally.count(k, true);
}

float Engine::predict_example(Context& ctx, Example& ex) {
  const auto t0 = Clock::now();
  if (cb_) throw std::invalid_argument("a bandit model predicts events (VW text lines) or ranks candidates: use rank");
  std::lock_guard<std::mutex> busy(ctx.busy);
  refresh(ctx);
  ctx.version_->learner->prepare(ex);
  const float y = ctx.version_->learner->predict_const(ex);
  Tally tally;
  tally.count(Kind::kPredict, true);
  tally.flush(metrics_, since(t0));
  return y;
}

float Engine::learn_example(Context& ctx, Example& ex) {
  const auto t0 = Clock::now();
  if (cb_)
    throw std::invalid_argument("a bandit model learns events as VW text lines (action:cost:probability labels)");
  std::lock_guard<std::mutex> busy(ctx.busy);
  refresh(ctx);
  Version& v = *ctx.version_;
  Tally tally;
  if (!opt_.learn) throw std::runtime_error("this server does not learn (-t): use predict");
  if (!ex.labelled()) throw std::invalid_argument("learn needs a label");
  float y;
  if (ctx.learner_) {
    v.learner->prepare(ex);
    const Outcome o = learn_in_place(ctx, ex, tally);
    if (o.skipped != nullptr) {
      tally.count(Kind::kLearn, false);
      tally.flush(metrics_, since(t0));
      throw std::invalid_argument(o.skipped);
    }
    y = o.output;
  } else {
    // publish mode: the learner thread takes the example as text is all it reads, so the dict
    // request is learned here, on the draft, under the queue's lock
    Example copy = ex;
    v.learner->prepare(ex);
    y = v.learner->predict_const(ex);
    std::lock_guard<std::mutex> lock(draft_mu_);
    draft_->learner->prepare(copy);
    Outcome o = process_example(*draft_->learner, ctx.stats_, copy, true);
    if (o.skipped == nullptr) {
      tally.learned_one(copy.weight > 0.f ? o.loss / copy.weight : 0.f);
      ++draft_learned_;
    }
  }
  tally.count(Kind::kLearn, true);
  tally.flush(metrics_, since(t0));
  return y;
}

void Engine::rank(const Version& v, const Example* shared, const CbFlatActions& actions, CbResult& out) {
  const auto t0 = Clock::now();
  if (!v.cb) {
    metrics_.count(Kind::kRank, false);
    throw std::invalid_argument("rank needs a contextual-bandit model (--cb_adf or --cb_explore_adf)");
  }
  v.cb->predict_flat(shared, actions, out);
  Tally tally;
  tally.count(Kind::kRank, true);
  tally.flush(metrics_, since(t0));
}

std::string Engine::save(const std::string& path) {
  if (path.empty()) throw std::runtime_error("no file to save to: start the server with -f, or send save_PATH");
  std::lock_guard<std::mutex> lock(save_mu_);
  gather();
  const std::shared_ptr<Version> v = current();
  BanditSection bandit;
  std::unique_lock<std::mutex> cb_lock(v->cb_learning, std::defer_lock);
  if (v->cb) {
    cb_lock.lock();  // the bandit's state is read whole
    bandit.config = &v->cb->config();
    bandit.state = &v->cb->state();
  }
  const std::string bytes = serialize_model(*v->learner, opt_.wabbit_version, v->args, v->metadata, false, bandit);
  if (cb_lock.owns_lock()) cb_lock.unlock();
  verify_model(bytes);
  write_file_atomic(path, bytes);
  return path;
}

void Engine::gather() {
  std::lock_guard<std::mutex> lock(contexts_mu_);
  for (Context* c : contexts_) {
    std::lock_guard<std::mutex> busy(c->busy);
    std::lock_guard<std::mutex> state(state_mu_);
    if (!c->learner_ || !c->version_) continue;
    c->version_->learner->absorb(*c->learner_, c->start_);
    c->start_ = c->learner_->state();
  }
}

void Engine::set_candidate(std::shared_ptr<Version> v, double fraction) {
  if (!v || !v->learner) throw std::invalid_argument("a canary needs a model");
  if (!(fraction > 0. && fraction <= 1.)) throw std::invalid_argument("the canary's fraction must be in (0, 1]");
  if (v->cb != nullptr || cb_)
    throw std::invalid_argument("a canary is for linear models (a bandit's exploration already tries its options)");
  if (v->learner->config().bits != current()->learner->config().bits)
    throw std::invalid_argument("the candidate must have the served model's flags (-b differs)");
  std::shared_ptr<Version> old;
  {
    std::lock_guard<std::mutex> lock(current_mu_);
    old = std::exchange(candidate_, std::move(v));
    canary_ = fraction;
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void Engine::clear_candidate() {
  std::shared_ptr<Version> old;
  std::lock_guard<std::mutex> lock(current_mu_);
  old = std::exchange(candidate_, nullptr);
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

std::shared_ptr<Version> Engine::snapshot() {
  gather();
  const std::shared_ptr<Version> v = current();
  std::lock_guard<std::mutex> state(state_mu_);
  std::unique_lock<std::mutex> cb_lock(v->cb_learning, std::defer_lock);
  if (v->cb) cb_lock.lock();
  auto copy = Version::copy_of(*v->learner, v->cb.get(), v->id, v->args, v->metadata);
  copy->created = v->created;
  return copy;
}

void Engine::swap(std::shared_ptr<Version> v) {
  if (!v || !v->learner) throw std::invalid_argument("swap needs a model");
  if ((v->cb != nullptr) != cb_ || (cb_ && v->cb->fixed() != fixed_cb_))
    throw std::invalid_argument(
        "the new version is not the same kind of model (linear, --cb K or --cb_adf) as the served one");
  if (v->created == 0.) v->created = unix_now();
  if (draft_) {
    std::lock_guard<std::mutex> lock(draft_mu_);
    draft_ = Version::copy_of(*v->learner, v->cb.get(), v->id, v->args, v->metadata);
    draft_learned_ = 0;
  }
  install(std::move(v));
  metrics_.swaps.fetch_add(1, std::memory_order_relaxed);
}

// Publish mode ---------------------------------------------------------------------------------

void Engine::enqueue(std::string_view request, uint64_t first_no) {
  std::unique_lock<std::mutex> lock(queue_mu_);
  // Back-pressure: a full queue waits for the learner (which learns ~10^6 examples a second).
  room_cv_.wait(lock, [&] { return queue_.size() < opt_.learn_queue || stopping_; });
  if (stopping_) return;
  queue_.emplace_back(std::string(request), first_no);
  queue_cv_.notify_one();
}

void Engine::publish_draft() {
  ++published_;
  std::string id = "p";  // (built in two steps: GCC 12 warns falsely about "p" + to_string)
  id += std::to_string(published_);
  auto v = Version::copy_of(*draft_->learner, draft_->cb.get(), std::move(id), draft_->args, draft_->metadata);
  install(std::move(v));
  metrics_.publishes.fetch_add(1, std::memory_order_relaxed);
  draft_learned_ = 0;
  last_publish_ = Clock::now();
}

void Engine::learn_queued(const std::string& text, uint64_t no, Tally& tally) {
  Version& d = *draft_;
  if (d.cb) {
    CbEventBuilder& builder = queued_.builder;
    CbEvent& ev = queued_.ev;
    builder.use(d.cb.get());
    if (!build_event(opt_, builder, ev, text, no, d.cb->fixed())) return;
    d.cb->process(ev, true, queued_.result);
    if (queued_.result.skipped != nullptr) return;
    tally.learned_one(queued_.result.loss);
    ++draft_learned_;
    return;
  }
  Example& ex = queued_.ex;
  if (parse_request(opt_, text, ex).status != ParseStatus::kExample) return;
  d.learner->prepare(ex);
  const Outcome o = process_example(*d.learner, queued_.stats, ex, true);
  if (o.skipped != nullptr) return;
  tally.learned_one(ex.weight > 0.f ? o.loss / ex.weight : 0.f);
  ++draft_learned_;
}

void Engine::learner_loop() {
  const auto period = std::chrono::duration<double>(opt_.publish_seconds > 0. ? opt_.publish_seconds : 3600.);
  std::deque<std::pair<std::string, uint64_t>> batch;
  Tally tally;
  for (;;) {
    bool stop;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait_for(lock, std::chrono::milliseconds(20), [&] { return !queue_.empty() || stopping_; });
      batch.swap(queue_);
      stop = stopping_;
    }
    room_cv_.notify_all();
    std::lock_guard<std::mutex> draft(draft_mu_);
    for (const auto& [text, no] : batch) {
      learn_queued(text, no, tally);
      if (opt_.publish_every > 0 && draft_learned_ >= opt_.publish_every) {
        tally.flush(metrics_, 0.);  // (what a published version learned is counted before it serves)
        publish_draft();
      }
    }
    tally.flush(metrics_, 0.);
    batch.clear();
    if (draft_learned_ > 0 && opt_.publish_seconds > 0. && Clock::now() - last_publish_ >= period) publish_draft();
    if (stop) {
      std::lock_guard<std::mutex> lock(queue_mu_);
      if (!queue_.empty()) continue;  // (enqueue refuses once stopping: this drains what came before)
      if (draft_learned_ > 0) publish_draft();
      return;
    }
  }
}

void Engine::shutdown() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  room_cv_.notify_all();
  if (learner_thread_.joinable()) learner_thread_.join();
}

}  // namespace wabbit::serve
