// SPDX-License-Identifier: Apache-2.0
// Checked CUDA / cuBLAS / NCCL calls of moe_nccl (the NVTX `moe` domain helpers: nvtx_moe.h).
// A failed runtime call is not bad input: it prints one line and exits 1.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "nvtx_moe.h"
#include "options.h"

namespace moe {

[[noreturn]] inline void die(const std::string& what, int code = 1) {
  std::fprintf(stderr, "moe_nccl: %s\n", what.c_str());
  std::exit(code);
}

#define MOE_CUDA(x)                                                                                      \
  do {                                                                                                   \
    cudaError_t e_ = (x);                                                                                \
    if (e_ != cudaSuccess) ::moe::die(std::string(#x " failed: ") + cudaGetErrorString(e_));              \
  } while (0)
#define MOE_NCCL(x)                                                                                      \
  do {                                                                                                   \
    ncclResult_t r_ = (x);                                                                               \
    if (r_ != ncclSuccess) ::moe::die(std::string(#x " failed: ") + ncclGetErrorString(r_));              \
  } while (0)
#define MOE_CUBLAS(x)                                                                                    \
  do {                                                                                                   \
    cublasStatus_t s_ = (x);                                                                             \
    if (s_ != CUBLAS_STATUS_SUCCESS) ::moe::die(std::string(#x " failed: ") + cublasGetStatusString(s_)); \
  } while (0)

inline ncclDataType_t nccl_type(CommDtype d) {
  return d == CommDtype::fp32 ? ncclFloat32 : d == CommDtype::bf16 ? ncclBfloat16 : ncclFloat16;
}

// Grows-only device buffer (no shrinking, contents not kept on growth).
template <class T>
struct DevBuf {
  T* p = nullptr;
  size_t cap = 0;
  void ensure(size_t n) {
    if (n <= cap) return;
    if (p) MOE_CUDA(cudaFree(p));
    MOE_CUDA(cudaMalloc(&p, n * sizeof(T)));
    cap = n;
  }
  ~DevBuf() {
    if (p) cudaFree(p);
  }
};

}  // namespace moe
