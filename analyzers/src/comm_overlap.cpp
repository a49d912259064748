// SPDX-License-Identifier: Apache-2.0
// Communication ratio and overlap per rank and per step (HTA's definitions):
//   compute  = union of non-communication kernels over all streams of the rank
//   comm     = union of communication kernels (comm_rules), nccl_ops and peer copies
//   overlap% = |compute ∩ comm| / |comm|;  exposed = |comm| - |compute ∩ comm|
//   idle     = step time with no GPU work at all (kernels, copies, memsets, NCCL ops)
//   exposed_wait = the part of exposed comm a rank spends waiting in a collective for a
//              later rank, or in first-call setup (collective_instances.h): that belongs to
//              global_sync / straggler, so the exposed_comm finding counts exposed - exposed_wait.
// Without a steps table each rank's first..last GPU work is one "step" (noted).
// Finding exposed_comm when exposed communication is a large share of step time.
// Split (gather.h): gather_* reads one rank's events; judge_* reads only the gathers.
#include <algorithm>
#include <map>

#include "gather.h"
#include "judge.h"
#include "moetune/analyzers/analyses.h"
#include "sat_math.h"

namespace moetune::analyzers {
namespace {
using namespace detail;

double pct(double a, double b) { return b > 0 ? 100.0 * a / b : 0.0; }

// One per_step row (steady and warm-up windows alike); the caller sets exposed_wait_ms or warmup.
StepMetrics step_row(int rank, const Window& w, const WindowStats& st) {
  StepMetrics m;
  m.rank = rank, m.step = w.step, m.start_ns = w.s, m.end_ns = w.e;
  m.step_time_ms = ms(st.step_ns);
  m.compute_ms = ms(st.compute_ns);
  m.comm_ms = ms(st.comm_ns);
  m.exposed_comm_ms = ms(st.exposed_ns);
  m.overlap_pct = pct(static_cast<double>(st.overlap_ns), static_cast<double>(st.comm_ns));
  m.comm_ratio = st.step_ns > 0 ? static_cast<double>(st.comm_ns) / static_cast<double>(st.step_ns) : 0.0;
  m.idle_ms = ms(st.idle_ns);
  return m;
}

// Exposed communication per op (nccl func, or comm-kernel family) on one rank.
void exposed_by_op(const RunData& run, const GatherInputs& in, std::map<std::string, std::int64_t>& out) {
  const auto& a = in.a;
  if (a.nccl_ops > 0) {
    for (const auto* o : in.ops)
      if (o->end_ns > o->start_ns)
        out[o->func] = sat_add(out[o->func], (o->end_ns - o->start_ns) - measure(a.compute, o->start_ns, o->end_ns));
    return;
  }
  for (const auto& k : in.kernels) {
    if (!in.cls.is_comm(k.name)) continue;
    auto info = parse_nccl_kernel(run.str(k.name));
    auto& t = out[info ? info->func : to_string(in.cls.kind(k.name))];
    t = sat_add(t, k.dur_ns - measure(a.compute, k.start_ns, k.end_ns()));
  }
}

}  // namespace

namespace detail {

// Gather: one rank's per-step rows, per-rank row (typed, metrics.h) and the sums the finding needs.
void gather_comm_overlap(const RunData& run, const GatherInputs& in, RankGather& g) {
  const auto& a = in.a;
  exposed_by_op(run, in, g.exposed_by_op);
  if (a.windows.empty()) return;
  g.has_windows = true;
  g.whole_run = a.whole_run;
  auto& per_step = g.per_step_rows;
  WindowStats tot;
  auto exposed_wait_iv = intersect(subtract(a.comm, a.compute), in.wait_iv);
  std::int64_t tot_wait = 0;
  g.no_api = in.api.second.empty();
  auto wait_of = [&](const std::map<int, Intervals>& m) {
    auto it = m.find(a.rank);
    return it == m.end() ? Intervals{} : it->second;
  };
  const RankBuckets rb = build_buckets(a, wait_of(in.parts.wait), wait_of(in.parts.transfer), in.api.first,
                                       in.api.second);
  Buckets btot;
  std::vector<StepBuckets> step_buckets;
  auto bucket_row = [&](std::int64_t step, std::int64_t s, std::int64_t e) {
    auto bk = measure_buckets(a, rb, s, e);
    step_buckets.push_back({step, s, e, ms(bk.step), bk.times()});
    return bk;
  };
  for (const auto& w : a.windows) {
    btot += bucket_row(w.step, w.s, w.e);
    auto st = window_stats(a, w);
    auto ew = measure(exposed_wait_iv, w.s, w.e);
    tot_wait = sat_add(tot_wait, ew);  // step windows come from the file and may overlap: sums saturate
    for (auto f : {&WindowStats::step_ns, &WindowStats::compute_ns, &WindowStats::comm_ns, &WindowStats::overlap_ns,
                   &WindowStats::exposed_ns, &WindowStats::idle_ns})
      tot.*f = sat_add(tot.*f, st.*f);
    // Overlap can hide exposed comm only behind compute that does not already overlap comm.
    g.hideable += std::min(st.exposed_ns - ew, st.compute_ns - st.overlap_ns);
    g.worst.push_back({st.exposed_ns - ew, w.step, w.s, w.e});
    auto row = step_row(a.rank, w, st);
    row.exposed_wait_ms = ms(ew);
    per_step.push_back(std::move(row));
  }
  for (const auto& w : a.warmup_windows) {  // listed for plots, left out of every sum
    auto row = step_row(a.rank, w, window_stats(a, w));
    row.warmup = true;
    per_step.push_back(std::move(row));
  }
  g.any_comm = tot.comm_ns > 0;
  auto n = static_cast<double>(a.windows.size());
  std::optional<DetectedPeriodMetrics> detected;
  if (a.whole_run) {  // no steps: the repeating kernel sequence gives the per-step picture
    if (auto dp = detect_step_period(run, a.rank)) {
      g.detected = true;
      step_buckets.clear();
      std::int64_t sum = 0;
      for (std::size_t i = 0; i < dp->windows.size(); ++i) {
        bucket_row(static_cast<std::int64_t>(i), dp->windows[i].s, dp->windows[i].e);
        sum += dp->windows[i].e - dp->windows[i].s;
      }
      detected = DetectedPeriodMetrics{dp->kernels, dp->windows.size(),
                                       ms(sum) / static_cast<double>(dp->windows.size()), dp->anchor, dp->match};
    }
  }
  RankMetrics& m = g.per_rank_row;
  m.rank = a.rank;
  m.steps = a.whole_run ? 0 : static_cast<int>(a.windows.size());
  m.step_time_ms = ms(tot.step_ns) / n;
  m.compute_ms = ms(tot.compute_ns) / n;
  m.comm_ms = ms(tot.comm_ns) / n;
  m.exposed_comm_ms = ms(tot.exposed_ns) / n;
  m.overlap_pct = pct(static_cast<double>(tot.overlap_ns), static_cast<double>(tot.comm_ns));
  m.comm_ratio = tot.step_ns > 0 ? static_cast<double>(tot.comm_ns) / static_cast<double>(tot.step_ns) : 0.0;
  m.idle_ms = ms(tot.idle_ns) / n;
  m.overlap_ms = ms(tot.overlap_ns) / n;
  m.total_ms = ms(tot.step_ns);
  m.compute_total_ms = ms(tot.compute_ns);
  m.comm_total_ms = ms(tot.comm_ns);
  m.exposed_comm_total_ms = ms(tot.exposed_ns);
  m.exposed_wait_ms = ms(tot_wait) / n;
  m.whole_run = a.whole_run;
  m.comm_kernels = a.comm_kernels, m.nccl_ops = a.nccl_ops, m.peer_copies = a.peer_copies;
  m.buckets = btot.times(n);
  m.step_buckets = std::move(step_buckets);
  m.long_gaps_per_step = static_cast<double>(btot.long_gaps) / n;
  m.short_gaps_per_step = static_cast<double>(btot.short_gaps) / n;
  m.api_calls_recorded = !rb.api_starts.empty();
  m.detected_period = std::move(detected);
  g.step = tot.step_ns;
  g.comm = tot.comm_ns;
  g.exposed = tot.exposed_ns - tot_wait;
  g.wait = tot_wait;
}

// Measure + judge: the metrics rows in rank order, then the job-level finding.
void judge_comm_overlap(const RunData& run, const Gathered& gd, const AnalyzeOptions& opts, AnalysisResult& out) {
  out.metrics["per_rank"] = nlohmann::json::array();
  out.metrics["per_step"] = nlohmann::json::array();
  auto& per_rank = out.per_rank;
  auto& per_step = out.per_step;
  per_rank.clear(), per_step.clear();
  if (!gd.any_kernels && run.nccl_ops.empty() && !gd.any_memcpys) {
    out.notes.push_back("not enough data: comm_overlap: the run has no GPU kernels, copies or NCCL operations");
    return;
  }
  bool any_detected = false, any_no_api = false, any_whole = false, any_comm = false;
  std::vector<const RankGather*> sums;
  for (const auto& [r, g] : gd.ranks) {
    if (!g.has_windows) continue;
    any_whole |= g.whole_run;
    any_no_api |= g.no_api;
    any_detected |= g.detected;
    any_comm |= g.any_comm;
    for (const auto& row : g.per_step_rows) per_step.push_back(row);
    per_rank.push_back(g.per_rank_row);
    sums.push_back(&g);
  }
  out.metrics["per_rank"] = to_json_array(per_rank);
  out.metrics["per_step"] = to_json_array(per_step);
  if (any_detected)
    out.notes.push_back("steps: no steps recorded for some ranks; the step period was detected from the repeating "
                        "kernel sequence (per_rank[].detected_period): step_buckets are per detected step, the "
                        "per-rank means stay over the whole window");
  if (any_no_api)
    out.notes.push_back("time buckets: some ranks have no CUDA API calls recorded, so their gaps >= 1 ms count as idle "
                        "(a host launch gap cannot be told apart)");
  const SteadySteps& steady = gd.ctx.steady;
  out.metrics["comm_overlap"] = {
      {"windows", any_whole ? "whole run per rank (no steps recorded)" : "steps table"},
      {"warmup_rule", steady.rule},
      {"warmup", steady.rule_text},
      {"steps_total", steady.total},
      {"steps_used", steady.used()},
      {"definitions",
       "compute = union of non-communication kernels on all streams; comm = union of communication kernels, "
       "NCCL ops and peer copies; overlap_pct = compute during comm / comm (HTA); exposed = comm with no compute; "
       "comm_ratio = comm / step time; idle = step time with no GPU work; exposed_wait = exposed comm spent waiting "
       "in a collective for a later rank or in first-call setup; per_rank values are means per step"}};
  if (steady.warmup > 0) out.notes.push_back("steps: " + steady.rule_text + " (per-rank means use the other steps)");
  if (any_whole)
    out.notes.push_back("comm_overlap: no steps recorded for some ranks; each such rank's whole run (first to last GPU "
                        "work) is treated as one step");
  if (!any_comm) {
    out.notes.push_back("not enough data: comm_overlap: no communication found (no NCCL ops, no communication kernels, "
                        "no peer copies), so there is no overlap to measure");
    return;
  }

  // Finding: exposed communication as a share of step time. Ranks synchronise at every
  // collective, so the step shrinks only by what *every* rank can hide: the job-level share
  // and gain are the minimum over ranks (a rank that waits for a straggler shows exposed
  // transfer that is off the critical path; the straggler itself shows none).
  double share_sum = 0, worst_share = 0, job_share = 1e9, job_gain = 1e9, comm_share = 1e9;
  int worst_rank = -1;
  int counted = 0;
  for (const auto* rs : sums) {
    if (rs->step <= 0) continue;
    ++counted;
    double share = static_cast<double>(rs->exposed) / static_cast<double>(rs->step);
    share_sum += share;
    job_share = std::min(job_share, share);
    job_gain = std::min(job_gain, static_cast<double>(rs->hideable) / static_cast<double>(rs->step));
    comm_share = std::min(comm_share, static_cast<double>(rs->comm) / static_cast<double>(rs->step));
    if (share > worst_share) worst_share = share, worst_rank = rs->rank;
  }
  if (counted == 0) return;
  double mean_share = share_sum / counted;
  const auto& th = opts.exposed_comm;
  if (job_share < th.min_pct / 100) return;
  Finding f;
  f.kind = FindingKind::ExposedComm;
  f.severity = severity_at_least(job_share, th.medium_pct / 100, th.high_pct / 100);
  char buf[200];
  std::snprintf(buf, sizeof buf, "Exposed communication: %.0f%% of step time communicates with no compute running",
                100 * job_share);
  f.title = buf;
  std::map<std::string, std::int64_t> by_op;
  nlohmann::json ranks_ev = nlohmann::json::array();
  std::vector<std::pair<std::int64_t, Window>> worst_all;
  for (const auto* rs : sums) {
    if (rs->step > 0 && static_cast<double>(rs->exposed) / static_cast<double>(rs->step) >= th.min_pct / 100)
      f.ranks.push_back(rs->rank);
    ranks_ev.push_back({{"rank", rs->rank},
                        {"exposed_comm_ms", ms(rs->exposed + rs->wait)},
                        {"exposed_waiting_for_other_ranks_ms", ms(rs->wait)},
                        {"exposed_transfer_ms", ms(rs->exposed)},
                        {"comm_ms", ms(rs->comm)},
                        {"step_time_ms", ms(rs->step)},
                        {"exposed_share_pct", pct(static_cast<double>(rs->exposed), static_cast<double>(rs->step))},
                        {"hideable_ms", ms(rs->hideable)}});
    for (const auto& w : rs->worst) worst_all.push_back({w.ns, Window{w.step, w.s, w.e}});
  }
  for (const auto& [r, g] : gd.ranks)
    for (const auto& [name, ns] : g.exposed_by_op) by_op[name] += ns;
  std::sort(worst_all.begin(), worst_all.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
  for (std::size_t i = 0; i < worst_all.size() && i < 5; ++i)
    f.time_ranges.push_back({worst_all[i].second.s, worst_all[i].second.e});
  nlohmann::json ops = nlohmann::json::object();
  for (const auto& [name, ns] : by_op) ops[name] = ms(ns);
  // How much of the exposed transfer overlap could hide: it needs idle compute to hide behind.
  const double hide_fraction = job_share > 0 ? std::min(1.0, job_gain / job_share) : 0;
  const bool link_bound = hide_fraction < th.link_bound_hideable_pct / 100;  // little compute to hide behind
  f.evidence = {{"exposed_share_pct", 100 * job_share},
                {"mean_exposed_share_pct", 100 * mean_share},
                {"worst_rank", worst_rank},
                {"worst_exposed_share_pct", 100 * worst_share},
                {"comm_share_pct", 100 * comm_share},
                {"hideable_share_pct", 100 * job_gain},
                {"hideable_fraction_of_exposed", hide_fraction},
                {"link_bound", link_bound},
                {"per_rank", ranks_ev},
                {"exposed_ms_by_op_incl_wait", ops}};
  bool has_a2a = false, has_ar = false;
  for (const auto& [name, ns] : by_op) {
    if (ns <= 0) continue;
    if (algo_env_applies(name)) has_ar = true; else has_a2a = true;
  }
  auto cmd_it = run.meta.find("command");
  const std::string cmd = cmd_it == run.meta.end() ? "" : cmd_it->second;
  const bool moe_nccl = cmd.find("moe_nccl") != std::string::npos;
  const bool chunked = cmd.find("--overlap-chunks") != std::string::npos;
  f.estimated_gain_pct = 100 * job_gain;
  f.gain_basis = "upper bound: per rank and step, the exposed transfer (waiting for other ranks excluded) that fits "
                 "behind compute not already overlapping communication, min(exposed - wait, compute - overlap); the "
                 "minimum over ranks as a share of step time, since ranks synchronise at every collective; assumes "
                 "compute does not slow down when it shares the GPU with communication";
  if (link_bound) {
    char t[700];
    std::snprintf(t, sizeof t,
                  "Overlap cannot hide this: communication takes %.0f %% of the step and only %.0f %% of the exposed "
                  "transfer has idle compute to hide behind (at most %.1f %% of the step). The link is the bottleneck: "
                  "send fewer bytes (16-bit dispatch/combine, keep hot experts' tokens local with a placement plan) "
                  "or use a faster link. Measured: on socket-linked emulated nodes, where communication was ~90 %% of "
                  "the step, 4 overlap chunks gained nothing (samples/README.md).",
                  100 * comm_share, 100 * hide_fraction, 100 * job_gain);
    f.recommendation.text = t;
    f.recommendation.fixes.push_back(
        {"code", {{"description", "reduce the bytes per step (see comm_precision / cold_expert_traffic / hot_experts "
                                  "findings) before adding overlap: chunking adds a send/recv round per chunk"}}});
    f.severity = std::min(f.severity, FindingSeverity::Medium);
  } else {
    f.recommendation.text =
        "Overlap communication with computation: split the MoE dispatch/combine all-to-all into chunks, issue each "
        "chunk's communication on a second CUDA stream ordered with CUDA events, so chunk i communicates while chunk "
        "i-1's experts compute.";
    if (has_ar)
      f.recommendation.text += " For gradient all-reduce, launch bucketed all-reduces during the backward pass "
                               "(DDP/FSDP bucketing) instead of after it.";
    if (!has_a2a && has_ar) f.recommendation.text += " (No all-to-all was exposed here: the all-reduce advice applies first.)";
    if (has_a2a && moe_nccl && !chunked) {
      f.recommendation.text += " moe_nccl does this with --overlap-chunks (2 chunks: fewer extra send/recv rounds; "
                               "samples/README.md measured 2 and 4 chunks).";
      f.recommendation.fixes.push_back({"flag", {{"name", "--overlap-chunks"}, {"value", "2"}}});
    }
    f.recommendation.fixes.push_back(
        {"code", {{"description", "PyTorch: chunk the tokens, run dist.all_to_all_single(..., async_op=True) for chunk "
                                  "i+1 on a side stream while chunk i's experts run, wait on the work handle before "
                                  "using its output (or use CUDA events between a compute and a comm stream)"}}});
  }
  out.findings.push_back(std::move(f));
}

}  // namespace detail

}  // namespace moetune::analyzers
