// SPDX-License-Identifier: Apache-2.0
// The communication rule table and NCCL kernel-name decoding (see comm_rules.h).
#include "moetune/analyzers/comm_rules.h"

#include <cxxabi.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>

namespace moetune::analyzers {
namespace {

// First match wins. Patterns are matched case-sensitively against the name with a
// leading "void " (Kineto/nsys demangled signatures) removed.
constexpr std::array kRules{
    // NCCL >= 2.19: ncclDevKernel_<Func>_<Op>_<type>_<ALGO>_<PROTO>, ncclDevKernel_SendRecv, _Generic.
    CommRule{"", "ncclDevKernel_SendRecv", MatchHow::Prefix, CommKind::NcclP2P, "NCCL send/recv kernel (NCCL >= 2.19)"},
    CommRule{"", "ncclDevKernel_", MatchHow::Prefix, CommKind::NcclCollective, "NCCL collective kernel (NCCL >= 2.19)"},
    // NCCL <= 2.18: ncclKernel_<Func>_<ALGO>_<PROTO>_<Op>_<type>.
    CommRule{"", "ncclKernel_SendRecv", MatchHow::Prefix, CommKind::NcclP2P, "NCCL send/recv kernel (NCCL <= 2.18)"},
    CommRule{"", "ncclKernel_", MatchHow::Prefix, CommKind::NcclCollective, "NCCL collective kernel (NCCL <= 2.18)"},
    // NCCL 2.7-2.11 launched ncclSendRecvKernel_* and ncclAllReduceRingLLKernel_*-style names.
    CommRule{"", "ncclSendRecvKernel", MatchHow::Prefix, CommKind::NcclP2P, "NCCL send/recv kernel (NCCL 2.7-2.11)"},
    // DeepEP (deep_ep::intranode / internode / internode_ll); layout kernels stay compute.
    CommRule{"deep_ep::", "notify_dispatch", MatchHow::Contains, CommKind::EpNotify, "DeepEP notify (dispatch layout exchange)"},
    CommRule{"deep_ep::", "notify_combine", MatchHow::Contains, CommKind::EpNotify, "DeepEP notify (combine)"},
    CommRule{"deep_ep::", "::dispatch", MatchHow::Contains, CommKind::EpDispatch, "DeepEP dispatch kernel"},
    CommRule{"deep_ep::", "::combine", MatchHow::Contains, CommKind::EpCombine, "DeepEP combine kernel"},
    // NVSHMEM one-sided transfers issued as kernels.
    CommRule{"", "nvshmemi_", MatchHow::Prefix, CommKind::OneSided, "NVSHMEM transfer kernel"},
    CommRule{"", "nvshmem_", MatchHow::Prefix, CommKind::OneSided, "NVSHMEM transfer kernel"},
};

std::string_view strip_void(std::string_view n) {
  if (n.starts_with("void ")) n.remove_prefix(5);
  return n;
}

// CUPTI (and so the live collector) reports kernel names mangled: "_Z22ncclDevKernel_SendRecv24
// ncclDevKernelArgsStorageILm4096EE". The rules are written for demangled names (Kineto, nsys),
// so a mangled name is demangled first; a name that does not demangle is matched as it is.
std::string demangle(std::string_view n) {
  if (!n.starts_with("_Z")) return std::string(n);
  std::string z(n);
  int status = 0;
  char* d = abi::__cxa_demangle(z.c_str(), nullptr, nullptr, &status);
  if (status == 0 && d) z = d;
  std::free(d);
  return z;
}

bool matches(const CommRule& r, std::string_view n) {
  if (!n.starts_with(r.scope)) return false;
  return r.how == MatchHow::Prefix ? n.starts_with(r.pattern) : n.find(r.pattern) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string algo_name(std::string_view upper) {
  auto l = lower(upper);
  if (l == "ring") return "Ring";
  if (l == "tree") return "Tree";
  if (l == "collnet" || l == "collnetdirect") return "CollNetDirect";
  if (l == "collnetchain") return "CollNetChain";
  if (l == "nvls") return "NVLS";
  if (l == "nvlstree") return "NVLSTree";
  if (l == "pat") return "PAT";
  return "";
}

std::string proto_name(std::string_view upper) {
  auto l = lower(upper);
  if (l == "ll") return "LL";
  if (l == "ll128") return "LL128";
  if (l == "simple") return "Simple";
  return "";
}

}  // namespace

const char* to_string(CommKind k) {
  switch (k) {
    case CommKind::None: return "compute";
    case CommKind::NcclCollective: return "nccl_collective";
    case CommKind::NcclP2P: return "nccl_p2p";
    case CommKind::EpDispatch: return "ep_dispatch";
    case CommKind::EpCombine: return "ep_combine";
    case CommKind::EpNotify: return "ep_notify";
    case CommKind::OneSided: return "one_sided";
    case CommKind::PeerCopy: return "peer_copy";
  }
  return "compute";
}

std::span<const CommRule> comm_rules() { return kRules; }

int matching_rule(std::string_view name) {
  const std::string full = demangle(name);
  auto n = strip_void(full);
  for (std::size_t i = 0; i < kRules.size(); ++i)
    if (matches(kRules[i], n)) return static_cast<int>(i);
  return -1;
}

CommKind classify_kernel(std::string_view name) {
  int i = matching_rule(name);
  return i < 0 ? CommKind::None : kRules[static_cast<std::size_t>(i)].kind;
}

bool is_comm_memcpy(const MemcpyRow& m) {
  if (m.kind == CopyKind::PtoP) return true;
  return m.kind == CopyKind::DtoD && m.src_device >= 0 && m.dst_device >= 0 && m.src_device != m.dst_device;
}

std::optional<NcclKernelInfo> parse_nccl_kernel(std::string_view name) {
  const std::string full = demangle(name);
  auto n = strip_void(full);
  bool dev = n.starts_with("ncclDevKernel_");
  if (!dev && !n.starts_with("ncclKernel_")) return std::nullopt;
  n.remove_prefix(dev ? 14 : 11);
  if (auto p = n.find_first_of("(<"); p != std::string_view::npos) n = n.substr(0, p);
  std::vector<std::string_view> parts;
  while (!n.empty()) {
    auto p = n.find('_');
    parts.push_back(n.substr(0, p));
    if (p == std::string_view::npos) break;
    n.remove_prefix(p + 1);
  }
  if (parts.empty() || parts[0].empty()) return std::nullopt;
  NcclKernelInfo info;
  info.func = std::string(parts[0]);
  for (std::size_t i = 1; i < parts.size(); ++i) {
    if (info.algo.empty()) {
      if (auto a = algo_name(parts[i]); !a.empty()) {
        info.algo = a;
        continue;
      }
    }
    if (info.proto.empty()) {
      if (auto p = proto_name(parts[i]); !p.empty()) info.proto = p;
    }
  }
  return info;
}

bool algo_env_applies(std::string_view func) {
  auto l = lower(func);
  l.erase(std::remove(l.begin(), l.end(), '_'), l.end());
  for (std::string_view p2p : {"alltoall", "alltoallv", "send", "recv", "sendrecv", "generic"})
    if (l == p2p) return false;
  return l == "allreduce" || l == "reducescatter" || l == "allgather" || l == "broadcast" || l == "reduce";
}

bool is_blocking_sync_api(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kSync{
      "cudaDeviceSynchronize", "cudaStreamSynchronize", "cudaEventSynchronize", "cudaMemcpy",
      "cudaMemcpy2D",          "cuCtxSynchronize",      "cuStreamSynchronize",  "cuEventSynchronize",
      "cuMemcpyDtoH",          "cuMemcpyHtoD",          "cuMemcpy",             "cudaThreadSynchronize"};
  // nsys adds a version suffix ("cudaStreamSynchronize_v3020"); Kineto's cuda_sync rows
  // are named "Stream Sync", "Context Sync", "Event Sync".
  auto base = name.substr(0, name.find("_v"));
  for (auto s : kSync)
    if (base == s) return true;
  return name == "Stream Sync" || name == "Context Sync" || name == "Event Sync" || name == "Device Synchronize";
}

CommClassifier::CommClassifier(const std::vector<std::string>& strings) {
  kinds_.resize(strings.size(), CommKind::None);
  for (std::size_t i = 0; i < strings.size(); ++i) kinds_[i] = classify_kernel(strings[i]);
}

}  // namespace moetune::analyzers
