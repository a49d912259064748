// SPDX-License-Identifier: Apache-2.0
// The table of settable analysis options (options.h). Defaults are read from a
// default-constructed AnalyzeOptions, so they live only in the struct's initialisers.
#include "moetune/analyzers/options.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace moetune::analyzers {
namespace {

using Ref = OptionInfo::Ref;
constexpr double kPct = 100;

// An option named as its AnalyzeOptions field ("exposed_comm.min_pct"); _AS: under another
// name. The lambdas convert to the plain function pointer OptionInfo::ref.
#define MOETUNE_OPT_AS(NAME, FIELD, UNIT, LO, HI, JUDGES) \
  OptionInfo { NAME, UNIT, JUDGES, [](AnalyzeOptions& o) { return ref(&o.FIELD); }, LO, HI }
#define MOETUNE_OPT(FIELD, UNIT, LO, HI, JUDGES) MOETUNE_OPT_AS(#FIELD, FIELD, UNIT, LO, HI, JUDGES)
// A finding's two severity steps: GROUP.medium_pct and GROUP.high_pct, "from this WHAT".
#define MOETUNE_SEVERITY(GROUP, WHAT)                                                                      \
  MOETUNE_OPT(GROUP.medium_pct, "%", 0, kPct, #GROUP ": medium severity from this " WHAT),               \
      MOETUNE_OPT(GROUP.high_pct, "%", 0, kPct, #GROUP ": high severity from this " WHAT)

Ref ref(double* p) { return Ref{p, nullptr, nullptr}; }
Ref ref(int* p) { return Ref{nullptr, p, nullptr}; }
Ref ref(std::int64_t* p) { return Ref{nullptr, nullptr, p}; }

const std::vector<OptionInfo> kOptions = {
    MOETUNE_OPT(ranking.min_bucket_pct, "%", 0, kPct,
                "a non-compute time bucket below this share of the step does not reorder the findings"),
    MOETUNE_OPT(exposed_comm.min_pct, "%", 0, kPct,
                "exposed_comm: exposed transfer share of the step (minimum over ranks) to report; ranks listed at or "
                "above it"),
    MOETUNE_SEVERITY(exposed_comm, "share"),
    MOETUNE_OPT(exposed_comm.link_bound_hideable_pct, "%", 0, kPct,
                "exposed_comm: below this % of the exposed transfer hideable behind compute, the advice is "
                "link-bound (fewer bytes) and severity at most medium"),
    MOETUNE_OPT(memcpy_bound.min_pct, "%", 0, kPct,
                "memcpy_bound: unoverlapped copies' share of a rank's step to flag the rank"),
    MOETUNE_SEVERITY(memcpy_bound, "share (worst rank)"),
    MOETUNE_OPT(launch_bound.max_busy_pct, "%", 0, kPct,
                "launch_bound: a rank qualifies only with the GPU busy below this share of the step"),
    MOETUNE_OPT(launch_bound.min_short_gap_pct, "%", 0, kPct,
                "launch_bound: short host gaps (< 1 ms) must take at least this share of the step"),
    MOETUNE_OPT(launch_bound.min_short_gaps_per_step, "gaps", 0, 1e9,
                "launch_bound: and number at least this many per step"),
    MOETUNE_SEVERITY(launch_bound, "short-gap share"),
    MOETUNE_OPT(grad_compression.min_exposed_pct, "%", 0, kPct,
                "grad_compression: exposed 32/64-bit all-reduce share of the step on every rank to report"),
    MOETUNE_OPT(grad_compression.min_bytes, "bytes", 0, 1e15,
                "grad_compression: all-reduces smaller than this are not counted as gradient buckets"),
    MOETUNE_OPT(grad_compression.slow_busbw_gbps, "GB/s", 0, 1e6,
                "grad_compression: with no known link, the link is slow when the best bus bandwidth is below this"),
    MOETUNE_OPT(grad_compression.medium_gain_pct, "%", 0, kPct,
                "grad_compression: medium severity from this estimated gain"),
    MOETUNE_OPT(grad_compression.high_gain_pct, "%", 0, kPct,
                "grad_compression: high severity from this estimated gain"),
    MOETUNE_OPT(global_sync.min_wait_ns, "ns", 0, 1e15,
                "global_sync: a rank's wait in a collective counts when above this and half the transfer"),
    MOETUNE_OPT(global_sync.consistent_late_pct, "%", 0, kPct,
                "global_sync: one rank last in at least this share of the waiting instances is named as the late rank"),
    MOETUNE_OPT(global_sync.min_wait_share_pct, "%", 0, kPct,
                "global_sync: waits' share of the run (per rank) for a collective to be reported"),
    MOETUNE_OPT(global_sync.first_call_min_pct, "%", 0, kPct,
                "global_sync: first-call setup's share of the run to report it"),
    MOETUNE_SEVERITY(global_sync, "wait share"),
    MOETUNE_OPT(straggler.ratio, "x", 1, 1e6,
                "straggler: a rank's compute per step at or above this x the other ranks' median is slow (also its "
                "expert tokens against the others')"),
    MOETUNE_OPT(straggler.min_excess_ns, "ns", 0, 1e15,
                "straggler: and slower than the median by at least this much per step"),
    MOETUNE_SEVERITY(straggler, "excess share of the step"),
    MOETUNE_OPT(host_sync.min_pct, "%", 0, kPct,
                "host_sync: GPU idle behind blocking sync calls, share of the step, to report (and >= "
                "gpu_idle.min_gap_ns in all)"),
    MOETUNE_OPT(host_sync.min_idle_per_call_ns, "ns", 0, 1e15,
                "host_sync: idle behind one sync call shorter than this is not counted"),
    MOETUNE_SEVERITY(host_sync, "share"),
    MOETUNE_OPT_AS("gpu_idle.min_gap_ns", idle_gap_ns, "ns", 0, 1e15,
                   "gpu_idle: a gap with no GPU work inside a step counts from this length"),
    MOETUNE_OPT(gpu_idle.min_pct, "%", 0, kPct, "gpu_idle: idle gaps' share of the step to report"),
    MOETUNE_SEVERITY(gpu_idle, "share"),
    MOETUNE_OPT_AS("experts.ema_alpha", ema_alpha, "", 0, 1, "expert load smoothing per step (EMA weight of the past)"),
    MOETUNE_OPT_AS("experts.hot_k", hot_k, "experts", 0, 1e6,
                   "how many hot and cold experts per layer the metrics list"),
    MOETUNE_OPT(experts.hot_factor, "x", 0, 1e6,
                "an expert is hot only above this x the mean expert load of its layer"),
    MOETUNE_OPT(experts.cold_factor, "x", 0, 1e6, "an expert is cold below this x the mean expert load"),
    MOETUNE_OPT(experts.max_balancedness, "", 0, 1,
                "hot_experts / expert_imbalance: token balance across ranks (mean / max) below this is imbalanced"),
    MOETUNE_OPT(experts.min_gain_pct, "%", 0, kPct,
                "hot_experts / expert_imbalance: predicted MoE-layer time gain of the plan to report"),
    MOETUNE_OPT(experts.high_balance, "", 0, 1,
                "hot_experts / expert_imbalance: time balance below this is high severity"),
    MOETUNE_OPT(experts.cold_min_cross_node_pct, "%", 0, kPct,
                "cold_expert_traffic: share of routed tokens crossing nodes to report"),
    MOETUNE_OPT(experts.cold_max_plan_ratio, "", 0, 1,
                "cold_expert_traffic: the plan's cross-node tokens must fall below this x today's"),
    MOETUNE_OPT_AS("placement.memory_budget_pct", memory_budget_pct, "%", 0, 1e4,
                   "extra expert memory (copies, % of a layer's experts) the placement plan may use"),
    MOETUNE_OPT(low_bandwidth.min_bytes, "bytes", 0, 1e15,
                "low_bandwidth: judge only collective instances of at least this size"),
    MOETUNE_OPT(low_bandwidth.max_pct, "%", 0, kPct,
                "low_bandwidth: an instance below this % of the expected bus bandwidth is low"),
    MOETUNE_OPT(low_bandwidth.min_instances_pct, "%", 0, kPct,
                "low_bandwidth: at least this share of a collective's large instances must be low"),
    MOETUNE_OPT(low_bandwidth.high_pct, "%", 0, kPct,
                "low_bandwidth: achieved below this % of expected is high severity"),
    MOETUNE_OPT(comm_precision.high_share_pct, "%", 0, kPct,
                "comm_precision: wide all-to-all time above this share of the step is high severity"),
    MOETUNE_OPT(comm_precision.medium_gain_pct, "%", 0, kPct,
                "comm_precision: an estimated gain below this (step time known) is low severity"),
};
#undef MOETUNE_SEVERITY
#undef MOETUNE_OPT
#undef MOETUNE_OPT_AS

}  // namespace

const std::vector<OptionInfo>& analyze_options() { return kOptions; }

double option_value(const AnalyzeOptions& o, const OptionInfo& info) {
  auto r = info.ref(const_cast<AnalyzeOptions&>(o));  // read only
  return r.d ? *r.d : r.i ? static_cast<double>(*r.i) : static_cast<double>(*r.l);
}

Expected<void> set_analyze_option(AnalyzeOptions& o, std::string_view assignment) {
  const auto eq = assignment.find('=');
  const std::string name(assignment.substr(0, eq));
  const OptionInfo* info = nullptr;
  for (const auto& x : kOptions)
    if (x.name == name) info = &x;
  if (!info)
    return Error{"--set " + std::string(assignment) + ": unknown analysis option '" + name +
                 "' (moetune analyze --list-options lists them)"};
  if (eq == std::string_view::npos) return Error{"--set " + name + ": expected NAME=VALUE"};
  const std::string text(assignment.substr(eq + 1));
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
    return Error{"--set " + name + "=" + text + ": not a number"};
  if (v < info->min || v > info->max) {
    char buf[96];
    std::snprintf(buf, sizeof buf, ": out of range [%g, %g]", info->min, info->max);
    return Error{"--set " + name + "=" + text + buf};
  }
  auto r = info->ref(o);
  if ((r.i || r.l) && v != std::floor(v)) return Error{"--set " + name + "=" + text + ": must be a whole number"};
  if (r.d) *r.d = v;
  else if (r.i) *r.i = static_cast<int>(v);
  else *r.l = static_cast<std::int64_t>(v);
  return {};
}

std::string analyze_options_table() {
  const AnalyzeOptions defaults;
  std::string out;
  char buf[128];
  for (const auto& x : kOptions) {
    std::snprintf(buf, sizeof buf, "%-40s %10g %-6s ", std::string(x.name).c_str(), option_value(defaults, x),
                  std::string(x.unit).c_str());
    out += buf;
    out += x.judges;
    out += '\n';
  }
  return out;
}

}  // namespace moetune::analyzers
