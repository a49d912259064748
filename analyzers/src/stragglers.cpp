// SPDX-License-Identifier: Apache-2.0
// Stragglers and heterogeneity, per rank (the nsys expert-system rules, done per rank):
//   straggler - a rank whose compute per step is >= 10 % (and >= 100 us) above the median
//               of the other ranks; others lose that much per step waiting for it. When the
//               run records routing and placement, the cause is told apart: a rank that
//               also computes >= 10 % more expert tokens than the others' median is slow
//               because of its expert load (fix: placement), else the GPU itself is slow;
//   host_sync - blocking synchronisation API calls (cudaDeviceSynchronize, stream/event
//               sync, blocking cudaMemcpy) that leave the GPU idle after they return;
//   gpu_idle  - gaps with no GPU work >= opts.idle_gap_ns inside steps, not already
//               explained by a host sync.
// Cost: O(N) to fold activity (rank_activity.h) plus O(log N) per sync call / gap.
// Split (gather.h): gather_* reads one rank's events; judge_* reads only the gathers.
#include <algorithm>
#include <cstdio>
#include <map>

#include "gather.h"
#include "judge.h"
#include "moetune/analyzers/analyses.h"
#include "sat_math.h"

namespace moetune::analyzers {
namespace {
using namespace detail;

struct RankTotals {
  const RankGather* act = nullptr;
  std::int64_t window_ns = 0, compute_ns = 0;
  double steps = 0;
  double compute_per_step() const { return steps > 0 ? static_cast<double>(compute_ns) / steps : 0; }
  double step_ns() const { return steps > 0 ? static_cast<double>(window_ns) / steps : 0; }
};

// Expert tokens each rank computes per steady step (routing rows: tokens of source rank to
// expert; placement: where the expert lives). A token goes to the copy on its own rank, else
// the copies share it evenly (the planner's rule, placement.h). Empty without routing or
// placement, or when a routed expert has no placement row.
// Stored sparsely: rank ids come from the file, so memory follows the hosting ranks, not the
// largest id (fuzz_store: a placement on rank 2^28 asked for a 2 GiB vector).
struct RankTokens {
  std::map<int, double> v;  // ranks that host an expert
  std::size_t n = 0;        // largest hosting rank + 1: ids 0..n-1 take part, absent ones with 0
  double at(std::size_t r) const {
    auto it = v.find(static_cast<int>(r));
    return it == v.end() ? 0.0 : it->second;
  }
};

RankTokens expert_tokens_per_rank(const RunData& run, const SteadySteps& ctx_steady) {
  if (run.routing.empty() || run.placement.empty()) return {};
  std::map<std::pair<int, int>, std::vector<int>> where;  // (layer, expert) -> ranks (deduplicated)
  for (const auto& p : run.placement) {
    auto& v = where[{p.layer, p.expert}];
    if (std::find(v.begin(), v.end(), static_cast<int>(p.rank.value)) == v.end()) v.push_back(static_cast<int>(p.rank.value));
  }
  const SteadySteps& steady = ctx_steady;
  std::map<std::int64_t, bool> steps;
  RankTokens tokens;
  for (const auto& r : run.routing) {
    if (!steady.is_steady(r.step)) continue;
    auto it = where.find({r.layer, r.expert});
    if (it == where.end()) return {};
    steps[r.step] = true;
    const auto& ranks = it->second;
    auto own = std::find(ranks.begin(), ranks.end(), static_cast<int>(r.rank.value));
    for (int h : ranks) {
      if (own != ranks.end() && h != *own) continue;
      if (h < 0) continue;
      tokens.n = std::max(tokens.n, static_cast<std::size_t>(h) + 1);
      tokens.v[h] += static_cast<double>(r.tokens) / (own != ranks.end() ? 1.0 : static_cast<double>(ranks.size()));
    }
  }
  if (steps.empty()) return {};
  for (auto& [h, t] : tokens.v) t /= static_cast<double>(steps.size());
  return tokens;
}

// Median over ranks 0..n-1 except `skip` (skip < n), the absent ranks counting 0: the same
// value median_of gives on the dense list, without making it.
double median_without(const RankTokens& t, std::size_t skip) {
  std::vector<double> o;
  for (const auto& [h, x] : t.v)
    if (static_cast<std::size_t>(h) != skip) o.push_back(x);
  const std::size_t zeros = t.n - t.v.size() - (t.v.count(static_cast<int>(skip)) ? 0 : 1);
  const std::size_t m = o.size() + zeros;
  if (m == 0) return 0;
  std::sort(o.begin(), o.end());
  const auto neg = static_cast<std::size_t>(std::lower_bound(o.begin(), o.end(), 0.0) - o.begin());
  auto kth = [&](std::size_t k) { return k < neg ? o[k] : k < neg + zeros ? 0.0 : o[k - zeros]; };
  return m % 2 ? kth(m / 2) : 0.5 * (kth(m / 2 - 1) + kth(m / 2));
}

void find_stragglers(const RunData& run, const Gathered& gd, const std::vector<RankTotals>& tot,
                     const AnalyzeOptions::Straggler& th, AnalysisResult& out) {
  if (tot.size() < 2) {
    out.notes.push_back("not enough data: straggler: needs two or more ranks");
    return;
  }
  bool whole = false;
  for (const auto& t : tot) whole |= t.act->whole_run;
  if (whole) {
    // Without steps compare busy fractions only when the traced windows are alike.
    auto [mn, mx] = std::minmax_element(tot.begin(), tot.end(), [](auto& a, auto& b) { return a.window_ns < b.window_ns; });
    if (mn->window_ns <= 0 || static_cast<double>(mx->window_ns) > 1.2 * static_cast<double>(mn->window_ns)) {
      out.notes.push_back("not enough data: straggler: no steps and the ranks' traced windows differ, so compute "
                          "per rank is not comparable");
      return;
    }
  }
  const auto& insts = gd.ctx.instances;
  const RankTokens expert_tokens = expert_tokens_per_rank(run, gd.ctx.steady);
  for (const auto& t : tot) {
    std::vector<double> others;
    for (const auto& o : tot)
      if (&o != &t) others.push_back(o.compute_per_step());
    std::sort(others.begin(), others.end());
    double med = others.size() % 2 ? others[others.size() / 2]
                                   : (others[others.size() / 2 - 1] + others[others.size() / 2]) / 2;
    double mine = t.compute_per_step();
    if (med <= 0 || mine < th.ratio * med || mine - med < static_cast<double>(th.min_excess_ns)) continue;
    // Measured: what the other ranks waited in collectives where this rank arrived last.
    std::int64_t others_wait = 0;
    int late_in = 0;
    std::vector<TimeRange> ranges;
    for (const auto& in : insts) {
      if (in.late_rank != t.act->rank) continue;
      ++late_in;
      for (const auto& m : in.members)
        if (m.rank != t.act->rank) others_wait = sat_add(others_wait, in.wait(m));
      if (ranges.size() < 5 && in.last_arrival > in.first_arrival) ranges.push_back({in.first_arrival, in.last_arrival});
    }
    double step = t.step_ns();
    // Expert load of this rank against the other ranks' median (routing x placement).
    std::optional<double> my_tokens, others_tokens;
    if (auto r = static_cast<std::size_t>(t.act->rank); r < expert_tokens.n && expert_tokens.n >= 2) {
      my_tokens = expert_tokens.at(r);
      others_tokens = median_without(expert_tokens, r);
    }
    const bool by_load = my_tokens && others_tokens && *others_tokens > 0 && *my_tokens >= th.ratio * *others_tokens;
    Finding f;
    f.kind = FindingKind::Straggler;
    f.severity = severity_at_least((mine - med) / std::max(step, 1.0), th.medium_pct / 100, th.high_pct / 100);
    f.title = fmt("Rank %.0f is a straggler: its compute takes %.0f%% longer than the other ranks'", t.act->rank,
                  100 * (mine / med - 1));
    f.ranks = {t.act->rank};
    f.time_ranges = ranges;
    f.evidence = {{"rank", t.act->rank},
                  {"compute_ms_per_step", mine / 1e6},
                  {"others_median_compute_ms_per_step", med / 1e6},
                  {"slower_pct", 100 * (mine / med - 1)},
                  {"kernels", t.act->kernels},
                  {"step_time_ms", step / 1e6},
                  {"collectives_arrived_last", late_in},
                  {"others_waited_ms_total", ms(others_wait)}};
    if (my_tokens && others_tokens) {
      f.evidence["expert_tokens_per_step"] = *my_tokens;
      f.evidence["others_median_expert_tokens_per_step"] = *others_tokens;
      f.evidence["cause"] = by_load ? "expert load: the rank computes more routed tokens than the others (routing x placement)"
                                    : "not the expert load: the rank computes no more routed tokens than the others";
    }
    if (by_load) {
      f.title += fmt(": it computes %.1fx the others' expert tokens", *my_tokens / *others_tokens);
      char buf[768];
      std::snprintf(buf, sizeof buf,
                    "Rank %d needs %.2f ms more compute per step than the median of the others because the experts it "
                    "hosts receive %.0f tokens per step against %.0f on the others (median): the GPU is not slow, the "
                    "expert placement is uneven. Rebalance the experts (the hot_experts finding's placement plan); every "
                    "other rank waits for this one at the next collective.",
                    t.act->rank, (mine - med) / 1e6, *my_tokens, *others_tokens);
      f.recommendation.text = buf;
      f.recommendation.fixes.push_back({"code", {{"description", "move hot experts off this rank or replicate them "
                                                                 "(moetune plan / the hot_experts placement plan)"}}});
    } else {
      f.recommendation.text = fmt("Rank %.0f needs %.2f ms more compute per step than the median of the others; every "
                                  "other rank waits for it at the next collective. Check that GPU (clocks, thermals, "
                                  "power cap, PCIe link, other processes) and the work it gets (tokens per rank / expert "
                                  "placement); move load off it or replace the node.",
                                  t.act->rank, (mine - med) / 1e6);
      if (my_tokens)
        f.recommendation.text += " Its expert load is not above the others', so look at the GPU first.";
      f.recommendation.fixes.push_back({"code", {{"description", "rebalance work (expert placement / batch split) away "
                                                                 "from the slow rank or replace its GPU"}}});
    }
    f.estimated_gain_pct = step > 0 ? 100 * (mine - med) / step : 0;
    f.gain_basis = "the straggler's extra compute per step over the other ranks' median, as a share of its step time; "
                   "assumes the other ranks stop waiting once it matches them";
    if (by_load)
      f.gain_basis += "; the same expert-load imbalance as hot_experts, so the two gains do not add up";
    out.findings.push_back(std::move(f));
  }
}

}  // namespace

namespace detail {

// Gather: the rank's compute over its windows, GPU idle after its blocking sync calls, and
// its idle gaps inside steps (with what the host did during the longest ones).
void gather_stragglers(const RunData& run, const GatherInputs& in, const AnalyzeOptions& opts, RankGather& g) {
  const auto& a = in.a;
  if (a.windows.empty()) return;
  for (const auto& w : a.windows) {
    g.window_ns = sat_add(g.window_ns, w.e - w.s);  // windows from the file may overlap: sums saturate
    g.compute_ns = sat_add(g.compute_ns, measure(a.compute, w.s, w.e));
  }
  g.nwindows = static_cast<std::int64_t>(a.windows.size());
  const auto& busy = a.busy;
  // host_sync: the GPU gap that the sync's return falls into.
  std::vector<Interval> sync_gaps;
  for (const auto* c : in.syncs) {
    auto te = c->end_ns();
    auto it = std::upper_bound(busy.begin(), busy.end(), te, [](std::int64_t v, const Interval& iv) { return v < iv.e; });
    if (it == busy.end() || it->s <= te) continue;  // GPU busy when the sync returned, or no later work
    std::int64_t prev_end = it == busy.begin() ? c->start_ns : std::prev(it)->e;
    std::int64_t from = std::max(prev_end, c->start_ns), to = it->s;
    if (!a.whole_run) {  // count only the part inside a steady step (warm-up and setup are not the loop)
      auto w = std::upper_bound(a.windows.begin(), a.windows.end(), from,
                                [](std::int64_t v, const Window& x) { return v < x.e; });
      if (w == a.windows.end() || w->s >= to) continue;
      from = std::max(from, w->s), to = std::min(to, w->e);
    }
    std::int64_t idle = to - from;
    if (idle < opts.host_sync.min_idle_per_call_ns) continue;
    sync_gaps.push_back({from, to});
    g.sync_idle = sat_add(g.sync_idle, idle);
    auto& e = g.sync_by_api[run.str(c->name)];
    ++e.first;
    e.second = sat_add(e.second, idle);
  }
  g.sync_gaps = static_cast<std::int64_t>(sync_gaps.size());
  {
    auto worst = sync_gaps;
    std::sort(worst.begin(), worst.end(), [](auto& x, auto& y) { return x.e - x.s > y.e - y.s; });
    for (std::size_t i = 0; i < worst.size() && i < 5; ++i) g.sync_worst.push_back({worst[i].s, worst[i].e});
  }

  // gpu_idle: gaps inside steps not explained by a host sync.
  std::vector<Interval> idle;
  for (const auto& w : a.windows)
    for (const auto& gp : gaps(busy, w.s, w.e, opts.idle_gap_ns)) {
      bool by_sync = std::any_of(sync_gaps.begin(), sync_gaps.end(),
                                 [&](const Interval& s) { return s.s < gp.e && s.e > gp.s; });
      if (by_sync) continue;
      idle.push_back(gp);
      g.idle_ns = sat_add(g.idle_ns, gp.e - gp.s);
    }
  g.idle_gaps = static_cast<std::int64_t>(idle.size());
  auto worst = idle;
  std::sort(worst.begin(), worst.end(), [](auto& x, auto& y) { return x.e - x.s > y.e - y.s; });
  for (std::size_t i = 0; i < worst.size() && i < 5; ++i) {
    g.idle_worst.push_back({worst[i].s, worst[i].e});
    // What the host did in the gap: the API call (started up to 1 s before) covering most of it.
    std::string host = in.api_sorted ? "no CUDA API call (host busy outside CUDA)" : "unknown";
    std::int64_t best = 0;
    const auto& rows = in.api_rows;
    auto lo = std::lower_bound(rows.begin(), rows.end(), worst[i].s - 1'000'000'000,
                               [](const ApiCallRow& c, std::int64_t v) { return c.start_ns < v; });
    for (auto it = lo; in.api_sorted && it != rows.end() && it->start_ns < worst[i].e; ++it) {
      auto ov = std::min(it->end_ns(), worst[i].e) - std::max(it->start_ns, worst[i].s);
      if (ov > best) best = ov, host = run.str(it->name);
    }
    g.idle_worst_ev.push_back(
        {{"start_ns", worst[i].s}, {"gap_ms", ms(worst[i].e - worst[i].s)}, {"host_during_gap", host}});
  }
}

// Measure + judge: straggler across ranks; host_sync and gpu_idle per rank.
void judge_stragglers(const RunData& run, const Gathered& gd, const AnalyzeOptions& opts, AnalysisResult& out) {
  if (gd.ranks.empty()) {
    out.notes.push_back("not enough data: stragglers: the run has no GPU activity");
    return;
  }
  std::vector<RankTotals> tot;
  for (const auto& [r, g] : gd.ranks) {
    if (!g.has_windows) continue;
    RankTotals t;
    t.act = &g;
    t.window_ns = g.window_ns;
    t.compute_ns = g.compute_ns;
    t.steps = static_cast<double>(g.nwindows);
    tot.push_back(t);
  }
  find_stragglers(run, gd, tot, opts.straggler, out);
  if (!gd.any_api_calls) out.notes.push_back("not enough data: host_sync: no CUDA API calls recorded");

  for (const auto& t : tot) {
    const auto& a = *t.act;
    const std::int64_t sync_idle = a.sync_idle;
    double share = t.window_ns > 0 ? static_cast<double>(sync_idle) / static_cast<double>(t.window_ns) : 0;
    if (share >= opts.host_sync.min_pct / 100 && sync_idle >= opts.idle_gap_ns) {
      Finding f;
      f.kind = FindingKind::HostSync;
      f.severity = severity_at_least(share, opts.host_sync.medium_pct / 100, opts.host_sync.high_pct / 100);
      f.title = fmt("Rank %.0f: host synchronisation leaves the GPU idle %.2f ms per step (%.0f%% of step time)", a.rank,
                    ms(sync_idle) / t.steps, 100 * share);
      f.ranks = {a.rank};
      f.time_ranges = a.sync_worst;
      nlohmann::json apis_ev = nlohmann::json::object();
      std::string top;
      std::int64_t top_ns = -1;
      for (const auto& [name, e] : a.sync_by_api) {
        apis_ev[name] = {{"calls", e.first}, {"gpu_idle_after_ms", ms(e.second)}};
        if (e.second > top_ns) top_ns = e.second, top = name;
      }
      f.evidence = {{"rank", a.rank}, {"sync_calls_with_idle", static_cast<std::size_t>(a.sync_gaps)},
                    {"gpu_idle_after_sync_ms", ms(sync_idle)}, {"share_of_step_time_pct", 100 * share},
                    {"by_api", apis_ev}};
      f.recommendation.text = "Rank " + std::to_string(a.rank) + " blocks the host in " + top +
                              " and the GPU then waits for new work. Remove synchronisation from the step loop "
                              "(.item(), .cpu(), printing GPU tensors, blocking copies): order streams with "
                              "cudaEventRecord + cudaStreamWaitEvent and copy to pinned memory with non_blocking / "
                              "cudaMemcpyAsync.";
      f.recommendation.fixes.push_back({"code", {{"description", "replace " + top + " in the step loop with event-based "
                                                                 "stream ordering and asynchronous copies"}}});
      f.estimated_gain_pct = 100 * share;
      f.gain_basis = "GPU idle time that follows blocking sync calls, as a share of the rank's step time; assumes the "
                     "host keeps the GPU fed once the sync is gone";
      out.findings.push_back(std::move(f));
    }

    const std::int64_t idle_ns = a.idle_ns;
    double ishare = t.window_ns > 0 ? static_cast<double>(idle_ns) / static_cast<double>(t.window_ns) : 0;
    if (ishare < opts.gpu_idle.min_pct / 100 || a.idle_gaps == 0) continue;
    Finding f;
    f.kind = FindingKind::GpuIdle;
    f.severity = severity_at_least(ishare, opts.gpu_idle.medium_pct / 100, opts.gpu_idle.high_pct / 100);
    f.title = fmt("Rank %.0f: GPU idle %.2f ms per step in gaps of >= %.1f ms with no GPU work", a.rank,
                  ms(idle_ns) / t.steps, ms(opts.idle_gap_ns));
    f.ranks = {a.rank};
    f.time_ranges = a.idle_worst;
    f.evidence = {{"rank", a.rank}, {"gaps", static_cast<std::size_t>(a.idle_gaps)}, {"idle_ms_total", ms(idle_ns)},
                  {"share_of_step_time_pct", 100 * ishare}, {"min_gap_ms", ms(opts.idle_gap_ns)},
                  {"largest_gaps", a.idle_worst_ev}};
    f.recommendation.text = "Rank " + std::to_string(a.rank) + "'s GPU waits for the host to launch work. Move host work "
                            "off the critical path: prefetch input (DataLoader workers, pinned memory), avoid Python "
                            "work between launches, capture the step with CUDA graphs to cut launch overhead.";
    f.recommendation.fixes.push_back({"code", {{"description", "overlap the host work before the first launch of each "
                                                               "step with GPU work (prefetch, CUDA graphs)"}}});
    f.estimated_gain_pct = 100 * ishare;
    f.gain_basis = "idle gaps >= the gap threshold inside steps, as a share of the rank's step time; assumes the GPU "
                   "work could start without the gap";
    if (a.whole_run) {  // no steps: the window is first..last GPU work, start-up and tear-down included
      f.estimated_gain_pct = 0;
      f.gain_basis = "not estimated: the run has no steps, so the gaps may be start-up, evaluation or tear-down "
                     "rather than the training loop";
      f.severity = std::min(f.severity, FindingSeverity::Medium);
      f.title += " (whole traced range: no steps recorded)";
    }
    out.findings.push_back(std::move(f));
  }
}

}  // namespace detail

}  // namespace moetune::analyzers
