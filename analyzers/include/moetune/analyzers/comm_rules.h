// SPDX-License-Identifier: Apache-2.0
// Which GPU activity is communication. The answer is a rule table (comm_rules.cpp),
// not string tests scattered over the analyses: every rule names a pattern, how it
// matches and what kind of communication it is. A kernel that no rule matches is
// compute: an unknown kernel never silently becomes communication.
// Cost: classify_kernel is a handful of prefix/substring tests; analyses classify
// each interned name once (CommClassifier) and then look up by StringId.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "moetune/trace/rows.h"

namespace moetune::analyzers {

enum class CommKind : std::uint8_t {
  None = 0,        // compute (or anything not known to be communication)
  NcclCollective,  // NCCL collective kernel (AllReduce, AllGather, ...)
  NcclP2P,         // NCCL send/recv kernel (all-to-all is grouped send/recv)
  EpDispatch,      // expert-parallel dispatch kernel (DeepEP-style)
  EpCombine,       // expert-parallel combine kernel
  EpNotify,        // expert-parallel layout/notify kernel (exchanges counts)
  OneSided,        // NVSHMEM-style one-sided transfer kernels
  PeerCopy,        // peer-to-peer memcpy
};
const char* to_string(CommKind k);

enum class MatchHow : std::uint8_t { Prefix, Contains };

struct CommRule {
  std::string_view scope;    // the rule applies only to names starting with this ("" = any name)
  std::string_view pattern;  // matched against the name with a leading "void " removed
  MatchHow how;
  CommKind kind;
  std::string_view what;  // one phrase for humans (shown in evidence)
};

// The rule table, in the order rules are tried (first match wins).
std::span<const CommRule> comm_rules();

// Kind of a kernel name; CommKind::None when no rule matches.
CommKind classify_kernel(std::string_view name);
// Index of the rule that matched, or -1.
int matching_rule(std::string_view name);

// A memcpy is communication when it is a peer copy (kind PtoP, or DtoD between
// two different known devices).
bool is_comm_memcpy(const MemcpyRow& m);

// NCCL kernel name decoded: "ncclKernel_AllReduce_RING_LL_Sum_float" (NCCL <= 2.18)
// and "ncclDevKernel_AllReduce_Sum_f32_RING_LL" (NCCL >= 2.19) -> {AllReduce, Ring, LL}.
struct NcclKernelInfo {
  std::string func;   // "AllReduce", "SendRecv", "AllGather", ... ("Generic" for ncclDevKernel_Generic)
  std::string algo;   // "Ring", "Tree", "CollNetDirect", "NVLS", ... or "" when the name does not say
  std::string proto;  // "LL", "LL128", "Simple" or ""
};
std::optional<NcclKernelInfo> parse_nccl_kernel(std::string_view name);

// True for collectives where NCCL_ALGO selects the algorithm (AllReduce-like);
// false for AllToAll / Send / Recv / SendRecv (grouped point-to-point).
bool algo_env_applies(std::string_view func);

// Names of host API calls that block the CPU until the GPU (or a copy) finishes.
// By name only: the api_calls kind "synchronization" also holds non-blocking
// cudaEventQuery and GPU-side cudaStreamWaitEvent records.
// A grouped send/recv (Send, Recv, SendRecv) whose peer is the rank itself: NCCL copies it
// locally, so it is not network traffic and no other rank takes part in it.
inline bool is_self_send(const NcclOpRow& o) {
  return (o.func == "Send" || o.func == "Recv" || o.func == "SendRecv") && o.peer >= 0 && o.peer == o.rank.value;
}
bool is_blocking_sync_api(std::string_view name);

// Classifies every interned string once; lookups by StringId are then O(1).
class CommClassifier {
 public:
  explicit CommClassifier(const std::vector<std::string>& strings);
  CommKind kind(StringId id) const {
    return id.value >= 0 && static_cast<std::size_t>(id.value) < kinds_.size() ? kinds_[id.value] : CommKind::None;
  }
  bool is_comm(StringId id) const { return kind(id) != CommKind::None; }

 private:
  std::vector<CommKind> kinds_;
};

}  // namespace moetune::analyzers
