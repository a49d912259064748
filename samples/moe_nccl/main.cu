// SPDX-License-Identifier: Apache-2.0
// moe_nccl: an expert-parallel MoE stack on NCCL + cuBLAS, one process per rank.
// Bad input -> one line on stderr, exit 2. Runtime (CUDA/NCCL) failure -> one line, exit 1.
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "model.cuh"
#include "report.h"

extern char** environ;

namespace moe {
namespace {

[[noreturn]] void bad_input(const std::string& msg) {
  std::fprintf(stderr, "%s\n", msg.c_str());
  std::exit(2);
}

// Rank 0 writes the ncclUniqueId to `path` (temp file + rename: readers never see half a
// file); the others wait for it. Rank 0 removes it once every rank has joined.
ncclUniqueId rendezvous(const Options& o) {
  ncclUniqueId id;
  if (o.rank == 0) {
    MOE_NCCL(ncclGetUniqueId(&id));
    const std::string tmp = o.init_file + ".tmp." + std::to_string(getpid());
    {
      std::ofstream f(tmp, std::ios::binary);
      if (!f.write(reinterpret_cast<const char*>(&id), sizeof id)) bad_input(o.init_file + ": cannot write init file");
    }
    if (std::rename(tmp.c_str(), o.init_file.c_str()) != 0) bad_input(o.init_file + ": cannot write init file");
    return id;
  }
  for (int i = 0; i < 1200; ++i) {  // 120 s
    std::ifstream f(o.init_file, std::ios::binary);
    if (f && f.read(reinterpret_cast<char*>(&id), sizeof id) && f.gcount() == sizeof id) return id;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  die(o.init_file + ": rank 0 did not write the NCCL id within 120 s");
}

std::vector<std::pair<std::string, std::string>> nccl_env() {
  std::vector<std::pair<std::string, std::string>> out;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "NCCL_", 5) == 0) {
      const char* eq = std::strchr(*e, '=');
      if (eq) out.emplace_back(std::string(*e, size_t(eq - *e)), std::string(eq + 1));
    }
  return out;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::vector<std::pair<std::string, std::string>> env;
  for (const char* k : {"RANK", "WORLD_SIZE", "MOE_INIT_FILE"})
    if (const char* v = std::getenv(k)) env.emplace_back(k, v);
  auto po = parse_options(args, env);
  if (!po) {
    if (po.error().message.find("help requested") != std::string::npos) {
      std::fputs(usage().c_str(), stdout);
      return 0;
    }
    bad_input(po.error().message);
  }
  const Options o = *po;
  auto pl = o.placement.empty() ? moetune::Expected<Placement>(default_placement(o.layers, o.experts, o.nranks))
                                : load_placement(o.placement, o.layers, o.experts, o.nranks);
  if (!pl) bad_input(pl.error().message);
  const Placement& placement = *pl;

  int ndev = 0;
  if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) die("no CUDA device");
  int local_rank = o.rank;
  if (const char* lr = std::getenv("LOCAL_RANK")) local_rank = std::atoi(lr);
  const int dev = o.device >= 0 ? o.device : local_rank % ndev;
  if (dev >= ndev) bad_input("moe_nccl: --device " + std::to_string(dev) + " but " + std::to_string(ndev) + " GPUs");
  MOE_CUDA(cudaSetDevice(dev));
  // Ranks sharing a GPU (emulated nodes) each need their own NCCL_HOSTID.
  const bool shared_gpu = o.nranks > ndev && std::getenv("NCCL_HOSTID") != nullptr;
  const int per_gpu = shared_gpu ? (o.nranks + ndev - 1) / ndev : 1;
  size_t free_b = 0, total_b = 0;
  MOE_CUDA(cudaMemGetInfo(&free_b, &total_b));
  const int64_t need = device_bytes_needed(o, placement.max_local_experts());
  if (need * per_gpu > int64_t(total_b * 0.9))
    bad_input("moe_nccl: " + std::to_string(per_gpu) + " rank(s) per GPU need ~" + std::to_string(need * per_gpu >> 20) +
              " MiB but the GPU has " + std::to_string(total_b >> 20) + " MiB: fewer ranks or smaller sizes");
  cudaDeviceProp prop{};
  MOE_CUDA(cudaGetDeviceProperties(&prop, dev));

  ncclUniqueId id;
  if (o.nranks > 1) id = rendezvous(o);
  else MOE_NCCL(ncclGetUniqueId(&id));
  ncclComm_t comm;
  MOE_NCCL(ncclCommInitRank(&comm, o.nranks, id, o.rank));
  if (o.rank == 0 && o.nranks > 1) std::remove(o.init_file.c_str());

  Nvtx nvtx;
  for (int l = 0; l < o.layers; ++l)
    nvtx.mark("moe.placement layer=" + std::to_string(l) + " map=" + placement.nvtx_map(l));
  RunResult res;
  res.device_name = prop.name;
  MOE_NCCL(ncclGetVersion(&res.nccl_version));
  res.replicated = placement.replicated();
  res.nccl_env = nccl_env();
  std::vector<float> local_ms;
  {
    MoeModel model(o, placement, comm, nvtx);
    for (int s = 0; s < o.warmup + o.steps; ++s) {
      const auto t0 = std::chrono::steady_clock::now();
      model.step(s);
      const auto t1 = std::chrono::steady_clock::now();
      if (s >= o.warmup) local_ms.push_back(std::chrono::duration<float, std::milli>(t1 - t0).count());
    }
    res.routed = model.routed();
    if (!o.check_out.empty()) {
      const std::string path = o.check_out + ".rank" + std::to_string(o.rank) + ".bin";
      if (!write_check_file(path, o, model.output())) bad_input(path + ": cannot write check file");
    }
    // Step time of the job = the slowest rank's, step by step.
    float* d = nullptr;
    MOE_CUDA(cudaMalloc(&d, local_ms.size() * sizeof(float)));
    MOE_CUDA(cudaMemcpy(d, local_ms.data(), local_ms.size() * sizeof(float), cudaMemcpyHostToDevice));
    MOE_NCCL(ncclAllReduce(d, d, local_ms.size(), ncclFloat32, ncclMax, comm, nullptr));
    MOE_CUDA(cudaMemcpy(local_ms.data(), d, local_ms.size() * sizeof(float), cudaMemcpyDeviceToHost));
    MOE_CUDA(cudaFree(d));
  }
  res.step_ms.assign(local_ms.begin(), local_ms.end());
  MOE_NCCL(ncclCommDestroy(comm));
  if (o.rank == 0) std::printf("%s\n", result_json(o, res).c_str());
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace moe

int main(int argc, char** argv) { return moe::run(argc, argv); }
