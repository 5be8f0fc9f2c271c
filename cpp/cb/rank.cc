// Predicting without change: the scratch of concurrent readers, the general path (one merged
// example per candidate) and the rank planner, which scores candidates of one shape term by term
// with what does not depend on the candidate done once per request.
#include <algorithm>
#include <array>
#include <numeric>

#include "cb/cb.h"
#include "cb/explore.h"

namespace wabbit {

void CbFlatActions::regroup() {
  regroup_ = false;
  const size_t g0 = first_group.back();
  const size_t f0 = group_start[g0];
  const std::vector<unsigned char> slots(group_slot.begin() + static_cast<std::ptrdiff_t>(g0), group_slot.end());
  const std::vector<uint32_t> starts(group_start.begin() + static_cast<std::ptrdiff_t>(g0), group_start.end());
  const std::vector<CbFeature> feats(features.begin() + static_cast<std::ptrdiff_t>(f0), features.end());
  group_slot.resize(g0);
  group_start.resize(g0 + 1);
  features.resize(f0);
  open_slot_ = -1;
  for (size_t a = 0; a < slots.size(); ++a) {
    if (std::find(slots.begin(), slots.begin() + static_cast<std::ptrdiff_t>(a), slots[a]) !=
        slots.begin() + static_cast<std::ptrdiff_t>(a))
      continue;
    for (size_t b = a; b < slots.size(); ++b) {
      if (slots[b] != slots[a]) continue;
      for (size_t k = starts[b] - f0; k < starts[b + 1] - f0; ++k) add(slots[a], feats[k].index, feats[k].value);
    }
  }
  group_start.back() = static_cast<uint32_t>(features.size());
  regroup_ = false;
}

namespace {

// The scorer of a ranking request whose candidates all have the same namespaces, none of them
// shared: score_const's sum over the merged example, term by term in the same order (so the same
// float additions), with what does not depend on the candidate done once per request:
//   - terms of shared features only (shared linear features, shared x shared crosses): their
//     products w * x, each added in its place;
//   - shared features crossed with a candidate's: the index (inner term) or FNV * index (outer).
// The weight lookups are inlined (no per-feature callback, truncation test or reload of the
// table's geometry). Only for quadratic interactions without wildcards and without L1 truncation;
// anything else goes through score_const.
// A feature as model 0's scorer reads it: the row's offset in the table, (index & mask) << shift.
// A cross's index is inner ^ FNV * outer, masked: its row offset is the XOR of the terms' offsets,
// so the masking and shifting are done once per feature, not once per pair.
struct RowRef {
  size_t row;
  float value;
};

struct RankPlan {
  enum class Kind : unsigned char { kCandidate, kConstant, kSharedCandidate, kCandidateShared, kCandidateCandidate };
  // kCandidate: candidate group a's linear terms; kConstant: products [a, b); kSharedCandidate:
  // shared features [a, b) of the shared arrays (outer) x candidate group g; kCandidateShared:
  // candidate group g (outer) x shared features [a, b); kCandidateCandidate: groups a x b.
  struct Op {
    Kind kind;
    bool same;  // kCandidateCandidate over one slot: j from i (VW without --permutations)
    uint32_t a;
    uint32_t b;
    uint32_t g;
  };
  std::vector<Op> ops;
  std::vector<uint32_t> shared_index;  // shared features in crosses: index, or FNV * index when outer
  std::vector<float> shared_value;
  std::vector<uint32_t> const_index;  // the terms of shared features only, in order
  std::vector<float> const_value;
  std::vector<float> products;     // their w * x, for each policy in turn
  std::vector<size_t> shared_row;  // shared_index's row offsets (model 0's scorer, see RowRef)
  std::vector<RowRef> candidate;   // per-candidate scratch of plan_score_zero

  void clear() {
    ops.clear();
    shared_index.clear();
    shared_value.clear();
    const_index.clear();
    const_value.clear();
    products.clear();
    shared_row.clear();
  }
  void constant_term(uint32_t i, float x) {
    const_index.push_back(i);
    const_value.push_back(x);
    const uint32_t end = static_cast<uint32_t>(const_index.size());
    if (!ops.empty() && ops.back().kind == Kind::kConstant)
      ops.back().b = end;
    else
      ops.push_back({Kind::kConstant, false, end - 1, end, 0});
  }
};

// Per-thread scratch for predictions, reached through a function the compiler cannot see into:
// a reference bound straight to a thread_local may be re-derived (a __tls_get_addr call in a shared
// library) at every use, dozens of times per candidate.
struct PredictScratch {
  std::vector<float> scores;
  Example candidate;
  Example merged;
  std::vector<unsigned char> slots;
  RankPlan plan;
};
[[gnu::noinline]] PredictScratch& predict_scratch() {
  thread_local PredictScratch scratch;
  return scratch;
}

}  // namespace

// Scores candidates one at a time: build(a) returns candidate a merged with the shared features
// (one reused example), scored by every policy; then the exploration.
template <class Build>
void CbLearner::predict_each(size_t n, Build&& build, CbResult& out) const {
  std::vector<float>& s = predict_scratch().scores;
  const uint32_t policies = cfg_.explore == CbExplore::kBag ? cfg_.bag : 1u;
  s.resize(n * policies);
  for (size_t a = 0; a < n; ++a) {
    const Example& merged = build(a);  // the action with the shared features merged in
    for (uint32_t b = 0; b < policies; ++b) s[b * n + a] = base_->score_const(merged, b * type_width_);
  }
  explore_scores(n, out);
}

void CbLearner::explore_scores(size_t n, CbResult& out) const {
  const std::vector<float>& s = predict_scratch().scores;
  out.labelled = false;
  out.loss = 0.f;
  if (cfg_.explore == CbExplore::kBag) {
    bag_pmf(s, n, out);
    return;
  }
  sort_action_scores(s, n, out.action, out.value);
  to_pmf(out.value);
}

void CbLearner::predict_const(const CbEvent& ev, CbResult& out) const {
  Example& merged = predict_scratch().merged;
  const Example* shared = ev.has_shared ? &ev.shared : nullptr;
  predict_each(
      ev.n,
      [&](size_t a) -> const Example& {
        merge_shared(merged, ev.actions[a], shared);
        return merged;
      },
      out);
}

namespace {

// Builds the plan for candidates with these slots (group k of each candidate is slots[k]) and
// the shared example (prepared; none of its slots but the constant's among `slots`); false if
// the learner needs the general path.
bool plan_rank(const Learner& L, const Example* shared, const std::vector<unsigned char>& slots, RankPlan& plan) {
  if (L.has_wildcards() || (L.config().l1 > 0.f && !ftrl_family(L.config()))) return false;
  for (const Interaction& in : L.interactions()) {
    if (in.size() != 2) return false;
  }
  plan.clear();
  // where a slot's features come from in the merged example (merge_shared: the candidate's groups,
  // then the shared groups but the constant)
  auto candidate_group = [&](unsigned char s) -> int {
    for (size_t k = 0; k < slots.size(); ++k) {
      if (slots[k] == s) return static_cast<int>(k);
    }
    return -1;
  };
  auto shared_group = [&](unsigned char s) -> const FeatureGroup* {
    if (shared == nullptr || s == kConstantNamespace || shared->groups[s].empty()) return nullptr;
    return &shared->groups[s];
  };
  const std::array<bool, 256>& ignore_linear = L.config().ignore_linear;
  for (size_t k = 0; k < slots.size(); ++k) {
    if (!ignore_linear[slots[k]])
      plan.ops.push_back({RankPlan::Kind::kCandidate, false, static_cast<uint32_t>(k), 0, 0});
  }
  if (shared != nullptr) {
    for (unsigned char s : shared->order) {
      const FeatureGroup* g = shared_group(s);
      if (g == nullptr || ignore_linear[s]) continue;
      for (size_t k = 0; k < g->size(); ++k) plan.constant_term(g->index[k], g->value[k]);
    }
  }
  for (const Interaction& in : L.interactions()) {
    const int ca = candidate_group(in[0]);
    const int cb = candidate_group(in[1]);
    const FeatureGroup* sa = ca < 0 ? shared_group(in[0]) : nullptr;
    const FeatureGroup* sb = cb < 0 ? shared_group(in[1]) : nullptr;
    if ((ca < 0 && sa == nullptr) || (cb < 0 && sb == nullptr)) continue;  // an empty term
    const bool same = in[0] == in[1];
    const uint32_t begin = static_cast<uint32_t>(plan.shared_index.size());
    if (ca >= 0 && cb >= 0) {
      plan.ops.push_back(
          {RankPlan::Kind::kCandidateCandidate, same, static_cast<uint32_t>(ca), static_cast<uint32_t>(cb), 0});
    } else if (ca < 0 && cb < 0) {
      for (size_t i = 0; i < sa->size(); ++i) {
        const uint32_t half = kFnvPrime * sa->index[i];
        for (size_t j = same ? i : 0; j < sb->size(); ++j)
          plan.constant_term(sb->index[j] ^ half, sa->value[i] * sb->value[j]);
      }
    } else if (ca < 0) {
      for (size_t i = 0; i < sa->size(); ++i) {
        plan.shared_index.push_back(kFnvPrime * sa->index[i]);
        plan.shared_value.push_back(sa->value[i]);
      }
      plan.ops.push_back({RankPlan::Kind::kSharedCandidate, false, begin,
                          static_cast<uint32_t>(plan.shared_index.size()), static_cast<uint32_t>(cb)});
    } else {
      plan.shared_index.insert(plan.shared_index.end(), sb->index.begin(), sb->index.end());
      plan.shared_value.insert(plan.shared_value.end(), sb->value.begin(), sb->value.end());
      plan.ops.push_back({RankPlan::Kind::kCandidateShared, false, begin,
                          static_cast<uint32_t>(plan.shared_index.size()), static_cast<uint32_t>(ca)});
    }
  }
  return true;
}

// Candidate c's score by the plan, for the model at `offset` (products: that model's).
inline float plan_score(const Learner& L, const RankPlan& plan, const float* products, const CbFlatActions& actions,
                        size_t c, uint32_t offset, float contraction) {
  const float* data = L.weights().data();
  const uint32_t mask = L.weights().mask();
  const uint32_t shift = L.weights().stride_shift();
  auto w = [&](uint32_t i) { return load_w(data + (static_cast<size_t>((i + offset) & mask) << shift)); };
  const uint32_t* gs = actions.group_start.data() + actions.first_group[c];  // group k: [gs[k], gs[k + 1])
  const CbFeature* f = actions.features.data();
  const uint32_t* sh_idx = plan.shared_index.data();
  const float* sh_val = plan.shared_value.data();
  float raw = 0.f;
  for (const RankPlan::Op& op : plan.ops) {
    switch (op.kind) {
      case RankPlan::Kind::kCandidate:
        for (uint32_t k = gs[op.a]; k < gs[op.a + 1]; ++k) raw += w(f[k].index) * f[k].value;
        break;
      case RankPlan::Kind::kConstant:
        for (uint32_t t = op.a; t < op.b; ++t) raw += products[t];
        break;
      case RankPlan::Kind::kSharedCandidate: {
        const uint32_t j0 = gs[op.g];
        const uint32_t j1 = gs[op.g + 1];
        for (uint32_t i = op.a; i < op.b; ++i) {
          const uint32_t half = sh_idx[i];
          const float xa = sh_val[i];
          for (uint32_t j = j0; j < j1; ++j) raw += w(f[j].index ^ half) * (xa * f[j].value);
        }
        break;
      }
      case RankPlan::Kind::kCandidateShared:
        for (uint32_t i = gs[op.g]; i < gs[op.g + 1]; ++i) {
          const uint32_t half = kFnvPrime * f[i].index;
          const float xa = f[i].value;
          for (uint32_t j = op.a; j < op.b; ++j) raw += w(sh_idx[j] ^ half) * (xa * sh_val[j]);
        }
        break;
      case RankPlan::Kind::kCandidateCandidate: {
        const uint32_t i0 = gs[op.a];
        const uint32_t j0 = gs[op.b];
        const uint32_t j1 = gs[op.b + 1];
        for (uint32_t i = i0; i < gs[op.a + 1]; ++i) {
          const uint32_t half = kFnvPrime * f[i].index;
          const float xa = f[i].value;
          for (uint32_t j = op.same ? j0 + (i - i0) : j0; j < j1; ++j) raw += w(f[j].index ^ half) * (xa * f[j].value);
        }
        break;
      }
    }
  }
  if (!ftrl_family(L.config())) raw *= contraction;
  return 0.f + raw;  // score_const's ex.initial + raw: a merged candidate's initial is 0
}

// plan_score for model 0 (offset 0: every policy but bagging's others), on row offsets (RowRef):
// the candidate's features are resolved once, and a cross costs an XOR and a load. The same
// terms, in the same order.
inline float plan_score_zero(const Learner& L, RankPlan& plan, const CbFlatActions& actions, size_t c,
                             float contraction) {
  const float* data = L.weights().data();
  const uint32_t mask = L.weights().mask();
  const uint32_t shift = L.weights().stride_shift();
  auto row = [&](uint32_t i) { return static_cast<size_t>(i & mask) << shift; };
  const uint32_t* gs = actions.group_start.data() + actions.first_group[c];  // group k: [gs[k], gs[k + 1])
  const uint32_t f0 = gs[0];
  const uint32_t m = actions.group_start[actions.first_group[c + 1]] - f0;
  if (plan.candidate.size() < m) plan.candidate.resize(m);
  RowRef* cand = plan.candidate.data();  // the candidate's features, from 0
  const CbFeature* f = actions.features.data() + f0;
  for (uint32_t k = 0; k < m; ++k) cand[k] = {row(f[k].index), f[k].value};
  const size_t* sh_row = plan.shared_row.data();
  const float* sh_val = plan.shared_value.data();
  const float* products = plan.products.data();
  float raw = 0.f;
  for (const RankPlan::Op& op : plan.ops) {
    switch (op.kind) {
      case RankPlan::Kind::kCandidate:
        for (uint32_t k = gs[op.a] - f0; k < gs[op.a + 1] - f0; ++k) raw += load_w(data + cand[k].row) * cand[k].value;
        break;
      case RankPlan::Kind::kConstant:
        for (uint32_t t = op.a; t < op.b; ++t) raw += products[t];
        break;
      case RankPlan::Kind::kSharedCandidate: {
        const RowRef* j0 = cand + (gs[op.g] - f0);
        const RowRef* j1 = cand + (gs[op.g + 1] - f0);
        for (uint32_t i = op.a; i < op.b; ++i) {
          const size_t half = sh_row[i];
          const float xa = sh_val[i];
          for (const RowRef* j = j0; j != j1; ++j) raw += load_w(data + (j->row ^ half)) * (xa * j->value);
        }
        break;
      }
      case RankPlan::Kind::kCandidateShared:
        for (uint32_t i = gs[op.g] - f0; i < gs[op.g + 1] - f0; ++i) {
          const size_t half = row(kFnvPrime * f[i].index);
          const float xa = f[i].value;
          for (uint32_t j = op.a; j < op.b; ++j) raw += load_w(data + (sh_row[j] ^ half)) * (xa * sh_val[j]);
        }
        break;
      case RankPlan::Kind::kCandidateCandidate: {
        const uint32_t i0 = gs[op.a] - f0;
        const uint32_t j0 = gs[op.b] - f0;
        const uint32_t j1 = gs[op.b + 1] - f0;
        for (uint32_t i = i0; i < gs[op.a + 1] - f0; ++i) {
          const size_t half = row(kFnvPrime * f[i].index);
          const float xa = f[i].value;
          for (uint32_t j = op.same ? j0 + (i - i0) : j0; j < j1; ++j)
            raw += load_w(data + (cand[j].row ^ half)) * (xa * cand[j].value);
        }
        break;
      }
    }
  }
  if (!ftrl_family(L.config())) raw *= contraction;
  return 0.f + raw;  // score_const's ex.initial + raw: a merged candidate's initial is 0
}

}  // namespace

void CbLearner::predict_flat(const Example* shared, const CbFlatActions& actions, CbResult& out) const {
  PredictScratch& scratch = predict_scratch();
  Example& candidate = scratch.candidate;
  Example& merged = scratch.merged;
  std::vector<unsigned char>& slots = scratch.slots;
  const size_t n = actions.size();
  const unsigned char* gslot = actions.group_slot.data();
  const uint32_t* first = actions.first_group.data();
  // A ranking request usually has candidates with the same namespaces, none of them shared: then
  // the merged example is the shared groups plus the candidate's, which the plan scores directly
  // (or which is refilled candidate by candidate: the very example merge_shared would build,
  // without copying the shared features n times).
  bool same = n > 0;
  if (same) {
    slots.assign(gslot + first[0], gslot + first[1]);
    const size_t k = slots.size();
    for (size_t a = 1; a < n && same; ++a) {
      same = first[a + 1] - first[a] == k;
      for (size_t g = 0; g < k && same; ++g) same = gslot[first[a] + g] == slots[g];  // (a few: no memcmp call)
    }
    for (unsigned char sl : slots) {
      if (shared != nullptr && sl != kConstantNamespace && !shared->groups[sl].empty()) same = false;
    }
  }
  if (same && plan_rank(*base_, shared, slots, scratch.plan)) {
    const Learner& L = *base_;
    RankPlan& plan = scratch.plan;
    const uint32_t policies = cfg_.explore == CbExplore::kBag ? cfg_.bag : 1u;
    const size_t terms = plan.const_index.size();
    plan.products.resize(terms * policies);
    for (uint32_t b = 0; b < policies; ++b) {
      const uint32_t offset = b * type_width_;
      for (size_t t = 0; t < terms; ++t) {
        plan.products[b * terms + t] = load_w(L.weights().row(plan.const_index[t] + offset)) * plan.const_value[t];
      }
    }
    // shared halves (outer) and indices (inner) as row offsets, for model 0's scorer
    plan.shared_row.resize(plan.shared_index.size());
    for (size_t i = 0; i < plan.shared_index.size(); ++i) {
      plan.shared_row[i] = static_cast<size_t>(plan.shared_index[i] & L.weights().mask()) << L.weights().stride_shift();
    }
    const float contraction = static_cast<float>(load_d(&L.state().contraction));
    std::vector<float>& s = scratch.scores;
    s.resize(n * policies);
    for (size_t a = 0; a < n; ++a) s[a] = plan_score_zero(L, plan, actions, a, contraction);
    for (uint32_t b = 1; b < policies; ++b) {
      for (size_t a = 0; a < n; ++a) {
        s[b * n + a] = plan_score(L, plan, plan.products.data() + b * terms, actions, a, b * type_width_, contraction);
      }
    }
    explore_scores(n, out);
    return;
  }
  if (!same) {
    predict_each(
        n,
        [&](size_t a) -> const Example& {
          candidate.clear();
          for (uint32_t g = first[a]; g < first[a + 1]; ++g) {
            for (uint32_t k = actions.group_start[g]; k < actions.group_start[g + 1]; ++k) {
              candidate.add(gslot[g], actions.features[k].index, actions.features[k].value);
            }
          }
          merge_shared(merged, candidate, shared);
          return merged;
        },
        out);
    return;
  }
  candidate.clear();
  merge_shared(merged, candidate, shared);  // the shared groups, in merge_shared's order
  std::vector<unsigned char> shared_order = merged.order;
  merged.order = slots;
  merged.order.insert(merged.order.end(), shared_order.begin(), shared_order.end());
  predict_each(
      n,
      [&](size_t a) -> const Example& {
        for (size_t k = 0; k < slots.size(); ++k) {
          const uint32_t g = first[a] + static_cast<uint32_t>(k);
          FeatureGroup& dst = merged.groups[slots[k]];
          dst.index.clear();
          dst.value.clear();
          for (uint32_t j = actions.group_start[g]; j < actions.group_start[g + 1]; ++j)
            dst.push(actions.features[j].index, actions.features[j].value);
        }
        return merged;
      },
      out);
  for (unsigned char sl : slots) merged.groups[sl].clear();
  merged.clear();
}

}  // namespace wabbit
