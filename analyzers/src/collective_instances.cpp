// SPDX-License-Identifier: Apache-2.0
#include "collective_instances.h"

#include <algorithm>
#include <map>
#include <set>
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

// Element counts must agree for these (all ranks pass the same count).
bool same_count_func(const std::string& func) {
  return func == "AllReduce" || func == "AllGather" || func == "ReduceScatter" || func == "Broadcast" ||
         func == "Reduce";
}

void derive(CollInstance& inst) {
  inst.transfer_ns = inst.members.front().dur();
  inst.first_arrival = inst.last_arrival = inst.members.front().start_ns;
  inst.late_rank = inst.members.front().rank;
  for (const auto& m : inst.members) {
    inst.transfer_ns = std::min(inst.transfer_ns, m.dur());
    inst.first_arrival = std::min(inst.first_arrival, m.start_ns);
    if (m.start_ns > inst.last_arrival) inst.last_arrival = m.start_ns, inst.late_rank = m.rank;
  }
}

// Instances aligned by id: one member per rank (duplicates: a rank recorded the op twice).
void finish_ids(std::map<Key, CollInstance>& groups, std::vector<CollInstance>& out, AlignStats& st) {
  for (auto& [k, inst] : groups) {
    if (inst.members.size() < 2) continue;
    std::sort(inst.members.begin(), inst.members.end(), [](const Member& a, const Member& b) { return a.rank < b.rank; });
    inst.members.erase(std::unique(inst.members.begin(), inst.members.end(),
                                   [](const Member& a, const Member& b) { return a.rank == b.rank; }),
                       inst.members.end());
    if (inst.members.size() < 2) continue;
    inst.by_id = true;
    derive(inst);
    std::int64_t first_end = inst.members.front().end_ns;
    for (const auto& m : inst.members) first_end = std::min(first_end, m.end_ns);
    if (!is_p2p_op(inst.func) && inst.last_arrival >= first_end) ++st.id_without_overlap;  // kept: the id is what was recorded
    out.push_back(std::move(inst));
  }
}

// First-call flags and setup, then time order.
void finish(std::vector<CollInstance>& out) {
  std::map<std::pair<std::string, std::string>, std::int64_t> first_order;
  for (const auto& inst : out) {
    auto fk = std::make_pair(inst.comm, inst.func);
    auto it = first_order.find(fk);
    if (it == first_order.end() || inst.order < it->second) first_order[fk] = inst.order;
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

// Stream labels for calls without a communicator: the stream id where every rank uses the
// same set of NCCL streams, else the stream's rank among that rank's NCCL streams by first
// use (stream ids are per process: the same code on two ranks may get different ids).
struct StreamLabels {
  std::map<std::pair<int, std::int64_t>, std::string> label;
  void build(const std::vector<std::tuple<int, std::int64_t, std::int64_t>>& uses) {  // rank, stream, start
    std::map<int, std::vector<std::pair<std::int64_t, std::int64_t>>> first;  // rank -> (start, stream)
    std::map<std::pair<int, std::int64_t>, std::int64_t> first_at;
    for (const auto& [r, s, t] : uses) {
      auto [it, fresh] = first_at.try_emplace({r, s}, t);
      if (!fresh) it->second = std::min(it->second, t);
    }
    for (const auto& [k, t] : first_at) first[k.first].push_back({t, k.second});
    std::set<std::set<std::int64_t>> sets;
    for (auto& [r, v] : first) {
      std::set<std::int64_t> s;
      for (const auto& p : v) s.insert(p.second);
      sets.insert(s);
    }
    bool same_ids = sets.size() <= 1;
    for (auto& [r, v] : first) {
      std::sort(v.begin(), v.end());
      for (std::size_t i = 0; i < v.size(); ++i)
        label[{r, v[i].second}] =
            same_ids ? "stream " + std::to_string(v[i].second) : "NCCL stream #" + std::to_string(i + 1);
    }
  }
  const std::string& of(int r, std::int64_t s) const { return label.at({r, s}); }
};

// Global ranks of a process group from Kineto's "Process Group Ranks" ("[0, 2, 4]").
std::vector<int> parse_ranks(const std::string& s) {
  std::vector<int> v;
  long cur = 0;
  bool in = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      cur = cur * 10 + (c - '0'), in = true;
      if (cur > 1'000'000) return {};
    } else if (in) {
      v.push_back(static_cast<int>(cur)), cur = 0, in = false;
    }
  }
  if (in) v.push_back(static_cast<int>(cur));
  return v;
}

struct OrderGroups {
  // key -> rank -> calls
  std::map<std::string, std::map<int, std::vector<AlignCall>>> calls;
  std::map<std::string, std::pair<std::string, bool>> meta;  // key -> (comm label, check counts)
  void add(const std::string& key, const std::string& comm, bool check, AlignCall c) {
    meta.try_emplace(key, comm, check);
    calls[key][c.rank].push_back(std::move(c));
  }
  void align(std::vector<CollInstance>& out, AlignStats& st) {
    for (auto& [key, ranks] : calls) {
      std::vector<std::vector<AlignCall>> seqs;
      for (auto& [r, v] : ranks) {
        std::stable_sort(v.begin(), v.end(), [](const AlignCall& a, const AlignCall& b) { return a.start_ns < b.start_ns; });
        seqs.push_back(std::move(v));
      }
      ++st.groups;
      auto groups = align_by_order(seqs, meta[key].second, st);
      std::sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) {
        auto first = [](const auto& g) {
          std::int64_t t = g.front()->start_ns;
          for (const auto* c : g) t = std::min(t, c->start_ns);
          return t;
        };
        return first(a) < first(b);
      });
      std::int64_t n = 0;
      for (const auto& g : groups) {
        CollInstance inst;
        inst.comm = meta[key].first;
        // Ordered by rank (seqs are); the lowest rank's function names the instance.
        inst.func = g.front()->func;
        for (const auto* c : g) {
          if (c->func != inst.func && is_p2p_op(c->func) && is_p2p_op(inst.func)) inst.func = "SendRecv";
          if (inst.algo.empty()) inst.algo = c->algo;
          inst.members.push_back({c->rank, c->start_ns, c->end_ns});
        }
        inst.order = n++;
        derive(inst);
        out.push_back(std::move(inst));
        ++st.by_order;
      }
    }
  }
};

}  // namespace

std::vector<CollInstance> collective_instances(const RunData& run, std::string* source, AlignStats* stats) {
  AlignStats local;
  AlignStats& st = stats ? *stats : local;
  std::vector<CollInstance> out;
  OrderGroups order;
  if (!run.nccl_ops.empty()) {
    st.source = "nccl_ops";
    std::map<Key, CollInstance> groups;
    std::vector<const NcclOpRow*> ops;
    ops.reserve(run.nccl_ops.size());
    for (const auto& o : run.nccl_ops) ops.push_back(&o);
    std::stable_sort(ops.begin(), ops.end(), [](const NcclOpRow* a, const NcclOpRow* b) {
      return std::tie(a->rank, a->start_ns) < std::tie(b->rank, b->start_ns);
    });
    std::vector<std::tuple<int, std::int64_t, std::int64_t>> stream_uses;
    auto comm_of = [](const NcclOpRow& o) { return o.comm_hash ? *o.comm_hash : (o.pg_name ? *o.pg_name : ""); };
    for (const auto* o : ops)
      if (!is_self_send(*o) && comm_of(*o).empty())
        stream_uses.emplace_back(static_cast<int>(o->rank.value), o->stream, o->start_ns);
    StreamLabels streams;
    streams.build(stream_uses);
    std::set<int> with_calls;
    for (const auto* o : ops) {
      if (is_self_send(*o)) continue;  // a local copy: no other rank takes part, nobody waits
      int rank = static_cast<int>(o->rank.value);
      with_calls.insert(rank);
      std::string comm = comm_of(*o);
      if (o->comm_hash && o->seq >= 0) {
        Key key{comm, "", o->seq};
        auto& inst = groups[key];
        if (inst.members.empty()) {
          inst.comm = comm;
          inst.func = o->func;
          inst.order = o->seq;
        }
        if (inst.algo.empty() && o->algo) inst.algo = *o->algo;
        inst.members.push_back({rank, o->start_ns, o->end_ns});
        continue;
      }
      AlignCall c{rank, o->start_ns, o->end_ns, o->count, o->func, o->algo.value_or("")};
      std::string label = comm.empty() ? streams.of(rank, o->stream) : comm;
      if (is_p2p_op(o->func) && op_family(o->func) != OpFamily::SendRecv && o->peer >= 0) {
        // Point-to-point with a known peer: sender -> receiver pairs, by order.
        int peer = o->peer;
        if (o->pg_ranks) {
          auto pr = parse_ranks(*o->pg_ranks);
          peer = o->peer < static_cast<int>(pr.size()) ? pr[static_cast<std::size_t>(o->peer)] : -1;
        }
        if (peer < 0) continue;
        const bool send = op_family(o->func) == OpFamily::Send;
        int src = send ? rank : peer, dst = send ? peer : rank;
        c.dir = send ? 1 : -1;
        order.add(label + "|p2p|" + std::to_string(src) + ">" + std::to_string(dst), label, true, std::move(c));
        continue;
      }
      std::string fam = is_p2p_op(o->func) ? "p2p" : o->func;
      order.add(label + "|" + fam, label, same_count_func(o->func), std::move(c));
    }
    finish_ids(groups, out, st);
    st.ranks = static_cast<std::int64_t>(with_calls.size());
    st.by_id = static_cast<std::int64_t>(out.size());
  } else {
    st.source = "kernel names";
    std::vector<std::optional<NcclKernelInfo>> info(run.strings.size());
    std::vector<bool> done(run.strings.size());
    std::vector<const KernelRow*> ks;
    for (const auto& k : run.kernels) {
      auto id = static_cast<std::size_t>(k.name.value);
      if (id >= info.size()) continue;
      if (!done[id]) info[id] = parse_nccl_kernel(run.strings[id]), done[id] = true;
      if (info[id]) ks.push_back(&k);
    }
    std::vector<std::tuple<int, std::int64_t, std::int64_t>> stream_uses;
    for (const auto* k : ks) stream_uses.emplace_back(static_cast<int>(k->rank.value), k->stream.value, k->start_ns);
    StreamLabels streams;
    streams.build(stream_uses);
    std::set<int> with_calls;
    for (const auto* k : ks) with_calls.insert(static_cast<int>(k->rank.value));
    st.ranks = static_cast<std::int64_t>(with_calls.size());
    for (const auto* k : ks) {
      const auto& fi = *info[static_cast<std::size_t>(k->name.value)];
      int rank = static_cast<int>(k->rank.value);
      const std::string& label = streams.of(rank, k->stream.value);
      std::string fam = is_p2p_op(fi.func) ? "p2p" : fi.func;
      order.add(label + "|" + fam, label, false, AlignCall{rank, k->start_ns, k->end_ns(), 0, fi.func, fi.algo});
    }
  }
  order.align(out, st);
  finish(out);
  if (source) *source = st.source;
  return out;
}

}  // namespace moetune::analyzers::detail
