// SPDX-License-Identifier: Apache-2.0
// One rank's share of the MoE stack: gate weights for every layer, FFN weights of the experts
// this rank holds (per the placement), and the buffers of one expert-parallel forward step.
// forward() runs gate -> counts exchange -> dispatch -> experts -> combine per layer; with
// overlap_chunks > 1 the token chunks pipeline: chunk c's experts run on the compute stream
// while chunk c+1 is dispatched on the comm stream (events order them). One host sync per
// layer (the gate's top-k ids and the received counts must reach the host, as in real MoE).
#pragma once
#include <vector>

#include "kernels.cuh"
#include "placement.h"
#include "plan.h"
#include "runtime.h"

namespace moe {

class MoeModel {
 public:
  MoeModel(const Options& o, const Placement& p, ncclComm_t comm, const Nvtx& nvtx);
  ~MoeModel();
  MoeModel(const MoeModel&) = delete;
  MoeModel& operator=(const MoeModel&) = delete;

  // One step over all layers, starting from the (constant) input tokens; waits for the GPU.
  void step(int step_index);
  // Final activations of the last step, tokens x hidden, row-major.
  std::vector<float> output() const;
  // Routed tokens per expert (this rank as source) summed over layers and measured steps.
  const std::vector<int64_t>& routed() const { return routed_; }

 private:
  void layer(int l, const float* x, float* y);
  void exchange_counts(const DispatchPlan& d, std::vector<std::vector<int32_t>>& recv);
  void experts(int l, const RecvLayout& L, int c);
  void p2p(const void* send, const std::vector<int64_t>& scount, const std::vector<int64_t>& soff, void* recv,
           const std::vector<int64_t>& rcount, const std::vector<int64_t>& roff);

  const Options o_;
  const Placement& p_;
  ncclComm_t comm_;
  const Nvtx& nvtx_;
  cudaStream_t compute_ = nullptr, comm_stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  std::vector<cudaEvent_t> ev_pack_, ev_disp_, ev_exp_, ev_comb_;
  std::vector<float*> gate_;                   // [layer] hidden x experts
  std::vector<std::vector<float*>> w1_, w2_;   // [layer][local expert] hidden x ffn, ffn x hidden
  std::vector<std::vector<float>> bias_;       // [layer] Zipf prior
  DevBuf<float> bias_dev_, x_in_, act_a_, act_b_, logits_, topk_w_, e_in_, e_mid_, e_out_, slow_out_, grad_;
  DevBuf<int32_t> topk_idx_, send_rows_, slot_pos_, expert_rows_, counts_send_, counts_recv_;
  DevBuf<char> send_buf_, recv_buf_, back_buf_, comb_buf_;
  int32_t* host_topk_ = nullptr;   // pinned
  int32_t* host_counts_ = nullptr; // pinned, nranks * chunks * experts
  const float* last_out_ = nullptr;
  std::vector<int64_t> routed_;
  int cur_step_ = 0;
};

}  // namespace moe
