// SPDX-License-Identifier: Apache-2.0
// The communication vocabulary, one copy for the whole tree (importers, analyzers, GUI,
// synth): NCCL function and dtype names, NCCL kernel-name decoding, the nccl-tests
// bus-bandwidth factor and "is this GPU kernel communication" as a rule table.
//
// Classification: a kernel name is matched against the user's rules first (a file given
// with --comm-rules, docs/COMM-RULES.md), then the built-in table (comm_vocab.cpp); the
// first rule that matches decides. A name no rule matches is compute: an unknown kernel
// never silently becomes communication. Built-in rules match NCCL kernels by prefix and
// expert-parallel dispatch/combine/notify kernels by structure (namespace + function),
// so forks of DeepEP under other namespaces are recognised too.
// Names are matched demangled ("_Z..." from CUPTI is demangled first) with a leading
// "void " removed. Cost: a few string tests per distinct name; analyses classify each
// interned string once.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "moetune/trace/result.h"

namespace moetune::comm {

enum class Kind : std::uint8_t {
  None = 0,        // compute (or anything not known to be communication)
  NcclCollective,  // NCCL collective kernel (AllReduce, AllGather, ...)
  NcclP2P,         // send/recv kernel (all-to-all is grouped send/recv)
  EpDispatch,      // expert-parallel dispatch kernel
  EpCombine,       // expert-parallel combine kernel
  EpNotify,        // expert-parallel layout/notify kernel (exchanges counts)
  OneSided,        // NVSHMEM-style one-sided transfer kernels
  PeerCopy,        // peer-to-peer memcpy
};
// "compute", "nccl_collective", "nccl_p2p", "ep_dispatch", "ep_combine", "ep_notify",
// "one_sided", "peer_copy" (the names analyze --json uses).
const char* to_string(Kind k);
// The kind words of a rules file: collective, p2p, dispatch, combine, notify, one_sided, none.
std::optional<Kind> kind_from_rule_word(std::string_view w);

// ---- names ------------------------------------------------------------------------
// Canonical collective name ("AllReduce", "AllGather", "ReduceScatter", "AllToAll",
// "Broadcast", "Reduce", "SendRecv", "Send", "Recv", "Gather", "Scatter", "Barrier")
// of a name that starts with one, in any spelling: PyTorch ops ("all_to_all_single",
// "_allgather_base", "reduce_scatter_tensor"), NCCL API ("ncclAllReduce", "ncclBcast",
// "ncclAlltoAll"). Empty when the name does not start with a collective.
std::string func_from_name(std::string_view name);
// The collective named anywhere inside a longer text: nccl-tests binaries and file names
// ("all_reduce_perf", "ncclt78_v100_alltoall_bad.txt", "a2a"). Empty when none.
std::string func_in_text(std::string_view text);

// Bytes per element of a dtype in any spelling seen in traces: PyTorch ("Float", "BFloat16",
// "c10::Half", "Long"), nccl-tests ("float", "bfloat16", "int8", "f8e4m3"), NCCL kernel
// names ("f32", "bf16", "u8"), NCCL enums ("ncclFloat16"). 0 when unknown.
int dtype_size(std::string_view dtype);
// True for floating-point dtypes (fp64/fp32/fp16/bf16/fp8 in any spelling above); integers,
// bool and complex types are not.
bool dtype_is_float(std::string_view dtype);
// Display name of a dtype as nccl-tests prints it ("float" -> "Float", "bfloat16" ->
// "BFloat16"); the input unchanged when not known.
std::string dtype_name(std::string_view dtype);

// nccl-tests bus-bandwidth factor (busbw = algbw x factor) of a collective on n ranks:
// AllReduce 2(n-1)/n; AllGather, ReduceScatter, AllToAll, Gather, Scatter (n-1)/n; the
// rest 1. n <= 0 (unknown communicator size): 1, i.e. report algbw. Any spelling of func.
double busbw_factor(std::string_view func, int nranks);

// ---- NCCL kernel names --------------------------------------------------------------
// "ncclKernel_AllReduce_RING_LL_Sum_float" (NCCL <= 2.18), "ncclDevKernel_AllReduce_Sum_f32_RING_LL"
// (>= 2.19), "ncclDevKernel_SendRecv", "ncclAllReduceRingLLKernel_sum_f32" (NCCL < 2.7),
// each also as "void NAME(args)" or mangled "_Z...".
struct NcclKernel {
  std::string func;   // "AllReduce", "SendRecv", ... ("Generic" for ncclDevKernel_Generic)
  std::string algo;   // "Ring", "Tree", "CollNetDirect", "CollNetChain", "NVLS", "NVLSTree", "PAT" or ""
  std::string proto;  // "LL", "LL128", "Simple" or ""
  std::string redop;  // "Sum", "Prod", "Min", "Max", "PreMulSum", "SumPostDiv", "Avg" or ""
  std::string dtype;  // as the name writes it ("f32", "bf16", "float", "int8") or ""
};
bool is_nccl_kernel(std::string_view name);
std::optional<NcclKernel> parse_nccl_kernel(std::string_view name);
// True for collectives where NCCL_ALGO selects the algorithm (AllReduce-like); false for
// AllToAll / Send / Recv / SendRecv (grouped point-to-point).
bool algo_env_applies(std::string_view func);

// ---- classification -----------------------------------------------------------------
// Function: the unqualified function name equals the pattern (any namespace, template
// arguments and parameters ignored). EpStructure: the structural EP matcher (built-in only).
enum class MatchHow : std::uint8_t { Prefix, Contains, Regex, Function, EpStructure };

struct Rule {
  std::string scope;    // applies only to names starting with this ("" = any name)
  std::string pattern;  // prefix / substring / ECMAScript regex (searched) / function word
  MatchHow how = MatchHow::Prefix;
  Kind kind = Kind::None;  // Kind::None: "this is compute" (a user rule can say so)
  std::string what;        // one phrase for humans (shown in evidence and `info`)
};

// A set of rules tried in order, first match wins (user rules from a file).
class RuleSet {
 public:
  RuleSet() = default;
  // Parses a rules file (docs/COMM-RULES.md). Error: "FILE: what is wrong" (one line).
  static Expected<RuleSet> load(const std::string& path);
  static Expected<RuleSet> parse(const std::string& json_text, const std::string& origin);
  std::span<const Rule> rules() const { return rules_; }
  const std::string& origin() const { return origin_; }
  bool empty() const { return rules_.empty(); }

 private:
  struct Compiled;
  std::vector<Rule> rules_;
  std::shared_ptr<const Compiled> compiled_;  // regexes, one per Regex rule
  std::string origin_;
  friend struct Matcher;
};

// The built-in table, in the order it is tried.
std::span<const Rule> builtin_rules();

struct Match {
  Kind kind = Kind::None;
  const Rule* rule = nullptr;  // nullptr: no rule matched (compute)
  bool user = false;           // the rule came from the user's file
};
// Classifies a kernel name: user rules (when given) first, then the built-in table.
Match match_kernel(std::string_view name, const RuleSet* user);
// The same with the rules active on this thread (ScopedRules), else the built-in table.
Match match_kernel(std::string_view name);
Kind classify_kernel(std::string_view name, const RuleSet* user);
Kind classify_kernel(std::string_view name);

// Installs user rules for this thread while it lives (analyze() sets the run's rules so
// every analysis classifies alike). Nests; restores the previous set on destruction.
class ScopedRules {
 public:
  explicit ScopedRules(const RuleSet* rules);
  ~ScopedRules();
  ScopedRules(const ScopedRules&) = delete;
  ScopedRules& operator=(const ScopedRules&) = delete;

 private:
  const RuleSet* prev_;
};
// This thread's rules (ScopedRules), else the process default (set_default_rules), else null.
const RuleSet* active_rules();
// Process-wide default rules, for programs that load one file at start (moetune-gui
// --comm-rules FILE): call before other threads classify. Kept alive by the vocabulary.
void set_default_rules(std::shared_ptr<const RuleSet> rules);

// True when an unclassified kernel's name looks like communication (alltoall, a2a,
// dispatch, combine, send, recv, nvshmem, ibgda, allreduce, allgather, reduce_scatter, p2p,
// ...): trace health names the heaviest of them so users know to add a rule.
bool looks_like_comm(std::string_view name);

// Demangled name with a leading "void " removed (what rules match against).
std::string normalised_name(std::string_view name);

}  // namespace moetune::comm
