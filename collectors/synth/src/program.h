// SPDX-License-Identifier: Apache-2.0
// Program: the per-step SPMD program of the synthetic MoE job (forward over the MoE
// layers with chunked, overlapped dispatch/combine; backward with gradient all-reduce),
// with the injections of README.md applied. Drives a Sim; holds the interned names.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "cluster.h"
#include "routing.h"
#include "sim.h"

namespace moetune::synth {

struct Shape {  // resolved sizes shared by generate() and the event-count estimate
  int fwd_filler_per_layer = 1, bwd_filler = 1, chunks = 4, comm_kernels = 0, ar_kernels = 0, nvtx = 0;
  int compute_kernels() const;
  int layers = 0;
};
Shape make_shape(const Options& o, const Injections& inj, int kernels_per_step);

class Program {
 public:
  Program(const Options& o, const Injections& inj, const Cluster& c, const Shape& shape, Sim& sim, TraceWriter& w);
  void write_placement();
  void step(int s);

 private:
  struct Named {
    StringId name;
    double base_ns;
  };
  void layer(int s, int l);
  void backward(int s);
  Times compute_dur(double ns);            // per rank, jittered, straggler applied
  Times filler(const std::vector<Named>& set, int count, double scale);
  double a2a_ns(const std::vector<std::vector<std::int64_t>>& send_tokens, int chunks) const;
  CollOp a2a_op(const std::vector<std::vector<std::int64_t>>& send, int chunk, int chunks, bool combine) const;

  const Options& o_;
  const Injections& inj_;
  const Cluster& c_;
  Shape shape_;
  Sim& sim_;
  TraceWriter& w_;
  RoutingModel routing_;
  int n_;
  double a2a_eff_, type_size_;
  std::string dtype_;
  std::vector<Named> fwd_, bwd_;
  StringId gate_, topk_, permute_, unpermute_, shared_up_, shared_down_, expert_gemm_, optimizer_, sendrecv_, allreduce_;
  StringId ph_gate_, ph_dispatch_, ph_experts_, ph_combine_, ph_allreduce_;
  std::int64_t filler_cursor_ = 0;
};

}  // namespace moetune::synth
