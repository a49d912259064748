// SPDX-License-Identifier: Apache-2.0
// Global sync points: collective instances aligned across ranks (collective_instances.h).
// Transfer time ~= the shortest duration across ranks; the rest of each rank's duration
// is waiting for the last rank to arrive. An instance is a sync point when most ranks
// wait noticeably. Causes, per (communicator, func):
//   first_call  - the first instance's transfer is many times the later ones' (setup);
//   late rank   - one rank is the last to arrive in most sync instances: the wait is a
//                 symptom of what that rank did (compute skew, host sync, host gap) and is
//                 attributed to the stragglers analysis (a note here, no second finding);
//   algorithm   - waits with no consistent late rank on a Tree AllReduce-like collective:
//                 NCCL_ALGO=Ring scoped to that func (never for AllToAll / Send / Recv);
//   arrival skew - waits with no consistent late rank otherwise (P2P knobs / overlap advice).
#include <algorithm>
#include <cstdio>
#include <map>

#include "collective_instances.h"
#include "moetune/analyzers/analyses.h"
#include "rank_activity.h"

namespace moetune::analyzers {
namespace {
using namespace detail;

constexpr std::int64_t kMinWaitNs = 50'000;  // a wait shorter than 50 us is noise
constexpr double kConsistentLate = 0.6;      // share of instances with the same late rank

// What a rank did between the first arrival and its own arrival.
struct LateActivity {
  std::string cause;  // "host_sync", "gpu_idle", "compute"
  std::string what;   // API or kernel name
  std::int64_t what_ns = 0;
};

struct RankIndex {
  const RankActivity* act = nullptr;
  std::vector<const ApiCallRow*> syncs;
};

LateActivity late_activity(const RunData& run, const RankIndex& ri, std::int64_t t0, std::int64_t t1) {
  LateActivity la;
  for (const auto* c : ri.syncs)
    if (c->start_ns < t1 && c->end_ns() > t0) {
      la.cause = "host_sync";
      la.what = run.str(c->name);
      la.what_ns = c->dur_ns;
      return la;
    }
  std::int64_t busy = ri.act ? measure(ri.act->busy, t0, t1) : 0;
  if (t1 - t0 > 0 && busy * 2 < (t1 - t0)) {
    la.cause = "gpu_idle";
    la.what = "no GPU work (host did not launch)";
    la.what_ns = (t1 - t0) - busy;
    return la;
  }
  la.cause = "compute";
  // Longest kernel overlapping the late window on that rank.
  auto lo = std::lower_bound(run.kernels.begin(), run.kernels.end(), std::make_pair(RankId(ri.act ? ri.act->rank : -1), t0),
                             [](const KernelRow& k, const std::pair<RankId, std::int64_t>& v) {
                               return k.rank != v.first ? k.rank < v.first : k.start_ns < v.second;
                             });
  // Step back a little to catch a kernel that started before t0 and runs through it.
  for (int back = 0; back < 64 && lo != run.kernels.begin() && std::prev(lo)->rank == lo->rank; ++back) --lo;
  for (auto it = lo; it != run.kernels.end() && it->rank.value == (ri.act ? ri.act->rank : -1) && it->start_ns < t1; ++it) {
    auto ov = std::min(it->end_ns(), t1) - std::max(it->start_ns, t0);
    if (ov > la.what_ns) la.what_ns = ov, la.what = run.str(it->name);
  }
  return la;
}

std::string fmt(const char* f, double a, double b = 0, double c = 0) {
  char buf[1024];
  std::snprintf(buf, sizeof buf, f, a, b, c);
  return buf;
}

}  // namespace

void analyze_global_sync(const RunData& run, const AnalyzeOptions&, AnalysisResult& out) {
  std::string source;
  auto insts = collective_instances(run, &source);
  if (insts.empty()) {
    out.notes.push_back(run.nccl_ops.empty() && run.kernels.empty()
                            ? "not enough data: global_sync: no collectives in the run"
                            : "not enough data: global_sync: no collective seen by two or more ranks (one rank, no "
                              "NCCL collectives, or only send/recv without sequence numbers, which cannot be aligned)");
    return;
  }
  CommClassifier cls(run.strings);
  auto acts = build_rank_activity(run, cls);
  std::map<int, RankIndex> idx;
  double span_sum = 0;
  for (const auto& a : acts) {
    idx[a.rank].act = &a;
    if (!a.busy.empty()) span_sum += static_cast<double>(a.busy.back().e - a.busy.front().s);
  }
  std::vector<char> sync_name(run.strings.size());
  for (std::size_t i = 0; i < run.strings.size(); ++i) sync_name[i] = is_blocking_sync_api(run.strings[i]);
  for (const auto& c : run.api_calls) {
    auto id = static_cast<std::size_t>(c.name.value);
    if (id < sync_name.size() && sync_name[id])
      idx[static_cast<int>(c.rank.value)].syncs.push_back(&c);
  }
  double span = acts.empty() ? 0 : span_sum / static_cast<double>(acts.size());

  struct Group {
    std::vector<const CollInstance*> flagged;
    std::vector<LateActivity> why;
    std::int64_t total = 0, wait = 0;
    std::string algo;
  };
  std::map<std::pair<std::string, std::string>, Group> groups;
  std::vector<const CollInstance*> first_calls;
  std::vector<double> first_medians;
  for (const auto& in : insts) {
    auto& g = groups[{in.comm, in.func}];
    ++g.total;
    if (g.algo.empty()) g.algo = in.algo;
    if (in.setup_ns > 0) {
      first_calls.push_back(&in);
      first_medians.push_back(static_cast<double>(in.median_later_ns));
    }
    std::int64_t thr = std::max<std::int64_t>(kMinWaitNs, in.transfer_ns / 2);
    int waiting = 0;
    for (const auto& m : in.members) waiting += in.wait(m) >= thr;
    if (2 * waiting <= static_cast<int>(in.members.size()) - 1) continue;  // not most ranks
    g.flagged.push_back(&in);
    g.wait += in.total_wait();
    g.why.push_back(late_activity(run, idx[in.late_rank], in.first_arrival, in.last_arrival));
  }

  for (auto& [key, g] : groups) {
    if (g.flagged.empty()) continue;
    const auto& func = key.second;
    double nr = static_cast<double>(g.flagged.front()->members.size());
    double share = span > 0 ? static_cast<double>(g.wait) / nr / span : 0;
    std::map<int, int> late_hist;
    for (const auto* in : g.flagged) ++late_hist[in->late_rank];
    auto top = std::max_element(late_hist.begin(), late_hist.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    double top_share = static_cast<double>(top->second) / static_cast<double>(g.flagged.size());
    if (share < 0.01) continue;  // waits too small to matter for the run
    if (g.flagged.size() >= 3 && top_share >= kConsistentLate) {
      std::map<std::string, int> causes;
      for (std::size_t i = 0; i < g.flagged.size(); ++i)
        if (g.flagged[i]->late_rank == top->first) ++causes[g.why[i].cause];
      auto c = std::max_element(causes.begin(), causes.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
      out.notes.push_back(fmt("global_sync: rank %.0f arrives last in %.0f%% of the %.0f waiting ", top->first, 100 * top_share,
                              static_cast<double>(g.flagged.size())) +
                          func + " instances (cause before arrival: " + c->first +
                          "); the wait is attributed to that rank (see straggler / host_sync / gpu_idle)");
      continue;
    }
    bool tree = g.algo == "Tree" && algo_env_applies(func);
    Finding f;
    f.kind = FindingKind::GlobalSync;
    f.severity = share >= 0.10 ? FindingSeverity::High : share >= 0.03 ? FindingSeverity::Medium : FindingSeverity::Low;
    f.title = (tree ? "Tree " : "") + func + fmt(" is a global sync point: %.0f of %.0f instances make most ranks wait",
                                              static_cast<double>(g.flagged.size()), static_cast<double>(g.total));
    for (const auto& m : g.flagged.front()->members) f.ranks.push_back(m.rank);
    std::vector<std::size_t> order(g.flagged.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](auto a, auto b) { return g.flagged[a]->total_wait() > g.flagged[b]->total_wait(); });
    nlohmann::json ex = nlohmann::json::array();
    std::int64_t tsum = 0;
    for (const auto* in : g.flagged) tsum += in->transfer_ns;
    for (std::size_t i = 0; i < order.size() && i < 5; ++i) {
      const auto* in = g.flagged[order[i]];
      std::int64_t end = in->first_arrival;
      for (const auto& m : in->members) end = std::max(end, m.end_ns);
      f.time_ranges.push_back({in->first_arrival, end});
      ex.push_back({{"order", in->order},
                    {"late_rank", in->late_rank},
                    {"arrival_spread_ms", ms(in->last_arrival - in->first_arrival)},
                    {"transfer_ms", ms(in->transfer_ns)},
                    {"mean_wait_ms", ms(in->total_wait()) / static_cast<double>(in->members.size())},
                    {"late_rank_before_arrival", g.why[order[i]].cause},
                    {"late_rank_doing", g.why[order[i]].what}});
    }
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
    if (share < 0.005) continue;
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

}  // namespace moetune::analyzers
