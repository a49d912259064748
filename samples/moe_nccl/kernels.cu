// SPDX-License-Identifier: Apache-2.0
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "init_hash.h"
#include "kernels.cuh"

namespace moe {
namespace {

constexpr int kThreads = 256;

template <class T>
__device__ inline T to_ct(float v);
template <>
__device__ inline float to_ct<float>(float v) { return v; }
template <>
__device__ inline __nv_bfloat16 to_ct<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <>
__device__ inline __half to_ct<__half>(float v) { return __float2half_rn(v); }
__device__ inline float from_ct(float v) { return v; }
__device__ inline float from_ct(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ inline float from_ct(__half v) { return __half2float(v); }

__global__ void init_uniform_k(float* p, int64_t n, uint64_t seed, uint64_t stream, float scale) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    p[i] = scale * hash_uniform(seed, stream, uint64_t(i));
}

__global__ void init_input_k(float* x, int tokens, int hidden, int64_t off, uint64_t seed) {
  const int64_t n = int64_t(tokens) * hidden;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] = hash_uniform(seed, stream_input(), uint64_t(off * hidden + i));
}

// One thread per token; experts <= 1024 and top_k <= 8 (checked by validate()).
__global__ void gate_topk_k(const float* logits, const float* bias, int tokens, int experts, int top_k,
                            int32_t* topk_idx, float* topk_w) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= tokens) return;
  const float* l = logits + int64_t(t) * experts;
  float mx = -INFINITY;
  for (int e = 0; e < experts; ++e) mx = fmaxf(mx, l[e] + bias[e]);
  float denom = 0.f;
  for (int e = 0; e < experts; ++e) denom += expf(l[e] + bias[e] - mx);
  int chosen[8];
  float prob[8];
  float psum = 0.f;
  for (int k = 0; k < top_k; ++k) {
    int best = -1;
    float bv = -INFINITY;
    for (int e = 0; e < experts; ++e) {
      bool taken = false;
      for (int j = 0; j < k; ++j) taken |= chosen[j] == e;
      const float v = l[e] + bias[e];
      if (!taken && (best < 0 || v > bv)) {
        best = e;
        bv = v;
      }
    }
    chosen[k] = best;
    prob[k] = expf(bv - mx) / denom;
    psum += prob[k];
  }
  for (int k = 0; k < top_k; ++k) {
    topk_idx[int64_t(t) * top_k + k] = chosen[k];
    topk_w[int64_t(t) * top_k + k] = prob[k] / psum;
  }
}

__global__ void relu_k(float* x, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] = fmaxf(x[i], 0.f);
}

// One block per row (grid-stride over rows), threads stride over hidden.
template <class CT>
__global__ void pack_k(const float* x, const int32_t* rows, int top_k, int64_t n, int hidden, CT* out) {
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const float* src = x + int64_t(rows[i] / top_k) * hidden;
    CT* dst = out + i * hidden;
    for (int h = threadIdx.x; h < hidden; h += blockDim.x) dst[h] = to_ct<CT>(src[h]);
  }
}

template <class CT>
__global__ void gather_k(const CT* recv, const int32_t* rows, int64_t n, int hidden, float* out) {
  for (int64_t j = blockIdx.x; j < n; j += gridDim.x) {
    const CT* src = recv + int64_t(rows[j]) * hidden;
    float* dst = out + j * hidden;
    for (int h = threadIdx.x; h < hidden; h += blockDim.x) dst[h] = from_ct(src[h]);
  }
}

template <class CT>
__global__ void scatter_k(const float* y, const int32_t* rows, int64_t n, int hidden, CT* back) {
  for (int64_t j = blockIdx.x; j < n; j += gridDim.x) {
    const float* src = y + j * hidden;
    CT* dst = back + int64_t(rows[j]) * hidden;
    for (int h = threadIdx.x; h < hidden; h += blockDim.x) dst[h] = to_ct<CT>(src[h]);
  }
}

template <class CT>
__global__ void combine_k(const float* x, const CT* comb, const int32_t* slot_pos, const float* w, int tokens,
                          int top_k, int hidden, float* y) {
  for (int t = blockIdx.x; t < tokens; t += gridDim.x) {
    for (int h = threadIdx.x; h < hidden; h += blockDim.x) {
      float acc = x[int64_t(t) * hidden + h];
      for (int k = 0; k < top_k; ++k) {
        const int64_t slot = int64_t(t) * top_k + k;
        acc += w[slot] * from_ct(comb[int64_t(slot_pos[slot]) * hidden + h]);
      }
      y[int64_t(t) * hidden + h] = acc;
    }
  }
}

unsigned grid_for(int64_t n, int64_t cap = 65535) {
  int64_t g = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(g < 1 ? 1 : (g > cap ? cap : g));
}
unsigned rows_grid(int64_t n) { return static_cast<unsigned>(n < 1 ? 1 : (n > 65535 ? 65535 : n)); }

template <class F>
void by_dtype(CommDtype dt, F&& f) {
  switch (dt) {
    case CommDtype::fp32: f(float{}); break;
    case CommDtype::bf16: f(__nv_bfloat16{}); break;
    case CommDtype::fp16: f(__half{}); break;
  }
}

}  // namespace

void launch_init_uniform(float* p, int64_t n, uint64_t seed, uint64_t stream, float scale, cudaStream_t s) {
  init_uniform_k<<<grid_for(n, 4096), kThreads, 0, s>>>(p, n, seed, stream, scale);
}
void launch_init_input(float* x, int tokens, int hidden, int64_t off, uint64_t seed, cudaStream_t s) {
  init_input_k<<<grid_for(int64_t(tokens) * hidden, 4096), kThreads, 0, s>>>(x, tokens, hidden, off, seed);
}
void launch_gate_topk(const float* logits, const float* bias, int tokens, int experts, int top_k, int32_t* idx,
                      float* w, cudaStream_t s) {
  gate_topk_k<<<(tokens + 127) / 128, 128, 0, s>>>(logits, bias, tokens, experts, top_k, idx, w);
}
void launch_relu(float* x, int64_t n, cudaStream_t s) { relu_k<<<grid_for(n, 8192), kThreads, 0, s>>>(x, n); }

void launch_pack(const float* x, const int32_t* rows, int top_k, int64_t n, int hidden, void* out, CommDtype dt,
                 cudaStream_t s) {
  if (n <= 0) return;
  by_dtype(dt, [&](auto t) {
    using CT = decltype(t);
    pack_k<CT><<<rows_grid(n), kThreads, 0, s>>>(x, rows, top_k, n, hidden, static_cast<CT*>(out));
  });
}
void launch_gather(const void* recv, const int32_t* rows, int64_t n, int hidden, float* out, CommDtype dt,
                   cudaStream_t s) {
  if (n <= 0) return;
  by_dtype(dt, [&](auto t) {
    using CT = decltype(t);
    gather_k<CT><<<rows_grid(n), kThreads, 0, s>>>(static_cast<const CT*>(recv), rows, n, hidden, out);
  });
}
void launch_scatter(const float* y, const int32_t* rows, int64_t n, int hidden, void* back, CommDtype dt,
                    cudaStream_t s) {
  if (n <= 0) return;
  by_dtype(dt, [&](auto t) {
    using CT = decltype(t);
    scatter_k<CT><<<rows_grid(n), kThreads, 0, s>>>(y, rows, n, hidden, static_cast<CT*>(back));
  });
}
void launch_combine(const float* x, const void* comb, const int32_t* slot_pos, const float* w, int tokens, int top_k,
                    int hidden, float* y, CommDtype dt, cudaStream_t s) {
  by_dtype(dt, [&](auto t) {
    using CT = decltype(t);
    combine_k<CT><<<rows_grid(tokens), kThreads, 0, s>>>(x, static_cast<const CT*>(comb), slot_pos, w, tokens, top_k,
                                                         hidden, y);
  });
}

}  // namespace moe
