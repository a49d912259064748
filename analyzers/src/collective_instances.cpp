// SPDX-License-Identifier: Apache-2.0
#include "collective_instances.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "moetune/analyzers/comm_rules.h"

namespace moetune::analyzers::detail {

std::int64_t CollInstance::total_wait() const {
  std::int64_t w = 0;
  for (const auto& m : members) w += wait(m);
  return w;
}

namespace {

using Key = std::tuple<std::string, std::string, std::int64_t>;  // comm, func(or ""), order

bool is_p2p(const std::string& func) { return func == "Send" || func == "Recv" || func == "SendRecv"; }

void finish(std::map<Key, CollInstance>& groups, std::vector<CollInstance>& out) {
  std::map<std::pair<std::string, std::string>, std::int64_t> first_order;
  for (auto& [k, inst] : groups) {
    if (inst.members.size() < 2) continue;
    std::sort(inst.members.begin(), inst.members.end(), [](const Member& a, const Member& b) { return a.rank < b.rank; });
    // Keep one member per rank (duplicates: a rank recorded the op twice).
    inst.members.erase(std::unique(inst.members.begin(), inst.members.end(),
                                   [](const Member& a, const Member& b) { return a.rank == b.rank; }),
                       inst.members.end());
    if (inst.members.size() < 2) continue;
    inst.transfer_ns = inst.members.front().dur();
    inst.first_arrival = inst.last_arrival = inst.members.front().start_ns;
    inst.late_rank = inst.members.front().rank;
    for (const auto& m : inst.members) {
      inst.transfer_ns = std::min(inst.transfer_ns, m.dur());
      inst.first_arrival = std::min(inst.first_arrival, m.start_ns);
      if (m.start_ns > inst.last_arrival) inst.last_arrival = m.start_ns, inst.late_rank = m.rank;
    }
    auto fk = std::make_pair(inst.comm, inst.func);
    auto it = first_order.find(fk);
    if (it == first_order.end() || inst.order < it->second) first_order[fk] = inst.order;
    out.push_back(std::move(inst));
  }
  for (auto& inst : out) inst.first = first_order[{inst.comm, inst.func}] == inst.order;
  std::map<std::pair<std::string, std::string>, std::vector<std::int64_t>> later;
  for (const auto& inst : out)
    if (!inst.first) later[{inst.comm, inst.func}].push_back(inst.transfer_ns);
  for (auto& [k, v] : later) std::sort(v.begin(), v.end());
  for (auto& inst : out) {
    const auto& v = later[{inst.comm, inst.func}];
    if (v.size() < 2) continue;
    inst.median_later_ns = v[v.size() / 2];
    if (inst.first && inst.transfer_ns >= 5 * inst.median_later_ns && inst.transfer_ns - inst.median_later_ns >= 50'000)
      inst.setup_ns = inst.transfer_ns - inst.median_later_ns;
  }
  std::sort(out.begin(), out.end(),
            [](const CollInstance& a, const CollInstance& b) { return a.first_arrival < b.first_arrival; });
}

}  // namespace

std::vector<CollInstance> collective_instances(const RunData& run, std::string* source) {
  std::map<Key, CollInstance> groups;
  std::vector<CollInstance> out;
  if (!run.nccl_ops.empty()) {
    if (source) *source = "nccl_ops";
    // n-th call per (rank, comm, func), for ops without a sequence number.
    std::map<std::tuple<std::int64_t, std::string, std::string>, std::int64_t> nth;
    std::vector<const NcclOpRow*> ops;
    ops.reserve(run.nccl_ops.size());
    for (const auto& o : run.nccl_ops) ops.push_back(&o);
    std::stable_sort(ops.begin(), ops.end(), [](const NcclOpRow* a, const NcclOpRow* b) {
      return std::tie(a->rank, a->start_ns) < std::tie(b->rank, b->start_ns);
    });
    for (const auto* o : ops) {
      if (is_self_send(*o)) continue;  // a local copy: no other rank takes part, nobody waits
      std::string comm = o->comm_hash ? *o->comm_hash : (o->pg_name ? *o->pg_name : "");
      Key key;
      if (o->comm_hash && o->seq >= 0) {
        key = {comm, "", o->seq};
      } else {
        if (is_p2p(o->func)) continue;
        key = {comm, o->func, nth[{o->rank.value, comm, o->func}]++};
      }
      auto& inst = groups[key];
      if (inst.members.empty()) {
        inst.comm = comm;
        inst.func = o->func;
        inst.order = std::get<2>(key);
      }
      if (inst.algo.empty() && o->algo) inst.algo = *o->algo;
      inst.members.push_back({static_cast<int>(o->rank.value), o->start_ns, o->end_ns});
    }
    finish(groups, out);
    return out;
  }
  if (source) *source = "kernel names";
  std::vector<std::optional<NcclKernelInfo>> info(run.strings.size());
  std::vector<bool> done(run.strings.size());
  std::map<std::pair<std::int64_t, std::string>, std::int64_t> nth;
  for (const auto& k : run.kernels) {
    auto id = static_cast<std::size_t>(k.name.value);
    if (id >= info.size()) continue;
    if (!done[id]) info[id] = parse_nccl_kernel(run.strings[id]), done[id] = true;
    if (!info[id] || is_p2p(info[id]->func) || info[id]->func == "Generic") continue;
    const auto& fi = *info[id];
    Key key{"", fi.func, nth[{k.rank.value, fi.func}]++};
    auto& inst = groups[key];
    if (inst.members.empty()) {
      inst.func = fi.func;
      inst.algo = fi.algo;
      inst.order = std::get<2>(key);
    }
    inst.members.push_back({static_cast<int>(k.rank.value), k.start_ns, k.end_ns()});
  }
  finish(groups, out);
  return out;
}

}  // namespace moetune::analyzers::detail
