// SPDX-License-Identifier: Apache-2.0
// The analyzers' view of the communication vocabulary. Which kernel is communication,
// NCCL kernel-name decoding and the rule table live in moetune/trace/comm_vocab.h (one
// copy for importers, analyzers and GUI); this header gives them their analyzer names and
// adds what only the analyses need: peer-copy memcpys, blocking sync APIs, self sends,
// the per-run classifier and the trace-health line for unclassified comm-like kernels.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "moetune/trace/comm_vocab.h"
#include "moetune/trace/rows.h"

namespace moetune::analyzers {

using CommKind = comm::Kind;
using CommRule = comm::Rule;
using MatchHow = comm::MatchHow;
using NcclKernelInfo = comm::NcclKernel;
using comm::algo_env_applies;
using comm::parse_nccl_kernel;

// The built-in rule table, in the order rules are tried (first match wins).
inline std::span<const CommRule> comm_rules() { return comm::builtin_rules(); }
// Kind of a kernel name with the rules active on this thread (analyze() installs the
// user's --comm-rules file); CommKind::None when no rule matches.
inline CommKind classify_kernel(std::string_view name) { return comm::classify_kernel(name); }
// Index in comm_rules() of the built-in rule that matches the name, or -1.
inline int matching_rule(std::string_view name) {
  auto m = comm::match_kernel(name, nullptr);
  return m.rule ? static_cast<int>(m.rule - comm::builtin_rules().data()) : -1;
}

// A memcpy is communication when it is a peer copy (kind PtoP, or DtoD between
// two different known devices).
bool is_comm_memcpy(const MemcpyRow& m);

// The one rule every analysis uses to tell which kind of NCCL call a function name is
// (NcclOpRow::func, an aligned instance's func, a decoded kernel's func). The name is read
// in any spelling the vocabulary knows: a name that starts with a collective
// (comm::func_from_name: "AllToAll", "all_to_all_single", "ncclAlltoAll", "send",
// "ncclSend"), else one that names it inside (comm::func_in_text: "c10d::alltoall_").
// The importers store the canonical names, which are recognised without parsing.
enum class OpFamily : std::uint8_t { Other, AllToAll, Send, Recv, SendRecv };
OpFamily op_family(std::string_view func);
inline bool is_alltoall_op(std::string_view func) { return op_family(func) == OpFamily::AllToAll; }
// Grouped point-to-point: Send, Recv or SendRecv (all-to-all is built from these in NCCL).
inline bool is_p2p_op(std::string_view func) {
  const OpFamily f = op_family(func);
  return f == OpFamily::Send || f == OpFamily::Recv || f == OpFamily::SendRecv;
}
// A grouped send/recv (Send, Recv, SendRecv) whose peer is the rank itself: NCCL copies it
// locally, so it is not network traffic and no other rank takes part in it.
inline bool is_self_send(const NcclOpRow& o) { return is_p2p_op(o.func) && o.peer >= 0 && o.peer == o.rank.value; }
// Names of host API calls that block the CPU until the GPU (or a copy) finishes.
// By name only: the api_calls kind "synchronization" also holds non-blocking
// cudaEventQuery and GPU-side cudaStreamWaitEvent records.
bool is_blocking_sync_api(std::string_view name);

// Classifies every interned string once (with the thread's active rules, or `user` when
// given); lookups by StringId are then O(1).
class CommClassifier {
 public:
  explicit CommClassifier(const std::vector<std::string>& strings, const comm::RuleSet* user = nullptr);
  CommKind kind(StringId id) const {
    return id.value >= 0 && static_cast<std::size_t>(id.value) < kinds_.size() ? kinds_[id.value] : CommKind::None;
  }
  bool is_comm(StringId id) const { return kind(id) != CommKind::None; }

 private:
  std::vector<CommKind> kinds_;
};

// Trace health: kernels no rule classifies whose names look like communication
// (comm::looks_like_comm), heaviest total GPU time first.
struct UnclassifiedComm {
  std::string name;
  std::int64_t total_ns = 0;
  std::int64_t count = 0;
};
std::vector<UnclassifiedComm> unclassified_comm_like(const std::vector<std::string>& strings,
                                                     const std::vector<KernelRow>& kernels, std::size_t top = 3);
// One line naming them with their time ("" when there are none).
std::string unclassified_comm_line(const std::vector<UnclassifiedComm>& u);

}  // namespace moetune::analyzers
