// SPDX-License-Identifier: Apache-2.0
// Global sync points: collective instances aligned across ranks (collective_instances.h).
// Transfer time ~= the shortest duration across ranks; the rest of each rank's duration
// is waiting for the last rank to arrive. An instance is a sync point when most ranks
// wait noticeably. Causes, per (communicator, func):
//   first_call  - the first instance's transfer is many times the later ones' (setup);
//   late rank   - one rank is the last to arrive in most sync instances: the wait is a
//                 symptom of what that rank did before arriving (compute kernel, host gap,
//                 host sync, copies, an earlier collective). When the stragglers analysis
//                 (run before this one) already names that rank, a note here; otherwise a
//                 finding that names the rank, what it did and the wait it causes;
//   algorithm   - waits with no consistent late rank on a Tree AllReduce-like collective:
//                 NCCL_ALGO=Ring scoped to that func (never for AllToAll / Send / Recv);
//   arrival skew - waits with no consistent late rank otherwise (P2P knobs / overlap advice).
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "gather.h"
#include "judge.h"
#include "moetune/analyzers/analyses.h"
#include "sat_math.h"

namespace moetune::analyzers {
namespace {
using namespace detail;

struct Group {
  std::vector<const CollInstance*> flagged;
  std::vector<LateActivity> why;
  std::int64_t total = 0, wait = 0;  // wait: flagged instances
  std::int64_t all_wait = 0, comm = 0;  // all instances: waits, members' durations
  std::string algo;
};

// The five flagged instances of `idx` with the most total wait, worst first: their time
// ranges go to the finding and their rows to the returned array. `row(in, j)` adds what
// the finding shows of an instance beyond the fields every finding shows.
template <class Row>
nlohmann::json worst_instances(const Group& g, std::vector<std::size_t> idx, Finding& f, Row row) {
  std::sort(idx.begin(), idx.end(), [&](auto a, auto b) { return g.flagged[a]->total_wait() > g.flagged[b]->total_wait(); });
  nlohmann::json ex = nlohmann::json::array();
  for (std::size_t k = 0; k < idx.size() && k < 5; ++k) {
    const auto* in = g.flagged[idx[k]];
    std::int64_t end = in->first_arrival;
    for (const auto& m : in->members) end = std::max(end, m.end_ns);
    f.time_ranges.push_back({in->first_arrival, end});
    nlohmann::json j = {{"order", in->order},
                        {"arrival_spread_ms", ms(in->last_arrival - in->first_arrival)},
                        {"transfer_ms", ms(in->transfer_ns)},
                        {"late_rank_before_arrival", g.why[idx[k]].cause},
                        {"late_rank_doing", g.why[idx[k]].what}};
    row(*in, j);
    ex.push_back(std::move(j));
  }
  return ex;
}

// One rank arrives last in most waiting instances of (comm, func) and no other analysis
// names it: name it, what it did before arriving and the wait it costs the others.
Finding late_rank_finding(const std::string& comm, const std::string& func, const Group& g, int late, double span,
                          const std::string& source, const AnalyzeOptions::GlobalSync& th) {
  std::int64_t caused = 0, late_wait_all = 0, gap = 0, busy = 0;
  int late_in = 0;
  std::map<std::string, std::int64_t> cause_ns;
  std::map<std::string, std::int64_t> what_ns;
  std::vector<std::size_t> mine;
  for (std::size_t i = 0; i < g.flagged.size(); ++i) {
    const auto* in = g.flagged[i];
    if (in->late_rank != late) continue;
    ++late_in;
    mine.push_back(i);
    // Removing this rank's lateness lets every other rank start when the next-latest
    // arrives: the smallest wait among the others is what each of them gets back.
    std::int64_t least = -1;
    for (const auto& m : in->members)
      if (m.rank != late) {
        late_wait_all += in->wait(m);
        least = least < 0 ? in->wait(m) : std::min(least, in->wait(m));
      }
    caused += std::max<std::int64_t>(least, 0);
    cause_ns[g.why[i].cause] += in->last_arrival - in->first_arrival + 1;
    gap += in->last_arrival - in->first_arrival;
    busy += g.why[i].busy_ns;
    what_ns[g.why[i].cause + "|" + g.why[i].what] += g.why[i].what_ns + 1;
  }
  auto top = [](const std::map<std::string, std::int64_t>& m) {
    return std::max_element(m.begin(), m.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
  };
  std::string cause = top(cause_ns);
  std::string what;
  std::int64_t best = -1;
  for (const auto& [k, v] : what_ns)
    if (k.rfind(cause + "|", 0) == 0 && v > best) best = v, what = k.substr(cause.size() + 1);
  double share = span > 0 ? static_cast<double>(caused) / span : 0;
  double of_comm = g.comm > 0 ? static_cast<double>(g.all_wait) / static_cast<double>(g.comm) : 0;
  Finding f;
  f.kind = FindingKind::GlobalSync;
  f.severity = severity_at_least(share, th.medium_pct / 100, th.high_pct / 100);
  f.title = fmt("Rank %.0f arrives last at %.0f of the %.0f ", late, late_in, static_cast<double>(g.flagged.size())) +
            func + fmt(" calls where ranks wait: the others wait %.1f ms for it (waiting is %.0f%% of all time in ",
                       ms(late_wait_all), 100 * of_comm) + func + ")";
  f.ranks.push_back(late);
  const nlohmann::json ex = worst_instances(g, std::move(mine), f, [](const CollInstance& in, nlohmann::json& j) {
    j["others_wait_ms"] = ms(in.total_wait());
  });
  f.evidence = {{"func", func},
                {"communicator", comm},
                {"late_rank", late},
                {"late_in", late_in},
                {"instances", g.total},
                {"sync_instances", g.flagged.size()},
                {"others_wait_ms", ms(late_wait_all)},
                {"wait_caused_ms", ms(caused)},
                {"wait_share_of_comm_pct", 100 * of_comm},
                {"wait_share_of_run_pct", 100 * share},
                {"cause", "late rank"},
                {"late_rank_before_arrival", cause},
                {"late_rank_doing", what},
                {"late_rank_gpu_busy_pct_before_arrival", gap > 0 ? 100.0 * static_cast<double>(busy) / static_cast<double>(gap) : 0.0},
                {"aligned_instances", g.total},
                {"alignment", source},
                {"worst_instances", ex}};
  std::string r = std::to_string(late);
  if (cause == "compute") {
    f.recommendation.text = "Rank " + r + " is still computing (most time: " + what + ") when the others reach " +
                            func + ". Even out the work before it: token/expert balance (placement), layer or "
                            "micro-batch split, or a slower GPU on that rank.";
    f.recommendation.fixes.push_back({"code", {{"description", "balance the work rank " + r + " does before " + func}}});
  } else if (cause == "gpu_idle") {
    f.recommendation.text = "Rank " + r + "'s GPU has no work before " + func + ": its host launches late (host-bound: "
                            "data loading, Python overhead, logging or a CPU-side sync on that rank). Move that host "
                            "work off the critical path (prefetch, async, CUDA graphs).";
    f.recommendation.fixes.push_back({"code", {{"description", "remove the host-side delay on rank " + r + " before " + func}}});
  } else if (cause == "host_sync") {
    f.recommendation.text = "Rank " + r + " blocks in " + what + " before " + func +
                            ": remove the synchronisation (e.g. .item()/.cpu() on a GPU tensor) or move it after the call.";
    f.recommendation.fixes.push_back({"code", {{"description", "remove the blocking " + what + " on rank " + r}}});
  } else if (cause == "memcpy") {
    f.recommendation.text = "Rank " + r + " is copying (" + what + ") when the others reach " + func +
                            ": use pinned buffers with non_blocking copies on a side stream, overlap them with compute, "
                            "or keep the data on the GPU.";
    f.recommendation.fixes.push_back({"code", {{"description", "overlap the copies on rank " + r + " with compute"}}});
  } else {
    f.recommendation.text = "Rank " + r + " is still in an earlier communication call when the others reach " + func +
                            ": the delay comes from an earlier sync point; fix that one first.";
    f.recommendation.fixes.push_back({"code", {{"description", "remove the earlier delay on rank " + r}}});
  }
  f.estimated_gain_pct = 100 * share;
  f.gain_basis = "per instance where this rank is last, the smallest wait among the other ranks (what each gets back "
                 "if it arrived with the next-latest rank), summed, as a share of the run (mean traced span per rank)";
  return f;
}

}  // namespace

namespace detail {

bool is_sync_instance(const CollInstance& in, std::int64_t min_wait_ns) {
  std::int64_t thr = std::max<std::int64_t>(min_wait_ns, in.transfer_ns / 2);
  int waiting = 0;
  for (const auto& m : in.members) waiting += in.wait(m) >= thr;
  return 2 * waiting > static_cast<int>(in.members.size()) - 1;  // most ranks wait
}

// Gather: what this rank did before it arrived last at a sync instance (its own events).
void gather_late_causes(const RunData&, const GatherInputs& in, const AnalyzeOptions& opts, RankGather& g) {
  const auto& a = in.a;
  if (!a.busy.empty()) g.has_busy = true, g.busy_first = a.busy.front().s, g.busy_last = a.busy.back().e;
  const auto& insts = in.ctx.instances;
  for (std::size_t i = 0; i < insts.size(); ++i)
    if (insts[i].late_rank == a.rank && is_sync_instance(insts[i], opts.global_sync.min_wait_ns))
      g.late[static_cast<std::int64_t>(i)] = in.late.at(a.rank, insts[i].first_arrival, insts[i].last_arrival);
}

// Measure + judge: waits per rank and per (communicator, func) -> global_sync findings.
void judge_global_sync(const RunData& run, const Gathered& gd, const AnalyzeOptions& opts, AnalysisResult& out) {
  const auto& th = opts.global_sync;
  const std::string& source = gd.ctx.source;
  const AlignStats& stats = gd.ctx.stats;
  const auto& insts = gd.ctx.instances;
  out.metrics["global_sync"] = {{"source", source},
                                {"aligned", stats.by_id + stats.by_order},
                                {"aligned_by_id", stats.by_id},
                                {"aligned_by_order", stats.by_order},
                                {"refused", stats.refused},
                                {"refused_count_mismatch", stats.refused_size},
                                {"by_id_without_time_overlap", stats.id_without_overlap}};
  if (insts.empty()) {
    out.notes.push_back(run.nccl_ops.empty() && !gd.any_kernels
                            ? "not enough data: global_sync: no collectives in the run"
                        : stats.ranks < 2
                            ? "not enough data: global_sync: " + std::to_string(stats.ranks) +
                                  " rank(s) with NCCL calls; aligning needs two or more"
                            : "not enough data: global_sync: no collective seen by two or more ranks: none of the " +
                                  std::to_string(stats.refused) +
                                  " NCCL calls matches another rank's in function, size and time");
    return;
  }
  out.notes.push_back("global_sync: aligned " + std::to_string(stats.by_id + stats.by_order) +
                      " collective/send-recv instances across ranks (" + std::to_string(stats.by_id) +
                      " by communicator and sequence number, " + std::to_string(stats.by_order) +
                      " by launch order checked for function, size and time overlap, from " + source + "); refused " +
                      std::to_string(stats.refused) + " calls that match no other rank's");
  double span_sum = 0;
  for (const auto& [r, g] : gd.ranks)
    if (g.has_busy) span_sum += static_cast<double>(g.busy_last - g.busy_first);
  auto late_of = [&gd](int rank, std::int64_t index) {
    auto g = gd.ranks.find(rank);
    if (g == gd.ranks.end()) return LateActivity{};
    auto l = g->second.late.find(index);
    return l == g->second.late.end() ? LateActivity{} : l->second;
  };
  double span = gd.ranks.empty() ? 0 : span_sum / static_cast<double>(gd.ranks.size());
  // Ranks that an earlier analysis (stragglers: straggler, host_sync, gpu_idle) already names.
  std::set<int> claimed;
  for (const auto& f : out.findings)
    if (f.kind == FindingKind::Straggler || f.kind == FindingKind::HostSync || f.kind == FindingKind::GpuIdle)
      claimed.insert(f.ranks.begin(), f.ranks.end());
  // Per-rank waits over all aligned instances.
  std::map<int, std::pair<std::int64_t, std::int64_t>> rank_wait;  // rank -> (wait ns, times last)
  for (const auto& in : insts) {
    for (const auto& m : in.members) rank_wait[m.rank].first += in.wait(m);
    ++rank_wait[in.late_rank].second;
  }
  auto& pr = out.metrics["global_sync"]["per_rank"] = nlohmann::json::array();
  for (const auto& [r, w] : rank_wait) pr.push_back({{"rank", r}, {"wait_ms", ms(w.first)}, {"arrived_last", w.second}});

  std::map<std::pair<std::string, std::string>, Group> groups;
  std::vector<const CollInstance*> first_calls;
  std::vector<double> first_medians;
  for (const auto& in : insts) {
    auto& g = groups[{in.comm, in.func}];
    ++g.total;
    for (const auto& m : in.members) g.comm = sat_add(g.comm, m.dur());
    g.all_wait += in.total_wait();
    if (g.algo.empty()) g.algo = in.algo;
    if (in.setup_ns > 0) {
      first_calls.push_back(&in);
      first_medians.push_back(static_cast<double>(in.median_later_ns));
    }
    if (!is_sync_instance(in, th.min_wait_ns)) continue;  // not most ranks
    g.flagged.push_back(&in);
    g.wait += in.total_wait();
    g.why.push_back(late_of(in.late_rank, static_cast<std::int64_t>(&in - insts.data())));
  }

  for (auto& kv : groups) {  // not a structured binding: clang 14 cannot capture one in a lambda
    const auto& key = kv.first;
    auto& g = kv.second;
    if (g.flagged.empty()) continue;
    const auto& func = key.second;
    double nr = static_cast<double>(g.flagged.front()->members.size());
    double share = span > 0 ? static_cast<double>(g.wait) / nr / span : 0;
    std::map<int, int> late_hist;
    for (const auto* in : g.flagged) ++late_hist[in->late_rank];
    auto top = std::max_element(late_hist.begin(), late_hist.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    double top_share = static_cast<double>(top->second) / static_cast<double>(g.flagged.size());
    if (share < th.min_wait_share_pct / 100) continue;  // waits too small to matter for the run
    if (g.flagged.size() >= 3 && top_share >= th.consistent_late_pct / 100) {
      if (!claimed.count(top->first)) {
        out.findings.push_back(late_rank_finding(key.first, func, g, top->first, span, source, th));
        continue;
      }
      std::map<std::string, int> hist_causes;
      for (std::size_t i = 0; i < g.flagged.size(); ++i)
        if (g.flagged[i]->late_rank == top->first) ++hist_causes[g.why[i].cause];
      auto c = std::max_element(hist_causes.begin(), hist_causes.end(),
                                [](const auto& a, const auto& b) { return a.second < b.second; });
      out.notes.push_back(fmt("global_sync: rank %.0f arrives last in %.0f%% of the %.0f waiting ", top->first, 100 * top_share,
                              static_cast<double>(g.flagged.size())) +
                          func + " instances (cause before arrival: " + c->first +
                          "); the wait is attributed to that rank (see straggler / host_sync / gpu_idle)");
      continue;
    }
    bool tree = g.algo == "Tree" && algo_env_applies(func);
    Finding f;
    f.kind = FindingKind::GlobalSync;
    f.severity = severity_at_least(share, th.medium_pct / 100, th.high_pct / 100);
    f.title = (tree ? "Tree " : "") + func + fmt(" is a global sync point: %.0f of %.0f instances make most ranks wait",
                                              static_cast<double>(g.flagged.size()), static_cast<double>(g.total));
    for (const auto& m : g.flagged.front()->members) f.ranks.push_back(m.rank);
    std::vector<std::size_t> all(g.flagged.size());
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
    const nlohmann::json ex = worst_instances(g, std::move(all), f, [](const CollInstance& in, nlohmann::json& j) {
      j["late_rank"] = in.late_rank;
      j["mean_wait_ms"] = ms(in.total_wait()) / static_cast<double>(in.members.size());
    });
    std::int64_t tsum = 0;
    for (const auto* in : g.flagged) tsum = sat_add(tsum, in->transfer_ns);
    nlohmann::json hist = nlohmann::json::object();
    for (auto [r, n] : late_hist) hist[std::to_string(r)] = n;
    f.evidence = {{"func", func},
                  {"communicator", key.first},
                  {"algo", g.algo},
                  {"instances", g.total},
                  {"sync_instances", g.flagged.size()},
                  {"mean_transfer_ms", ms(tsum) / static_cast<double>(g.flagged.size())},
                  {"total_wait_ms_all_ranks", ms(g.wait)},
                  {"wait_share_of_run_pct", 100 * share},
                  {"late_rank_histogram", hist},
                  {"alignment", source},
                  {"cause", tree ? "algorithm" : "arrival skew"},
                  {"worst_instances", ex}};
    if (tree) {
      f.recommendation.text = "Most ranks wait in Tree " + func + " with no consistent late rank: the Tree algorithm is "
                              "the sync point. Use Ring for " + func + " only (NCCL_ALGO=Ring in the job's environment, "
                              "scoped to " + func + "); NCCL_ALGO does not change all-to-all or send/recv.";
      f.recommendation.fixes.push_back({"env", {{"name", "NCCL_ALGO"}, {"value", "Ring"}, {"scope", func}}});
    } else if (!algo_env_applies(func)) {
      f.recommendation.text = "Ranks reach " + func + " at different times and no single rank is always last. " + func +
                              " is grouped send/recv, so NCCL_ALGO/NCCL_PROTO do not apply: balance the tokens per rank "
                              "(expert placement), overlap dispatch/combine with expert compute, and if the transfer "
                              "itself is slow tune the P2P knobs (NCCL_MAX_P2P_NCHANNELS, NCCL_NCHANNELS_PER_NET_PEER, "
                              "NCCL_P2P_NVL_CHUNKSIZE with NCCL_BUFFSIZE, PXN).";
      f.recommendation.fixes.push_back({"code", {{"description", "balance per-rank work before " + func +
                                                                     " (expert placement) and overlap it with compute"}}});
    } else {
      f.recommendation.text = "Ranks reach " + func + " (" + (g.algo.empty() ? "algorithm unknown" : g.algo) +
                              ") at different times and no single rank is always last: even out the work before it "
                              "and launch it asynchronously (bucketed, overlapped with backward compute).";
      f.recommendation.fixes.push_back({"code", {{"description", "overlap " + func + " with compute (bucketing)"}}});
    }
    f.estimated_gain_pct = 100 * share;
    f.gain_basis = "waiting time (each rank's duration minus the fastest rank's) averaged over ranks, as a share of the "
                   "run; assumes ranks would arrive together and the transfer time stays the same";
    out.findings.push_back(std::move(f));
  }
  for (std::size_t i = 0; i < first_calls.size(); ++i) {
    const auto* in = first_calls[i];
    double extra = static_cast<double>(in->transfer_ns) - first_medians[i];
    double share = span > 0 ? extra / span : 0;
    if (share < th.first_call_min_pct / 100) continue;
    Finding f;
    f.kind = FindingKind::GlobalSync;
    f.severity = FindingSeverity::Low;
    f.title = "First " + in->func + " includes one-time setup: " + fmt("%.1f ms vs %.3f ms later", ms(in->transfer_ns), first_medians[i] / 1e6);
    for (const auto& m : in->members) f.ranks.push_back(m.rank);
    std::int64_t end = in->first_arrival;
    for (const auto& m : in->members) end = std::max(end, m.end_ns);
    f.time_ranges.push_back({in->first_arrival, end});
    f.evidence = {{"func", in->func}, {"communicator", in->comm}, {"cause", "first_call"}, {"algo", in->algo},
                  {"first_transfer_ms", ms(in->transfer_ns)}, {"median_later_transfer_ms", first_medians[i] / 1e6}};
    f.recommendation.text = "The first " + in->func + " on this communicator pays NCCL connection and buffer setup on "
                            "every rank. It is a one-time cost: warm the communicator up before the timed/profiled "
                            "steps and exclude the first step from measurements.";
    f.recommendation.fixes.push_back({"code", {{"description", "run one warm-up " + in->func + " before the training loop"}}});
    f.estimated_gain_pct = 100 * share;
    f.gain_basis = "first instance's transfer minus the median later transfer, as a share of the run; one-time only";
    out.findings.push_back(std::move(f));
  }
}

}  // namespace detail

}  // namespace moetune::analyzers
