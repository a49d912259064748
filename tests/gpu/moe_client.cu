// SPDX-License-Identifier: Apache-2.0
// Small MoE-shaped GPU test client for the live collectors (one process per rank).
// Per step: NVTX `moe` domain "step N tokens=T" range with phase ranges gate /
// dispatch / experts / combine / allreduce, a "moe.route layer=L tokens=..." mark per
// layer, an NCCL grouped send/recv all-to-all (dispatch and combine), expert compute
// kernels, an NCCL all-reduce, a memset and a device-to-host copy with a stream sync.
// Ranks rendezvous through a file holding the ncclUniqueId (argument --id FILE).
// Prints one JSON line: {"rank", "steps", "median_step_ms", "step_ms": [...]}.
// Env: RANK, WORLD_SIZE (default 0/1). On one GPU run each rank with its own
// NCCL_HOSTID and NCCL_SOCKET_IFNAME=lo NCCL_IB_DISABLE=1.
#include <cuda_runtime.h>
#include <nccl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "../../samples/moe_nccl/nvtx_moe.h"

// A failed call prints one line naming it and exits with `code` (3: CUDA, 4: NCCL).
#define CHECKED(x, ok, error_string, code)                                         \
  do {                                                                             \
    auto r_ = (x);                                                                 \
    if (r_ != ok) {                                                                \
      std::fprintf(stderr, "client: %s: %s\n", #x, error_string(r_));              \
      std::exit(code);                                                             \
    }                                                                              \
  } while (0)
#define CK(x) CHECKED(x, cudaSuccess, cudaGetErrorString, 3)
#define NK(x) CHECKED(x, ncclSuccess, ncclGetErrorString, 4)

__global__ void gate_kernel(const float* x, float* scores, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) scores[i] = tanhf(x[i]) * 0.5f + 0.5f;
}

// A few hundred microseconds of arithmetic per call, standing in for expert MLPs.
__global__ void expert_kernel(float* y, const float* x, int n, int iters) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float v = x[i];
  for (int k = 0; k < iters; ++k) v = fmaf(v, 0.999f, 0.001f * sinf(v));
  y[i] = v;
}

static const moe::Nvtx* g_moe;  // the `moe` domain, created in main
static void push(const std::string& s) { g_moe->push(s); }
static void pop() { g_moe->pop(); }
static void mark(const std::string& s) { g_moe->mark(s); }

// Grouped send/recv all-to-all: chunk p of `from` goes to rank p, rank p's chunk lands in
// chunk p of `to`.
static void all_to_all(const float* from, float* to, size_t chunk, int world, ncclComm_t comm, cudaStream_t st) {
  NK(ncclGroupStart());
  for (int p = 0; p < world; ++p) {
    NK(ncclSend(from + p * chunk, chunk, ncclFloat32, p, comm, st));
    NK(ncclRecv(to + p * chunk, chunk, ncclFloat32, p, comm, st));
  }
  NK(ncclGroupEnd());
}

static long arg(int argc, char** argv, const char* name, long def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], name)) return std::atol(argv[i + 1]);
  return def;
}
static std::string sarg(int argc, char** argv, const char* name, const char* def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], name)) return argv[i + 1];
  return def;
}

int main(int argc, char** argv) {
  const int rank = std::getenv("RANK") ? std::atoi(std::getenv("RANK")) : 0;
  const int world = std::getenv("WORLD_SIZE") ? std::atoi(std::getenv("WORLD_SIZE")) : 1;
  const int steps = static_cast<int>(arg(argc, argv, "--steps", 30));
  const int warmup = static_cast<int>(arg(argc, argv, "--warmup", 5));
  const int tokens = static_cast<int>(arg(argc, argv, "--tokens", 2048));
  const int hidden = static_cast<int>(arg(argc, argv, "--hidden", 512));
  const int experts = static_cast<int>(arg(argc, argv, "--experts", 8));
  const int layers = static_cast<int>(arg(argc, argv, "--layers", 2));
  const int iters = static_cast<int>(arg(argc, argv, "--iters", 200));
  const std::string id_file = sarg(argc, argv, "--id", "/tmp/moe_client.id");
  static const moe::Nvtx moe_domain;
  g_moe = &moe_domain;
  CK(cudaSetDevice(0));

  ncclUniqueId id;
  if (rank == 0) {
    NK(ncclGetUniqueId(&id));
    std::string tmp = id_file + ".tmp";
    std::ofstream(tmp, std::ios::binary).write(reinterpret_cast<char*>(&id), sizeof id);
    std::rename(tmp.c_str(), id_file.c_str());
  } else {
    for (int i = 0; i < 600; ++i) {
      std::ifstream in(id_file, std::ios::binary);
      if (in.read(reinterpret_cast<char*>(&id), sizeof id)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  ncclComm_t comm;
  NK(ncclCommInitRank(&comm, world, id, rank));
  cudaStream_t st;
  CK(cudaStreamCreate(&st));

  const size_t n = static_cast<size_t>(tokens) * hidden;  // elements per rank
  float *x, *y, *scores, *send, *recv, *grad;
  CK(cudaMalloc(&x, n * 4));
  CK(cudaMalloc(&y, n * 4));
  CK(cudaMalloc(&scores, n * 4));
  CK(cudaMalloc(&send, n * 4));
  CK(cudaMalloc(&recv, n * 4));
  CK(cudaMalloc(&grad, 1 << 22));
  CK(cudaMemset(x, 0, n * 4));
  std::vector<float> host(1024);
  // Placement: expert e lives on rank e % world.
  std::string pl = "moe.placement layer=0 map=";
  for (int e = 0; e < experts; ++e) pl += (e ? "," : "") + std::to_string(e) + ":" + std::to_string(e % world);
  mark(pl);

  std::vector<double> ms;
  const size_t chunk = n / world;
  for (int s = 0; s < warmup + steps; ++s) {
    auto t0 = std::chrono::steady_clock::now();
    push("step " + std::to_string(s) + " tokens=" + std::to_string(tokens));
    for (int l = 0; l < layers; ++l) {
      push("gate");
      gate_kernel<<<(n + 255) / 256, 256, 0, st>>>(x, scores, static_cast<int>(n));
      pop();
      // Deterministic skewed routing: expert 0 hot, the last one cold, varies by step/rank.
      std::string route = "moe.route layer=" + std::to_string(l) + " tokens=";
      int left = tokens * 2;  // top-2
      for (int e = 0; e < experts; ++e) {
        int t = e + 1 == experts ? left : std::max(0, left / (e == 0 ? 3 : 4) + ((s + rank + e) % 7) - 3);
        left -= t;
        route += (e ? "," : "") + std::to_string(t);
      }
      mark(route);
      push("dispatch");
      all_to_all(send, recv, chunk, world, comm, st);
      pop();
      push("experts");
      expert_kernel<<<(n + 255) / 256, 256, 0, st>>>(y, recv, static_cast<int>(n), iters);
      pop();
      push("combine");
      all_to_all(y, send, chunk, world, comm, st);
      pop();
    }
    push("allreduce");
    NK(ncclAllReduce(grad, grad, (1 << 22) / 4, ncclFloat32, ncclSum, comm, st));
    pop();
    CK(cudaMemsetAsync(scores, 0, 4096, st));
    CK(cudaMemcpyAsync(host.data(), y, host.size() * 4, cudaMemcpyDeviceToHost, st));
    CK(cudaStreamSynchronize(st));
    pop();
    double d = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (s >= warmup) ms.push_back(d);
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  double med = sorted.empty() ? 0 : sorted[sorted.size() / 2];
  std::printf("{\"rank\": %d, \"world\": %d, \"steps\": %zu, \"median_step_ms\": %.4f, \"step_ms\": [", rank, world,
              ms.size(), med);
  for (size_t i = 0; i < ms.size(); ++i) std::printf("%s%.4f", i ? ", " : "", ms[i]);
  std::printf("]}\n");
  NK(ncclCommDestroy(comm));
  int code = static_cast<int>(arg(argc, argv, "--exit", 0));
  return code;
}
