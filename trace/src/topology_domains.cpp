// SPDX-License-Identifier: Apache-2.0
// Topology domains (format 3): n GPUs whose every pair has the same link (NVSwitch host),
// stored as one topology_domains row and n topology_domain_gpus rows instead of
// n(n-1)/2 topology rows (a 1024-GPU NVLink host: 523,776 pairs, 34 MB). The writer
// recognises the pairs as they come (TraceWriter::add(TopologyRow) order, no buffering of
// rows: only the GPU list); the reader puts each domain's pairs back where they were
// among the pair rows (after_row), so topology() returns exactly the rows added.
// Rows are inserted and selected by TraceWriter/TraceReader through tables.h.
#include <climits>

#include "compact_store.h"

namespace moetune {

bool TopoDomains::same_link(const TopologyRow& r) const {
  return r.host == link_.host && r.link == link_.link && r.bandwidth_gbps == link_.bandwidth_gbps &&
         r.source == link_.source;
}

bool TopoDomains::is_pair(const TopologyRow& r, std::size_t i, std::size_t j) const {
  return r.a == gpus_[i].label && r.rank_a == gpus_[i].rank && r.b == gpus_[j].label && r.rank_b == gpus_[j].rank;
}

void TopoDomains::start(const TopologyRow& r) {
  link_ = r;
  gpus_ = {{r.a, r.rank_a}, {r.b, r.rank_b}};
  closed_ = false;
  pairs_ = 1;
}

void TopoDomains::add(const TopologyRow& r) {
  if (!gpus_.empty() && same_link(r)) {
    if (!closed_ && r.a == gpus_[0].label && r.rank_a == gpus_[0].rank && gpus_.size() < kMaxDomain) {
      gpus_.push_back({r.b, r.rank_b});  // (0, j): one more GPU in the list
      ++pairs_;
      return;
    }
    const bool closing = !closed_ && gpus_.size() >= 3 && is_pair(r, 1, 2);
    if (closing) closed_ = true, i_ = 1, j_ = 2;
    if (closed_ && is_pair(r, i_, j_)) {
      ++pairs_;
      if (++j_ == gpus_.size()) ++i_, j_ = i_ + 1;
      if (i_ + 1 >= gpus_.size()) write_pending();  // all pairs seen
      return;
    }
  }
  write_pending();
  start(r);
}

void TopoDomains::write_pending() {
  if (gpus_.empty()) return;
  const std::size_t n = gpus_.size();
  if (n >= kMinDomain && pairs_ == n * (n - 1) / 2) {
    sink_.domain({++domains_, last_pair_rowid_, link_.host, link_.link, link_.bandwidth_gbps, link_.source});
    for (std::size_t i = 0; i < n; ++i)
      sink_.gpu({domains_, static_cast<std::int64_t>(i), gpus_[i].label, gpus_[i].rank});
  } else {
    TopologyRow t = link_;
    std::size_t left = pairs_;
    for (std::size_t i = 0; i + 1 < n && left; ++i)
      for (std::size_t j = i + 1; j < n && left; ++j, --left) {
        t.a = gpus_[i].label, t.rank_a = gpus_[i].rank;
        t.b = gpus_[j].label, t.rank_b = gpus_[j].rank;
        write_pair(t);
      }
  }
  gpus_.clear();
  closed_ = false;
  pairs_ = 0;
}

TopologyMerger::TopologyMerger(std::vector<TopoDomainRow> domains, const std::vector<TopoDomainGpuRow>& gpus)
    : domains_(std::move(domains)) {
  for (const auto& g : gpus) gpus_[g.domain].push_back(&g);
}

void TopologyMerger::domains_before(std::int64_t rowid) {
  for (; next_ < domains_.size() && domains_[next_].after_row < rowid; ++next_) {
    const auto& d = domains_[next_];
    auto it = gpus_.find(d.id);
    if (it == gpus_.end()) continue;
    const auto& g = it->second;
    if (g.size() > TopoDomains::kMaxDomain) continue;  // not written by moetune: n^2 rows
    TopologyRow t;
    t.host = d.host;
    t.link = d.link;
    t.bandwidth_gbps = d.bandwidth_gbps;
    t.source = d.source;
    for (std::size_t i = 0; i < g.size(); ++i)
      for (std::size_t j = i + 1; j < g.size(); ++j) {
        t.a = g[i]->label, t.rank_a = g[i]->rank;
        t.b = g[j]->label, t.rank_b = g[j]->rank;
        out_.push_back(t);
      }
  }
}

void TopologyMerger::pair(std::int64_t rowid, TopologyRow&& row) {
  domains_before(rowid);
  out_.push_back(std::move(row));
}

std::vector<TopologyRow> TopologyMerger::finish() {
  domains_before(INT64_MAX);
  return std::move(out_);
}

std::string logical_count_sql(std::string_view table, int version) {
  if (version < 3) return {};
  if (table == tables::kRouting.info.name) return "SELECT coalesce(sum(n), 0) FROM expert_counts";
  if (table == tables::kTopology.info.name)
    return "SELECT (SELECT count(*) FROM topology) + (SELECT coalesce(sum(c * (c - 1) / 2), 0) FROM "
           "(SELECT count(*) AS c FROM topology_domain_gpus GROUP BY domain))";
  return {};
}

}  // namespace moetune
