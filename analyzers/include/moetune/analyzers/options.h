// SPDX-License-Identifier: Apache-2.0
// AnalyzeOptions: every threshold an analysis judges with, named, with its default here
// and nowhere else (the member initialisers below). The CLI sets them by name
// (`moetune analyze --set exposed_comm.min_pct=3`, `--list-options`); docs/ANALYZE-OPTIONS.md
// lists name, default, unit and what each judges. Percentages are in percent (5 = 5 %)
// and compared against shares as pct / 100; durations carry their unit in the name.
// Not options (definitions of the measurement, not judgements): the 1 ms line between
// short and long host gaps of the time buckets, the bandwidth model's 40 us per-call latency.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "moetune/trace/comm_vocab.h"
#include "moetune/trace/result.h"

namespace moetune::analyzers {

struct AnalyzeOptions {
  double ema_alpha = 0.99;               // experts.ema_alpha: expert load smoothing
  int hot_k = 3;                         // experts.hot_k: how many hot/cold experts the metrics list
  double memory_budget_pct = 15.0;       // placement.memory_budget_pct: extra expert memory the plan may use
  std::int64_t idle_gap_ns = 1'000'000;  // gpu_idle.min_gap_ns: GPU idle gap worth reporting (1 ms)

  struct Ranking {
    double min_bucket_pct = 5;  // a non-compute bucket below this share does not reorder the findings
  } ranking;
  struct ExposedComm {
    double min_pct = 5;                   // exposed transfer share of the step (min over ranks) to report
    double medium_pct = 10, high_pct = 25;  // severity steps of that share
    double link_bound_hideable_pct = 50;  // below this % of the exposed transfer hideable: link-bound advice
  } exposed_comm;
  struct MemcpyBound {
    double min_pct = 10;                  // unoverlapped copies' share of a rank's step
    double medium_pct = 25, high_pct = 50;  // severity steps (worst rank)
  } memcpy_bound;
  struct LaunchBound {
    double max_busy_pct = 50;             // GPU busy share of the step below which a rank may be launch-bound
    double min_short_gap_pct = 20;        // short host gaps' share of the step
    double min_short_gaps_per_step = 10;  // short gaps per step
    double medium_pct = 15, high_pct = 30;  // severity steps of the short-gap share
  } launch_bound;
  struct GradCompression {
    double min_exposed_pct = 3;           // exposed fp32 all-reduce share of the step on every rank
    std::int64_t min_bytes = 1 << 20;     // all-reduces smaller than this are not gradient buckets
    double slow_busbw_gbps = 100;         // unknown link: slow when the best bus bandwidth is below
    double medium_gain_pct = 3, high_gain_pct = 10;  // severity steps of the estimated gain
  } grad_compression;
  struct GlobalSync {
    std::int64_t min_wait_ns = 50'000;    // a collective wait shorter than this (or half the transfer) is noise
    double consistent_late_pct = 60;      // share of waiting instances with one late rank to name it
    double min_wait_share_pct = 1;        // waits' share of the run to report a (comm, func) group
    double first_call_min_pct = 0.5;      // first-call setup's share of the run to report it
    double medium_pct = 3, high_pct = 10; // severity steps of the wait share
  } global_sync;
  struct Straggler {
    double ratio = 1.10;                  // a rank's compute / median compute at or above this is slow
    std::int64_t min_excess_ns = 100'000; // and slower by at least this much per step
    double medium_pct = 5, high_pct = 15; // severity steps of the excess as a share of the step
  } straggler;
  struct HostSync {
    double min_pct = 2;                   // GPU idle behind sync calls, share of the step
    std::int64_t min_idle_per_call_ns = 10'000;  // idle behind one sync call worth counting
    double medium_pct = 5, high_pct = 10; // severity steps of the share
  } host_sync;
  struct GpuIdle {
    double min_pct = 3;                   // idle gaps' share of the step
    double medium_pct = 7, high_pct = 15; // severity steps
  } gpu_idle;
  struct Experts {
    double hot_factor = 1.5;              // hot only above this x the mean expert load
    double cold_factor = 0.25;            // cold below this x the mean expert load
    double max_balancedness = 0.8;        // token balance below this: imbalanced
    double min_gain_pct = 5;              // predicted MoE time gain to report hot_experts / expert_imbalance
    double high_balance = 0.5;            // time balance below this: high severity
    double cold_min_cross_node_pct = 30;  // cold_expert_traffic: routed tokens crossing nodes
    double cold_max_plan_ratio = 0.8;     // cold_expert_traffic: the plan's cross-node tokens / today's below this
  } experts;
  struct LowBandwidth {
    std::int64_t min_bytes = 4 << 20;     // judge only collective instances at least this large
    double max_pct = 40;                  // an instance below this % of the expected bus bandwidth is low
    double min_instances_pct = 25;        // share of the large instances that must be low
    double high_pct = 25;                 // achieved below this % of expected: high severity
  } low_bandwidth;
  struct CommPrecision {
    double high_share_pct = 20;           // wide all-to-all time share of the step: high severity
    double medium_gain_pct = 2;           // estimated gain below this (step known): low severity
  } comm_precision;

  // User communication rules (--comm-rules FILE, docs/COMM-RULES.md), tried before the
  // built-in table by every analysis; null: built-in rules only.
  std::shared_ptr<const comm::RuleSet> comm_rules;
};

// One settable option: its name ("group.field"), unit, what it judges, and where it lives.
struct OptionInfo {
  std::string_view name, unit, judges;
  struct Ref {
    double* d = nullptr;
    int* i = nullptr;
    std::int64_t* l = nullptr;
  };
  Ref (*ref)(AnalyzeOptions&);
  double min = 0, max = 1e18;  // accepted range
};
const std::vector<OptionInfo>& analyze_options();
double option_value(const AnalyzeOptions& o, const OptionInfo& info);
// "name=value": sets one option; unknown name, bad number or out of range -> Error (one line).
Expected<void> set_analyze_option(AnalyzeOptions& o, std::string_view assignment);
// The table of --list-options: name, default, unit, what it judges (one line each).
std::string analyze_options_table();

}  // namespace moetune::analyzers
