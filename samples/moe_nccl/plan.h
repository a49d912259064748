// SPDX-License-Identifier: Apache-2.0
// Host-side token routing for one MoE layer on one rank: from the gate's top-k choices to the
// per-peer send layout (dispatch), and from the exchanged counts to the receive layout that
// groups rows by local expert (expert FFNs) and back (combine). Pure host code, no CUDA, so
// the CPU tests can run the whole exchange for N simulated ranks.
#pragma once
#include <cstdint>
#include <vector>

#include "moetune/trace/result.h"
#include "placement.h"

namespace moe {

// Additive gate-logit bias giving a Zipf-like popularity prior: p(e) ~ (rank_of_e + 1)^-skew,
// where rank_of_e is a seed-dependent permutation of experts (different per layer).
std::vector<float> zipf_bias(int experts, double skew, uint64_t seed, int layer);

// The send side of one layer on one rank. Tokens are split into `chunks` contiguous token
// ranges; chunk c is its own dispatch (the overlap pipeline). Within a chunk, rows are ordered
// by destination rank, then by expert. Every (token, slot) pair is sent exactly once.
struct DispatchPlan {
  int chunks = 1;
  int nranks = 1;
  int experts = 0;
  int top_k = 1;
  // send_rows[i] = token * top_k + slot for send-buffer row i (all chunks concatenated).
  std::vector<int32_t> send_rows;
  // slot_pos[token * top_k + slot] = send-buffer row that carries it (inverse of send_rows).
  std::vector<int32_t> slot_pos;
  // [chunk][dest] rows and first row (absolute in the send buffer).
  std::vector<std::vector<int64_t>> send_count, send_offset;
  // [chunk][dest * experts + e] rows for expert e sent to dest: the counts message.
  std::vector<std::vector<int32_t>> expert_counts;
  // Tokens this rank routes to each expert (summed over chunks): the `moe.route` mark.
  std::vector<int64_t> tokens_per_expert;
};

// topk: tokens * top_k expert ids from the gate. Fails when an id is out of range.
moetune::Expected<DispatchPlan> build_dispatch_plan(const int32_t* topk, int tokens, int top_k, int chunks,
                                                    const Placement& p, int layer, int rank, int ranks_per_node);

// The receive side: given recv_counts[chunk][src * experts + e] (what each source sent us),
// the layout of the receive buffer (chunk-major, then source, then expert, as sent) and a
// gather that groups rows by local expert for the FFNs.
struct RecvLayout {
  int chunks = 1;
  std::vector<std::vector<int64_t>> recv_count, recv_offset;  // [chunk][src]
  int64_t total_rows = 0;
  std::vector<int> local_experts;  // ascending global ids
  // expert_rows[j] = receive-buffer row of expert-major row j (all chunks concatenated,
  // chunk-major, then local expert, then source).
  std::vector<int32_t> expert_rows;
  // [chunk][local expert index] rows and first expert-major row.
  std::vector<std::vector<int64_t>> expert_count, expert_offset;
};

// Fails when a source sent rows for an expert this rank does not hold.
moetune::Expected<RecvLayout> build_recv_layout(const std::vector<std::vector<int32_t>>& recv_counts, int nranks,
                                                int experts, const std::vector<int>& local_experts);

}  // namespace moe
