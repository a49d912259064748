// SPDX-License-Identifier: Apache-2.0
// Precision of MoE dispatch/combine traffic: all-to-all payloads sent as 32-bit floats
// (dtype Float/Float32/Double) -> comm_precision with the bytes that 16-bit would save.
// Gradient all-reduce in fp32 is normal and not flagged. Cost: one pass over nccl_ops.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "moetune/analyzers/analyses.h"
#include "moetune/analyzers/comm_rules.h"
#include "moetune/analyzers/steps.h"
#include "gather.h"
#include "sat_math.h"

namespace moetune::analyzers {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
// Bits of a floating-point payload type; integers (token counts, indices) return 0:
// they are not activations and have no 16-bit float form.
int dtype_bits(const std::string& d) { return comm::dtype_is_float(d) ? 8 * comm::dtype_size(d) : 0; }
bool is_hopper_or_newer(const RankRow& r) {
  if (!r.compute_cap.empty()) {
    try {
      return std::stod(r.compute_cap) >= 9.0;
    } catch (...) {
    }
  }
  auto n = lower(r.gpu_name);
  for (const char* k : {"h100", "h200", "h800", "h20", "gh200", "b200", "b100", "gb200"})
    if (n.find(k) != std::string::npos) return true;
  return false;
}

}  // namespace

namespace detail {

// Gather: first..last kernel or copy of the rank (a rank without steps is sized on it).
void gather_precision(const RunData&, const GatherInputs& in, RankGather& g) {
  auto add = [&g](std::int64_t s, std::int64_t e) {
    if (e <= s) return;
    if (!g.km_span) g.km_span = {{s, e}};
    else g.km_span->first = std::min(g.km_span->first, s), g.km_span->second = std::max(g.km_span->second, e);
  };
  for (const auto& k : in.kernels) add(k.start_ns, k.end_ns());
  for (const auto* m : in.memcpys) add(m->start_ns, m->end_ns());
}

// Measure + judge: 32-bit dispatch/combine bytes and the share of the step they run in.
void judge_precision(const RunData& run, const Gathered& gd, const AnalyzeOptions& opts, AnalysisResult& out) {
  if (run.nccl_ops.empty()) {
    out.notes.push_back("not enough data: precision: no NCCL operations recorded");
    return;
  }
  std::int64_t a2a = 0, a2a_typed = 0, wide_bytes = 0;
  double wide_ns = 0;
  std::set<int> ranks;
  std::map<std::string, std::int64_t> by_dtype;
  std::vector<TimeRange> ranges;
  int wide_bits = 32;
  // MoE dispatch/combine written as grouped ncclSend/ncclRecv (what all-to-all is inside
  // NCCL): P2P ops count as all-to-all traffic when the run reports expert routing or a
  // rank talks to every other rank. Only the send side is counted (recv mirrors it).
  std::map<int, std::set<int>> peers;
  int nranks = static_cast<int>(run.ranks.size());
  for (const auto& o : run.nccl_ops)
    if (is_p2p_op(o.func) && o.peer >= 0) peers[static_cast<int>(o.rank.value)].insert(o.peer);
  auto p2p_is_a2a = [&](const NcclOpRow& o) {
    const OpFamily fam = op_family(o.func);
    if (fam != OpFamily::Send && fam != OpFamily::SendRecv) return false;
    if (!run.routing.empty()) return true;
    auto it = peers.find(static_cast<int>(o.rank.value));
    return nranks >= 2 && it != peers.end() && static_cast<int>(it->second.size()) >= nranks - 1;
  };
  std::map<int, detail::Intervals> wide_iv;  // per rank: when wide all-to-alls run
  std::int64_t self_bytes = 0;
  for (const auto& o : run.nccl_ops) {
    if (!is_alltoall_op(o.func) && !p2p_is_a2a(o)) continue;
    if (is_self_send(o)) {  // a local copy: halving it saves memory bandwidth, not wire bytes
      if (o.dtype && dtype_bits(*o.dtype) >= 32) self_bytes = sat_add(self_bytes, o.bytes);
      continue;
    }
    ++a2a;
    if (!o.dtype) continue;
    ++a2a_typed;
    by_dtype[*o.dtype] = sat_add(by_dtype[*o.dtype], o.bytes);
    int bits = dtype_bits(*o.dtype);
    if (bits < 32) continue;
    wide_bits = std::max(wide_bits, bits);
    wide_bytes = sat_add(wide_bytes, o.bytes);
    if (o.end_ns > o.start_ns) wide_iv[static_cast<int>(o.rank.value)].push_back({o.start_ns, o.end_ns});
    ranks.insert(static_cast<int>(o.rank.value));
    if (ranges.size() < 32) ranges.push_back({o.start_ns, o.end_ns});
  }
  // The receive side of the same grouped send/recv: its bytes mirror the sends (not
  // counted again), but its time is when the rank waits for the payload to land; a
  // receive often outlasts its send (the send completes once its data is handed over).
  // Measured on 4 socket-linked emulated nodes (H100, moe_nccl fp32): the send ops alone
  // covered 49 % of the step, sends and receives together ~98 %; bf16 made the step 52 %
  // shorter (tests/data/device/README.md, calibration).
  for (const auto& o : run.nccl_ops) {
    if (op_family(o.func) != OpFamily::Recv || is_self_send(o) || !o.dtype || dtype_bits(*o.dtype) < 32) continue;
    const int r = static_cast<int>(o.rank.value);
    if (!ranks.count(r) || o.end_ns <= o.start_ns) continue;  // a rank that sends wide payloads too
    if (run.routing.empty()) {
      auto it = peers.find(r);
      if (nranks < 2 || it == peers.end() || static_cast<int>(it->second.size()) < nranks - 1) continue;
    }
    wide_iv[r].push_back({o.start_ns, o.end_ns});
  }
  if (a2a == 0) {
    out.notes.push_back("not enough data: precision: no all-to-all (dispatch/combine) operations recorded");
    return;
  }
  if (a2a_typed == 0) {
    out.notes.push_back("not enough data: precision: all-to-all operations carry no dtype");
    return;
  }
  out.metrics["precision"] = {{"alltoall_ops", a2a}, {"bytes_by_dtype", by_dtype}};
  if (wide_bytes == 0) return;

  // Per rank, over the steady-state steps (steps.h): the step time and the time during which
  // a wide all-to-all runs (union of the ops: grouped send/recv ops overlap each other).
  const SteadySteps& steady = gd.ctx.steady;
  std::map<int, double> step_ns;
  std::set<std::pair<int, std::int64_t>> step_keys;
  for (auto& [r, iv] : wide_iv) detail::normalize(iv);
  for (const auto& s : run.steps) {
    int r = static_cast<int>(s.rank.value);
    if (!steady.is_steady(s.step) || s.end_ns <= s.start_ns || !ranks.count(r)) continue;
    step_ns[r] += static_cast<double>(s.end_ns - s.start_ns);
    step_keys.insert({r, s.step});
    wide_ns += static_cast<double>(detail::measure(wide_iv[r], s.start_ns, s.end_ns));
  }
  // A rank with no steady steps (no steps table: torch.profiler without ProfilerStep, nsys)
  // is sized on its window, first to last GPU work: the gain is a share of what was traced,
  // never 0 for all-to-alls that fill it.
  std::set<int> windowed;
  for (int r : ranks)
    if (!step_ns.count(r)) windowed.insert(r);
  if (!windowed.empty()) {
    std::map<int, std::pair<std::int64_t, std::int64_t>> win;
    auto add = [&](RankId rk, std::int64_t s, std::int64_t e) {
      int r = static_cast<int>(rk.value);
      if (!windowed.count(r) || e <= s) return;
      auto [it, fresh] = win.try_emplace(r, s, e);
      if (!fresh) it->second.first = std::min(it->second.first, s), it->second.second = std::max(it->second.second, e);
    };
    for (const auto& [r, g] : gd.ranks)  // first..last kernel or copy (gather_precision)
      if (g.km_span) add(RankId(r), g.km_span->first, g.km_span->second);
    for (const auto& o : run.nccl_ops) add(o.rank, o.start_ns, o.end_ns);
    for (const auto& [r, w] : win) {
      step_ns[r] += static_cast<double>(w.second - w.first);
      wide_ns += static_cast<double>(detail::measure(wide_iv[r], w.first, w.second));
    }
  }
  double total_step = 0;
  for (int r : ranks) total_step += step_ns[r];
  // Bytes per rank per step over all steps (the ops of warm-up steps included).
  std::set<std::pair<int, std::int64_t>> all_steps;
  for (const auto& s : run.steps)
    if (ranks.count(static_cast<int>(s.rank.value))) all_steps.insert({static_cast<int>(s.rank.value), s.step});
  const double nsteps = ranks.empty() ? 0
                                      : static_cast<double>(all_steps.size() + windowed.size()) /
                                            static_cast<double>(ranks.size());
  const double saved_fraction = 1.0 - 16.0 / wide_bits;
  std::int64_t saved = static_cast<std::int64_t>(static_cast<double>(wide_bytes) * saved_fraction);
  double comm_share = total_step > 0 ? std::min(1.0, wide_ns / total_step) : 0;

  Finding f;
  f.kind = FindingKind::CommPrecision;
  f.ranks.assign(ranks.begin(), ranks.end());
  f.time_ranges = ranges;
  const double gain = 100 * comm_share * (1.0 - 16.0 / wide_bits);
  // Severity follows what 16-bit could win; a payload that costs < 2 % of the step is a low.
  const auto& th = opts.comm_precision;
  f.severity = comm_share > th.high_share_pct / 100                 ? FindingSeverity::High
               : (total_step <= 0 || gain >= th.medium_gain_pct) ? FindingSeverity::Medium
                                                                 : FindingSeverity::Low;
  f.title = "MoE dispatch/combine all-to-all sends " + std::to_string(wide_bits) +
            "-bit payloads: 16-bit halves the bytes";
  f.evidence = {{"alltoall_bytes_" + std::to_string(wide_bits) + "bit", wide_bytes},
                {"bytes_saved_at_16bit", saved},
                {"bytes_per_step_per_rank", nsteps > 0 ? static_cast<double>(wide_bytes) / nsteps / ranks.size() : 0.0},
                {"alltoall_time_ms", wide_ns / 1e6},
                {"self_send_bytes_32bit_not_counted", self_bytes},
                {"steps_used", steady.used()},
                {"warmup", steady.rule_text},
                {"share_of_step_time_pct", 100 * comm_share},
                {"ranks_sized_on_whole_window", windowed.size()},
                {"bytes_by_dtype", by_dtype}};
  f.estimated_gain_pct = gain;
  f.gain_basis = "the " + std::to_string(wide_bits) + "-bit all-to-alls (sends and their receives, self-sends excluded) run during " +
                 std::to_string(static_cast<int>(100 * comm_share)) +
                 (windowed.empty() ? std::string(" % of the steady-state step time on these ranks")
                                   : windowed.size() == ranks.size()
                                         ? std::string(" % of the traced window (no steps recorded: first to last GPU "
                                                       "work per rank)")
                                         : std::string(" % of the steady-state step time on these ranks (the whole "
                                                       "traced window for ranks with no steps)")) +
                 "; assumes their time scales with bytes (bandwidth-bound) and is "
                 "on the critical path (less where it already overlaps compute)";
  f.recommendation.text =
      "Send dispatch/combine activations in bf16 (cast before the all-to-all, back to the compute dtype after): "
      "bf16 keeps fp32's exponent range and halves the bytes on the wire. Check model quality once (the seed "
      "report saw < 0.3 % perplexity change). Routing weights can stay fp32 if they travel separately.";
  f.recommendation.fixes.push_back({"flag", {{"name", "--comm-dtype"}, {"value", "bf16"}}});
  f.recommendation.fixes.push_back(
      {"code", {{"description", "cast the all_to_all input to torch.bfloat16 (x.to(torch.bfloat16)) and the output "
                                "back to the compute dtype; size the receive buffer for 2-byte elements"}}});
  bool hopper = std::any_of(run.ranks.begin(), run.ranks.end(), is_hopper_or_newer);
  if (hopper)
    f.recommendation.fixes.push_back(
        {"code", {{"description", "option on Hopper: FP8 (e4m3) dispatch with per-128-channel scales as DeepEP does "
                                  "halves dispatch bytes again; keep combine in bf16"},
                  {"optional", true}}});
  out.findings.push_back(f);
}

}  // namespace detail

}  // namespace moetune::analyzers
