// SPDX-License-Identifier: Apache-2.0
// Device kernels of the moe_nccl sample: deterministic init, gate softmax + top-k, packing
// rows into the communication dtype, expert-major gather/scatter and the weighted combine.
#pragma once
#include <cstdint>
#include <cuda_runtime.h>

#include "options.h"

namespace moe {

void launch_init_uniform(float* p, int64_t n, uint64_t seed, uint64_t stream, float scale, cudaStream_t s);
// X[t, h] = U(seed, input, (t + token_offset) * H + h): the same token on any rank count.
void launch_init_input(float* x, int tokens, int hidden, int64_t token_offset, uint64_t seed, cudaStream_t s);
// Per token: softmax(logits + bias), the top_k largest (ties: lowest id), weights renormalised.
void launch_gate_topk(const float* logits, const float* bias, int tokens, int experts, int top_k, int32_t* topk_idx,
                      float* topk_w, cudaStream_t s);
void launch_relu(float* x, int64_t n, cudaStream_t s);

// The comm-dtype kernels take the buffer as void* and dispatch on `dt`.
// out[i] = cast(X[rows[i] / top_k]) for i in [0, n).
void launch_pack(const float* x, const int32_t* rows, int top_k, int64_t n, int hidden, void* out, CommDtype dt,
                 cudaStream_t s);
// out[j] = float(recv[rows[j]]) for j in [0, n).
void launch_gather(const void* recv, const int32_t* rows, int64_t n, int hidden, float* out, CommDtype dt,
                   cudaStream_t s);
// back[rows[j]] = cast(y[j]) for j in [0, n).
void launch_scatter(const float* y, const int32_t* rows, int64_t n, int hidden, void* back, CommDtype dt,
                    cudaStream_t s);
// Y[t] = X[t] + sum_k w[t, k] * float(comb[slot_pos[t * top_k + k]]), slots summed in order.
void launch_combine(const float* x, const void* comb, const int32_t* slot_pos, const float* w, int tokens, int top_k,
                    int hidden, float* y, CommDtype dt, cudaStream_t s);

}  // namespace moe
