// SPDX-License-Identifier: Apache-2.0
// nsys importer, stage 3: nccl_ops. One row per NCCL kernel (ncclDevKernel_* /
// ncclKernel_*): func, reduction, dtype, algorithm and protocol come from the kernel
// name; the NCCL NVTX API ranges (ncclSend, ncclAllReduce, ...) that the same thread
// called before the kernel's launch call are joined onto it: they give the host
// enqueue time, a more precise func (a SendRecv kernel that only sends is a "Send")
// and, when their payloads were exported, communicator, bytes, peer and root.
// Join cost: sort per thread, then one merge pass.
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "nsys_internal.h"

namespace moetune::import::nsys_detail {
namespace {

std::optional<std::string> algo_name(std::string_view tok, std::string_view next, int& used) {
  used = 1;
  if (tok == "RING") return "Ring";
  if (tok == "TREE") return "Tree";
  if (tok == "PAT") return "PAT";
  if (tok == "NVLS") {
    if (next == "TREE") return used = 2, std::optional<std::string>("NVLSTree");
    return "NVLS";
  }
  if (tok == "COLLNET") {
    if (next == "DIRECT") return used = 2, std::optional<std::string>("CollNetDirect");
    if (next == "CHAIN") return used = 2, std::optional<std::string>("CollNetChain");
    return "CollNet";
  }
  return std::nullopt;
}

std::optional<std::string> proto_name(std::string_view tok) {
  if (tok == "LL") return "LL";
  if (tok == "LL128") return "LL128";
  if (tok == "SIMPLE" || tok == "Simple") return "Simple";
  return std::nullopt;
}

bool is_redop(std::string_view t) {
  static const std::set<std::string_view> ops{"Sum", "Prod", "Min", "Max", "PreMulSum", "SumPostDiv", "Avg"};
  return ops.count(t) > 0;
}

bool is_dtype(std::string_view t) {
  static const std::set<std::string_view> types{"i8",  "u8",  "i32",  "u32",    "i64",    "u64",  "f16",
                                                "f32", "f64", "bf16", "f8e4m3", "f8e5m2", "int8_t", "uint8_t",
                                                "int32_t", "uint32_t", "int64_t", "uint64_t", "half", "float",
                                                "double", "__nv_bfloat16", "rccl_bfloat16"};
  return types.count(t) > 0;
}

// "ncclSend" -> "Send"; "ncclAllReduce" -> "AllReduce"; "" for non-operations.
std::string api_func(const std::string& name) {
  static const std::set<std::string> ops{"AllReduce", "AllGather", "ReduceScatter", "Broadcast", "Bcast",
                                         "Reduce",    "Send",      "Recv",          "AllToAll",  "AlltoAll",
                                         "Gather",    "Scatter",   "AllToAllv"};
  if (name.rfind("nccl", 0) != 0) return "";
  std::string f = name.substr(4);
  return ops.count(f) ? f : "";
}

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

bool is_nccl_kernel(std::string_view name) {
  return name.rfind("ncclDevKernel_", 0) == 0 || name.rfind("ncclKernel_", 0) == 0;
}

std::optional<NcclKernelName> parse_nccl_kernel(std::string_view name) {
  if (!is_nccl_kernel(name)) return std::nullopt;
  name.remove_prefix(name.find('_') + 1);
  name = name.substr(0, name.find('('));  // demangled names carry parameters
  std::vector<std::string_view> tok;
  for (std::size_t i = 0; i <= name.size();) {
    std::size_t j = name.find('_', i);
    if (j == std::string_view::npos) j = name.size();
    if (j > i) tok.push_back(name.substr(i, j - i));
    i = j + 1;
  }
  if (tok.empty()) return std::nullopt;
  NcclKernelName k;
  k.func = std::string(tok[0]);
  for (std::size_t i = 1; i < tok.size();) {
    int used = 1;
    std::string_view next = i + 1 < tok.size() ? tok[i + 1] : std::string_view();
    if (auto a = algo_name(tok[i], next, used)) k.algo = a;
    else if (auto p = proto_name(tok[i])) k.proto = p;
    else if (is_redop(tok[i])) k.redop = std::string(tok[i]);
    else if (is_dtype(tok[i])) k.dtype = std::string(tok[i]);
    i += static_cast<std::size_t>(used);
  }
  return k;
}

bool import_nccl(NsysImport& im) {
  // NCCL API ranges per (pid, tid), ordered by start.
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<const NcclApiRange*>> by_thread;
  std::map<std::string, std::int64_t> comm_size;  // comm id -> ranks, from init payloads
  for (const auto& r : im.nccl_ranges) {
    auto j = nlohmann::json::parse(r.payload.empty() ? "{}" : r.payload, nullptr, false);
    if (j.is_object() && j.contains("NCCL communicator ID") && j.contains("No. of ranks") &&
        j["NCCL communicator ID"].is_number_unsigned() && j["No. of ranks"].is_number())
      comm_size[hex(j["NCCL communicator ID"].get<std::uint64_t>())] = j["No. of ranks"].get<std::int64_t>();
    if (!api_func(r.name).empty()) by_thread[{r.pid, r.tid}].push_back(&r);
  }
  for (auto& [k, v] : by_thread)
    std::stable_sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->start_ns < b->start_ns; });
  // Kernels per launching thread, ordered by launch time.
  std::map<std::pair<std::int64_t, std::int64_t>, std::vector<CommKernel*>> launches;
  for (auto& c : im.comm_kernels)
    if (c.launch_tid) launches[{c.pid, *c.launch_tid}].push_back(&c);
  std::map<const CommKernel*, std::vector<const NcclApiRange*>> joined;
  std::int64_t unjoined_ranges = 0;
  for (auto& [thread, ks] : launches) {
    std::stable_sort(ks.begin(), ks.end(), [](auto* a, auto* b) { return a->launch_ns < b->launch_ns; });
    auto it = by_thread.find(thread);
    if (it == by_thread.end()) continue;
    std::size_t ri = 0;
    const auto& ranges = it->second;
    for (CommKernel* k : ks)
      while (ri < ranges.size() && ranges[ri]->start_ns <= k->launch_ns) joined[k].push_back(ranges[ri++]);
    unjoined_ranges += static_cast<std::int64_t>(ranges.size() - ri);
  }
  std::map<std::pair<RankId, std::string>, std::int64_t> seq;
  std::int64_t with_api = 0;
  for (const auto& c : im.comm_kernels) {
    NcclOpRow op;
    op.rank = c.rank;
    auto parsed = parse_nccl_kernel(c.name);
    op.func = parsed ? parsed->func : c.name;
    if (parsed) op.algo = parsed->algo, op.proto = parsed->proto, op.dtype = parsed->dtype;
    op.start_ns = c.start_ns;
    op.end_ns = c.end_ns;
    op.stream = c.stream;
    op.kernel_id = c.kernel_id;
    auto jt = joined.find(&c);
    if (jt != joined.end() && !jt->second.empty()) {
      ++with_api;
      const auto& apis = jt->second;
      op.enqueue_ns = apis.front()->start_ns;
      std::set<std::string> funcs;
      std::set<std::int64_t> peers;
      for (const auto* a : apis) {
        funcs.insert(api_func(a->name));
        auto j = nlohmann::json::parse(a->payload.empty() ? "{}" : a->payload, nullptr, false);
        if (!j.is_object()) continue;
        if (j.contains("Message size [bytes]") && j["Message size [bytes]"].is_number())
          op.bytes += j["Message size [bytes]"].get<std::int64_t>();
        if (j.contains("Peer rank") && j["Peer rank"].is_number()) peers.insert(j["Peer rank"].get<std::int64_t>());
        if (j.contains("Root") && j["Root"].is_number()) op.root = j["Root"].get<int>();
        if (j.contains("NCCL communicator ID") && j["NCCL communicator ID"].is_number_unsigned())
          op.comm_hash = hex(j["NCCL communicator ID"].get<std::uint64_t>());
      }
      if (funcs.size() == 1 && (op.func == "SendRecv" || !parsed)) op.func = *funcs.begin();
      if (peers.size() == 1) op.peer = static_cast<int>(*peers.begin());
      if (op.comm_hash && comm_size.count(*op.comm_hash)) op.nranks = static_cast<int>(comm_size[*op.comm_hash]);
    }
    if (op.comm_hash) op.seq = seq[{op.rank, *op.comm_hash}]++;
    im.w.add(op);
  }
  const std::string f = im.file.filename().string();
  if (!im.comm_kernels.empty())
    im.w.add(StatRow{"nsys_nccl_ops_with_api_ranges", Severity::Info, with_api, std::nullopt,
                     f + ": NCCL kernels joined with the NCCL NVTX API ranges that launched them (of " +
                         std::to_string(im.comm_kernels.size()) + ")"});
  if (unjoined_ranges)
    im.w.add(StatRow{"nsys_nccl_ranges_without_kernel", Severity::Info, unjoined_ranges, std::nullopt,
                     f + ": NCCL API ranges after the last NCCL kernel launch of their thread"});
  return true;
}

}  // namespace moetune::import::nsys_detail
