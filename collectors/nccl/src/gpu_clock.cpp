// SPDX-License-Identifier: Apache-2.0
#include "gpu_clock.h"

#include <dlfcn.h>

#include "moetune/live/rank_env.h"

namespace moetune::nccl {

namespace {
// Driver API subset, declared here so the plugin has no link-time CUDA dependency.
using CUresult = int;
using CUcontext = void*;
using CUmodule = void*;
using CUfunction = void*;
using CUdeviceptr = unsigned long long;

const char kPtx[] =
    ".version 7.0\n.target sm_75\n.address_size 64\n"
    ".visible .entry moetune_globaltimer(.param .u64 p)\n{\n"
    "  .reg .b64 %rd<4>;\n  ld.param.u64 %rd1, [p];\n  cvta.to.global.u64 %rd2, %rd1;\n"
    "  mov.u64 %rd3, %globaltimer;\n  st.global.u64 [%rd2], %rd3;\n  ret;\n}\n";
}  // namespace

std::optional<ClockOffset> measure_globaltimer_offset() {
  void* lib = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (!lib) return std::nullopt;
  auto sym = [&](const char* n) { return ::dlsym(lib, n); };
  auto get_ctx = reinterpret_cast<CUresult (*)(CUcontext*)>(sym("cuCtxGetCurrent"));
  auto load = reinterpret_cast<CUresult (*)(CUmodule*, const void*)>(sym("cuModuleLoadData"));
  auto unload = reinterpret_cast<CUresult (*)(CUmodule)>(sym("cuModuleUnload"));
  auto get_fn = reinterpret_cast<CUresult (*)(CUfunction*, CUmodule, const char*)>(sym("cuModuleGetFunction"));
  auto alloc = reinterpret_cast<CUresult (*)(CUdeviceptr*, size_t)>(sym("cuMemAlloc_v2"));
  auto release = reinterpret_cast<CUresult (*)(CUdeviceptr)>(sym("cuMemFree_v2"));
  auto dtoh = reinterpret_cast<CUresult (*)(void*, CUdeviceptr, size_t)>(sym("cuMemcpyDtoH_v2"));
  auto sync = reinterpret_cast<CUresult (*)()>(sym("cuCtxSynchronize"));
  auto launch = reinterpret_cast<CUresult (*)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                                              unsigned, void*, void**, void**)>(sym("cuLaunchKernel"));
  if (!get_ctx || !load || !unload || !get_fn || !alloc || !release || !dtoh || !sync || !launch) return std::nullopt;
  CUcontext ctx = nullptr;
  if (get_ctx(&ctx) != 0 || !ctx) return std::nullopt;
  CUmodule mod = nullptr;
  if (load(&mod, kPtx) != 0) return std::nullopt;
  std::optional<ClockOffset> best;
  CUfunction fn = nullptr;
  CUdeviceptr buf = 0;
  if (get_fn(&fn, mod, "moetune_globaltimer") == 0 && alloc(&buf, 8) == 0) {
    // Best of up to 40 tries, done early at +-5 us. On a GPU time-sliced with other
    // processes (two ranks on one H200) a try waits for the other context's slice and
    // the bracket grows to ~230 us (torch2: error 115-124 us, offset ~120 us below the
    // client runs' on the same machine); more tries catch one where the GPU is free.
    for (int i = 0; i < 40 && !(i > 7 && best && best->error_ns <= 5'000); ++i) {
      void* args[] = {&buf};
      const long long t0 = live::now_ns();
      if (launch(fn, 1, 1, 1, 1, 1, 1, 0, nullptr, args, nullptr) != 0 || sync() != 0) break;
      const long long t1 = live::now_ns();
      unsigned long long g = 0;
      if (dtoh(&g, buf, 8) != 0 || g == 0) break;
      ClockOffset c{(t0 + t1) / 2 - static_cast<std::int64_t>(g), (t1 - t0) / 2};
      if (i > 0 && (!best || c.error_ns < best->error_ns)) best = c;  // first try pays the JIT
    }
    (void)release(buf);
  }
  (void)unload(mod);
  return best;
}

}  // namespace moetune::nccl
