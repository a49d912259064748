// SPDX-License-Identifier: Apache-2.0
#include <cmath>

#include "init_hash.h"
#include "model.cuh"

namespace moe {
namespace {
const float kOne = 1.f, kZero = 0.f;

float* alloc_init(int64_t n, uint64_t seed, uint64_t stream, float scale, cudaStream_t s) {
  float* p = nullptr;
  MOE_CUDA(cudaMalloc(&p, n * sizeof(float)));
  launch_init_uniform(p, n, seed, stream, scale, s);
  return p;
}

// Row-major C(m x n) = A(m x k) * B(k x n) with column-major cuBLAS: C^T = B^T A^T.
void gemm(cublasHandle_t h, int m, int n, int k, const float* a, const float* b, float* c) {
  MOE_CUBLAS(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &kOne, b, n, a, k, &kZero, c, n));
}
}  // namespace

MoeModel::MoeModel(const Options& o, const Placement& p, ncclComm_t comm, const Nvtx& nvtx)
    : o_(o), p_(p), comm_(comm), nvtx_(nvtx), routed_(o.experts, 0) {
  MOE_CUDA(cudaStreamCreateWithFlags(&compute_, cudaStreamNonBlocking));
  MOE_CUDA(cudaStreamCreateWithFlags(&comm_stream_, cudaStreamNonBlocking));
  MOE_CUBLAS(cublasCreate(&blas_));
  MOE_CUBLAS(cublasSetStream(blas_, compute_));
  MOE_CUBLAS(cublasSetMathMode(blas_, CUBLAS_PEDANTIC_MATH));  // plain fp32: no TF32 rounding
  for (auto* v : {&ev_pack_, &ev_disp_, &ev_exp_, &ev_comb_}) {
    v->resize(o.overlap_chunks);
    for (auto& e : *v) MOE_CUDA(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  }
  const int H = o.hidden, F = o.ffn, E = o.experts, T = o.tokens, K = o.top_k;
  // Scales keep activations O(1): gate logits ~unit variance, FFN outputs ~input scale.
  const float gate_scale = 3.f / std::sqrt(float(H));
  const float w1_scale = std::sqrt(3.f / H), w2_scale = std::sqrt(3.f / F);
  bias_dev_.ensure(size_t(o.layers) * E);
  for (int l = 0; l < o.layers; ++l) {
    gate_.push_back(alloc_init(int64_t(H) * E, o.seed, stream_gate(l), gate_scale, compute_));
    bias_.push_back(zipf_bias(E, o.skew, o.seed, l));
    MOE_CUDA(cudaMemcpy(bias_dev_.p + size_t(l) * E, bias_[l].data(), E * sizeof(float), cudaMemcpyHostToDevice));
    w1_.emplace_back();
    w2_.emplace_back();
    for (int e : p.local_experts(l, o.rank)) {
      w1_[l].push_back(alloc_init(int64_t(H) * F, o.seed, stream_w1(l, e), w1_scale, compute_));
      w2_[l].push_back(alloc_init(int64_t(F) * H, o.seed, stream_w2(l, e), w2_scale, compute_));
    }
  }
  x_in_.ensure(size_t(T) * H);
  launch_init_input(x_in_.p, T, H, int64_t(o.rank) * T, o.seed, compute_);
  act_a_.ensure(size_t(T) * H);
  act_b_.ensure(size_t(T) * H);
  logits_.ensure(size_t(T) * E);
  topk_w_.ensure(size_t(T) * K);
  topk_idx_.ensure(size_t(T) * K);
  send_rows_.ensure(size_t(T) * K);
  slot_pos_.ensure(size_t(T) * K);
  const size_t cb = comm_bytes(o.comm_dtype);
  send_buf_.ensure(size_t(T) * K * H * cb);
  comb_buf_.ensure(size_t(T) * K * H * cb);
  const size_t ncounts = size_t(o.nranks) * o.overlap_chunks * E;
  counts_send_.ensure(ncounts);
  counts_recv_.ensure(ncounts);
  MOE_CUDA(cudaMallocHost(&host_topk_, size_t(T) * K * sizeof(int32_t)));
  MOE_CUDA(cudaMallocHost(&host_counts_, 2 * ncounts * sizeof(int32_t)));
  if (o.grad_allreduce) {
    // Stand-in for the dense (non-expert) gradients of data parallelism: gate + attention-sized.
    const int64_t n = int64_t(o.layers) * (int64_t(H) * E + 4 * int64_t(H) * H);
    grad_.ensure(n);
    launch_init_uniform(grad_.p, n, o.seed, 99, 1.f, compute_);
  }
  MOE_CUDA(cudaStreamSynchronize(compute_));
}

MoeModel::~MoeModel() {
  for (auto* g : gate_) cudaFree(g);
  for (auto& l : w1_)
    for (auto* w : l) cudaFree(w);
  for (auto& l : w2_)
    for (auto* w : l) cudaFree(w);
  for (auto* v : {&ev_pack_, &ev_disp_, &ev_exp_, &ev_comb_})
    for (auto& e : *v) cudaEventDestroy(e);
  cudaFreeHost(host_topk_);
  cudaFreeHost(host_counts_);
  cublasDestroy(blas_);
  cudaStreamDestroy(compute_);
  cudaStreamDestroy(comm_stream_);
}

void MoeModel::p2p(const void* send, const std::vector<int64_t>& scount, const std::vector<int64_t>& soff, void* recv,
                   const std::vector<int64_t>& rcount, const std::vector<int64_t>& roff) {
  const size_t row = size_t(o_.hidden) * comm_bytes(o_.comm_dtype);
  const auto dt = nccl_type(o_.comm_dtype);
  MOE_NCCL(ncclGroupStart());
  for (int peer = 0; peer < o_.nranks; ++peer) {
    if (scount[peer] > 0)
      MOE_NCCL(ncclSend(static_cast<const char*>(send) + soff[peer] * row, size_t(scount[peer]) * o_.hidden, dt, peer,
                        comm_, comm_stream_));
    if (rcount[peer] > 0)
      MOE_NCCL(ncclRecv(static_cast<char*>(recv) + roff[peer] * row, size_t(rcount[peer]) * o_.hidden, dt, peer,
                        comm_, comm_stream_));
  }
  MOE_NCCL(ncclGroupEnd());
}

void MoeModel::exchange_counts(const DispatchPlan& d, std::vector<std::vector<int32_t>>& recv) {
  const int R = o_.nranks, C = o_.overlap_chunks, E = o_.experts;
  const size_t per_peer = size_t(C) * E;
  int32_t* hs = host_counts_;
  int32_t* hr = host_counts_ + size_t(R) * per_peer;
  for (int peer = 0; peer < R; ++peer)
    for (int c = 0; c < C; ++c)
      for (int e = 0; e < E; ++e) hs[peer * per_peer + size_t(c) * E + e] = d.expert_counts[c][size_t(peer) * E + e];
  MOE_CUDA(cudaMemcpyAsync(counts_send_.p, hs, R * per_peer * sizeof(int32_t), cudaMemcpyHostToDevice, comm_stream_));
  MOE_NCCL(ncclGroupStart());
  for (int peer = 0; peer < R; ++peer) {
    MOE_NCCL(ncclSend(counts_send_.p + peer * per_peer, per_peer, ncclInt32, peer, comm_, comm_stream_));
    MOE_NCCL(ncclRecv(counts_recv_.p + peer * per_peer, per_peer, ncclInt32, peer, comm_, comm_stream_));
  }
  MOE_NCCL(ncclGroupEnd());
  MOE_CUDA(cudaMemcpyAsync(hr, counts_recv_.p, R * per_peer * sizeof(int32_t), cudaMemcpyDeviceToHost, comm_stream_));
  MOE_CUDA(cudaStreamSynchronize(comm_stream_));
  recv.assign(C, std::vector<int32_t>(size_t(R) * E));
  for (int src = 0; src < R; ++src)
    for (int c = 0; c < C; ++c)
      for (int e = 0; e < E; ++e) recv[c][size_t(src) * E + e] = hr[src * per_peer + size_t(c) * E + e];
}

void MoeModel::experts(int l, const RecvLayout& L, int c) {
  const int H = o_.hidden, F = o_.ffn;
  const int nl = static_cast<int>(L.local_experts.size());
  if (nl == 0) return;
  int64_t n_c = 0;
  for (auto v : L.expert_count[c]) n_c += v;
  if (n_c == 0) return;
  const int64_t off0 = L.expert_offset[c][0];
  launch_gather(recv_buf_.p, expert_rows_.p + off0, n_c, H, e_in_.p + off0 * H, o_.comm_dtype, compute_);
  const bool slow = o_.rank == o_.slow_rank && o_.slow_factor > 1.0;
  for (int li = 0; li < nl; ++li) {
    const int64_t n = L.expert_count[c][li];
    if (n == 0) continue;
    const int64_t off = L.expert_offset[c][li];
    gemm(blas_, int(n), F, H, e_in_.p + off * H, w1_[l][li], e_mid_.p);
    launch_relu(e_mid_.p, n * F, compute_);
    gemm(blas_, int(n), H, F, e_mid_.p, w2_[l][li], e_out_.p + off * H);
    if (slow) {  // straggler: (factor - 1) x this expert's FLOPs more, results discarded
      for (int64_t extra = std::llround((o_.slow_factor - 1.0) * n); extra > 0; extra -= n) {
        const int m = int(extra < n ? extra : n);
        gemm(blas_, m, F, H, e_in_.p + off * H, w1_[l][li], e_mid_.p);
        gemm(blas_, m, H, F, e_mid_.p, w2_[l][li], slow_out_.p);
      }
    }
  }
  launch_scatter(e_out_.p + off0 * H, expert_rows_.p + off0, n_c, H, back_buf_.p, o_.comm_dtype, compute_);
}

void MoeModel::layer(int l, const float* x, float* y) {
  const int H = o_.hidden, E = o_.experts, T = o_.tokens, K = o_.top_k, C = o_.overlap_chunks;
  const size_t cb = comm_bytes(o_.comm_dtype);
  DispatchPlan d;
  {
    NvtxRange r(nvtx_, "gate");
    gemm(blas_, T, E, H, x, gate_[l], logits_.p);
    launch_gate_topk(logits_.p, bias_dev_.p + size_t(l) * E, T, E, K, topk_idx_.p, topk_w_.p, compute_);
    MOE_CUDA(cudaMemcpyAsync(host_topk_, topk_idx_.p, size_t(T) * K * sizeof(int32_t), cudaMemcpyDeviceToHost, compute_));
    MOE_CUDA(cudaStreamSynchronize(compute_));
    auto plan = build_dispatch_plan(host_topk_, T, K, C, p_, l, o_.rank, o_.ranks_per_node);
    if (!plan) die(plan.error().message);
    d = std::move(*plan);
    std::string msg = "moe.route layer=" + std::to_string(l) + " tokens=";
    for (int e = 0; e < E; ++e) {
      msg += (e ? "," : "") + std::to_string(d.tokens_per_expert[e]);
      routed_[e] += d.tokens_per_expert[e];
    }
    nvtx_.mark(msg);
  }
  RecvLayout L;
  {
    NvtxRange r(nvtx_, "dispatch");
    std::vector<std::vector<int32_t>> recv_counts;
    exchange_counts(d, recv_counts);
    auto lay = build_recv_layout(recv_counts, o_.nranks, E, p_.local_experts(l, o_.rank));
    if (!lay) die(lay.error().message);
    L = std::move(*lay);
    int64_t max_expert_rows = 1;
    for (auto& cc : L.expert_count)
      for (auto v : cc) max_expert_rows = std::max<int64_t>(max_expert_rows, v);
    const size_t rows = size_t(std::max<int64_t>(L.total_rows, 1));
    recv_buf_.ensure(rows * H * cb);
    back_buf_.ensure(rows * H * cb);
    e_in_.ensure(rows * H);
    e_out_.ensure(rows * H);
    expert_rows_.ensure(rows);
    e_mid_.ensure(size_t(max_expert_rows) * o_.ffn);
    if (o_.rank == o_.slow_rank) slow_out_.ensure(size_t(max_expert_rows) * H);
    MOE_CUDA(cudaMemcpyAsync(send_rows_.p, d.send_rows.data(), d.send_rows.size() * 4, cudaMemcpyHostToDevice, compute_));
    MOE_CUDA(cudaMemcpyAsync(slot_pos_.p, d.slot_pos.data(), d.slot_pos.size() * 4, cudaMemcpyHostToDevice, compute_));
    if (L.total_rows > 0)
      MOE_CUDA(cudaMemcpyAsync(expert_rows_.p, L.expert_rows.data(), L.expert_rows.size() * 4, cudaMemcpyHostToDevice,
                               compute_));
    for (int c = 0; c < C; ++c) {
      int64_t rows_c = 0;
      for (auto v : d.send_count[c]) rows_c += v;
      const int64_t base = d.send_offset[c][0];
      launch_pack(x, send_rows_.p + base, K, rows_c, H, send_buf_.p + base * H * cb, o_.comm_dtype, compute_);
      MOE_CUDA(cudaEventRecord(ev_pack_[c], compute_));
    }
  }
  auto dispatch = [&](int c) {
    NvtxRange r(nvtx_, "dispatch");
    MOE_CUDA(cudaStreamWaitEvent(comm_stream_, ev_pack_[c]));
    p2p(send_buf_.p, d.send_count[c], d.send_offset[c], recv_buf_.p, L.recv_count[c], L.recv_offset[c]);
    MOE_CUDA(cudaEventRecord(ev_disp_[c], comm_stream_));
  };
  dispatch(0);
  for (int c = 0; c < C; ++c) {
    if (c + 1 < C) dispatch(c + 1);  // next chunk's transfer overlaps this chunk's experts
    {
      NvtxRange r(nvtx_, "experts");
      MOE_CUDA(cudaStreamWaitEvent(compute_, ev_disp_[c]));
      experts(l, L, c);
      MOE_CUDA(cudaEventRecord(ev_exp_[c], compute_));
    }
    NvtxRange r(nvtx_, "combine");
    MOE_CUDA(cudaStreamWaitEvent(comm_stream_, ev_exp_[c]));
    p2p(back_buf_.p, L.recv_count[c], L.recv_offset[c], comb_buf_.p, d.send_count[c], d.send_offset[c]);
    MOE_CUDA(cudaEventRecord(ev_comb_[c], comm_stream_));
  }
  NvtxRange r(nvtx_, "combine");
  for (int c = 0; c < C; ++c) MOE_CUDA(cudaStreamWaitEvent(compute_, ev_comb_[c]));
  launch_combine(x, comb_buf_.p, slot_pos_.p, topk_w_.p, T, K, H, y, o_.comm_dtype, compute_);
  MOE_CUDA(cudaGetLastError());
}

void MoeModel::step(int step_index) {
  cur_step_ = step_index;
  NvtxRange r(nvtx_, "step " + std::to_string(step_index) + " tokens=" + std::to_string(o_.tokens));
  const float* x = x_in_.p;
  for (int l = 0; l < o_.layers; ++l) {
    float* y = (l % 2 == 0) ? act_a_.p : act_b_.p;
    layer(l, x, y);
    x = y;
  }
  if (o_.grad_allreduce) {
    NvtxRange a(nvtx_, "allreduce");
    const size_t n = size_t(o_.layers) * (size_t(o_.hidden) * o_.experts + 4 * size_t(o_.hidden) * o_.hidden);
    MOE_NCCL(ncclAllReduce(grad_.p, grad_.p, n, ncclFloat32, ncclAvg, comm_, comm_stream_));
  }
  MOE_CUDA(cudaStreamSynchronize(compute_));
  MOE_CUDA(cudaStreamSynchronize(comm_stream_));
  last_out_ = x;
}

std::vector<float> MoeModel::output() const {
  std::vector<float> out(size_t(o_.tokens) * o_.hidden);
  if (last_out_)
    MOE_CUDA(cudaMemcpy(out.data(), last_out_, out.size() * sizeof(float), cudaMemcpyDeviceToHost));
  return out;
}

}  // namespace moe
