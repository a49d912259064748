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

#include "moetune/trace/comm_vocab.h"
#include "nsys_internal.h"

namespace moetune::import::nsys_detail {
namespace {

// "ncclSend" -> "Send"; "ncclAllReduce" -> "AllReduce", "ncclBcast" -> "Broadcast"; "" for
// non-operations (ncclGroupStart, ncclCommInitRank). Names: moetune/trace/comm_vocab.h.
std::string api_func(const std::string& name) {
  if (name.rfind("nccl", 0) != 0) return "";
  return comm::func_from_name(name);
}

std::string hex(std::uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

bool is_nccl_kernel(std::string_view name) { return comm::is_nccl_kernel(name); }

std::optional<NcclKernelName> parse_nccl_kernel(std::string_view name) {
  auto p = comm::parse_nccl_kernel(name);
  if (!p) return std::nullopt;
  NcclKernelName k;
  k.func = p->func;
  auto opt = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional<std::string>(s); };
  k.redop = opt(p->redop), k.dtype = opt(p->dtype), k.algo = opt(p->algo), k.proto = opt(p->proto);
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
