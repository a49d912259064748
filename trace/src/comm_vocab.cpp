// SPDX-License-Identifier: Apache-2.0
// Names of the communication vocabulary (comm_vocab.h): collectives, dtypes, the
// nccl-tests bus-bandwidth factor and NCCL kernel-name decoding. The rule table and
// classification live in comm_classify.cpp.
#include <cxxabi.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>

#include "moetune/trace/comm_vocab.h"

namespace moetune::comm {
namespace {

// Lower case without '_', ' ', '-' (PyTorch, NCCL API and nccl-tests spellings compare equal).
std::string squash(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c != '_' && c != ' ' && c != '-') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

// Prefix of a squashed name -> canonical collective. Order matters: "reducescatter"
// before "reduce", "sendrecv" before "send", "alltoall" spellings first.
constexpr std::pair<std::string_view, std::string_view> kStartsWith[] = {
    {"allreduce", "AllReduce"},
    {"alltoall", "AllToAll"},
    {"all2all", "AllToAll"},
    {"allgather", "AllGather"},
    {"reducescatter", "ReduceScatter"},
    {"broadcast", "Broadcast"},
    {"bcast", "Broadcast"},
    {"sendrecv", "SendRecv"},
    {"send", "Send"},
    {"recv", "Recv"},
    {"reduce", "Reduce"},
    {"gather", "Gather"},
    {"scatter", "Scatter"},
    {"barrier", "Barrier"},
    {"hypercube", "Hypercube"},
    {"a2a", "AllToAll"},
};

// Substring of a lower-case text (nccl-tests binary or file names) -> collective.
// Order matters: "reduce_scatter" before "reduce", "all_gather" before "gather".
constexpr std::pair<std::string_view, std::string_view> kInText[] = {
    {"all_reduce", "AllReduce"},  {"allreduce", "AllReduce"},        {"all_gather", "AllGather"},
    {"allgather", "AllGather"},   {"reduce_scatter", "ReduceScatter"}, {"reducescatter", "ReduceScatter"},
    {"alltoall", "AllToAll"},     {"all_to_all", "AllToAll"},        {"a2a", "AllToAll"},
    {"sendrecv", "SendRecv"},     {"send_recv", "SendRecv"},         {"broadcast", "Broadcast"},
    {"hypercube", "Hypercube"},   {"gather", "Gather"},              {"scatter", "Scatter"},
    {"reduce", "Reduce"},
};

struct DtypeEntry {
  std::string_view squashed;
  int size;
  std::string_view display;  // nccl-tests spelling for dtype_name ("" = keep the input)
};
constexpr DtypeEntry kDtypes[] = {
    {"float", 4, "Float"},       {"float32", 4, "Float"},      {"fp32", 4, ""},         {"fp16", 2, ""},
    {"fp64", 8, ""},      {"f32", 4, ""},          {"int", 4, ""},
    {"int32", 4, "Int32"},       {"int32t", 4, ""},            {"i32", 4, ""},          {"uint32", 4, "Uint32"},
    {"uint32t", 4, ""},          {"u32", 4, ""},               {"qint32", 4, ""},       {"complexhalf", 4, ""},
    {"double", 8, "Double"},     {"float64", 8, "Double"},     {"f64", 8, ""},          {"long", 8, ""},
    {"int64", 8, "Int64"},       {"int64t", 8, ""},            {"i64", 8, ""},          {"uint64", 8, "Uint64"},
    {"uint64t", 8, ""},          {"u64", 8, ""},               {"complexfloat", 8, ""}, {"half", 2, "Half"},
    {"float16", 2, "Half"},      {"f16", 2, ""},               {"bfloat16", 2, "BFloat16"}, {"bf16", 2, ""},
    {"nvbfloat16", 2, ""},       {"ncclbfloat16", 2, ""},      {"short", 2, ""},        {"int16", 2, ""},
    {"uint16", 2, ""},           {"byte", 1, ""},              {"char", 1, ""},         {"bool", 1, ""},
    {"int8", 1, "Int8"},         {"int8t", 1, ""},             {"i8", 1, ""},           {"uint8", 1, "Uint8"},
    {"uint8t", 1, ""},           {"u8", 1, ""},                {"qint8", 1, ""},        {"quint8", 1, ""},        {"rcclbfloat16", 2, ""},
};

std::string demangle(std::string_view n) {
  if (!n.starts_with("_Z")) return std::string(n);
  std::string z(n);
  int status = 0;
  char* d = abi::__cxa_demangle(z.c_str(), nullptr, nullptr, &status);
  if (status == 0 && d) z = d;
  std::free(d);
  return z;
}

// NCCL_ALGO spelling of one (or two, "COLLNET_DIRECT") name tokens; `used` tokens consumed.
std::string algo_of(std::string_view tok, std::string_view next, int& used) {
  used = 1;
  auto t = lower(tok), n = lower(next);
  if (t == "ring") return "Ring";
  if (t == "tree") return "Tree";
  if (t == "pat") return "PAT";
  if (t == "nvls") return n == "tree" ? (used = 2, "NVLSTree") : "NVLS";
  if (t == "nvlstree") return "NVLSTree";
  if (t == "collnet") {
    if (n == "direct") return used = 2, "CollNetDirect";
    if (n == "chain") return used = 2, "CollNetChain";
    return "CollNetDirect";  // NCCL <= 2.11 had only the direct CollNet algorithm
  }
  if (t == "collnetdirect") return "CollNetDirect";
  if (t == "collnetchain") return "CollNetChain";
  return "";
}

std::string proto_of(std::string_view tok) {
  auto l = lower(tok);
  if (l == "ll") return "LL";
  if (l == "ll128") return "LL128";
  if (l == "simple") return "Simple";
  return "";
}

std::string redop_of(std::string_view tok) {
  for (std::string_view op : {"Sum", "Prod", "Min", "Max", "PreMulSum", "SumPostDiv", "Avg"})
    if (lower(tok) == lower(op)) return std::string(op);
  return "";
}

// NCCL < 2.7 kernels: "ncclAllReduceRingLLKernel_sum_f32" -> func, algo, proto from CamelCase.
std::optional<NcclKernel> parse_old_style(std::string_view n) {
  auto k = n.find("Kernel");
  if (k == std::string_view::npos || k <= 4) return std::nullopt;
  std::string body(n.substr(4, k - 4));  // "AllReduceRingLL"
  NcclKernel out;
  for (std::string_view p : {"LL128", "LL", "Simple"})
    if (body.size() > p.size() && body.ends_with(p)) {
      out.proto = std::string(p);
      body.resize(body.size() - p.size());
      break;
    }
  for (std::string_view a : {"CollNet", "Ring", "Tree"})
    if (body.size() > a.size() && body.ends_with(a)) {
      out.algo = a == "CollNet" ? "CollNetDirect" : std::string(a);
      body.resize(body.size() - a.size());
      break;
    }
  out.func = body;
  if (out.func.empty()) return std::nullopt;
  return out;
}

}  // namespace

std::string normalised_name(std::string_view name) {
  std::string full = demangle(name);
  if (std::string_view(full).starts_with("void ")) full.erase(0, 5);
  return full;
}

std::string func_from_name(std::string_view name) {
  std::string k = squash(name);
  if (k.starts_with("nccl")) k.erase(0, 4);  // NCCL API: ncclAllReduce, ncclBcast, ncclAlltoAll
  for (const auto& [p, f] : kStartsWith)
    if (k.starts_with(p)) return std::string(f);
  return "";
}

std::string func_in_text(std::string_view text) {
  std::string l = lower(text);
  for (const auto& [k, f] : kInText)
    if (l.find(k) != std::string::npos) return std::string(f);
  return "";
}

int dtype_size(std::string_view dtype) {
  if (auto p = dtype.rfind("::"); p != std::string_view::npos) dtype = dtype.substr(p + 2);  // c10::Half
  std::string k = squash(dtype);
  if (k.starts_with("nccl") && k.size() > 4) k.erase(0, 4);  // ncclFloat16
  for (const auto& e : kDtypes)
    if (k == e.squashed) return e.size;
  if (k.starts_with("float8") || k.starts_with("f8") || k.starts_with("fp8")) return 1;
  if (k == "complexdouble") return 16;
  return 0;
}

bool dtype_is_float(std::string_view dtype) {
  if (auto p = dtype.rfind("::"); p != std::string_view::npos) dtype = dtype.substr(p + 2);
  std::string k = squash(dtype);
  if (k.starts_with("nccl") && k.size() > 4) k.erase(0, 4);
  for (std::string_view f : {"float", "float32", "f32", "fp32", "double", "float64", "f64", "fp64", "half", "float16",
                             "f16", "fp16", "bfloat16", "bf16", "nvbfloat16", "rcclbfloat16"})
    if (k == f) return true;
  return k.starts_with("float8") || k.starts_with("f8") || k.starts_with("fp8");
}

std::string dtype_name(std::string_view dtype) {
  std::string k = squash(dtype);
  if (k == "f8e4m3") return "Float8e4m3";
  if (k == "f8e5m2") return "Float8e5m2";
  // Only the spellings nccl-tests prints are renamed; others are kept as written.
  static constexpr std::array<std::string_view, 10> kPrinted{"float",  "half",  "bfloat16", "double", "int8",
                                                              "uint8",  "int32", "uint32",   "int64",  "uint64"};
  if (std::find(kPrinted.begin(), kPrinted.end(), k) == kPrinted.end()) return std::string(dtype);
  for (const auto& e : kDtypes)
    if (k == e.squashed && !e.display.empty()) return std::string(e.display);
  return std::string(dtype);
}

double busbw_factor(std::string_view func, int n) {
  if (n <= 0) return 1.0;  // unknown communicator size: report algbw
  const double dn = n;
  std::string f = func_from_name(func);
  if (f.empty()) f = std::string(func);
  if (f == "AllReduce") return 2.0 * (dn - 1) / dn;
  if (f == "AllGather" || f == "ReduceScatter" || f == "AllToAll" || f == "Gather" || f == "Scatter")
    return (dn - 1) / dn;
  return 1.0;  // Broadcast, Reduce, SendRecv, Send, Recv
}

bool is_nccl_kernel(std::string_view name) {
  std::string n = normalised_name(name);
  std::string_view v(n);
  if (v.starts_with("ncclDevKernel_") || v.starts_with("ncclKernel_")) return true;
  // NCCL < 2.7: ncclAllReduceRingLLKernel_*, ncclSendRecvKernel_* (and their "Kernel" forms).
  auto paren = v.find_first_of("(<");
  return v.starts_with("nccl") && v.substr(0, paren).find("Kernel") != std::string_view::npos;
}

std::optional<NcclKernel> parse_nccl_kernel(std::string_view name) {
  std::string full = normalised_name(name);
  std::string_view n(full);
  if (auto p = n.find_first_of("(<"); p != std::string_view::npos) n = n.substr(0, p);
  bool dev = n.starts_with("ncclDevKernel_");
  if (!dev && !n.starts_with("ncclKernel_")) {
    if (!is_nccl_kernel(n)) return std::nullopt;
    return parse_old_style(n);
  }
  n.remove_prefix(dev ? 14 : 11);
  std::vector<std::string_view> tok;
  for (std::size_t i = 0; i <= n.size();) {
    std::size_t j = n.find('_', i);
    if (j == std::string_view::npos) j = n.size();
    if (j > i) tok.push_back(n.substr(i, j - i));
    i = j + 1;
  }
  if (tok.empty()) return std::nullopt;
  NcclKernel k;
  k.func = std::string(tok[0]);
  for (std::size_t i = 1; i < tok.size();) {
    int used = 1;
    std::string_view next = i + 1 < tok.size() ? tok[i + 1] : std::string_view();
    if (std::string a = algo_of(tok[i], next, used); !a.empty()) {
      if (k.algo.empty()) k.algo = a;
    } else if (std::string p = proto_of(tok[i]); !p.empty()) {
      if (k.proto.empty()) k.proto = p;
    } else if (std::string r = redop_of(tok[i]); !r.empty()) {
      if (k.redop.empty()) k.redop = r;
    } else if (k.dtype.empty() && dtype_size(tok[i]) > 0) {
      k.dtype = std::string(tok[i]);
    }
    i += static_cast<std::size_t>(used);
  }
  return k;
}

bool algo_env_applies(std::string_view func) {
  std::string l = squash(func);
  for (std::string_view p2p : {"alltoall", "alltoallv", "send", "recv", "sendrecv", "generic"})
    if (l == p2p) return false;
  return l == "allreduce" || l == "reducescatter" || l == "allgather" || l == "broadcast" || l == "reduce";
}

}  // namespace moetune::comm
