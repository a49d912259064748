// SPDX-License-Identifier: Apache-2.0
// moetune synth -o RUN.moetune [options]: a deterministic synthetic MoE run with known
// pathologies (ground truth in collectors/synth/README.md).
#include <chrono>
#include <cstdio>
#include <memory>

#include "command.h"
#include "moetune/synth/synth.h"

namespace moetune::cli {
namespace {

struct SynthArgs {
  std::string out;
  bool force = false;
  synth::Options o;
};

// The canonical command line (every option, resolved), stored in meta "command".
std::string command_line(const SynthArgs& a) {
  const auto& o = a.o;
  std::string s = "moetune synth -o " + a.out + " --ranks " + std::to_string(o.ranks) + " --steps " +
                  std::to_string(o.steps) + " --layers " + std::to_string(o.layers) + " --experts " +
                  std::to_string(o.experts) + " --top-k " + std::to_string(o.top_k) + " --tokens " +
                  std::to_string(o.tokens) + " --hidden " + std::to_string(o.hidden);
  s += o.events > 0 ? " --events " + std::to_string(o.events) : " --kernels-per-step " + std::to_string(o.kernels_per_step);
  s += " --seed " + std::to_string(o.seed) + " --topology " + o.topology;
  if (!o.inject.empty()) s += " --inject " + o.inject;
  return s;
}

void run_synth(SynthArgs& a, int& exit_code) {
  if (auto v = synth::validate(a.o); !v) throw InputError(a.out + ": " + v.error().message);
  a.o.command = command_line(a);
  auto t0 = std::chrono::steady_clock::now();
  auto sum = synth::generate_file(a.out, a.o, a.force);
  if (!sum) throw InputError(sum.error().message);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("wrote %s: %d ranks, %d steps, %lld events (%lld kernels, %lld api_calls, %lld nvtx, %lld nccl_ops), "
              "%lld routing rows, %d compute kernels/rank/step, %.2f s\n",
              a.out.c_str(), a.o.ranks, a.o.steps, static_cast<long long>(sum->events()),
              static_cast<long long>(sum->kernels), static_cast<long long>(sum->api_calls),
              static_cast<long long>(sum->nvtx), static_cast<long long>(sum->nccl_ops),
              static_cast<long long>(sum->routing), sum->kernels_per_step, secs);
  exit_code = 0;
}

const Register reg{"synth", [](CLI::App& app, int& exit_code) {
                     auto a = std::make_shared<SynthArgs>();
                     auto* c = app.add_subcommand("synth", "Write a deterministic synthetic MoE run (known pathologies)");
                     c->add_option("-o,--output", a->out, "output run file (.moetune)")->required();
                     c->add_flag("--force", a->force, "overwrite an existing output file");
                     c->add_option("--ranks", a->o.ranks, "ranks (GPUs)")->capture_default_str();
                     c->add_option("--steps", a->o.steps, "training steps")->capture_default_str();
                     c->add_option("--layers", a->o.layers, "MoE layers")->capture_default_str();
                     c->add_option("--experts", a->o.experts, "experts per layer")->capture_default_str();
                     c->add_option("--top-k", a->o.top_k, "experts per token")->capture_default_str();
                     c->add_option("--tokens", a->o.tokens, "tokens per rank per step")->capture_default_str();
                     c->add_option("--hidden", a->o.hidden, "hidden size")->capture_default_str();
                     auto* k = c->add_option("--kernels-per-step", a->o.kernels_per_step,
                                             "compute kernels per rank per step (scales the run)")
                                   ->capture_default_str();
                     c->add_option("--events", a->o.events, "target total events (overrides --kernels-per-step)")
                         ->excludes(k);
                     c->add_option("--seed", a->o.seed, "random seed (same args -> same run)")->capture_default_str();
                     c->add_option("--topology", a->o.topology,
                                   "GPU groups, e.g. nvlink:8 | nvlink:4,pcie:2,net:2 | sxm-no-nvlink:4 (default nvlink:RANKS)");
                     c->add_option("--inject", a->o.inject,
                                   "comma list: tree_sync, fp32_dispatch, hot_experts_slow_rank, straggler[:R], "
                                   "host_sync[:R], no_overlap, slow_link, gpu_idle[:R], memcpy_bound, launch_bound, "
                                   "fp32_grad_allreduce");
                     c->callback([a, &exit_code] { run_synth(*a, exit_code); });
                   }};

}  // namespace
}  // namespace moetune::cli
