// SPDX-License-Identifier: Apache-2.0
// "Is this GPU kernel communication": the built-in rule table, user rule files and the
// structural matcher for expert-parallel kernels (comm_vocab.h).
#include <algorithm>
#include <atomic>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "moetune/trace/comm_vocab.h"

namespace moetune::comm {

struct RuleSet::Compiled {
  std::vector<std::optional<std::regex>> re;  // per rule; set for MatchHow::Regex
};

namespace {

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

Rule R(std::string scope, std::string pattern, MatchHow how, Kind kind, std::string what) {
  return Rule{std::move(scope), std::move(pattern), how, kind, std::move(what)};
}

// First match wins. Sources of the names are cited per rule.
const std::vector<Rule>& table() {
  static const std::vector<Rule> t{
      // NCCL >= 2.19: ncclDevKernel_<Func>_<Op>_<type>_<ALGO>_<PROTO>, ncclDevKernel_SendRecv, _Generic.
      R("", "ncclDevKernel_SendRecv", MatchHow::Prefix, Kind::NcclP2P, "NCCL send/recv kernel (NCCL >= 2.19)"),
      R("", "ncclDevKernel_", MatchHow::Prefix, Kind::NcclCollective, "NCCL collective kernel (NCCL >= 2.19)"),
      // NCCL <= 2.18: ncclKernel_<Func>_<ALGO>_<PROTO>_<Op>_<type>.
      R("", "ncclKernel_SendRecv", MatchHow::Prefix, Kind::NcclP2P, "NCCL send/recv kernel (NCCL <= 2.18)"),
      R("", "ncclKernel_", MatchHow::Prefix, Kind::NcclCollective, "NCCL collective kernel (NCCL <= 2.18)"),
      // NCCL 2.7-2.11 ncclSendRecvKernel_*; NCCL < 2.7 ncclAllReduceRingLLKernel_*-style names.
      R("", "ncclSendRecvKernel", MatchHow::Prefix, Kind::NcclP2P, "NCCL send/recv kernel (NCCL 2.7-2.11)"),
      R("", "^nccl(AllReduce|AllGather|ReduceScatter|Broadcast|Reduce)[A-Za-z0-9]*Kernel", MatchHow::Regex,
        Kind::NcclCollective, "NCCL collective kernel (NCCL < 2.7)"),
      // Expert-parallel kernels by structure: notify_dispatch / notify_combine / cached_notify*,
      // ::dispatch, ::combine inside an EP namespace (deep_ep::intranode / internode / internode_ll
      // in deepseek-ai/DeepEP csrc/kernels/{intranode,internode,internode_ll}.cu, and forks under
      // other namespaces: uccl_ep::, my_ep::, ...), or snake-case names that say notify+dispatch/
      // combine, or dispatch/combine with an all-to-all word (tile-ai/tilelang
      // examples/distributed/deepseek_deepep/intranode/notify_dispatch.py). deep_ep::layout::
      // get_dispatch_layout computes the layout locally: compute.
      R("", "notify", MatchHow::EpStructure, Kind::EpNotify, "expert-parallel notify kernel (exchanges counts)"),
      R("", "dispatch", MatchHow::EpStructure, Kind::EpDispatch, "expert-parallel dispatch kernel"),
      R("", "combine", MatchHow::EpStructure, Kind::EpCombine, "expert-parallel combine kernel"),
      // pplx-kernels: dispatchKernel / combineKernel (global or anonymous namespace; NVSHMEM
      // internode and NVLink intranode versions), csrc/all_to_all/{internode,intranode}_{dispatch,combine}.cu.
      R("", "dispatchKernel", MatchHow::Function, Kind::EpDispatch, "pplx-kernels all-to-all dispatch kernel"),
      R("", "combineKernel", MatchHow::Function, Kind::EpCombine, "pplx-kernels all-to-all combine kernel"),
      // TensorRT-LLM (and FlashInfer's trtllm_alltoall, which runs the same kernels) MoE all-to-all:
      // cpp/tensorrt_llm/kernels/communicationKernels/moeAlltoAllKernels.cu (moeA2APrepareDispatchKernel,
      // moeA2ADispatchKernel, moeA2APrepareCombineKernel, moeA2ACombineKernel) and
      // cpp/tensorrt_llm/kernels/moeCommKernels.cu (moeAllToAllKernel, used for both directions).
      R("", "moeA2APrepareDispatchKernel", MatchHow::Function, Kind::EpNotify, "TensorRT-LLM MoE all-to-all prepare"),
      R("", "moeA2APrepareCombineKernel", MatchHow::Function, Kind::EpNotify, "TensorRT-LLM MoE all-to-all prepare"),
      R("", "moeA2ADispatchKernel", MatchHow::Function, Kind::EpDispatch, "TensorRT-LLM MoE all-to-all dispatch"),
      R("", "moeA2ACombineKernel", MatchHow::Function, Kind::EpCombine, "TensorRT-LLM MoE all-to-all combine"),
      R("", "moeAllToAllKernel", MatchHow::Function, Kind::NcclP2P, "TensorRT-LLM MoE all-to-all kernel"),
      // Triton-distributed's all_to_all_kernel (tutorials/04-deepseek-infer-all2all.py; names
      // starting all_to_all_): one kernel, both directions.
      R("", "all_to_all", MatchHow::EpStructure, Kind::NcclP2P, "all-to-all kernel"),
      // NVSHMEM (and its IBGDA transport) kernels: one-sided puts/gets issued from the GPU.
      R("", "nvshmemi_", MatchHow::Prefix, Kind::OneSided, "NVSHMEM transfer kernel"),
      R("", "nvshmemx_", MatchHow::Prefix, Kind::OneSided, "NVSHMEM transfer kernel"),
      R("", "nvshmem_", MatchHow::Prefix, Kind::OneSided, "NVSHMEM transfer kernel"),
  };
  return t;
}

const std::vector<std::optional<std::regex>>& table_regex() {
  static const std::vector<std::optional<std::regex>> re = [] {
    std::vector<std::optional<std::regex>> v;
    for (const auto& r : table())
      v.push_back(r.how == MatchHow::Regex ? std::optional<std::regex>(std::regex(r.pattern)) : std::nullopt);
    return v;
  }();
  return re;
}

// "ns1::ns2::fn" of a normalised kernel name: template arguments and parameters dropped,
// "(anonymous namespace)" kept as one part.
std::vector<std::string> qualified_parts(std::string_view n) {
  std::string s(n);
  for (std::size_t p; (p = s.find("(anonymous namespace)")) != std::string::npos;) s.replace(p, 21, "{anon}");
  std::string out;
  int depth = 0;
  for (char c : s) {
    if (c == '<') ++depth;
    else if (c == '>') depth = depth > 0 ? depth - 1 : 0;
    else if (depth == 0) {
      if (c == '(') break;
      out += c;
    }
  }
  if (auto sp = out.rfind(' '); sp != std::string::npos) out.erase(0, sp + 1);  // a return type left over
  std::vector<std::string> parts;
  for (std::size_t i = 0;;) {
    auto j = out.find("::", i);
    parts.push_back(out.substr(i, j == std::string::npos ? std::string::npos : j - i));
    if (j == std::string::npos) break;
    i = j + 2;
  }
  return parts;
}

std::vector<std::string> snake_tokens(std::string_view fn) {
  std::vector<std::string> t;
  std::string cur;
  for (char c : fn) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      cur += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!cur.empty()) {
      t.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) t.push_back(cur);
  return t;
}

bool has(const std::vector<std::string>& t, std::string_view w) { return std::find(t.begin(), t.end(), w) != t.end(); }

bool says_all_to_all(const std::vector<std::string>& t) {
  for (std::size_t i = 0; i + 2 < t.size(); ++i)
    if (t[i] == "all" && t[i + 1] == "to" && t[i + 2] == "all") return true;
  return has(t, "alltoall") || has(t, "all2all") || has(t, "a2a");
}

// A namespace of expert-parallel communication: DeepEP's intranode / internode / internode_ll,
// a library namespace ending in "ep" (deep_ep, uccl_ep, my_ep), low_latency.
bool ep_namespace(const std::string& part) {
  std::string p = lower(part);
  return p == "intranode" || p == "internode" || p == "internode_ll" || p == "intranode_ll" || p == "low_latency" ||
         p == "ep" || p == "deepep" || p.ends_with("_ep") || p.starts_with("ep_");
}

bool ep_structure(std::string_view word, std::string_view n) {
  auto parts = qualified_parts(n);
  const std::string& fn = parts.back();
  const auto tok = snake_tokens(fn);
  if (tok.empty()) return false;
  // Triton-distributed's kernel is named all_to_all_kernel; other names that merely contain an
  // all-to-all word (my_custom_alltoall_kernel) stay compute and show in trace health.
  if (word == "all_to_all") return tok.size() > 3 && tok[0] == "all" && tok[1] == "to" && tok[2] == "all";
  const bool ns_ep = std::any_of(parts.begin(), parts.end() - 1, ep_namespace);
  const bool notify = tok.front() == "notify" || (tok.front() == "cached" && tok.size() > 1 && tok[1] == "notify");
  if (word == "notify") {
    if (ns_ep) return notify;
    return has(tok, "notify") && (has(tok, "dispatch") || has(tok, "combine"));
  }
  if (notify || has(tok, "layout")) return false;  // notify_* is the notify rule's; *_layout is local compute
  if (ns_ep) return tok.front() == word || tok.back() == word;  // ::dispatch, ::dispatch_ll, ::internode_dispatch
  // Outside an EP namespace: a snake-case name with the word and an all-to-all / EP word.
  if (!has(tok, std::string(word)) || fn.find('_') == std::string::npos) return false;
  for (std::string_view ctx : {"ep", "intranode", "internode", "ll", "nvshmem", "ibgda", "mnnvl"})
    if (has(tok, std::string(ctx))) return true;
  return says_all_to_all(tok);
}

bool matches(const Rule& r, const std::optional<std::regex>& re, std::string_view n) {
  if (!n.starts_with(r.scope)) return false;
  switch (r.how) {
    case MatchHow::Prefix: return n.starts_with(r.pattern);
    case MatchHow::Contains: return n.find(r.pattern) != std::string_view::npos;
    case MatchHow::Regex: return re && std::regex_search(n.begin(), n.end(), *re);
    case MatchHow::Function: return qualified_parts(n).back() == r.pattern;
    case MatchHow::EpStructure: return ep_structure(r.pattern, n);
  }
  return false;
}

thread_local const RuleSet* t_active = nullptr;
std::shared_ptr<const RuleSet> g_default_owner;
std::atomic<const RuleSet*> g_default{nullptr};

}  // namespace

const char* to_string(Kind k) {
  switch (k) {
    case Kind::None: return "compute";
    case Kind::NcclCollective: return "nccl_collective";
    case Kind::NcclP2P: return "nccl_p2p";
    case Kind::EpDispatch: return "ep_dispatch";
    case Kind::EpCombine: return "ep_combine";
    case Kind::EpNotify: return "ep_notify";
    case Kind::OneSided: return "one_sided";
    case Kind::PeerCopy: return "peer_copy";
  }
  return "compute";
}

std::optional<Kind> kind_from_rule_word(std::string_view w) {
  if (w == "collective") return Kind::NcclCollective;
  if (w == "p2p") return Kind::NcclP2P;
  if (w == "dispatch") return Kind::EpDispatch;
  if (w == "combine") return Kind::EpCombine;
  if (w == "notify") return Kind::EpNotify;
  if (w == "one_sided") return Kind::OneSided;
  if (w == "none") return Kind::None;
  return std::nullopt;
}

std::span<const Rule> builtin_rules() { return table(); }

struct Matcher {
  static Match run(std::string_view name, const RuleSet* user) {
    const std::string n = normalised_name(name);
    if (user && user->compiled_)
      for (std::size_t i = 0; i < user->rules_.size(); ++i)
        if (matches(user->rules_[i], user->compiled_->re[i], n)) return {user->rules_[i].kind, &user->rules_[i], true};
    const auto& t = table();
    const auto& re = table_regex();
    for (std::size_t i = 0; i < t.size(); ++i)
      if (matches(t[i], re[i], n)) return {t[i].kind, &t[i], false};
    return {};
  }
};

Match match_kernel(std::string_view name, const RuleSet* user) { return Matcher::run(name, user); }
Match match_kernel(std::string_view name) { return Matcher::run(name, active_rules()); }
Kind classify_kernel(std::string_view name, const RuleSet* user) { return match_kernel(name, user).kind; }
Kind classify_kernel(std::string_view name) { return match_kernel(name).kind; }

ScopedRules::ScopedRules(const RuleSet* rules) : prev_(t_active) { t_active = rules; }
ScopedRules::~ScopedRules() { t_active = prev_; }
const RuleSet* active_rules() { return t_active ? t_active : g_default.load(std::memory_order_acquire); }
void set_default_rules(std::shared_ptr<const RuleSet> rules) {
  g_default.store(rules.get(), std::memory_order_release);
  g_default_owner = std::move(rules);
}

bool looks_like_comm(std::string_view name) {
  const std::string n = normalised_name(name);
  auto parts = qualified_parts(n);
  std::string path, path_cased;  // namespaces and function, template arguments and parameters dropped
  for (const auto& p : parts) path += lower(p) + " ", path_cased += p + " ";
  for (std::string_view w : {"alltoall", "all_to_all", "all2all", "a2a", "dispatch", "combine", "nvshmem", "ibgda",
                             "allreduce", "all_reduce", "allgather", "all_gather", "reduce_scatter", "reducescatter",
                             "p2p", "sendrecv", "send_recv", "nccl", "rccl", "mnnvl"})
    if (path.find(w) != std::string::npos) return true;
  // "send" / "recv" as words only ("descend" is not communication).
  std::vector<std::string> tok;
  std::string cur;
  for (const char c : path_cased) {
    bool boundary = !std::isalnum(static_cast<unsigned char>(c)) ||
                    (std::isupper(static_cast<unsigned char>(c)) && !cur.empty() &&
                     std::islower(static_cast<unsigned char>(cur.back())));
    if (boundary && !cur.empty()) tok.push_back(lower(cur)), cur.clear();
    if (std::isalnum(static_cast<unsigned char>(c))) cur += c;
  }
  if (!cur.empty()) tok.push_back(lower(cur));
  for (const auto& t : tok)
    if (t == "send" || t == "recv" || t == "isend" || t == "irecv") return true;
  return false;
}

Expected<RuleSet> RuleSet::parse(const std::string& text, const std::string& origin) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return Error{origin + ": not valid JSON (expected a list of {pattern, match, kind} rules)"};
  const nlohmann::json* list = &j;
  if (j.is_object()) {
    if (!j.contains("rules") || j.size() != 1)
      return Error{origin + ": expected a JSON list of rules or {\"rules\": [...]}"};
    list = &j["rules"];
  }
  if (!list->is_array()) return Error{origin + ": \"rules\" must be a JSON list of {pattern, match, kind} objects"};
  RuleSet s;
  s.origin_ = origin;
  auto compiled = std::make_shared<Compiled>();
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto& e = (*list)[i];
    const std::string at = origin + ": rule " + std::to_string(i + 1) + ": ";
    if (!e.is_object()) return Error{at + "not an object"};
    for (auto it = e.begin(); it != e.end(); ++it) {
      const std::string& k = it.key();
      if (k != "pattern" && k != "match" && k != "kind" && k != "scope" && k != "what")
        return Error{at + "unknown key \"" + k + "\" (known: pattern, match, kind, scope, what)"};
      if (!it.value().is_string()) return Error{at + "\"" + k + "\" must be a string"};
    }
    if (!e.contains("pattern") || e["pattern"].get<std::string>().empty()) return Error{at + "missing \"pattern\""};
    if (!e.contains("kind")) return Error{at + "missing \"kind\""};
    Rule r;
    r.pattern = e["pattern"].get<std::string>();
    r.scope = e.value("scope", std::string());
    const std::string how = e.value("match", std::string("contains"));
    if (how == "prefix") r.how = MatchHow::Prefix;
    else if (how == "contains") r.how = MatchHow::Contains;
    else if (how == "regex") r.how = MatchHow::Regex;
    else return Error{at + "match \"" + how + "\" is not prefix, contains or regex"};
    auto kind = kind_from_rule_word(e["kind"].get<std::string>());
    if (!kind)
      return Error{at + "kind \"" + e["kind"].get<std::string>() +
                   "\" is not collective, p2p, dispatch, combine, notify, one_sided or none"};
    r.kind = *kind;
    r.what = e.value("what", std::string("user rule (") + origin + ")");
    std::optional<std::regex> re;
    if (r.how == MatchHow::Regex) {
      try {
        re = std::regex(r.pattern);
      } catch (const std::regex_error& x) {
        return Error{at + "pattern \"" + r.pattern + "\" is not a valid regex (" + x.what() + ")"};
      }
    }
    compiled->re.push_back(std::move(re));
    s.rules_.push_back(std::move(r));
  }
  s.compiled_ = std::move(compiled);
  return s;
}

Expected<RuleSet> RuleSet::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{path + ": cannot open communication rules file"};
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

}  // namespace moetune::comm
