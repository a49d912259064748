// SPDX-License-Identifier: Apache-2.0
// The gather step (gather.h): the context from the small tables, one RankGather per rank
// from its events, and the RankGather JSON form the sharded analysis stores (summary.h).
#include "gather.h"
#include "json_io.h"

#include <algorithm>

#include "moetune/analyzers/comm_rules.h"
#include "moetune/trace/comm_vocab.h"
#include "sat_math.h"

namespace moetune::analyzers::detail {
namespace {
// Rows vs a rank, for equal_range over rows sorted by rank.
struct RankLess {
  template <class Row>
  bool operator()(const Row& r, RankId k) const { return r.rank < k; }
  template <class Row>
  bool operator()(RankId k, const Row& r) const { return k < r.rank; }
};
}  // namespace

GatherContext GatherContext::build(const RunData& run) {
  GatherContext c;
  c.instances = collective_instances(run, &c.source, &c.stats);
  c.steady = steady_steps(run);
  return c;
}

void Gathered::add(RankGather g) {
  any_kernels |= g.kernels > 0;
  any_memcpys |= g.memcpys > 0;
  any_api_calls |= g.api_calls;
  ranks[g.rank] = std::move(g);
}

Gathered Gathered::of(const RunData& run, const AnalyzeOptions& opts, const std::set<int>* only) {
  Gathered out;
  out.ctx = GatherContext::build(run);
  CommClassifier cls(run.strings);
  const auto acts = build_rank_activity(run, cls);
  const CommParts parts = comm_parts(out.ctx.instances);
  auto api = api_by_rank(run);
  // Per rank: the waiting part of each collective (its start until start + wait + setup).
  std::map<int, Intervals> wait_iv;
  for (const auto& in : out.ctx.instances)
    for (const auto& m : in.members)
      if (in.wait(m) + in.setup_ns > 0) wait_iv[m.rank].push_back({m.start_ns, m.start_ns + in.wait(m) + in.setup_ns});
  for (auto& [r, v] : wait_iv) normalize(v);
  // Row counts per rank (rows are sorted by rank).
  std::map<int, std::int64_t> nk;
  for (const auto& k : run.kernels) ++nk[static_cast<int>(k.rank.value)];
  // Comm-looking names no rule classifies, per rank (analyze.cpp's comm_vocabulary).
  std::vector<signed char> unclassified(run.strings.size(), -1);
  const comm::RuleSet* rules = comm::active_rules();
  std::map<int, std::map<std::string, std::pair<std::int64_t, std::int64_t>>> uncl;
  for (const auto& k : run.kernels) {
    auto id = static_cast<std::size_t>(k.name.value);
    if (k.name.value < 0 || id >= run.strings.size()) continue;
    if (unclassified[id] < 0)
      unclassified[id] = !comm::match_kernel(run.strings[id], rules).rule && comm::looks_like_comm(run.strings[id]);
    if (!unclassified[id]) continue;
    auto& e = uncl[static_cast<int>(k.rank.value)][run.strings[id]];
    e.first = sat_add(e.first, k.dur_ns), ++e.second;  // durations from the file: the sum saturates
  }
  std::map<int, std::vector<const NcclOpRow*>> ops;
  for (const auto& o : run.nccl_ops) ops[static_cast<int>(o.rank.value)].push_back(&o);
  const std::vector<const NcclOpRow*> no_ops;
  std::map<int, std::vector<const NvtxRow*>> nvtx;
  for (const auto& n : run.nvtx) nvtx[static_cast<int>(n.rank.value)].push_back(&n);
  std::map<int, std::vector<const MemcpyRow*>> copies;
  for (const auto& m : run.memcpys) copies[static_cast<int>(m.rank.value)].push_back(&m);
  const std::vector<const NvtxRow*> no_nvtx;
  const std::vector<const MemcpyRow*> no_copies;
  // Kernels grouped by rank (RunData keeps them so; a hand-built run may not).
  auto by_rank = [](const KernelRow& x, const KernelRow& y) { return x.rank < y.rank; };
  std::vector<KernelRow> sorted_copy;
  if (!std::is_sorted(run.kernels.begin(), run.kernels.end(), by_rank)) {
    sorted_copy = run.kernels;
    std::stable_sort(sorted_copy.begin(), sorted_copy.end(), by_rank);
  }
  const std::vector<KernelRow>& kernels = sorted_copy.empty() ? run.kernels : sorted_copy;
  // Blocking sync calls per rank; names classified once per interned string.
  std::vector<char> sync_name(run.strings.size());
  for (std::size_t i = 0; i < run.strings.size(); ++i) sync_name[i] = is_blocking_sync_api(run.strings[i]);
  std::map<int, std::vector<const ApiCallRow*>> syncs;
  for (const auto& c : run.api_calls) {
    auto id = static_cast<std::size_t>(c.name.value);
    if (id < sync_name.size() && sync_name[id]) syncs[static_cast<int>(c.rank.value)].push_back(&c);
  }
  const std::vector<const ApiCallRow*> no_syncs;
  const bool api_sorted = std::is_sorted(run.api_calls.begin(), run.api_calls.end(), [](const auto& a, const auto& b) {
    return a.rank != b.rank ? a.rank < b.rank : a.start_ns < b.start_ns;
  });
  const LateCauses late(run, cls, acts);
  const Intervals none;
  const std::pair<Intervals, std::vector<std::int64_t>> no_api;
  for (const auto& a : acts) {
    if (only && !only->count(a.rank)) continue;
    RankGather g;
    g.rank = a.rank;
    g.kernels = nk[a.rank];
    g.memcpys = copies.count(a.rank) ? static_cast<std::int64_t>(copies[a.rank].size()) : 0;
    auto ai = api.find(a.rank);
    g.api_calls = ai != api.end() && !ai->second.second.empty();
    auto wi = wait_iv.find(a.rank);
    auto oi = ops.find(a.rank);
    auto kr = std::equal_range(kernels.begin(), kernels.end(), RankId(a.rank), RankLess{});
    GatherInputs in{out.ctx, cls, a, parts, wi == wait_iv.end() ? none : wi->second,
                    ai == api.end() ? no_api : ai->second, oi == ops.end() ? no_ops : oi->second,
                    std::span<const KernelRow>(kernels.data() + (kr.first - kernels.begin()),
                                              static_cast<std::size_t>(kr.second - kr.first)),
                    syncs.count(a.rank) ? syncs[a.rank] : no_syncs, {}, api_sorted, late,
                    nvtx.count(a.rank) ? nvtx[a.rank] : no_nvtx, copies.count(a.rank) ? copies[a.rank] : no_copies};
    if (api_sorted) {
      auto ar = std::equal_range(run.api_calls.begin(), run.api_calls.end(), RankId(a.rank), RankLess{});
      in.api_rows = std::span<const ApiCallRow>(run.api_calls.data() + (ar.first - run.api_calls.begin()),
                                                static_cast<std::size_t>(ar.second - ar.first));
    }
    gather_comm_overlap(run, in, g);
    gather_stragglers(run, in, opts, g);
    gather_late_causes(run, in, opts, g);
    gather_experts(run, in, g);
    gather_precision(run, in, g);
    gather_copies_and_grad(run, in, opts, g);
    if (auto u = uncl.find(a.rank); u != uncl.end()) g.unclassified = std::move(u->second);
    out.add(std::move(g));
  }
  // Ranks with API calls or kernels but no activity entry cannot exist (kernels make one);
  // API calls alone only set the whole-run flag.
  for (const auto& [r, v] : api)
    if ((!only || only->count(r)) && !v.second.empty()) out.any_api_calls = true;
  return out;
}

namespace {

nlohmann::json ranges_json(const std::vector<TimeRange>& v) {
  auto a = nlohmann::json::array();
  for (const auto& t : v) a.push_back({t.start_ns, t.end_ns});
  return a;
}
std::vector<TimeRange> ranges_from(const nlohmann::json& a) {
  std::vector<TimeRange> v;
  for (const auto& t : a) v.push_back({t.at(0).get<std::int64_t>(), t.at(1).get<std::int64_t>()});
  return v;
}

// The plain fields of a RankGather, for to_json and rank_gather_from_json alike.
template <class G, class F>
void gather_fields(G& g, F&& f) {
  f("rank", g.rank), f("kernels", g.kernels), f("memcpys", g.memcpys), f("api_calls", g.api_calls);
  f("has_windows", g.has_windows), f("whole_run", g.whole_run), f("detected", g.detected);
  f("no_api", g.no_api), f("any_comm", g.any_comm), f("exposed_by_op", g.exposed_by_op);
  f("idle_worst_ev", g.idle_worst_ev);
}

}  // namespace

nlohmann::json to_json(const RankGather& g) {
  nlohmann::json worst = nlohmann::json::array();
  for (const auto& w : g.worst) worst.push_back({w.ns, w.step, w.s, w.e});
  nlohmann::json late = nlohmann::json::array();
  for (const auto& [i, l] : g.late) late.push_back({i, l.cause, l.what, l.what_ns, l.busy_ns});
  nlohmann::json api = nlohmann::json::object();
  for (const auto& [n, v] : g.sync_by_api) api[n] = {v.first, v.second};
  nlohmann::json copies = nlohmann::json::object();
  for (const auto& [k, c] : g.copies) copies[k] = {c.bytes, c.dur, c.n, c.small};
  nlohmann::json uncl = nlohmann::json::object();
  for (const auto& [n, v] : g.unclassified) uncl[n] = {v.first, v.second};
  nlohmann::json j = {{"per_rank_row", to_json(g.per_rank_row)},
                      {"per_step_rows", to_json_array(g.per_step_rows)},
                      {"sums", {g.step, g.comm, g.exposed, g.wait, g.hideable}},
                      {"worst", worst},
                      {"windows", {g.window_ns, g.compute_ns, g.nwindows}},
                      {"sync", {g.sync_idle, g.sync_gaps}},
                      {"sync_by_api", api},
                      {"sync_worst", ranges_json(g.sync_worst)},
                      {"idle", {g.idle_ns, g.idle_gaps}},
                      {"idle_worst", ranges_json(g.idle_worst)},
                      {"busy", {g.has_busy, g.busy_first, g.busy_last}},
                      {"late", late},
                      {"experts", {g.expert_compute_ns, g.moe_phase_ns}},
                      {"copies", copies},
                      {"grad", {g.grad_has, g.grad_exposed, g.grad_step}},
                      {"unclassified", uncl}};
  gather_fields(g, JsonWrite{j});
  j["km_span"] = g.km_span ? nlohmann::json{g.km_span->first, g.km_span->second} : nlohmann::json(nullptr);
  return j;
}

RankGather rank_gather_from_json(const nlohmann::json& j) {
  RankGather g;
  gather_fields(g, JsonRead{j});
  g.per_rank_row = rank_metrics_from_json(j.at("per_rank_row"));
  for (const auto& row : j.at("per_step_rows")) g.per_step_rows.push_back(step_metrics_from_json(row));
  const auto& s = j.at("sums");
  g.step = s.at(0), g.comm = s.at(1), g.exposed = s.at(2), g.wait = s.at(3), g.hideable = s.at(4);
  for (const auto& w : j.at("worst")) g.worst.push_back({w.at(0), w.at(1), w.at(2), w.at(3)});
  const auto& w = j.at("windows");
  g.window_ns = w.at(0), g.compute_ns = w.at(1), g.nwindows = w.at(2);
  g.sync_idle = j.at("sync").at(0), g.sync_gaps = j.at("sync").at(1);
  for (const auto& [n, v] : j.at("sync_by_api").items()) g.sync_by_api[n] = {v.at(0).get<int>(), v.at(1).get<std::int64_t>()};
  g.sync_worst = ranges_from(j.at("sync_worst"));
  g.idle_ns = j.at("idle").at(0), g.idle_gaps = j.at("idle").at(1);
  g.idle_worst = ranges_from(j.at("idle_worst"));
  const auto& b = j.at("busy");
  g.has_busy = b.at(0), g.busy_first = b.at(1), g.busy_last = b.at(2);
  for (const auto& l : j.at("late"))
    g.late[l.at(0).get<std::int64_t>()] = LateActivity{l.at(1), l.at(2), l.at(3), l.at(4)};
  g.expert_compute_ns = j.at("experts").at(0), g.moe_phase_ns = j.at("experts").at(1);
  if (const auto& k = j.at("km_span"); !k.is_null()) g.km_span = {{k.at(0), k.at(1)}};
  for (const auto& [k, c] : j.at("copies").items()) g.copies[k] = {c.at(0), c.at(1), c.at(2), c.at(3)};
  const auto& gr = j.at("grad");
  g.grad_has = gr.at(0), g.grad_exposed = gr.at(1), g.grad_step = gr.at(2);
  for (const auto& [n, v] : j.at("unclassified").items())
    g.unclassified[n] = {v.at(0).get<std::int64_t>(), v.at(1).get<std::int64_t>()};
  return g;
}

}  // namespace moetune::analyzers::detail
