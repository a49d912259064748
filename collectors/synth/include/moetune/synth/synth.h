// SPDX-License-Identifier: Apache-2.0
// moetune synth: a deterministic model of an expert-parallel MoE training job written
// into a run store, with pathologies injected on request. The ground truth of every
// injection (what exactly is changed, by how much) is in collectors/synth/README.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "moetune/trace/result.h"
#include "moetune/trace/writer.h"

namespace moetune::synth {

// What to break. Rank-taking injections hold the rank (README gives defaults).
struct Injections {
  bool tree_sync = false, fp32_dispatch = false, hot_experts_slow_rank = false;
  bool no_overlap = false, slow_link = false;
  bool memcpy_bound = false, launch_bound = false, fp32_grad_allreduce = false;
  std::optional<int> straggler, host_sync, gpu_idle;
};

// Parses "tree_sync,straggler:3,..." against a job of `ranks` ranks.
Expected<Injections> parse_injections(const std::string& list, int ranks);

// One GPU group of a topology spec ("nvlink:4,pcie:2,net:2").
struct TopologyGroup {
  std::string kind;  // "nvlink", "pcie", "net", "sxm-no-nvlink"
  int count = 0;
};
Expected<std::vector<TopologyGroup>> parse_topology(const std::string& spec, int ranks);

struct Options {
  int ranks = 8, steps = 20, layers = 2, experts = 16, top_k = 2;
  std::int64_t tokens = 4096, hidden = 2048;
  int kernels_per_step = 96;   // compute kernels per rank per step
  std::int64_t events = 0;     // > 0: target total events, overrides kernels_per_step
  std::uint64_t seed = 1;
  std::string topology;        // empty: "nvlink:<ranks>"
  std::string inject;          // comma list, see README
  std::string command;         // full command line, stored in meta
};

struct Summary {
  std::int64_t kernels = 0, api_calls = 0, nvtx = 0, nccl_ops = 0, routing = 0;
  int kernels_per_step = 0;
  std::int64_t events() const { return kernels + api_calls + nvtx + nccl_ops; }
};

// Checks the options (message names the bad option). Resolves defaults in place.
Expected<void> validate(Options& o);

// Writes the whole run through `w` (does not call finish()).
Expected<Summary> generate(const Options& o, TraceWriter& w);

// Convenience: create `path`, generate, finish.
Expected<Summary> generate_file(const std::filesystem::path& path, Options o, bool force);

}  // namespace moetune::synth
