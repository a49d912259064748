// SPDX-License-Identifier: Apache-2.0
// Bus bandwidth per collective instance (nccl-tests formulas) against the ceiling of
// the slowest link the collective crosses: its raw rate x the achievable fraction for
// NCCL over that link kind (moetune/trace/link_rates.h, measured or assumed, said in the
// evidence); a measured nccl-tests baseline in the run (bench_results) takes precedence. Instances are aligned by (communicator, seq), else by
// per-rank order within (communicator, func); the real transfer time of an instance is
// its minimum duration across ranks (the others waited). Cost: O(ops log ops).
#include <cstdint>
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "moetune/analyzers/analyses.h"
#include "moetune/analyzers/comm_rules.h"
#include "moetune/analyzers/topology.h"
#include "moetune/trace/link_rates.h"
#include "sat_math.h"

namespace moetune::analyzers {

void find_pcie_topology(const RunData& run, AnalysisResult& out);  // topology_findings.cpp

namespace {

// Per-instance latency assumed when judging small/medium messages: the expected busbw of a
// message of S bytes on a link of achievable rate C is C x S/(S + alpha x C), alpha = 40 us.
// Basis: torch all_to_all_single on 2x H200 NV18 took 52-55 us for every size from 1 to
// 16 MiB and 143 us at 64 MiB (= 40 us + 64 MiB/2 / 330 GB/s); tests/data/device/h200x2_a2a_bw.jsonl.
constexpr double kAlphaNs = 40'000;

// nccl-tests bus factor (moetune/trace/comm_vocab.h); one rank: 1 (nothing crosses a link).
double factor(const std::string& func, int n) { return n <= 1 ? 1.0 : comm::busbw_factor(func, n); }

double split_sum(const OpList& s) { return s.sum(); }  // compact lists: no text parsing

struct Instance {
  std::string func, algo, proto;
  int nranks = 0;
  std::int64_t size = 0;   // nccl-tests "size" of the instance
  std::int64_t min_dur = 0;
  std::vector<int> ranks;
  int ranks_seen = 0;      // ranks of the instance present in the trace
  TimeRange range;
  double busbw = 0;        // GB/s
};

std::vector<Instance> build_instances(const RunData& run) {
  std::map<std::tuple<std::string, std::string, std::int64_t>, std::vector<const NcclOpRow*>> groups;
  std::map<std::tuple<std::string, std::string, int>, std::int64_t> ordinal;
  for (const auto& o : run.nccl_ops) {  // sorted by (rank, start): ordinals follow issue order
    if (is_self_send(o)) continue;       // a local copy: no link carries it
    std::string comm = o.comm_hash ? *o.comm_hash : (o.pg_name ? *o.pg_name : "");
    std::int64_t seq = o.seq;
    std::string key_func = seq >= 0 ? "" : o.func;
    if (seq < 0) seq = ordinal[{comm, o.func, static_cast<int>(o.rank.value)}]++;
    groups[{comm, key_func, seq}].push_back(&o);
  }
  std::vector<Instance> out;
  for (const auto& [key, ops] : groups) {
    Instance in;
    const auto& o0 = *ops.front();
    in.func = o0.func;
    in.algo = o0.algo.value_or("");
    in.proto = o0.proto.value_or("");
    in.min_dur = o0.dur_ns();
    in.range = {o0.start_ns, o0.end_ns};
    std::set<int> rk;
    std::int64_t max_bytes = 0;
    double max_sendrecv = 0;
    for (const auto* o : ops) {
      in.min_dur = std::min(in.min_dur, o->dur_ns());
      in.range.start_ns = std::min(in.range.start_ns, o->start_ns);
      in.range.end_ns = std::max(in.range.end_ns, o->end_ns);
      rk.insert(static_cast<int>(o->rank.value));
      in.nranks = std::max(in.nranks, o->nranks);
      max_bytes = std::max(max_bytes, o->bytes);
      double send = static_cast<double>(o->bytes), recv = send;
      double si = split_sum(o->in_splits), so = split_sum(o->out_splits);
      if (si > 0 && so > 0) recv = send * so / si;
      max_sendrecv = std::max({max_sendrecv, send, recv});
    }
    in.ranks.assign(rk.begin(), rk.end());
    in.ranks_seen = static_cast<int>(rk.size());
    if (o0.pg_ranks) {
      auto j = nlohmann::json::parse(*o0.pg_ranks, nullptr, false);
      if (j.is_array() && !j.empty()) {
        in.ranks.clear();
        for (const auto& v : j)
          if (v.is_number_integer()) in.ranks.push_back(v.get<int>());
      }
    }
    if (in.nranks <= 0) in.nranks = static_cast<int>(in.ranks.size());
    if (is_alltoall_op(in.func)) in.size = sat_from_double(max_sendrecv);  // split sums from the file may pass INT64_MAX
    else if (in.func == "AllGather" || in.func == "ReduceScatter") {  // saturating: sizes and rank counts come from the file (fuzz_store: INT64_MAX x 7)
      const std::int64_t n = std::max(1, in.nranks);
      in.size = max_bytes > INT64_MAX / n ? INT64_MAX : max_bytes * n;
    }
    else in.size = max_bytes;
    if (in.min_dur <= 0 || in.size <= 0 || in.nranks < 2) continue;
    in.busbw = static_cast<double>(in.size) / static_cast<double>(in.min_dur) * factor(in.func, in.nranks);
    out.push_back(std::move(in));
  }
  return out;
}

// nccl-tests baseline busbw for func at size (log-linear interpolation over the measured sizes).
std::optional<double> baseline(const RunData& run, const std::string& func, std::int64_t size) {
  std::map<std::int64_t, double> pts;
  for (const auto& b : run.bench)
    if (b.func == func && !b.in_place && b.bytes > 0) pts[b.bytes] = std::max(pts[b.bytes], b.busbw_gbps);
  if (pts.empty()) return std::nullopt;
  auto hi = pts.lower_bound(size);
  if (hi == pts.end()) return std::prev(hi)->second;
  if (hi == pts.begin() || hi->first == size) return hi->second;
  auto lo = std::prev(hi);
  double t = (std::log(static_cast<double>(size)) - std::log(static_cast<double>(lo->first))) /
             (std::log(static_cast<double>(hi->first)) - std::log(static_cast<double>(lo->first)));
  return lo->second + t * (hi->second - lo->second);
}

void add_low_bandwidth(const RunData& run, const RankLinks& links, const std::vector<Instance>& inst,
                       const AnalyzeOptions::LowBandwidth& th, AnalysisResult& out) {
  struct Bad {
    int count = 0, total = 0;
    double worst_ratio = 1e9, achieved_sum = 0, expected_sum = 0;
    std::int64_t size = 0;
    std::set<int> ranks;
    std::vector<TimeRange> ranges;
    std::optional<RankLinks::Ceiling> ceil;
    std::optional<double> base;
  };
  std::map<std::string, Bad> by_func;
  for (const auto& in : inst) {
    if (in.size < th.min_bytes) continue;
    if (in.ranks_seen < in.nranks) continue;  // one rank's view cannot tell waiting from transfer
    auto ceil = links.slowest(in.ranks);
    auto base = baseline(run, in.func, in.size);
    if (!ceil && !base) continue;
    auto& b = by_func[in.func];
    ++b.total;
    double seff = static_cast<double>(in.size) * factor(in.func, in.nranks);
    // A measured nccl-tests baseline at this size wins; else the link's achievable rate
    // (raw x fraction, link_rates.h) with a per-instance latency term.
    double expected = base ? *base : ceil->achievable_gbps * seff / (seff + kAlphaNs * ceil->achievable_gbps);
    if (!(in.busbw < th.max_pct / 100 * expected)) continue;
    ++b.count;
    b.achieved_sum += in.busbw;
    b.expected_sum += expected;
    if (ceil) b.ceil = ceil;
    b.base = base;
    b.size = std::max(b.size, in.size);
    b.worst_ratio = std::min(b.worst_ratio, in.busbw / expected);
    b.ranks.insert(in.ranks.begin(), in.ranks.end());
    if (b.ranges.size() < 32) b.ranges.push_back(in.range);
  }
  for (auto& [func, b] : by_func) {
    if (b.count == 0 || b.count < th.min_instances_pct / 100 * b.total) continue;  // a share of the large instances
    double achieved = b.achieved_sum / b.count, expected = b.expected_sum / b.count;
    Finding f;
    f.kind = FindingKind::LowBandwidth;
    f.severity = achieved < th.high_pct / 100 * expected ? FindingSeverity::High : FindingSeverity::Medium;
    f.ranks.assign(b.ranks.begin(), b.ranks.end());
    f.time_ranges = b.ranges;
    const std::string link = b.ceil ? b.ceil->link : "";
    char title[256];
    std::snprintf(title, sizeof title, "%s reaches %.1f GB/s bus bandwidth, %.0f %% of what %s allows", func.c_str(),
                  achieved, 100 * achieved / expected,
                  b.base ? "the run's nccl-tests baseline" : ("NCCL over the " + (link.empty() ? "slowest" : link) + " link").c_str());
    f.title = title;
    f.evidence = {{"func", func},         {"instances_low", b.count},  {"instances_large", b.total},
                  {"busbw_gbps", achieved}, {"expected_busbw_gbps", expected},
                  {"slowest_link", link}, {"largest_size_bytes", b.size},
                  {"expected_basis", b.base ? "measured: the run's nccl-tests baseline at this size (log-interpolated)"
                                            : "achievable x S/(S + 40us x achievable), S = bytes x nccl-tests bus factor; 40 us = the measured per-call latency of all-to-all on 2x H200 NVLink"}};
    if (b.ceil) {
      f.evidence["link_raw_gbps"] = b.ceil->raw_gbps;
      f.evidence["link_achievable_gbps"] = b.ceil->achievable_gbps;
      f.evidence["link_ceiling_gbps"] = b.ceil->achievable_gbps;
      f.evidence["achievable_fraction"] = b.ceil->fraction;
      f.evidence["achievable_basis"] = b.ceil->basis;
      f.evidence["link_fabric"] = links::fabric_name(b.ceil->fabric);
      f.evidence["fabric_basis"] = links::fabric_basis(b.ceil->fabric);
    }
    if (b.base) f.evidence["nccl_tests_baseline_busbw_gbps"] = *b.base;
    f.estimated_gain_pct = 0;
    f.gain_basis = "not estimated: the step-time effect depends on how much of this communication is exposed "
                   "(see exposed_comm); transfer time would drop by up to " +
                   std::to_string(static_cast<int>(100 * (1 - achieved / expected))) + " %";
    bool cross_node = link == "NET" || link == "SOCK";
    if (is_alltoall_op(func)) {
      f.recommendation.text =
          "NCCL_ALGO/NCCL_PROTO do not apply to all-to-all (grouped send/recv). Knobs that act on P2P: more "
          "channels per peer, larger P2P chunks; also reduce bytes (bf16/fp8 dispatch), keep hot experts local "
          "(placement) and overlap dispatch with compute. Measure each change with moetune diff.";
      if (cross_node) {
        f.recommendation.fixes.push_back({"env", {{"name", "NCCL_NCHANNELS_PER_NET_PEER"}, {"value", "4"}, {"scope", func}}});
        f.recommendation.fixes.push_back({"env", {{"name", "NCCL_PXN_DISABLE"}, {"value", "0"}, {"scope", func}}});
      } else {
        f.recommendation.fixes.push_back({"env", {{"name", "NCCL_MAX_P2P_NCHANNELS"}, {"value", "32"}, {"scope", func}}});
        f.recommendation.fixes.push_back({"env", {{"name", "NCCL_P2P_NVL_CHUNKSIZE"}, {"value", "1048576"}, {"scope", func}}});
        f.recommendation.fixes.push_back({"env", {{"name", "NCCL_BUFFSIZE"}, {"value", "16777216"}, {"scope", func}}});
      }
    } else {
      f.recommendation.text =
          "Check what NCCL chose (NCCL_DEBUG=INFO, NCCL_DEBUG_SUBSYS=INIT,GRAPH,TUNING): P2P/SHM disabled, too few "
          "channels or a NIC on the wrong socket all show up there; compare with nccl-tests on the same ranks.";
      f.recommendation.fixes.push_back(
          {"code", {{"description", "run nccl-tests " + func + " on these ranks and import it (moetune import) as a baseline"}}});
    }
    out.findings.push_back(f);
  }
}

}  // namespace

void analyze_bandwidth(const RunData& run, const AnalyzeOptions& opts, AnalysisResult& out) {
  find_pcie_topology(run, out);
  if (!run.bench.empty()) {
    std::map<std::string, double> peak;
    for (const auto& b : run.bench) peak[b.func + "/" + std::to_string(b.nranks)] = std::max(peak[b.func + "/" + std::to_string(b.nranks)], b.busbw_gbps);
    out.metrics["nccl_tests_peak_busbw_gbps"] = peak;
  }
  if (run.nccl_ops.empty()) {
    out.notes.push_back("not enough data: bandwidth: no NCCL operations recorded");
    return;
  }
  RankLinks links = RankLinks::build(run);
  {  // the link model the ceilings come from, per link code between the run's ranks
    auto& lm = out.metrics["link_model"] = nlohmann::json::object();
    for (int a = 0; a < links.ranks(); ++a)
      for (int b = a + 1; b < links.ranks(); ++b) {
        auto raw = links.bandwidth(a, b);
        const auto& code = links.link(a, b);
        if (!raw || code.empty() || lm.contains(code)) continue;
        const auto& ach = links::achievable(links::link_kind(code));
        const auto fab = links.fabric(a, b);
        lm[code] = {{"raw_gbps", *raw}, {"achievable_fraction", ach.fraction}, {"achievable_gbps", *raw * ach.fraction},
                    {"basis", ach.basis}, {"fabric", links::fabric_name(fab)}, {"fabric_basis", links::fabric_basis(fab)}};
        if (fab == links::Fabric::Switch)
          lm[code]["note"] = "per-GPU ceiling: raw_gbps is each GPU's port into the switch, shared by all its peers "
                             "(an all-to-all over n GPUs reaches achievable_gbps bus bandwidth per GPU, not n-1 times it)";
      }
  }
  auto inst = build_instances(run);
  // metrics.collectives: aggregated by (func, algo, proto, size); busbw = median over instances.
  std::map<std::tuple<std::string, std::string, std::string, std::int64_t>, std::vector<const Instance*>> agg;
  for (const auto& in : inst) agg[{in.func, in.algo, in.proto, in.size}].push_back(&in);
  auto& rows = out.collectives;
  rows.clear();
  for (auto& [key, v] : agg) {
    std::vector<double> bw;
    for (const auto* p : v) bw.push_back(p->busbw);
    std::sort(bw.begin(), bw.end());
    CollectiveMetrics row;
    std::tie(row.func, row.algo, row.proto, row.bytes) = key;
    row.count = v.size();
    row.busbw_gbps = bw[bw.size() / 2];
    row.busbw_max_gbps = bw.back();
    row.nranks = v.front()->nranks;
    row.ranks_seen = v.front()->ranks_seen;
    if (auto c = links.slowest(v.front()->ranks))
      row.ceiling = LinkCeiling{c->achievable_gbps, c->raw_gbps, c->fraction, c->link, links::fabric_name(c->fabric)};
    row.nccl_tests_baseline_busbw_gbps = baseline(run, std::get<0>(key), std::get<3>(key));
    rows.push_back(std::move(row));
  }
  out.metrics["collectives"] = to_json_array(rows);
  if (inst.empty()) {
    out.notes.push_back("not enough data: bandwidth: no collective instance with bytes, communicator size (>= 2) and "
                        "duration all recorded");
    return;
  }
  if (!links.any_known() && run.bench.empty())
    out.notes.push_back("not enough data: bandwidth: no link bandwidth known (no topology rows mapped to ranks, no "
                        "nccl-tests baseline): bus bandwidth reported without a ceiling");
  add_low_bandwidth(run, links, inst, opts.low_bandwidth, out);
}

}  // namespace moetune::analyzers
