// SPDX-License-Identifier: Apache-2.0
// Checked launch-order alignment (collective_instances.h). The ranks' call sequences of
// one group are merged one rank at a time into candidate instances. A candidate keeps
// its core: the time every member is inside the call (latest start .. earliest end).
// The next call of a rank joins the next candidate when the functions agree, the element
// counts agree (where known and checked) and the call overlaps the core; otherwise the
// one of the two that ends first has no partner on the other side (both sequences run
// forward in time) and is passed over. In a consistent trace this is exactly "the n-th
// call of every rank"; a call missing on one rank (a trace window that starts later, a
// sampled trace) costs only that call. Cost: O(sum of calls x ranks) per group.
#include <algorithm>

#include "collective_instances.h"
#include "moetune/analyzers/comm_rules.h"

namespace moetune::analyzers::detail {
namespace {

bool same_family(const std::string& a, const std::string& b) { return a == b || (is_p2p_op(a) && is_p2p_op(b)); }

struct Cand {
  std::vector<const AlignCall*> mem;
  std::int64_t cs = 0, ce = 0;  // core: latest start, earliest end
};

}  // namespace

std::vector<std::vector<const AlignCall*>> align_by_order(const std::vector<std::vector<AlignCall>>& per_rank,
                                                          bool check_count, AlignStats& stats) {
  std::vector<Cand> cands;
  for (const auto& calls : per_rank) {
    if (calls.empty()) continue;
    std::vector<Cand> next;
    next.reserve(cands.size() + calls.size());
    std::size_t i = 0, j = 0;
    while (i < cands.size() && j < calls.size()) {
      Cand& c = cands[i];
      const AlignCall& x = calls[j];
      const AlignCall& ref = *c.mem.front();
      bool overlap = x.start_ns < c.ce && c.cs < x.end_ns;
      // A send and its receive: causal only (see collective_instances.h).
      bool directed = x.dir != 0 && ref.dir != 0 && x.dir != ref.dir && c.mem.size() == 1;
      const AlignCall* recv = directed ? (x.dir < 0 ? &x : &ref) : nullptr;
      if (directed) overlap = recv->end_ns > (x.dir > 0 ? x : ref).start_ns;
      bool fam = same_family(x.func, ref.func);
      bool count_ok = !check_count || x.count <= 0 || ref.count <= 0 || x.count == ref.count;
      if (directed && !overlap) {  // the receive ended before this send: it has no partner here or later
        if (recv == &x) {
          next.push_back({{&x}, x.start_ns, x.end_ns});
          ++j;
        } else {
          next.push_back(std::move(c));
          ++i;
        }
        continue;
      }
      if (overlap && fam && count_ok) {
        c.mem.push_back(&x);
        c.cs = std::max(c.cs, x.start_ns);
        c.ce = std::min(c.ce, x.end_ns);
        next.push_back(std::move(c));
        ++i, ++j;
        continue;
      }
      if (overlap && fam) ++stats.refused_size;
      if (c.ce <= x.end_ns) {
        next.push_back(std::move(c));
        ++i;
      } else {
        next.push_back({{&x}, x.start_ns, x.end_ns});
        ++j;
      }
    }
    for (; i < cands.size(); ++i) next.push_back(std::move(cands[i]));
    for (; j < calls.size(); ++j) next.push_back({{&calls[j]}, calls[j].start_ns, calls[j].end_ns});
    cands = std::move(next);
  }
  std::vector<std::vector<const AlignCall*>> out;
  for (auto& c : cands) {
    if (c.mem.size() < 2) {
      stats.refused += static_cast<std::int64_t>(c.mem.size());
      continue;
    }
    out.push_back(std::move(c.mem));
  }
  return out;
}

}  // namespace moetune::analyzers::detail
