// SPDX-License-Identifier: Apache-2.0
// Expert traffic: per-expert load per layer (EMA over steps), hot and cold experts,
// balancedness, the token traffic matrix over the topology, and a placement plan
// (moetune's planner and an EPLB-style greedy, both evaluated on the same loads).
// Cost: O(routing rows) to build loads, then the planners (small: layers x E x R).
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "gather.h"
#include "moetune/analyzers/analyses.h"
#include "moetune/analyzers/evidence_format.h"
#include "moetune/analyzers/placement.h"
#include "moetune/analyzers/topology.h"
#include "alltoall_time.h"

namespace moetune::analyzers {
namespace {

// The communication vocabulary (moetune/trace/comm_vocab.h) with the run's active rules.
bool is_comm_kernel(const std::string& name) { return comm::classify_kernel(name) != comm::Kind::None; }

// Relative throughput per rank: min(compute speed, link speed), each relative to the median
// rank. Compute speed = median compute-kernel time / this rank's (a 1.6x straggler -> 0.63);
// link speed = mean link bandwidth to the other ranks / the median rank's.
std::vector<double> rank_speed(const detail::Gathered& gd, const RankLinks& links, int R, nlohmann::json& basis,
                               std::vector<double>& compute_speed) {
  auto median = [](std::vector<double> v) {
    std::vector<double> pos;
    for (double x : v)
      if (x > 0) pos.push_back(x);
    if (pos.empty()) return 0.0;
    std::sort(pos.begin(), pos.end());
    return pos.size() % 2 ? pos[pos.size() / 2] : 0.5 * (pos[pos.size() / 2 - 1] + pos[pos.size() / 2]);
  };
  std::vector<double> compute(static_cast<std::size_t>(R), 0.0), link(static_cast<std::size_t>(R), 0.0);
  for (const auto& [rank, g] : gd.ranks)  // compute kernel time per rank (gather_experts)
    if (auto r = static_cast<std::size_t>(rank); r < compute.size()) compute[r] = g.expert_compute_ns;
  for (int r = 0; r < R; ++r) link[static_cast<std::size_t>(r)] = links.mean_bandwidth(r);
  double mc = median(compute), ml = median(link);
  std::vector<double> speed(static_cast<std::size_t>(R), 1.0);
  compute_speed.assign(speed.size(), 1.0);
  for (std::size_t r = 0; r < speed.size(); ++r) {
    double cs = mc > 0 && compute[r] > 0 ? mc / compute[r] : 1.0;
    compute_speed[r] = std::clamp(cs, 0.02, 50.0);
    double ls = ml > 0 && link[r] > 0 ? link[r] / ml : 1.0;
    speed[r] = std::clamp(std::min(cs, ls), 0.02, 50.0);
  }
  basis = {{"compute_ns", compute}, {"mean_link_gbps", link}, {"relative_speed", speed}};
  return speed;
}

// Share of the step time spent in the MoE phases (NVTX `dispatch`/`experts`/`combine`) on rank r.
std::optional<double> moe_phase_share(const RunData& run, const detail::Gathered& gd, int r) {
  double phase = 0, step = 0;
  for (const auto& s : run.steps)
    if (s.rank.value == r) step += static_cast<double>(s.end_ns) - static_cast<double>(s.start_ns);
  if (auto g = gd.ranks.find(r); g != gd.ranks.end()) phase = g->second.moe_phase_ns;
  if (step <= 0 || phase <= 0) return std::nullopt;
  return std::min(1.0, phase / step);
}

}  // namespace

namespace detail {

// Gather: the rank's compute-kernel time (experts' compute speed) and its NVTX MoE phases.
void gather_experts(const RunData& run, const GatherInputs& in, RankGather& g) {
  for (const auto& k : in.kernels)
    if (!is_comm_kernel(run.str(k.name))) g.expert_compute_ns += static_cast<double>(k.dur_ns);
  for (const auto* n : in.nvtx) {
    const auto& t = run.str(n->name);
    if (t == "dispatch" || t == "experts" || t == "combine") g.moe_phase_ns += static_cast<double>(n->dur_ns);
  }
}

// Measure + judge: loads, placement plans, hot/cold/imbalance findings.
void judge_experts(const RunData& run, const Gathered& gd, const AnalyzeOptions& opts, AnalysisResult& out) {
  if (run.routing.empty()) {
    out.notes.push_back("not enough data: experts: no expert_routing rows (the application reported no "
                        "tokens per expert; see docs/CONVENTIONS-NVTX.md)");
    return;
  }
  // Layer, expert and rank ids come from the file and index the load tables below: keep
  // only rows whose ids are >= 0 and below dense_id_limit(distinct ids), so the tables
  // follow the number of distinct ids, never one huge id (expert 2147483647, rank -1).
  std::set<std::int64_t> layer_ids, expert_ids, rank_ids;
  for (const auto& r : run.routing) {
    if (r.layer >= 0) layer_ids.insert(r.layer);
    if (r.expert >= 0) expert_ids.insert(r.expert);
    if (r.rank.value >= 0) rank_ids.insert(r.rank.value);
  }
  for (const auto& p : run.placement) {
    if (p.expert >= 0) expert_ids.insert(p.expert);
    if (p.rank.value >= 0) rank_ids.insert(p.rank.value);
  }
  const std::int64_t lim_l = dense_id_limit(layer_ids.size()), lim_e = dense_id_limit(expert_ids.size()),
                     lim_r = dense_id_limit(rank_ids.size());
  auto ok = [](std::int64_t id, std::int64_t lim) { return id >= 0 && id < lim; };
  std::vector<const ExpertRoutingRow*> routing;
  std::vector<const ExpertPlacementRow*> placement;
  routing.reserve(run.routing.size());
  for (const auto& r : run.routing)
    if (ok(r.layer, lim_l) && ok(r.expert, lim_e) && ok(r.rank.value, lim_r) && r.tokens >= 0) routing.push_back(&r);
  for (const auto& p : run.placement)
    if (ok(p.layer, lim_l) && ok(p.expert, lim_e) && ok(p.rank.value, lim_r)) placement.push_back(&p);
  const std::size_t dropped = run.routing.size() - routing.size() + run.placement.size() - placement.size();
  if (dropped > 0)
    out.notes.push_back("experts: ignored " + std::to_string(dropped) +
                        " expert_routing/expert_placement rows with a negative or out-of-range layer, expert or "
                        "rank id (or negative tokens)");
  if (routing.empty()) {
    out.notes.push_back("not enough data: experts: no usable expert_routing rows");
    return;
  }
  int L = 0, E = 0;
  for (const auto* r : routing) {
    L = std::max(L, r->layer + 1);
    E = std::max(E, r->expert + 1);
  }
  for (const auto* p : placement) E = std::max(E, p->expert + 1);
  RankLinks links = RankLinks::build(run);
  int R = links.ranks();
  for (const auto* r : routing) R = std::max(R, static_cast<int>(r->rank.value) + 1);
  for (const auto* p : placement) R = std::max(R, static_cast<int>(p->rank.value) + 1);
  if (R < 2 || E < 2) {
    out.notes.push_back("not enough data: experts: need >= 2 ranks and >= 2 experts (have " + std::to_string(R) +
                        " ranks, " + std::to_string(E) + " experts)");
    return;
  }
  constexpr double kMaxCells = 1 << 25;  // layers x ranks x experts doubles in the load tables (256 MB)
  if (static_cast<double>(L) * R * E > kMaxCells) {
    out.notes.push_back("not analysed: experts: " + std::to_string(L) + " layers x " + std::to_string(R) + " ranks x " +
                        std::to_string(E) + " experts exceeds the analysis limit of " +
                        std::to_string(static_cast<long long>(kMaxCells)) + " cells");
    return;
  }
  const auto Ls = static_cast<std::size_t>(L), Rs = static_cast<std::size_t>(R), Es = static_cast<std::size_t>(E);

  // tokens[layer][step] -> [src][expert]; then EMA over steps in order.
  std::vector<std::map<std::int64_t, std::vector<std::vector<double>>>> per_step(Ls);
  for (const auto* rp : routing) {
    const auto& r = *rp;
    auto& m = per_step[static_cast<std::size_t>(r.layer)][r.step];
    if (m.empty()) m.assign(Rs, std::vector<double>(Es, 0.0));
    m[static_cast<std::size_t>(r.rank.value)][static_cast<std::size_t>(r.expert)] += static_cast<double>(r.tokens);
  }
  PlanInputs in;
  in.experts = E;
  in.ranks = R;
  in.memory_budget_pct = opts.memory_budget_pct;
  in.load.assign(Ls, std::vector<std::vector<double>>(Rs, std::vector<double>(Es, 0.0)));
  nlohmann::json heatmap = nlohmann::json::array();
  for (std::size_t l = 0; l < Ls; ++l) {
    bool first = true;
    nlohmann::json steps = nlohmann::json::array(), loads = nlohmann::json::array();
    for (const auto& [step, m] : per_step[l]) {
      std::vector<double> col(Es, 0.0);
      for (std::size_t s = 0; s < Rs; ++s)
        for (std::size_t e = 0; e < Es; ++e) {
          double x = m[s][e];
          col[e] += x;
          double& ema = in.load[l][s][e];
          ema = first ? x : opts.ema_alpha * ema + (1 - opts.ema_alpha) * x;
        }
      first = false;
      steps.push_back(step);
      loads.push_back(col);
    }
    heatmap.push_back({{"layer", l}, {"steps", steps}, {"tokens", loads}});
  }
  // Current placement: the recorded one, else the samples' default (expert e on rank e % R).
  std::string placement_basis = "recorded (expert_placement)";
  in.current = default_placement(L, E, R);
  if (placement.empty()) {
    placement_basis = "assumed expert e on rank e % R (no expert_placement rows)";
  } else {
    std::map<int, std::vector<std::vector<std::pair<int, int>>>> tmp;
    for (const auto* p : placement) {
      auto& ex = tmp[p->layer];
      if (ex.empty()) ex.resize(Es);
      ex[static_cast<std::size_t>(p->expert)].push_back({p->replica, static_cast<int>(p->rank.value)});
    }
    for (auto& [layer, ex] : tmp) {
      bool complete = std::all_of(ex.begin(), ex.end(), [](const auto& v) { return !v.empty(); });
      if (!complete || layer >= L) continue;
      std::vector<std::vector<int>> ranks(Es);
      for (std::size_t e = 0; e < Es; ++e) {
        std::sort(ex[e].begin(), ex[e].end());
        for (auto [rep, rk] : ex[e])
          if (std::find(ranks[e].begin(), ranks[e].end(), rk) == ranks[e].end()) ranks[e].push_back(rk);
      }
      in.current.layers[layer] = std::move(ranks);
    }
  }
  in.node_of_rank = links.nodes();
  in.node_of_rank.resize(Rs, 0);
  nlohmann::json speed_basis;
  std::vector<double> compute_speed;
  in.speed = rank_speed(gd, links, R, speed_basis, compute_speed);

  // Hot / cold experts per layer by EMA load (metrics list the top/bottom k; the findings
  // treat an expert as hot only above 1.5x the mean expert load).
  out.experts = {};
  std::vector<std::vector<int>> hot_ids(Ls);
  int cold_count = 0;
  for (std::size_t l = 0; l < Ls; ++l) {
    std::vector<double> w(Es, 0.0);
    for (const auto& src : in.load[l])
      for (std::size_t e = 0; e < Es; ++e) w[e] += src[e];
    double total = std::accumulate(w.begin(), w.end(), 0.0), mean = total / E;
    std::vector<int> order(Es);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return w[static_cast<std::size_t>(a)] > w[static_cast<std::size_t>(b)]; });
    int k = std::min(opts.hot_k, E);
    const auto& cur = in.current.layers.at(static_cast<int>(l));
    for (int i = 0; i < k; ++i) {
      auto e = static_cast<std::size_t>(order[static_cast<std::size_t>(i)]);
      if (w[e] > opts.experts.hot_factor * mean) hot_ids[l].push_back(static_cast<int>(e));  // "hot" only if clearly above the mean
      auto mark = [&](std::size_t x) {
        return ExpertMark{static_cast<int>(l), static_cast<int>(x), w[x], total > 0 ? 100 * w[x] / total : 0, cur[x]};
      };
      out.experts.hot.push_back(mark(e));
      out.experts.cold.push_back(mark(static_cast<std::size_t>(order[Es - 1 - static_cast<std::size_t>(i)])));
    }
    for (std::size_t e = 0; e < Es; ++e)
      if (w[e] < opts.experts.cold_factor * mean) ++cold_count;
  }

  const nlohmann::json hot = to_json_array(out.experts.hot), cold = to_json_array(out.experts.cold);
  PlanEval ev_cur = evaluate_plan(in, in.current);
  PlacementPlan plan = plan_placement(in);
  PlanEval ev_plan = evaluate_plan(in, plan);
  PlacementPlan eplb = plan_eplb_greedy(in);
  PlanEval ev_eplb = evaluate_plan(in, eplb);

  // Traffic matrix (tokens per step, src rank -> dst rank) under the current placement.
  std::vector<std::vector<double>> matrix(Rs, std::vector<double>(Rs, 0.0));
  for (std::size_t l = 0; l < Ls; ++l) {
    const auto& ex = in.current.layers.at(static_cast<int>(l));
    for (std::size_t s = 0; s < Rs; ++s)
      for (std::size_t e = 0; e < Es; ++e) {
        double t = in.load[l][s][e];
        if (t <= 0) continue;
        const auto& rs = ex[e];
        if (std::find(rs.begin(), rs.end(), static_cast<int>(s)) != rs.end()) {
          matrix[s][s] += t;
          continue;
        }
        std::vector<int> near;
        for (int r : rs)
          if (links.node_of(r) == links.node_of(static_cast<int>(s))) near.push_back(r);
        const auto& tg = near.empty() ? rs : near;
        for (int r : tg) matrix[s][static_cast<std::size_t>(r)] += t / static_cast<double>(tg.size());
      }
  }
  auto& mx = out.metrics["experts"];
  mx = {{"layers", L}, {"experts", E}, {"ranks", R}, {"balancedness", ev_cur.balancedness},
        {"hot", hot}, {"cold", cold}, {"ema_alpha", opts.ema_alpha}, {"placement_basis", placement_basis},
        {"traffic", {{"local_pct", ev_cur.local_pct}, {"same_node_pct", ev_cur.same_node_pct},
                     {"cross_node_pct", ev_cur.cross_node_pct}, {"cross_node_tokens_per_step", ev_cur.cross_node_tokens},
                     {"matrix_tokens_per_step", matrix}}},
        {"rank_speed", speed_basis}, {"load_ema", in.load}, {"heatmap", heatmap},
        {"plans", {{"current", to_json(ev_cur)}, {"moetune", to_json(ev_plan)}, {"eplb_greedy", to_json(ev_eplb)}}}};

  // Findings. Whether the load is unbalanced is judged on tokens per rank alone (a slow GPU
  // is the straggler analysis' business, a slow link pcie_topology/low_bandwidth's); the
  // rank that processes the most tokens sets the pace of every MoE layer.
  int busiest = 0;
  for (int r = 1; r < R; ++r)
    if (ev_cur.rank_tokens[static_cast<std::size_t>(r)] > ev_cur.rank_tokens[static_cast<std::size_t>(busiest)]) busiest = r;
  const double time_balance = ev_cur.balancedness;
  bool busiest_has_hot = false;
  nlohmann::json hot_on_busiest = nlohmann::json::array();
  for (std::size_t l = 0; l < Ls; ++l)
    for (int e : hot_ids[l]) {
      const auto& rs = in.current.layers.at(static_cast<int>(l))[static_cast<std::size_t>(e)];
      if (std::find(rs.begin(), rs.end(), busiest) != rs.end()) {
        busiest_has_hot = true;
        hot_on_busiest.push_back({{"layer", l}, {"expert", e}});
      }
    }
  double time_gain = ev_cur.max_rank_time > 0 ? 1.0 - ev_plan.max_rank_time / ev_cur.max_rank_time : 0;
  auto share = moe_phase_share(run, gd, busiest);
  Finding f;
  f.ranks = {busiest};
  for (const auto& s : run.steps)
    if (s.rank.value == busiest) {
      if (f.time_ranges.empty()) f.time_ranges.push_back({s.start_ns, s.end_ns});
      f.time_ranges.back().start_ns = std::min(f.time_ranges.back().start_ns, s.start_ns);
      f.time_ranges.back().end_ns = std::max(f.time_ranges.back().end_ns, s.end_ns);
    }
  f.evidence = {{"busiest_rank", busiest}, {"balancedness_tokens", ev_cur.balancedness},
{"rank_tokens_per_step", ev_cur.rank_tokens},
                {"rank_speed", in.speed}, {"rank_compute_speed", compute_speed}, {"hot", hot}, {"hot_on_busiest_rank", hot_on_busiest},
                {"placement_basis", placement_basis}, {"plan", to_json(ev_plan)}, {"eplb_greedy", to_json(ev_eplb)},
                {"current", to_json(ev_cur)}};
  // Two parts. Compute: the busiest rank's expert work paces every MoE layer. Traffic: the
  // dispatch/combine all-to-all ends when the rank with the most tokens to send or receive is
  // done (cross-node tokens when the run spans nodes, else all remote tokens), and while it
  // runs the other ranks wait. Calibrated on one H100, 4 socket-linked emulated nodes
  // (tests/data/device/cal1b_h100_emul4.pvm.txt): placement alone gained 33.6 % of the step;
  // the compute part alone predicted 5.6 % (the wait the hot rank caused was not credited).
  const auto a2a = detail::alltoall_time(run);
  const bool by_cross = ev_cur.max_rank_cross_node_tokens > 0;
  const double pace_cur = by_cross ? ev_cur.max_rank_cross_node_tokens : ev_cur.max_rank_remote_tokens;
  const double pace_plan = by_cross ? ev_plan.max_rank_cross_node_tokens : ev_plan.max_rank_remote_tokens;
  const double pace_gain = pace_cur > 0 ? std::max(0.0, 1.0 - pace_plan / pace_cur) : 0.0;
  const double comm_part = pace_gain * a2a.share();
  const double compute_part = std::max(0.0, time_gain) * std::min(share ? *share : 1.0, 1.0 - a2a.share());
  f.estimated_gain_pct = std::min(95.0, 100.0 * (compute_part + comm_part));
  f.evidence["gain_model"] = {{"compute_part_pct", 100 * compute_part},
                              {"alltoall_part_pct", 100 * comm_part},
                              {"alltoall_share_pct", 100 * a2a.share()},
                              {"pace_tokens_current", pace_cur},
                              {"pace_tokens_plan", pace_plan},
                              {"pace_basis", by_cross ? "cross-node" : "remote"}};
  const std::string traffic_basis =
      a2a.ranks > 0 ? "; the all-to-all (" + std::to_string(static_cast<int>(100 * a2a.share())) +
                          " % of the step) scales with the busiest rank's " + (by_cross ? "cross-node" : "remote") +
                          " tokens sent or received, " + format_number(pace_cur) + " -> " + format_number(pace_plan) +
                          " per step"
                    : "; no all-to-all ops recorded, so no traffic part";
  f.gain_basis = "busiest rank's expert tokens/speed drop from " + format_number(ev_cur.max_rank_time) + " to " +
                 format_number(ev_plan.max_rank_time) + " per step under the plan; assumes MoE layer time scales with it" +
                 (share ? ", MoE phases are " + std::to_string(static_cast<int>(100 * *share)) + " % of the step"
                        : " (MoE phase share of the step unknown: gain is of the MoE layer time)") +
                 traffic_basis;
  Fix fix{"placement", {{"file", "placement.json"}, {"plan", to_json(plan)}}};
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "Load the plan (--placement placement.json): predicted local-hit %.0f%% -> %.0f%%, cross-node "
                "tokens/step %.0f -> %.0f, busiest-rank time %.0f -> %.0f (EPLB greedy: %.0f, %.0f%% local), "
                "memory +%.1f%% expert weights (%d extra copies).",
                ev_cur.local_pct, ev_plan.local_pct, ev_cur.cross_node_tokens, ev_plan.cross_node_tokens,
                ev_cur.max_rank_time, ev_plan.max_rank_time, ev_eplb.max_rank_time, ev_eplb.local_pct,
                ev_plan.memory_cost_pct, ev_plan.extra_copies);
  f.recommendation = {buf, {fix}};
  const auto& th = opts.experts;
  const bool imbalanced = ev_cur.balancedness < th.max_balancedness;
  if (imbalanced && time_gain > th.min_gain_pct / 100) {
    f.kind = busiest_has_hot ? FindingKind::HotExperts : FindingKind::ExpertImbalance;
    f.severity = time_balance < th.high_balance ? FindingSeverity::High : FindingSeverity::Medium;
    f.title = busiest_has_hot ? "Hot experts sit on rank " + std::to_string(busiest) +
                                    ", which paces every MoE layer (token balance " +
                                    std::to_string(static_cast<int>(100 * time_balance)) + " %)"
                              : "Expert load is unbalanced across ranks: rank " + std::to_string(busiest) +
                                    " processes the most tokens (balance " +
                                    std::to_string(static_cast<int>(100 * time_balance)) + " %)";
    out.findings.push_back(f);
  } else if (cold_count > 0 && ev_cur.cross_node_pct > th.cold_min_cross_node_pct &&
             ev_plan.cross_node_tokens < th.cold_max_plan_ratio * ev_cur.cross_node_tokens) {
    f.kind = FindingKind::ColdExpertTraffic;
    f.severity = FindingSeverity::Medium;
    f.title = std::to_string(static_cast<int>(ev_cur.cross_node_pct)) +
              " % of routed tokens cross nodes while cold experts hold fast slots";
    f.estimated_gain_pct = std::min(95.0, 100.0 * comm_part);
    f.gain_basis = "cross-node tokens per step drop from " + format_number(ev_cur.cross_node_tokens) + " to " +
                   format_number(ev_plan.cross_node_tokens) + traffic_basis;
    out.findings.push_back(f);
  }
}

}  // namespace detail

}  // namespace moetune::analyzers
