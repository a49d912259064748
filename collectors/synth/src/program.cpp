// SPDX-License-Identifier: Apache-2.0
#include "program.h"

#include <algorithm>
#include <string>

namespace moetune::synth {
namespace {

constexpr double kFlopsPerNs = 5e5;          // 500 TFLOP/s bf16 tensor-core throughput
constexpr double kHbmBytesPerNs = 3000;       // 3 TB/s
constexpr double kSlowLinkEff = 0.10;         // slow_link: bus bandwidth / a clean run's
                                              // (clean: Cluster::healthy_eff x ceiling, link_rates.h)
constexpr double kOverlapMargin = 1.25;       // overlapped compute = 1.25 x the comm it hides
constexpr double kStragglerFactor = 1.6;
constexpr std::int64_t kArElems = 16 * 1024 * 1024;
constexpr std::int64_t kTreeSetupNs = 40'000'000;
constexpr double kTreeSkewNs = 3'000'000;
constexpr std::int64_t kHostSyncWorkNs = 3'000'000;
constexpr std::int64_t kGpuIdleNs = 6'000'000;
constexpr std::int64_t kBatchCopyBytes = 64LL << 20;  // memcpy_bound: input batch copied H2D every step
constexpr double kBatchCopyGbps = 12.0;               // pageable-like rate (PCIe gen5 x16 raw: 63 GB/s)
constexpr std::int64_t kLaunchOverheadNs = 80'000;    // launch_bound: host time before every launch

std::string join(const std::vector<std::int64_t>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(v[i]);
  }
  return s;
}

}  // namespace

int Shape::compute_kernels() const { return layers * (10 + fwd_filler_per_layer) + bwd_filler + 1; }

Shape make_shape(const Options& o, const Injections& inj, int kernels_per_step) {
  Shape s;
  s.layers = o.layers;
  s.chunks = inj.no_overlap ? 1 : 4;
  int filler = std::max(kernels_per_step - 10 * o.layers - 1, o.layers + 1);
  s.fwd_filler_per_layer = std::max(1, filler / 3 / o.layers);
  s.bwd_filler = std::max(1, filler - s.fwd_filler_per_layer * o.layers);
  s.comm_kernels = 2 * s.chunks * o.layers;
  s.ar_kernels = o.ranks > 1 ? (inj.tree_sync ? 1 : 2) : 0;
  s.nvtx = 1 + 5 * o.layers + s.ar_kernels;
  return s;
}

Program::Program(const Options& o, const Injections& inj, const Cluster& c, const Shape& shape, Sim& sim,
                 TraceWriter& w)
    : o_(o), inj_(inj), c_(c), shape_(shape), sim_(sim), w_(w), n_(c.size()) {
  routing_ = make_routing(n_, o.experts, inj.hot_experts_slow_rank, c.slowest_rank);
  a2a_eff_ = (inj.slow_link ? kSlowLinkEff : 1.0) * c.healthy_eff;
  type_size_ = inj.fp32_dispatch ? 4 : 2;
  dtype_ = inj.fp32_dispatch ? "Float" : "BFloat16";
  if (inj.launch_bound) sim.set_launch_overhead(kLaunchOverheadNs);
  auto in = [&](const char* s) { return w.intern(s); };
  fwd_ = {{in("flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4, false, false, cutlass::bfloat16_t, "
              "Flash_kernel_traits<128, 128, 64, 4, cutlass::bfloat16_t> >, false, true, false, false, true, true, "
              "false, false>(Flash_fwd_params)"),
           30000},
          {in("void at::native::(anonymous namespace)::vectorized_layer_norm_kernel<c10::BFloat16, float>(int, float, "
              "c10::BFloat16 const*, c10::BFloat16 const*, c10::BFloat16 const*, float*, float*, c10::BFloat16*)"),
           7000},
          {in("void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<c10::BFloat16>, "
              "at::detail::Array<char*, 3> >(int, at::native::CUDAFunctor_add<c10::BFloat16>, at::detail::Array<char*, 3>)"),
           5000},
          {in("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x256x64_warpgroupsize2x1x1_execute_segment_k_off_"
              "kernel__5x_cublas"),
           24000}};
  bwd_ = {{in("flash_bwd_dq_dk_dv_loop_seqk_parallel_kernel<Flash_bwd_kernel_traits<128, 64, 128, 8, 2, 4, 2, false, "
              "false, cutlass::bfloat16_t, Flash_kernel_traits<128, 64, 128, 8, cutlass::bfloat16_t> >, false, false, "
              "false, false, false, false, false>(Flash_bwd_params)"),
           60000},
          {in("void at::native::(anonymous namespace)::layer_norm_grad_input_kernel_vectorized<c10::BFloat16, float>("
              "c10::BFloat16 const*, c10::BFloat16 const*, float const*, float const*, c10::BFloat16 const*, "
              "c10::BFloat16*, int)"),
           9000},
          {in("sm90_xmma_gemm_bf16bf16_bf16f32_f32_nt_n_tilesize128x256x64_warpgroupsize2x1x1_execute_segment_k_off_"
              "kernel__5x_cublas"),
           45000},
          {in("void at::native::vectorized_elementwise_kernel<4, at::native::BinaryFunctor<c10::BFloat16, "
              "c10::BFloat16, c10::BFloat16, at::native::binary_internal::MulFunctor<float> >, at::detail::Array<char*, "
              "3> >(int, at::native::BinaryFunctor<c10::BFloat16, c10::BFloat16, c10::BFloat16, "
              "at::native::binary_internal::MulFunctor<float> >, at::detail::Array<char*, 3>)"),
           6000}};
  gate_ = in("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize64x64x64_warpgroupsize1x1x1_execute_segment_k_off_"
             "kernel__5x_cublas");
  topk_ = in("void moe::topkGatingSoftmax<float, 8, 16, 4, 64, int>(float const*, bool const*, float*, int, int*, int*, "
             "int, int, int)");
  permute_ = in("void moe::permute_tokens_kernel<__nv_bfloat16, 128>(__nv_bfloat16 const*, __nv_bfloat16*, int const*, "
                "int, int, int)");
  unpermute_ = in("void moe::unpermute_reduce_kernel<__nv_bfloat16, float, 128>(__nv_bfloat16 const*, __nv_bfloat16*, "
                  "float const*, int const*, int, int, int)");
  // The routed experts' GEMM; the shared expert's up/down projections are the same kernel
  // under a suffixed name.
  const std::string expert_gemm =
      "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel__5x_"
      "cublas";
  shared_up_ = in((expert_gemm + "_shared_expert_up").c_str());
  shared_down_ = in((expert_gemm + "_shared_expert_down").c_str());
  expert_gemm_ = in(expert_gemm.c_str());
  optimizer_ = in("void at::native::(anonymous namespace)::multi_tensor_apply_kernel<at::native::(anonymous "
                  "namespace)::TensorListMetadata<4>, at::native::(anonymous namespace)::FusedAdamMathFunctor<float, 4, "
                  "(at::native::ADAM_MODE)0, false>, double*, double, double, double, double, double, bool, double*, "
                  "double*>(at::native::(anonymous namespace)::TensorListMetadata<4>)");
  sendrecv_ = in("ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)");
  allreduce_ = in(inj.tree_sync             ? "ncclDevKernel_AllReduce_Sum_bf16_TREE_LL(ncclDevKernelArgsStorage<4096ul>)"
                  : inj.fp32_grad_allreduce ? "ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevKernelArgsStorage<4096ul>)"
                                            : "ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)");
  ph_gate_ = in("gate");
  ph_dispatch_ = in("dispatch");
  ph_experts_ = in("experts");
  ph_combine_ = in("combine");
  ph_allreduce_ = in("allreduce");
}

void Program::write_placement() {
  for (int l = 0; l < o_.layers; ++l) {
    std::string map;
    for (int e = 0; e < o_.experts; ++e) {
      ExpertPlacementRow p;
      p.layer = l, p.expert = e, p.rank = RankId(routing_.home[e]), p.replica = 0;
      w_.add(p);
      if (e) map += ",";
      map += std::to_string(e) + ":" + std::to_string(routing_.home[e]);
    }
    StringId text = w_.intern("moe.placement layer=" + std::to_string(l) + " map=" + map);
    for (int r = 0; r < n_; ++r) sim_.mark(r, text);
  }
}

Times Program::compute_dur(double ns) {
  Times d(n_);
  for (int r = 0; r < n_; ++r) {
    double x = ns * (inj_.straggler && *inj_.straggler == r ? kStragglerFactor : 1.0);
    d[r] = sim_.rng().jitter(x, 0.02);
  }
  return d;
}

Times Program::filler(const std::vector<Named>& set, int count, double scale) {
  Times end;
  for (int i = 0; i < count; ++i) {
    const auto& k = set[static_cast<std::size_t>(filler_cursor_++ % static_cast<std::int64_t>(set.size()))];
    end = sim_.kernel(kComputeStream, k.name, compute_dur(k.base_ns * scale), nullptr, pack_dim3(132, 1, 1),
                      pack_dim3(256, 1, 1));
  }
  return end;
}

// Transfer time of one all-to-all chunk: the busiest rank's send or receive volume at
// eff x ceiling bus bandwidth (algbw = busbw x N/(N-1)).
double Program::a2a_ns(const std::vector<std::vector<std::int64_t>>& send, int chunks) const {
  if (n_ < 2) return 0;
  std::int64_t worst = 0;
  for (int r = 0; r < n_; ++r) {
    std::int64_t out = 0, in = 0;
    for (int p = 0; p < n_; ++p) out += send[r][p], in += send[p][r];
    worst = std::max({worst, out, in});
  }
  double bytes = static_cast<double>(worst) * static_cast<double>(o_.hidden) * type_size_ / chunks;
  return bytes / (a2a_eff_ * c_.ceiling * n_ / (n_ - 1));
}

// send[r][p] tokens rank r sends to rank p in the whole dispatch; chunk `c` of `chunks`.
CollOp Program::a2a_op(const std::vector<std::vector<std::int64_t>>& send, int c, int chunks, bool combine) const {
  CollOp op;
  op.func = "AllToAll", op.algo = "", op.proto = "Simple", op.dtype = dtype_, op.comm = "ep";
  op.channels = c_.all_nvlink ? 16 : 4;
  auto part = [&](std::int64_t v) { return v / chunks + (c == chunks - 1 ? v % chunks : 0); };
  for (int r = 0; r < n_; ++r) {
    std::vector<std::int64_t> in(n_), out(n_);
    std::int64_t total = 0;
    for (int p = 0; p < n_; ++p) {
      in[p] = part(combine ? send[p][r] : send[r][p]);
      out[p] = part(combine ? send[r][p] : send[p][r]);
      total += in[p];
    }
    std::int64_t elems = total * o_.hidden;
    op.count.push_back(elems);
    op.bytes.push_back(elems * static_cast<std::int64_t>(type_size_));
    op.in_splits.push_back(OpList::of(in));
    op.out_splits.push_back(OpList::of(out));
  }
  return op;
}

void Program::layer(int s, int l) {
  const std::int64_t T = o_.tokens, H = o_.hidden, TK = o_.tokens * o_.top_k;
  const std::int64_t gemm_grid = pack_dim3(132, 1, 1), gemm_block = pack_dim3(384, 1, 1);
  filler(fwd_, shape_.fwd_filler_per_layer, 1.0);

  sim_.range_begin();
  sim_.kernel(kComputeStream, gate_, compute_dur(std::max(8000.0, 2.0 * T * H * o_.experts / kFlopsPerNs)), nullptr,
              gemm_grid, gemm_block);
  sim_.kernel(kComputeStream, topk_, compute_dur(10000), nullptr, pack_dim3(T / 4, 1, 1), pack_dim3(128, 1, 1));
  const double move_ns = 2.0 * TK * H * 2 / kHbmBytesPerNs;  // read + write the routed activations
  Times permuted = sim_.kernel(kComputeStream, permute_, compute_dur(move_ns), nullptr, pack_dim3(TK / 128, 1, 1),
                               pack_dim3(128, 1, 1));
  // routing for this (step, layer): rows + the NVTX mark the application would emit
  auto tok = route(routing_, n_, TK, sim_.rng());
  std::vector<std::vector<std::int64_t>> send(n_, std::vector<std::int64_t>(n_, 0));
  for (int r = 0; r < n_; ++r) {
    for (int e = 0; e < o_.experts; ++e) {
      ExpertRoutingRow row;
      row.step = s, row.layer = l, row.rank = RankId(r), row.expert = e, row.tokens = tok[r][e];
      row.time_ns = sim_.host_time(r);
      w_.add(row);
      send[r][routing_.home[e]] += tok[r][e];
    }
    sim_.mark(r, w_.intern("moe.route layer=" + std::to_string(l) + " tokens=" + join(tok[r])));
  }
  sim_.range_end(ph_gate_);

  const int C = shape_.chunks;
  const double chunk_comm = a2a_ns(send, C);
  const auto transfer = static_cast<std::int64_t>(chunk_comm);
  // expert GEMMs are capacity-padded: every rank computes T*K tokens (README)
  const double gemm_model = static_cast<double>(TK) * 6.0 * H * H / kFlopsPerNs / C;
  const double shared_model = static_cast<double>(T) * 3.0 * H * H / kFlopsPerNs;
  const int stream = inj_.no_overlap ? kComputeStream : kCommStream;
  const double hide = inj_.no_overlap ? 0.0 : kOverlapMargin * chunk_comm;

  sim_.range_begin();
  std::vector<Times> dispatched;
  for (int c = 0; c < C; ++c)
    dispatched.push_back(sim_.collective(stream, sendrecv_, a2a_op(send, c, C, false), transfer, &permuted));
  if (!inj_.no_overlap)
    sim_.kernel(kComputeStream, shared_up_, compute_dur(std::max(shared_model, hide)), nullptr, gemm_grid, gemm_block);
  sim_.range_end(ph_dispatch_);

  sim_.range_begin();
  if (inj_.no_overlap) sim_.kernel(kComputeStream, shared_up_, compute_dur(shared_model), nullptr, gemm_grid, gemm_block);
  std::vector<Times> computed;
  for (int c = 0; c < C; ++c)
    computed.push_back(
        sim_.kernel(kComputeStream, expert_gemm_, compute_dur(std::max(gemm_model, hide)), &dispatched[c], gemm_grid,
                    gemm_block));
  if (inj_.no_overlap) sim_.kernel(kComputeStream, shared_down_, compute_dur(shared_model), nullptr, gemm_grid, gemm_block);
  sim_.range_end(ph_experts_);

  sim_.range_begin();
  Times combined;
  for (int c = 0; c < C; ++c) combined = sim_.collective(stream, sendrecv_, a2a_op(send, c, C, true), transfer, &computed[c]);
  if (!inj_.no_overlap) {
    // the shared expert's down projection hides the combine tail: with GEMM chunks of
    // 1.25 x the chunk transfer the combines end 1.75 chunk transfers after the last GEMM
    // (no waiting); sizing it from the model alone keeps waits for late ranks visible
    sim_.kernel(kComputeStream, shared_down_, compute_dur(std::max(shared_model, 2.0 * chunk_comm)), nullptr,
                gemm_grid, gemm_block);
  }
  sim_.kernel(kComputeStream, unpermute_, compute_dur(move_ns), &combined, pack_dim3(TK / 128, 1, 1), pack_dim3(128, 1, 1));
  sim_.range_end(ph_combine_);
}

void Program::backward(int s) {
  const int buckets = shape_.ar_kernels;
  const std::int64_t elems = inj_.tree_sync ? 2 * kArElems : kArElems;
  CollOp op;
  op.func = "AllReduce", op.algo = inj_.tree_sync ? "Tree" : "Ring", op.proto = inj_.tree_sync ? "LL" : "Simple";
  const std::int64_t esize = inj_.fp32_grad_allreduce ? 4 : 2;
  op.dtype = inj_.fp32_grad_allreduce ? "Float" : "BFloat16", op.comm = "dp", op.channels = c_.all_nvlink ? 24 : 4;
  op.count.assign(n_, elems);
  op.bytes.assign(n_, elems * esize);
  double ar_ns = n_ > 1 ? elems * static_cast<double>(esize) * 2.0 * (n_ - 1) / n_ / (c_.healthy_eff * c_.ceiling) : 0;
  Times ar_end(n_, 0);
  // overlapped buckets: each backward segment lasts >= 1.25 x the all-reduce it hides
  // (fp32_grad_allreduce: both buckets after the whole backward, exposed)
  const bool overlap = !inj_.tree_sync && !inj_.no_overlap && !inj_.fp32_grad_allreduce;
  double scale = 1.0;
  if (overlap && buckets > 0) {
    double mean = 0;
    for (const auto& k : bwd_) mean += k.base_ns / static_cast<double>(bwd_.size());
    double seg = mean * std::max(1, shape_.bwd_filler / (buckets + 1));
    scale = std::max(1.0, kOverlapMargin * ar_ns / seg);
  }
  int done = 0;
  for (int b = 0; b < buckets; ++b) {
    int upto = overlap ? shape_.bwd_filler * (b + 1) / (buckets + 1) : shape_.bwd_filler;
    filler(bwd_, upto - done, scale);
    done = upto;
    if (inj_.tree_sync) {
      // arrival skew: each rank's last backward kernel (grad clipping) runs up to 3 ms longer
      Times d(n_);
      const double skew = std::max(kTreeSkewNs, 2.0 * ar_ns);  // waits dominate on any topology
      for (int r = 0; r < n_; ++r) d[r] = 20000 + static_cast<std::int64_t>(sim_.rng().uniform() * skew);
      sim_.kernel(kComputeStream, bwd_[3].name, d, nullptr, pack_dim3(132, 1, 1), pack_dim3(256, 1, 1));
    }
    sim_.range_begin();
    Times ready(n_);
    for (int r = 0; r < n_; ++r) ready[r] = sim_.stream_free(r, kComputeStream);
    auto t = static_cast<std::int64_t>(ar_ns) + (inj_.tree_sync && s == 0 ? kTreeSetupNs : 0);
    Times e = sim_.collective(inj_.no_overlap ? kComputeStream : kCommStream, allreduce_, op, t, &ready);
    for (int r = 0; r < n_; ++r) ar_end[r] = std::max(ar_end[r], e[r]);
    sim_.range_end(ph_allreduce_);
  }
  filler(bwd_, shape_.bwd_filler - done, scale);
  // the optimizer waits for the gradients (stream wait on the all-reduce events)
  sim_.kernel(kComputeStream, optimizer_, compute_dur(40000), &ar_end, pack_dim3(132, 1, 1), pack_dim3(512, 1, 1));
}

void Program::step(int s) {
  std::vector<std::int64_t> start(n_);
  for (int r = 0; r < n_; ++r) start[r] = sim_.host_time(r);
  sim_.range_begin();
  if (inj_.gpu_idle) sim_.host_work(*inj_.gpu_idle, kGpuIdleNs);  // e.g. a data-loader stall
  if (inj_.memcpy_bound) sim_.memcpy(kComputeStream, CopyKind::HtoD, kBatchCopyBytes, kBatchCopyGbps);
  for (int l = 0; l < o_.layers; ++l) layer(s, l);
  if (inj_.host_sync) {
    sim_.device_sync(*inj_.host_sync);
    sim_.host_work(*inj_.host_sync, kHostSyncWorkNs);
  }
  backward(s);
  sim_.range_end(w_.intern("step " + std::to_string(s) + " tokens=" + std::to_string(o_.tokens)));
  for (int r = 0; r < n_; ++r) {
    StepRow row;
    row.rank = RankId(r), row.step = s, row.start_ns = start[r], row.end_ns = sim_.host_time(r), row.tokens = o_.tokens;
    w_.add(row);
  }
}

}  // namespace moetune::synth
