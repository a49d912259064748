// SPDX-License-Identifier: Apache-2.0
// Reading collective end times out of parts and writing the clock alignment's results.
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>

#include "merge_internal.h"

namespace moetune::live {

namespace {
bool is_p2p(const std::string& f) { return f == "Send" || f == "Recv" || f == "SendRecv"; }

bool is_collective_kernel(const std::string& name) {
  return (name.find("ncclDevKernel_") != std::string::npos || name.find("ncclKernel_") != std::string::npos) &&
         name.find("SendRecv") == std::string::npos && name.find("Generic") == std::string::npos;
}
}  // namespace

void collect_ends(TraceReader& part, const std::function<int(std::int64_t)>& domain_of_rank,
                  std::vector<CollEnd>& ends) {
  std::map<std::tuple<std::int64_t, std::string, std::string>, std::int64_t> nth;
  bool any = false;
  // A table that cannot be read gives no ends here; the merge reads it again and fails there.
  auto ops = part.nccl_ops();
  for (const auto& o : ops ? *ops : std::vector<NcclOpRow>()) {  // ordered by (rank, start)
    if (is_p2p(o.func)) continue;
    any = true;
    std::string comm = o.comm_hash ? *o.comm_hash : o.pg_name.value_or("");
    std::string key = o.comm_hash && o.seq >= 0
                          ? "c|" + comm + "#" + std::to_string(o.seq)
                          : "n|" + comm + "|" + o.func + "|" + std::to_string(nth[{o.rank.value, comm, o.func}]++);
    ends.push_back({std::move(key), domain_of_rank(o.rank.value), o.end_ns});
  }
  if (any) return;
  std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> kth;  // (rank, name id) -> launches
  (void)part.for_each_kernel([&](const KernelRow& k) {
    const auto& name = part.str(k.name);
    if (!is_collective_kernel(name)) return;
    ends.push_back({"k|" + name + "|" + std::to_string(kth[{k.rank.value, k.name.value}]++),
                    domain_of_rank(k.rank.value), k.end_ns()});
  });
}

void write_clock_stats(const std::vector<HostClock>& clocks, std::map<std::int64_t, RankRow>& rank_rows,
                       TraceWriter& out) {
  std::map<std::string, std::vector<std::int64_t>> ranks_of;
  for (const auto& [r, row] : rank_rows) ranks_of[clock_domain(row.host)].push_back(r);
  std::map<std::string, const HostClock*> by_domain;
  for (const auto& c : clocks) by_domain[c.domain] = &c;
  for (auto& [r, row] : rank_rows)
    if (auto it = by_domain.find(clock_domain(row.host)); it != by_domain.end() && it->second->aligned)
      row.clock_offset_ns += static_cast<std::int64_t>(std::llround(it->second->map.offset_ns));
  for (const auto& c : clocks) {
    const auto& rs = ranks_of[c.domain];
    std::optional<std::int64_t> first;
    if (!rs.empty()) first = rs.front();
    char span[64] = "";
    if (!rs.empty()) std::snprintf(span, sizeof span, "ranks %lld-%lld", static_cast<long long>(rs.front()),
                                   static_cast<long long>(rs.back()));
    const std::string who = "host " + c.domain + " (" + span + ")";
    if (c.reference) {
      out.add(StatRow{"clock_reference_host", Severity::Info, static_cast<std::int64_t>(rs.size()), first,
                      who + ": the run clock; other hosts' times are mapped onto it"});
      continue;
    }
    if (!c.aligned) {
      out.add(StatRow{"clock_unaligned", Severity::Error, static_cast<std::int64_t>(rs.size()), first,
                      who + " shares no collective with the reference host; its times are kept as recorded "
                            "(may be off by the hosts' clock difference)"});
      continue;
    }
    const auto off = static_cast<long long>(std::llround(c.map.offset_ns));
    const auto ppb = static_cast<long long>(std::llround(c.map.drift * 1e9));
    char text[320];
    std::snprintf(text, sizeof text,
                  ": clock offset %+lld ns at %lld ns (its clock), drift %+lld ppb, from %d collective instances "
                  "(%d rejected as outliers); after alignment its collectives end within +-%lld ns of the "
                  "reference host's",
                  off, static_cast<long long>(c.map.anchor_ns), ppb, c.instances, c.rejected,
                  static_cast<long long>(c.bound_ns));
    const std::string desc = who + text;
    out.add(StatRow{"clock_offset_ns", Severity::Info, off, first, desc});
    out.add(StatRow{"clock_drift_ppb", Severity::Info, ppb, first, desc});
    out.add(StatRow{"clock_error_bound_ns", Severity::Info, c.bound_ns, first, desc});
    if (c.rejected > 0)
      out.add(StatRow{"clock_outliers_rejected", Severity::Info, c.rejected, first, desc});
  }
}

}  // namespace moetune::live
