// SPDX-License-Identifier: Apache-2.0
// Findings read off the time buckets (time_buckets.h, AnalysisResult::per_rank[].buckets).
// Thresholds are AnalyzeOptions fields (options.h); the defaults are quoted here:
//   memcpy_bound     - copies (H2D, D2H, D2D, P2P not under compute/comm) take >= 10 % of a
//                      rank's step: bytes, achieved GB/s against the PCIe ceiling of the rank
//                      (gen x width, link_rates.h), what the rate says about pinned/pageable;
//   launch_bound     - the GPU is busy < 50 % of the step and short gaps (< 1 ms, >= 10 per
//                      step) take >= 20 % of it: launch overhead starves the GPU;
//   grad_compression - all-reduces of >= 1 MiB of 32/64-bit floats (data-parallel gradient
//                      sync; never all-to-all) whose transfer is exposed (no compute under it,
//                      waiting for peers excluded) >= 3 % of the step on every rank, on a slow
//                      link (topology says PCIe / network, or best bus bandwidth < 100 GB/s
//                      when the link is unknown and every rank of the communicator is traced).
// Cost: one pass over memcpys; the all-reduce pass only when fp32 all-reduces exist.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>

#include "moetune/analyzers/analyses.h"
#include "moetune/analyzers/topology.h"
#include "moetune/trace/link_rates.h"
#include "gather.h"
#include "judge.h"
#include "sat_math.h"

namespace moetune::analyzers {
namespace {
using namespace detail;

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void memcpy_bound(const RunData& run, const Gathered& gd, const std::vector<RankMetrics>& per_rank,
                  const AnalyzeOptions::MemcpyBound& th, AnalysisResult& out) {
  double worst = 0;
  std::vector<int> ranks;
  for (const auto& row : per_rank) {
    const double step = row.step_time_ms;
    if (step <= 0) continue;
    const double share = row.buckets.memcpy_ms() / step;
    if (share >= th.min_pct / 100) ranks.push_back(row.rank);
    worst = std::max(worst, share);
  }
  if (ranks.empty()) return;
  struct Kind {
    std::int64_t bytes = 0, dur = 0, n = 0, small = 0;
  };
  std::map<std::string, Kind> kinds;
  std::set<int> flagged(ranks.begin(), ranks.end());
  for (int r : flagged)  // the flagged ranks' copies by kind (gather_copies_and_grad)
    if (auto g = gd.ranks.find(r); g != gd.ranks.end())
      for (const auto& [k, c] : g->second.copies) {
        auto& v = kinds[k];
        v.bytes = sat_add(v.bytes, c.bytes), v.dur = sat_add(v.dur, c.dur), v.n += c.n, v.small += c.small;
      }
  // PCIe ceiling of the flagged ranks (the slowest gen x width recorded).
  std::optional<double> pcie;
  for (const auto& r : run.ranks)
    if (flagged.count(static_cast<int>(r.rank.value)))
      if (auto g = links::pcie_raw_gbps(r.pcie_gen, r.pcie_width)) pcie = pcie ? std::min(*pcie, *g) : *g;
  nlohmann::json ev_kinds = nlohmann::json::object();
  std::string main_kind;
  std::int64_t main_dur = -1;
  double host_rate_frac = -1;  // achieved / raw PCIe for host copies
  for (const auto& [k, v] : kinds) {
    const double gbps = v.dur > 0 ? static_cast<double>(v.bytes) / static_cast<double>(v.dur) : 0;  // B/ns = GB/s
    nlohmann::json e = {{"copies", v.n}, {"bytes", v.bytes}, {"busy_ms", ms(v.dur)}, {"achieved_gbps", gbps},
                        {"copies_under_64KiB", v.small}};
    if ((k == "h2d" || k == "d2h") && pcie) {
      e["pcie_raw_gbps"] = *pcie;
      e["pcie_achievable_gbps"] = *pcie * links::kPcieAchievable.fraction;
      e["share_of_pcie_raw"] = gbps / *pcie;
    }
    if (v.dur > main_dur) main_dur = v.dur, main_kind = k;
    ev_kinds[k] = std::move(e);
  }
  if (main_kind == "h2d" || main_kind == "d2h")
    if (ev_kinds[main_kind].contains("share_of_pcie_raw")) host_rate_frac = ev_kinds[main_kind]["share_of_pcie_raw"];
  Finding f;
  f.kind = FindingKind::MemcpyBound;
  f.ranks = ranks;
  f.severity = severity_at_least(worst, th.medium_pct / 100, th.high_pct / 100);
  f.title = fmt("Memory copies take %.0f%% of the step with no compute or communication under them", 100 * worst) +
            (main_kind.empty() ? "" : " (mostly " + [&] {
              std::string u = main_kind;
              for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
              return u;
            }() + ")");
  // The trace store keeps no memory kind (pinned/pageable): the rate tells.
  std::string memory = "unknown (no PCIe ceiling recorded or not a host copy)";
  if (host_rate_frac >= 0)
    memory = host_rate_frac >= 0.6 ? "pinned (the copies run at >= 60 % of the PCIe rate)"
             : host_rate_frac < 0.4 ? "likely pageable or small copies (< 40 % of the PCIe rate; pageable memory is "
                                      "staged through a pinned bounce buffer)"
                                    : "undetermined (40-60 % of the PCIe rate)";
  f.evidence = {{"copy_share_pct_worst_rank", 100 * worst}, {"by_kind", ev_kinds}, {"host_memory_inferred", memory},
                {"memory_kind_recorded", false}};
  f.estimated_gain_pct = 100 * worst;
  f.gain_basis = "upper bound: the copy time that nothing else overlaps, as a share of the slowest-copying rank's step; "
                 "assumes the copies leave the critical path (data kept on the GPU, or copies overlapped with compute "
                 "on a side stream) and nothing else grows";
  std::string text = "Copies dominate the step. ";
  if (host_rate_frac >= 0.6)
    text += fmt("They already run at %.0f %% of the PCIe rate, so faster copies are not available: keep the data on the "
                "GPU across steps (move the dataset / weights once, not per step), or copy the next batch on a separate "
                "CUDA stream while the current one computes.",
                100 * host_rate_frac);
  else if (host_rate_frac >= 0)
    text += fmt("They reach %.0f %% of the PCIe rate: allocate the host buffers pinned (torch pin_memory=True / "
                "DataLoader(pin_memory=True), cudaHostAlloc) and batch small copies; then overlap them with compute "
                "on a separate stream (non_blocking=True) or keep the data on the GPU.",
                100 * host_rate_frac);
  else
    text += "Use pinned host buffers for host copies, overlap copies with compute on a separate CUDA stream, and keep "
            "data on the GPU across steps.";
  f.recommendation.text = text;
  f.recommendation.fixes.push_back(
      {"code", {{"description", "pinned host buffers (pin_memory=True, cudaHostAlloc) and tensor.to(device, "
                                "non_blocking=True) on a side stream, ordered with CUDA events; keep per-step data "
                                "resident on the GPU"}}});
  out.findings.push_back(std::move(f));
}

void launch_bound(const std::vector<RankMetrics>& per_rank, const AnalyzeOptions::LaunchBound& th, AnalysisResult& out) {
  double gain = 0, busy_min = 1;
  std::vector<int> ranks;
  nlohmann::json ev = nlohmann::json::array();
  for (const auto& row : per_rank) {
    const double step = row.step_time_ms;
    if (step <= 0) continue;
    const auto& b = row.buckets;
    const double busy = (b.compute_ms + b.comm_transfer_ms + b.comm_wait_ms + b.memcpy_ms()) / step;
    const double short_share = b.host_gap_short_ms / step;
    const double per_step = row.short_gaps_per_step;
    if (busy >= th.max_busy_pct / 100 || short_share < th.min_short_gap_pct / 100 || per_step < th.min_short_gaps_per_step)
      continue;
    ranks.push_back(row.rank);
    gain = std::max(gain, short_share);
    busy_min = std::min(busy_min, busy);
    ev.push_back({{"rank", row.rank}, {"gpu_busy_pct", 100 * busy}, {"short_gap_pct", 100 * short_share},
                  {"short_gaps_per_step", per_step}});
  }
  if (ranks.empty()) return;
  Finding f;
  f.kind = FindingKind::LaunchBound;
  f.ranks = ranks;
  f.severity = severity_at_least(gain, th.medium_pct / 100, th.high_pct / 100);
  f.title = fmt("Launch-bound: the GPU is busy only %.0f%% of the step; short gaps between kernels take %.0f%%",
                100 * busy_min, 100 * gain);
  f.evidence = {{"per_rank", ev}, {"short_gap_threshold_ms", ms(kLongGapNs)}};
  f.estimated_gain_pct = 100 * gain;
  f.gain_basis = "upper bound: the short gaps (< 1 ms) between GPU work as a share of the step on the worst rank; "
                 "assumes the host keeps the GPU fed once launches are cheap (CUDA graphs replay a step with one launch)";
  f.recommendation.text =
      "The host cannot launch kernels as fast as the GPU runs them. Capture the step (or its static parts) in a CUDA "
      "graph (torch.cuda.graphs / torch.compile(mode=\"reduce-overhead\")), fuse small kernels into fewer larger ones "
      "(torch.compile, fused optimizers, larger batches per kernel), and move Python work and synchronisation out of "
      "the launch loop.";
  f.recommendation.fixes.push_back(
      {"code", {{"description", "capture the training step with torch.cuda.CUDAGraph or "
                                "torch.compile(mode=\"reduce-overhead\"); use fused kernels (foreach/fused Adam)"}}});
  out.findings.push_back(std::move(f));
}

int float_bits(const std::optional<std::string>& d) {
  if (!d) return 0;
  auto t = lower(*d);
  if (t.rfind("nccl", 0) == 0) t = t.substr(4);
  if (t == "float" || t == "float32" || t == "fp32" || t == "f32") return 32;
  if (t == "double" || t == "float64" || t == "fp64" || t == "f64") return 64;
  return 0;
}
bool is_allreduce(const std::string& func) {
  auto f = lower(func);
  return f == "allreduce" || f == "all_reduce" || f == "allreduce_coalesced";
}

void grad_compression(const RunData& run, const Gathered& gd, const AnalyzeOptions::GradCompression& th,
                      AnalysisResult& out) {
  std::map<int, Intervals> ar;
  std::int64_t bytes = 0;
  int bits = 32, nranks = 0, ops = 0;
  double best_busbw = 0;
  for (const auto& o : run.nccl_ops) {
    const int b = float_bits(o.dtype);
    if (!is_allreduce(o.func) || b == 0 || o.bytes < th.min_bytes || o.end_ns <= o.start_ns) continue;
    ar[static_cast<int>(o.rank.value)].push_back({o.start_ns, o.end_ns});
    bytes = sat_add(bytes, o.bytes), bits = std::max(bits, b), nranks = std::max(nranks, o.nranks), ++ops;
    if (o.nranks >= 2)
      best_busbw = std::max(best_busbw, static_cast<double>(o.bytes) * 2.0 * (o.nranks - 1) / o.nranks /
                                            static_cast<double>(o.end_ns - o.start_ns));
  }
  if (ar.empty() || nranks < 2) return;
  double job_share = 1e9;
  std::int64_t exposed_total = 0;
  nlohmann::json ev = nlohmann::json::array();
  std::vector<int> ranks;
  for (const auto& [r, g] : gd.ranks) {  // exposed all-reduce per rank (gather_copies_and_grad)
    if (!g.grad_has) continue;
    const std::int64_t ex = g.grad_exposed, step = g.grad_step;
    if (step <= 0) continue;
    const double share = static_cast<double>(ex) / static_cast<double>(step);
    job_share = std::min(job_share, share);
    exposed_total += ex;
    ranks.push_back(r);
    ev.push_back({{"rank", r}, {"exposed_allreduce_ms", ms(ex)}, {"exposed_share_pct", 100 * share}});
  }
  if (ranks.empty() || job_share < th.min_exposed_pct / 100) return;
  std::string link = "unknown";
  // Unknown link: judge by the best bus bandwidth, which is only a transfer rate when every
  // rank of the communicator is in the trace (else a duration includes waiting for absent peers).
  bool slow = best_busbw < th.slow_busbw_gbps && static_cast<int>(ar.size()) >= nranks;
  if (auto c = RankLinks::build(run).slowest(ranks)) {
    link = c->link;
    slow = links::link_kind(c->link) != links::LinkKind::NvLink;
  }
  if (!slow) return;
  const double saved = 1.0 - 16.0 / bits;
  Finding f;
  f.kind = FindingKind::GradCompression;
  f.ranks = ranks;
  const double gain = job_share * saved;
  f.severity = severity_at_least(gain, th.medium_gain_pct / 100, th.high_gain_pct / 100);
  f.title = fmt("Gradient all-reduce in %.0f-bit floats is exposed %.0f%% of the step on a slow link: compress it",
                bits, 100 * job_share);
  f.evidence = {{"allreduce_ops", ops},
                {"bytes", bytes},
                {"dtype_bits", bits},
                {"best_bus_bandwidth_gbps", best_busbw},
                {"link", link},
                {"exposed_share_pct_min_over_ranks", 100 * job_share},
                {"per_rank", ev}};
  f.estimated_gain_pct = 100 * gain;
  f.gain_basis = fmt("the exposed all-reduce transfer (no compute under it, waiting for peers excluded) is %.1f %% of the "
                     "step on every rank; 16-bit compression sends %.0f %% fewer bytes; assumes the transfer scales with "
                     "bytes (bandwidth-bound) and the cast costs nothing",
                     100 * job_share, 100 * saved);
  f.recommendation.text =
      "Compress the data-parallel gradient all-reduce: DDP comm hook bf16_compress_hook (or fp16_compress_hook), FSDP "
      "mixed precision with reduce_dtype=torch.bfloat16, or PowerSGD (powerSGD_hook, rank 1-4: far fewer bytes, check "
      "convergence). Bucketing the all-reduce under the backward pass hides it further.";
  f.recommendation.fixes.push_back(
      {"code", {{"description", "model.register_comm_hook(state=None, hook=torch.distributed.algorithms.ddp_comm_hooks."
                                "default_hooks.bf16_compress_hook)"}}});
  f.recommendation.fixes.push_back(
      {"code", {{"description", "PowerSGD: powerSGD_hook.PowerSGDState(process_group=None, matrix_approximation_rank=2, "
                                "start_powerSGD_iter=1000) with powerSGD_hook.powerSGD_hook"},
                {"optional", true}}});
  out.findings.push_back(std::move(f));
}

}  // namespace

namespace detail {

Intervals fp32_allreduce_intervals(const std::vector<const NcclOpRow*>& ops, std::int64_t min_bytes) {
  Intervals v;
  for (const auto* o : ops)
    if (is_allreduce(o->func) && float_bits(o->dtype) != 0 && o->bytes >= min_bytes && o->end_ns > o->start_ns)
      v.push_back({o->start_ns, o->end_ns});
  normalize(v);
  return v;
}

// Gather: the rank's copies by kind, and its exposed fp32 all-reduce over its windows
// (no compute under it, its waiting part excluded).
void gather_copies_and_grad(const RunData&, const GatherInputs& in, const AnalyzeOptions& opts, RankGather& g) {
  for (const auto* m : in.memcpys) {
    const char* k = is_comm_memcpy(*m) ? "p2p" : m->kind == CopyKind::HtoD ? "h2d" : m->kind == CopyKind::DtoH ? "d2h" : "d2d";
    auto& v = g.copies[k];
    v.bytes = sat_add(v.bytes, m->bytes), v.dur = sat_add(v.dur, m->dur_ns), ++v.n, v.small += m->bytes < 64 * 1024;
  }
  const auto& a = in.a;
  Intervals ar = fp32_allreduce_intervals(in.ops, opts.grad_compression.min_bytes);
  if (ar.empty() || a.windows.empty()) return;
  g.grad_has = true;
  Intervals exposed = subtract(ar, a.compute);
  if (auto w = in.parts.wait.find(a.rank); w != in.parts.wait.end()) exposed = subtract(exposed, w->second);
  for (const auto& w : a.windows) g.grad_exposed += measure(exposed, w.s, w.e), g.grad_step += w.e - w.s;
}

void judge_time_buckets(const RunData& run, const Gathered& gd, const AnalyzeOptions& opts, AnalysisResult& out) {
  if (out.per_rank.empty()) return;
  memcpy_bound(run, gd, out.per_rank, opts.memcpy_bound, out);
  launch_bound(out.per_rank, opts.launch_bound, out);
  grad_compression(run, gd, opts.grad_compression, out);
}

}  // namespace detail

}  // namespace moetune::analyzers
