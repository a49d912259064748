// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <cstdio>
#include <set>

#include "gather.h"
#include "moetune/analyzers/analyses.h"
#include "moetune/analyzers/comm_rules.h"
#include "sat_math.h"

namespace moetune::analyzers {
namespace {

// metrics.comm_vocabulary: the user rules in force and the heaviest kernels that look like
// communication but no rule classifies (also one note line, so users know to add a rule).
void comm_vocabulary_health(const detail::Gathered& gd, const AnalyzeOptions& opts, AnalysisResult& r) {
  // unclassified_comm_like's list, from the per-rank name totals of the gathers.
  std::map<std::string, UnclassifiedComm> by_name;
  for (const auto& [rank, g] : gd.ranks)
    for (const auto& [name, v] : g.unclassified) {
      auto& e = by_name[name];
      e.name = name, e.total_ns = sat_add(e.total_ns, v.first), e.count += v.second;
    }
  std::vector<UnclassifiedComm> u;
  for (auto& [name, e] : by_name) u.push_back(std::move(e));
  std::sort(u.begin(), u.end(), [](const auto& a, const auto& b) {
    return a.total_ns != b.total_ns ? a.total_ns > b.total_ns : a.name < b.name;
  });
  if (u.size() > 3) u.resize(3);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& x : u)
    list.push_back({{"name", x.name}, {"total_ms", static_cast<double>(x.total_ns) / 1e6}, {"kernels", x.count}});
  r.metrics["comm_vocabulary"] = {{"user_rules", opts.comm_rules ? opts.comm_rules->origin() : std::string()},
                                  {"user_rule_count", opts.comm_rules ? opts.comm_rules->rules().size() : 0},
                                  {"unclassified_comm_like", list}};
  if (auto line = unclassified_comm_line(u); !line.empty()) r.notes.push_back(line);
}

// The non-compute buckets a finding's fix shrinks (docs/ANALYZE-JSON.md, "Ranking").
std::set<std::string> addressed(FindingKind k) {
  switch (k) {
    case FindingKind::ExposedComm:
    case FindingKind::CommPrecision:
    case FindingKind::LowBandwidth:
    case FindingKind::PcieTopology:
    case FindingKind::ColdExpertTraffic:
    case FindingKind::GradCompression: return {"comm_transfer"};
    case FindingKind::HotExperts: return {"comm_transfer", "comm_wait"};
    case FindingKind::GlobalSync:
    case FindingKind::Straggler:
    case FindingKind::ExpertImbalance: return {"comm_wait"};
    case FindingKind::MemcpyBound: return {"memcpy"};
    case FindingKind::LaunchBound: return {"host_gap_short"};
    case FindingKind::HostSync:
    case FindingKind::GpuIdle: return {"host_gap_long", "idle"};
  }
  return {};
}

std::string why_none(const std::string& bucket, const AnalyzeOptions& o) {
  char buf[400];
  if (bucket == "comm_transfer") {
    std::snprintf(buf, sizeof buf,
                  "the transfer is below exposed_comm's threshold (>= %g %% exposed on every rank), there is no link "
                  "ceiling or byte count for low_bandwidth, and no 32-bit all-to-all or exposed fp32 gradient "
                  "all-reduce to compress",
                  o.exposed_comm.min_pct);
    return buf;
  }
  if (bucket == "comm_wait")
    return "the waits are not attributed to a late rank: global_sync needs collective instances aligned across ranks, "
           "and straggler needs two or more ranks";
  if (bucket == "memcpy") {
    std::snprintf(buf, sizeof buf, "the copies stay under memcpy_bound's threshold (%g %% of the step on a rank)",
                  o.memcpy_bound.min_pct);
    return buf;
  }
  if (bucket == "host_gap_short") {
    std::snprintf(buf, sizeof buf, "the GPU is busy >= %g %% of the step or the short gaps are few (launch_bound needs both)",
                  o.launch_bound.max_busy_pct);
    return buf;
  }
  return "gpu_idle and host_sync judge gaps inside recorded steps; without steps the gaps may be start-up or "
         "tear-down and are not sized";
}

}  // namespace

void rank_by_accounting(AnalysisResult& r, const AnalyzeOptions& opts) {
  // Most costly first (severity, then gain); ids are numbered per kind in the final order.
  std::stable_sort(r.findings.begin(), r.findings.end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity > b.severity;
    return a.estimated_gain_pct > b.estimated_gain_pct;
  });
  if (r.per_rank.empty()) return;
  // Mean share of each non-compute bucket over the ranks.
  std::map<std::string, double> share;
  double compute = 0;
  int n = 0;
  for (const auto& row : r.per_rank) {
    const double step = row.step_time_ms;
    if (step <= 0) continue;
    const auto& b = row.buckets;
    ++n;
    compute += b.compute_ms / step;
    share["comm_transfer"] += b.comm_transfer_ms / step;
    share["comm_wait"] += b.comm_wait_ms / step;
    share["memcpy"] += b.memcpy_ms() / step;
    share["host_gap_long"] += b.host_gap_long_ms / step;
    share["host_gap_short"] += b.host_gap_short_ms / step;
    share["idle"] += b.idle_ms / step;
  }
  if (n == 0) return;
  nlohmann::json shares = nlohmann::json::object();
  std::string largest;
  for (auto& [k, v] : share) {
    v /= n;
    shares[k] = 100 * v;
    if (largest.empty() || v > share[largest]) largest = k;
  }
  compute /= n;
  auto& rk = r.metrics["ranking"] = {{"bucket_share_pct", shares}, {"compute_share_pct", 100 * compute}};
  char buf[160];
  if (share[largest] < opts.ranking.min_bucket_pct / 100) {
    std::snprintf(buf, sizeof buf, "%.0f %% of the step is compute; no non-compute bucket reaches %g %%", 100 * compute,
                  opts.ranking.min_bucket_pct);
    rk["largest_bucket"] = nullptr;
    r.notes.push_back(std::string("ranking: ") + buf + ", so the findings keep severity order");
    return;
  }
  rk["largest_bucket"] = largest;
  std::stable_sort(r.findings.begin(), r.findings.end(), [&](const Finding& a, const Finding& b) {
    return addressed(a.kind).count(largest) > addressed(b.kind).count(largest);
  });
  const bool any = !r.findings.empty() && addressed(r.findings.front().kind).count(largest);
  rk["top_addresses_largest"] = any;
  if (!any) {
    std::snprintf(buf, sizeof buf, "the largest non-compute bucket is %s (%.0f %% of the step) and no finding addresses it: ",
                  largest.c_str(), 100 * share[largest]);
    r.notes.push_back(std::string("ranking: ") + buf + why_none(largest, opts));
  }
}

namespace detail {

// Measure + judge of every analysis (gather.h): reads only the gathers and the run's small
// tables, so the sharded analysis (summary.h) runs it on the gathers of all nodes.
AnalysisResult judge_all(const RunData& run, const Gathered& g, const AnalyzeOptions& opts) {
  AnalysisResult r;
  comm::ScopedRules rules(opts.comm_rules.get());  // every analysis classifies with the user's rules too
  judge_comm_overlap(run, g, opts, r);
  judge_stragglers(run, g, opts, r);
  judge_global_sync(run, g, opts, r);  // after stragglers: leaves a late rank they name to them
  judge_experts(run, g, opts, r);
  judge_precision(run, g, opts, r);
  analyze_bandwidth(run, opts, r);  // small tables only (nccl_ops, topology, bench)
  comm_vocabulary_health(g, opts, r);
  judge_time_buckets(run, g, opts, r);
  rank_by_accounting(r, opts);
  std::map<std::string, int> per_kind;
  for (auto& f : r.findings) f.id = std::string(to_string(f.kind)) + "-" + std::to_string(++per_kind[to_string(f.kind)]);
  return r;
}

}  // namespace detail

// Each analysis on its own (analyses.h): its gather over the whole run, then its judge.
#define MOETUNE_STANDALONE(NAME)                                                               \
  void analyze_##NAME(const RunData& run, const AnalyzeOptions& opts, AnalysisResult& out) { \
    detail::judge_##NAME(run, detail::Gathered::of(run, opts), opts, out);                    \
  }
MOETUNE_STANDALONE(comm_overlap)
MOETUNE_STANDALONE(stragglers)
MOETUNE_STANDALONE(global_sync)
MOETUNE_STANDALONE(experts)
MOETUNE_STANDALONE(precision)
MOETUNE_STANDALONE(time_buckets)
#undef MOETUNE_STANDALONE

AnalysisResult analyze(const RunData& run, const AnalyzeOptions& opts) {
  comm::ScopedRules rules(opts.comm_rules.get());  // the gathers classify with the user's rules too
  return detail::judge_all(run, detail::Gathered::of(run, opts), opts);
}

}  // namespace moetune::analyzers
