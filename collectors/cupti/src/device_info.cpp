// SPDX-License-Identifier: Apache-2.0
// GPU facts of the rank's device: name, uuid, PCIe bus id, SMs, memory, compute
// capability through the CUDA driver API (already loaded in the job), PCIe link
// generation/width and NVLink link states/peers through NVML loaded with dlopen (no
// link-time dependency; absent NVML just leaves those fields unknown).
#include <cuda.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>

#include "cupti_state.h"
#include "moetune/live/rank_env.h"

namespace moetune::cupti {

namespace {

// The few NVML declarations we need (NVML ABI; nvml.h is not on every build host).
using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
using nvmlEnableState_t = int;
constexpr nvmlReturn_t NVML_SUCCESS = 0;
constexpr nvmlEnableState_t NVML_FEATURE_ENABLED = 1;
constexpr unsigned int NVML_NVLINK_MAX_LINKS = 18;
struct nvmlPciInfo_t {
  char busIdLegacy[16];  // legacy "domain:bus:device.function" (16 bytes)
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];  // "domain:bus:device.function" (32 bytes)
};

// The few NVML functions we use, resolved at run time.
struct Nvml {
  void* lib = nullptr;
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*by_bus)(const char*, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*gen)(nvmlDevice_t, unsigned int*) = nullptr;
  nvmlReturn_t (*width)(nvmlDevice_t, unsigned int*) = nullptr;
  nvmlReturn_t (*link_state)(nvmlDevice_t, unsigned int, nvmlEnableState_t*) = nullptr;
  nvmlReturn_t (*remote_pci)(nvmlDevice_t, unsigned int, nvmlPciInfo_t*) = nullptr;
  bool ready = false;
};

Nvml& nvml() {
  static Nvml n = [] {
    Nvml x;
    x.lib = ::dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!x.lib) return x;
    auto sym = [&](const char* name) { return ::dlsym(x.lib, name); };
    x.init = reinterpret_cast<decltype(x.init)>(sym("nvmlInit_v2"));
    x.by_bus = reinterpret_cast<decltype(x.by_bus)>(sym("nvmlDeviceGetHandleByPciBusId_v2"));
    x.gen = reinterpret_cast<decltype(x.gen)>(sym("nvmlDeviceGetMaxPcieLinkGeneration"));
    x.width = reinterpret_cast<decltype(x.width)>(sym("nvmlDeviceGetMaxPcieLinkWidth"));
    x.link_state = reinterpret_cast<decltype(x.link_state)>(sym("nvmlDeviceGetNvLinkState"));
    x.remote_pci = reinterpret_cast<decltype(x.remote_pci)>(sym("nvmlDeviceGetNvLinkRemotePciInfo_v2"));
    x.ready = x.init && x.by_bus && x.init() == NVML_SUCCESS;
    return x;
  }();
  return n;
}

}  // namespace

void write_device_info(State& s, TraceWriter& w, int device) {
  RankRow r;
  r.rank = RankId(s.rank);  // -1: no rank in the environment (merge decides)
  r.host = live::node_name();
  r.pid = s.pid;
  r.source = "cupti";
  if (device < 0) {
    w.add(r);
    return;
  }
  s.device_written = true;
  r.device = device;
  CUdevice dev = 0;
  if (cuDeviceGet(&dev, device) != CUDA_SUCCESS) {
    w.add(r);
    return;
  }
  char buf[256] = {};
  if (cuDeviceGetName(buf, sizeof buf, dev) == CUDA_SUCCESS) r.gpu_name = buf;
  CUuuid u{};
  if (cuDeviceGetUuid(&u, dev) == CUDA_SUCCESS) {
    const auto* b = reinterpret_cast<const unsigned char*>(u.bytes);
    std::snprintf(buf, sizeof buf, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
                  b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    r.gpu_uuid = buf;
  }
  if (cuDeviceGetPCIBusId(buf, sizeof buf, dev) == CUDA_SUCCESS) r.bus_id = buf;
  int v = 0, major = 0, minor = 0;
  if (cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev) == CUDA_SUCCESS) r.sm_count = v;
  size_t mem = 0;
  if (cuDeviceTotalMem(&mem, dev) == CUDA_SUCCESS) r.memory_bytes = static_cast<std::int64_t>(mem);
  if (cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev) == CUDA_SUCCESS &&
      cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev) == CUDA_SUCCESS)
    r.compute_cap = std::to_string(major) + "." + std::to_string(minor);
  auto& n = nvml();
  nvmlDevice_t h{};
  if (n.ready && !r.bus_id.empty() && n.by_bus(r.bus_id.c_str(), &h) == NVML_SUCCESS) {
    unsigned int g = 0, wd = 0;
    if (n.gen && n.gen(h, &g) == NVML_SUCCESS) r.pcie_gen = static_cast<int>(g);
    if (n.width && n.width(h, &wd) == NVML_SUCCESS) r.pcie_width = static_cast<int>(wd);
    // NVLink: count active links per remote bus id -> one "NV<k>" row per peer.
    std::map<std::string, int> peers;
    for (unsigned int link = 0; n.link_state && link < NVML_NVLINK_MAX_LINKS; ++link) {
      nvmlEnableState_t on{};
      if (n.link_state(h, link, &on) != NVML_SUCCESS) break;  // no NVLink on this GPU
      nvmlPciInfo_t pci{};
      if (on == NVML_FEATURE_ENABLED && n.remote_pci && n.remote_pci(h, link, &pci) == NVML_SUCCESS)
        ++peers[pci.busId];
    }
    for (const auto& [bus, links] : peers) {
      TopologyRow t;
      t.host = r.host;
      t.a = r.bus_id;
      t.b = bus;
      t.rank_a = r.rank.value;
      t.link = "NV" + std::to_string(links);
      t.source = "nvml";
      w.add(t);
    }
  }
  w.add(r);
}

}  // namespace moetune::cupti
