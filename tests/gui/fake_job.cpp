// SPDX-License-Identifier: Apache-2.0
// moetune_fake_job STEPS STEP_US: a stand-in workload for GUI tests that need no GPU.
// Run under `moetune record`, it writes what a collector would: one part file at
// $MOETUNE_OUTPUT (pattern %r %h %p) + ".fake.moetune" with a ranks row, one step row
// per step and two kernels per step (a GEMM, then an NCCL all-reduce taking 40 % of the
// step). With NCCL_ALGO=Ring in its environment (what a tuning profile sets) the
// all-reduce takes half as long, so a relaunch with that profile measurably speeds up.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "moetune/live/rank_env.h"
#include "moetune/trace/writer.h"

int main(int argc, char** argv) {
  using namespace moetune;
  if (argc != 3) {
    std::fprintf(stderr, "usage: moetune_fake_job STEPS STEP_US\n");
    return 2;
  }
  const long steps = std::atol(argv[1]), step_us = std::atol(argv[2]);
  const char* out = std::getenv("MOETUNE_OUTPUT");
  if (steps <= 0 || step_us <= 0 || !out) {
    std::fprintf(stderr, "moetune_fake_job: need STEPS > 0, STEP_US > 0 and MOETUNE_OUTPUT (run it under moetune record)\n");
    return 2;
  }
  const char* algo = std::getenv("NCCL_ALGO");
  const bool ring = algo && std::string(algo) == "Ring";
  const int rank = std::max(0, live::rank_from_env());
  const std::string path = live::expand_pattern(out, rank, static_cast<long>(::getpid()), live::host_name()) + ".fake.moetune";
  auto w = TraceWriter::create(path);
  if (!w) {
    std::fprintf(stderr, "moetune_fake_job: %s\n", w.error().message.c_str());
    return 1;
  }
  RankRow r;
  r.rank = RankId(rank);
  r.host = live::host_name();
  r.pid = ::getpid();
  r.device = 0;
  r.gpu_name = "fake GPU";
  r.source = "fake";
  (*w)->add(r);
  const StringId gemm = (*w)->intern("sm90_xmma_gemm_bf16bf16_bf16f32");
  const StringId ar = (*w)->intern("ncclDevKernel_AllReduce_Sum_bf16_RING_LL");
  const std::int64_t step_ns = step_us * 1000;
  const std::int64_t comm_ns = ring ? step_ns * 2 / 10 : step_ns * 4 / 10;
  std::int64_t t = live::now_ns();
  for (long s = 0; s < steps; ++s) {
    const std::int64_t compute_ns = step_ns - step_ns * 4 / 10;
    KernelRow k;
    k.rank = RankId(rank);
    k.stream = StreamId(7);
    k.start_ns = t;
    k.dur_ns = compute_ns;
    k.name = gemm;
    (*w)->add(k);
    k.stream = StreamId(13);
    k.start_ns = t + compute_ns;
    k.dur_ns = comm_ns;
    k.name = ar;
    (*w)->add(k);
    const std::int64_t end = t + compute_ns + comm_ns;
    (*w)->add(StepRow{RankId(rank), s, t, end, std::nullopt});
    t = end + 1000;
  }
  if (auto f = (*w)->finish(); !f) {
    std::fprintf(stderr, "moetune_fake_job: %s\n", f.error().message.c_str());
    return 1;
  }
  std::printf("fake job: %ld steps of %.3f ms (%s)\n", steps, double(step_ns - step_ns * 4 / 10 + comm_ns) / 1e6,
              ring ? "NCCL_ALGO=Ring" : "default algo");
  return 0;
}
