// SPDX-License-Identifier: Apache-2.0
// GPU facts of the rank's device: name, uuid, PCIe bus id, SMs, memory, compute
// capability through the CUDA driver API (already loaded in the job), PCIe link
// generation/width, NVLink peers, P2P status and PCIe path to every other GPU through
// NVML loaded with dlopen (no link-time dependency; absent NVML, or entry points an
// older driver lacks, just leave those facts out).
#include <cuda.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <optional>
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
// nvmlPciInfo_t as the _v2/_v3 entry points fill it.
struct nvmlPciInfo_t {
  char busIdLegacy[16];  // legacy "domain:bus:device.function" (16 bytes)
  unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
  char busId[32];  // "domain:bus:device.function" (32 bytes)
};
// nvmlIntNvLinkDeviceType_t: what sits at the far end of an NVLink.
constexpr int NVML_NVLINK_DEVICE_TYPE_GPU = 0, NVML_NVLINK_DEVICE_TYPE_SWITCH = 2;
// nvmlGpuP2PCapsIndex_t values we ask for, with the names we store.
constexpr struct {
  int index;
  const char* name;
} kP2pCaps[] = {{0, "read"}, {1, "write"}, {2, "nvlink"}, {3, "atomics"}};
constexpr int NVML_P2P_STATUS_OK = 0;  // nvmlGpuP2PStatus_t
// nvmlGpuTopologyLevel_t -> the `nvidia-smi topo -m` code for a PCIe path.
const char* pcie_code(int level) {
  switch (level) {
    case 10: return "PIX";   // NVML_TOPOLOGY_SINGLE
    case 20: return "PXB";   // NVML_TOPOLOGY_MULTIPLE
    case 30: return "PHB";   // NVML_TOPOLOGY_HOSTBRIDGE
    case 40: return "NODE";  // NVML_TOPOLOGY_NODE
    case 50: return "SYS";   // NVML_TOPOLOGY_SYSTEM
    default: return nullptr;
  }
}

// The few NVML functions we use, resolved at run time; any may be missing (older
// drivers), each use checks.
struct Nvml {
  void* lib = nullptr;
  nvmlReturn_t (*init)() = nullptr;
  nvmlReturn_t (*by_bus)(const char*, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*count)(unsigned int*) = nullptr;
  nvmlReturn_t (*by_index)(unsigned int, nvmlDevice_t*) = nullptr;
  nvmlReturn_t (*index)(nvmlDevice_t, unsigned int*) = nullptr;
  nvmlReturn_t (*gen)(nvmlDevice_t, unsigned int*) = nullptr;
  nvmlReturn_t (*width)(nvmlDevice_t, unsigned int*) = nullptr;
  nvmlReturn_t (*link_state)(nvmlDevice_t, unsigned int, nvmlEnableState_t*) = nullptr;
  nvmlReturn_t (*remote_pci)(nvmlDevice_t, unsigned int, nvmlPciInfo_t*) = nullptr;
  nvmlReturn_t (*remote_type)(nvmlDevice_t, unsigned int, int*) = nullptr;
  nvmlReturn_t (*p2p)(nvmlDevice_t, nvmlDevice_t, int, int*) = nullptr;
  nvmlReturn_t (*ancestor)(nvmlDevice_t, nvmlDevice_t, int*) = nullptr;
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
    x.count = reinterpret_cast<decltype(x.count)>(sym("nvmlDeviceGetCount_v2"));
    x.by_index = reinterpret_cast<decltype(x.by_index)>(sym("nvmlDeviceGetHandleByIndex_v2"));
    x.index = reinterpret_cast<decltype(x.index)>(sym("nvmlDeviceGetIndex"));
    x.gen = reinterpret_cast<decltype(x.gen)>(sym("nvmlDeviceGetMaxPcieLinkGeneration"));
    x.width = reinterpret_cast<decltype(x.width)>(sym("nvmlDeviceGetMaxPcieLinkWidth"));
    x.link_state = reinterpret_cast<decltype(x.link_state)>(sym("nvmlDeviceGetNvLinkState"));
    x.remote_pci = reinterpret_cast<decltype(x.remote_pci)>(sym("nvmlDeviceGetNvLinkRemotePciInfo_v2"));
    x.remote_type = reinterpret_cast<decltype(x.remote_type)>(sym("nvmlDeviceGetNvLinkRemoteDeviceType"));
    x.p2p = reinterpret_cast<decltype(x.p2p)>(sym("nvmlDeviceGetP2PStatus"));
    x.ancestor = reinterpret_cast<decltype(x.ancestor)>(sym("nvmlDeviceGetTopologyCommonAncestor"));
    x.ready = x.init && x.by_bus && x.init() == NVML_SUCCESS;
    return x;
  }();
  return n;
}

// A remote PCI id NVML fills with all-ones when the far end is not a PCI function it
// can name (an NVSwitch port, a peer outside this VM): "FFFFFFFF:FF:FF.0".
bool valid_bus_id(const nvmlPciInfo_t& pci) {
  return pci.busId[0] && pci.domain != 0xFFFFFFFFu && std::strncmp(pci.busId, "FFFFFFFF", 8) != 0 &&
         std::strncmp(pci.busId, "ffffffff", 8) != 0;
}

// NVLink links of `h`: per peer GPU (NVML index) the links that reach it directly,
// plus links that end on an NVSwitch or on an end NVML cannot name.
struct NvLinks {
  std::map<unsigned int, int> direct;
  int via_switch = 0, unresolved = 0, active = 0;
};
NvLinks nvlinks(Nvml& n, nvmlDevice_t h) {
  NvLinks l;
  for (unsigned int link = 0; n.link_state && link < NVML_NVLINK_MAX_LINKS; ++link) {
    nvmlEnableState_t on{};
    if (n.link_state(h, link, &on) != NVML_SUCCESS) break;  // no NVLink (or no more links)
    if (on != NVML_FEATURE_ENABLED) continue;
    ++l.active;
    int type = -1;
    if (n.remote_type && n.remote_type(h, link, &type) == NVML_SUCCESS && type == NVML_NVLINK_DEVICE_TYPE_SWITCH) {
      ++l.via_switch;
      continue;
    }
    nvmlPciInfo_t pci{};
    nvmlDevice_t peer{};
    unsigned int idx = 0;
    if (n.remote_pci && n.remote_pci(h, link, &pci) == NVML_SUCCESS && valid_bus_id(pci) &&
        (type == -1 || type == NVML_NVLINK_DEVICE_TYPE_GPU) && n.by_bus(pci.busId, &peer) == NVML_SUCCESS &&
        n.index && n.index(peer, &idx) == NVML_SUCCESS)
      ++l.direct[idx];
    else
      ++l.unresolved;
  }
  return l;
}

// Topology rows of this rank's GPU to every other GPU NVML sees: the link code
// (NV<links> when NVLink P2P works, else the PCIe path code) and the P2P status in
// `source` ("nvml p2p read=OK write=OK nvlink=OK atomics=OK"). Returns the GPU count.
unsigned int write_pairs(Nvml& n, nvmlDevice_t h, const RankRow& r, TraceWriter& w) {
  unsigned int count = 0, self = 0;
  if (!n.count || !n.by_index || !n.index || n.count(&count) != NVML_SUCCESS || n.index(h, &self) != NVML_SUCCESS)
    return 0;
  const NvLinks links = nvlinks(n, h);
  std::int64_t unresolved_rows = 0;
  for (unsigned int j = 0; j < count; ++j) {
    nvmlDevice_t o{};
    if (j == self || n.by_index(j, &o) != NVML_SUCCESS) continue;
    std::string status;
    bool nvlink_ok = false;
    for (const auto& c : kP2pCaps) {
      int st = -1;
      if (!n.p2p || n.p2p(h, o, c.index, &st) != NVML_SUCCESS) continue;
      status += std::string(" ") + c.name + "=" + (st == NVML_P2P_STATUS_OK ? "OK" : "NS" + std::to_string(st));
      if (c.index == 2 && st == NVML_P2P_STATUS_OK) nvlink_ok = true;
    }
    std::string code;
    if (auto it = links.direct.find(j); it != links.direct.end()) {
      code = "NV" + std::to_string(it->second);  // links whose far end is GPU j
    } else if (nvlink_ok && links.via_switch + links.unresolved > 0) {
      // Through an NVSwitch (or ends NVML cannot name): GPU j is reached with all of
      // this GPU's switch links, as `nvidia-smi topo -m` prints it (NV18 on H200 HGX).
      code = "NV" + std::to_string(links.via_switch + links.unresolved);
      if (links.via_switch == 0) ++unresolved_rows;
    } else if (int level = 0; n.ancestor && n.ancestor(h, o, &level) == NVML_SUCCESS && pcie_code(level)) {
      code = pcie_code(level);
    } else {
      continue;  // nothing known about this pair
    }
    TopologyRow t;
    t.host = r.host;
    t.a = "GPU" + std::to_string(self);
    t.b = "GPU" + std::to_string(j);
    t.rank_a = r.rank.value;
    t.link = code;
    t.source = "nvml" + (status.empty() ? std::string() : " p2p" + status);
    w.add(t);
  }
  if (links.via_switch > 0) {
    // NVSwitch systems (HGX H100/H200: 18 links per GPU, each to a switch): the far end
    // of every link is a switch port, for which NVML's remote PCI id is all ones. One
    // row for this GPU's aggregate into the fabric, the peer named "NVSwitch".
    TopologyRow t;
    t.host = r.host;
    t.a = "GPU" + std::to_string(self);
    t.b = "NVSwitch";
    t.rank_a = r.rank.value;
    t.link = "NV" + std::to_string(links.via_switch);
    t.source = "nvml nvlink remote=switch";
    w.add(t);
  }
  std::optional<std::int64_t> rank = r.rank.value >= 0 ? std::optional<std::int64_t>(r.rank.value) : std::nullopt;
  w.add(StatRow{"nvml_gpus", Severity::Info, static_cast<std::int64_t>(count), rank,
                "GPUs NVML sees on this host (topology rows pair this rank's GPU with each other one)"});
  if (unresolved_rows)
    w.add(StatRow{"nvml_nvlink_remote_unknown", Severity::Info, unresolved_rows, rank,
                  "GPU pairs linked by NVLinks whose far end NVML could not name (remote PCI id all ones); "
                  "mapped through NVML P2P status"});
  return count;
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
    (void)write_pairs(n, h, r, w);
  }
  w.add(r);
}

}  // namespace moetune::cupti
