// SPDX-License-Identifier: Apache-2.0
// generate(): options -> cluster -> placement -> S steps of the SPMD program -> meta.
#include "moetune/synth/synth.h"

#include <cstdio>

#include "cluster.h"
#include "program.h"
#include "sim.h"

namespace moetune::synth {
namespace {
constexpr std::int64_t kEpochBaseS = 1764316800;  // 2025-11-28 08:00:00 UTC
}

Expected<void> validate(Options& o) {
  auto range = [](const char* name, std::int64_t v, std::int64_t lo, std::int64_t hi) -> Expected<void> {
    if (v < lo || v > hi)
      return Error{std::string(name) + ": " + std::to_string(v) + " is out of range " + std::to_string(lo) + ".." +
                   std::to_string(hi)};
    return {};
  };
  for (auto r : {range("--ranks", o.ranks, 1, 1024), range("--steps", o.steps, 1, 1000000),
                 range("--layers", o.layers, 1, 256), range("--experts", o.experts, 1, 4096),
                 range("--top-k", o.top_k, 1, o.experts), range("--tokens", o.tokens, 128, 1 << 24),
                 range("--hidden", o.hidden, 64, 65536), range("--kernels-per-step", o.kernels_per_step, 1, 100000000),
                 range("--events", o.events, 0, 4000000000LL)})
    if (!r) return r;
  if (o.topology.empty()) o.topology = "nvlink:" + std::to_string(o.ranks);
  if (auto t = parse_topology(o.topology, o.ranks); !t) return t.error();
  if (auto i = parse_injections(o.inject, o.ranks); !i) return i.error();
  return {};
}

Expected<Summary> generate(const Options& opts, TraceWriter& w) {
  Options o = opts;
  if (auto v = validate(o); !v) return v.error();
  auto groups = parse_topology(o.topology, o.ranks);
  auto inj = parse_injections(o.inject, o.ranks);
  Cluster cluster = build_cluster(*groups, o.seed);

  int kps = o.kernels_per_step;
  if (o.events > 0) {  // solve events ~= ranks*steps*(3*(comm) + 2*compute + nvtx) for compute
    Shape s0 = make_shape(o, *inj, 0);
    double per_rank_step = static_cast<double>(o.events) / o.ranks / o.steps;
    double comm = s0.comm_kernels + s0.ar_kernels;
    kps = static_cast<int>(std::max(1.0, (per_rank_step - 3 * comm - s0.nvtx - o.layers) / 2));
  }
  Shape shape = make_shape(o, *inj, kps);

  Summary sum;
  sum.kernels_per_step = shape.compute_kernels();
  write_cluster(cluster, w);
  w.set_meta("synthetic", "1");
  w.set_meta("source", "synth");
  w.set_meta("command", o.command.empty() ? "moetune synth" : o.command);
  w.set_meta("synth.seed", std::to_string(o.seed));
  w.set_meta("synth.topology", o.topology);
  w.set_meta("synth.inject", o.inject);
  w.set_meta("synth.link_ceiling_gbps", std::to_string(cluster.ceiling));
  w.set_meta("warmup_steps", "0");  // the model has no warm-up: every step is steady state
  w.set_meta("synth.slowest_rank", std::to_string(cluster.slowest_rank));

  Times tids;
  for (const auto& r : cluster.ranks) tids.push_back(r.pid);
  const std::int64_t t0 = (kEpochBaseS + static_cast<std::int64_t>(o.seed % 100000) * 60) * 1'000'000'000LL;
  Sim sim(tids, o.seed, t0, w, sum);
  Program prog(o, *inj, cluster, shape, sim, w);
  prog.write_placement();
  for (int s = 0; s < o.steps; ++s) prog.step(s);
  sum.routing = static_cast<std::int64_t>(o.steps) * o.layers * o.ranks * o.experts;
  return sum;
}

Expected<Summary> generate_file(const std::filesystem::path& path, Options o, bool force) {
  if (auto v = validate(o); !v) return v.error();
  auto w = TraceWriter::create(path, {.force = force});
  if (!w) return w.error();
  auto sum = generate(o, **w);
  if (!sum) return sum;
  if (auto f = (*w)->finish(); !f) return f.error();
  return sum;
}

}  // namespace moetune::synth
