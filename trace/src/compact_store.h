// SPDX-License-Identifier: Apache-2.0
// Format 3's compact tables (trace/schema.sql, descriptors in tables.h), behind the
// unchanged row API:
//  - expert_counts: one row per (step, layer, rank, report time) with the per-expert
//    token counts as one list (OpList::stored), instead of one expert_routing row per
//    expert (routing_lists.cpp). TraceReader::expert_routing() gives the same rows in
//    the same order as the format 1/2 table did.
//  - topology_domains / topology_domain_gpus: a set of GPUs whose every pair has the same
//    link (an NVSwitch host: n GPUs, n(n-1)/2 pairs) as one row per GPU; pairs stay in
//    `topology` where links differ (topology_domains.cpp). TraceReader::topology() gives
//    the same rows in the same order as were added.
// These classes only turn logical rows into stored rows and back: TraceWriter inserts and
// TraceReader selects the stored rows through the descriptors.
// The writer keeps store.counts in logical rows (routing entries, GPU pairs);
// logical_count_sql() counts the same from the tables for the integrity check.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "moetune/trace/rows.h"
#include "moetune/trace/tables.h"

namespace moetune {

// Writer: rows of one (step, layer, rank, time) are collected and become one expert_counts
// row when the next row has another key (add returns it) or at flush().
class RoutingGroups {
 public:
  std::optional<ExpertCountsRow> add(const ExpertRoutingRow& r);
  std::optional<ExpertCountsRow> flush();

 private:
  ExpertRoutingRow key_;
  std::vector<std::int64_t> experts_, tokens_;
};

// Reader: expert_counts rows in (layer, step, rank, rowid) order -> the logical rows in
// (layer, step, rank, expert) order, rows of one (layer, step, rank) in the order they
// were added where the expert ties.
class RoutingExpander {
 public:
  void add(const ExpertCountsRow& r);
  std::vector<ExpertRoutingRow> finish();

 private:
  struct Entry {
    std::int64_t expert, tokens;
    std::int64_t step, layer, rank;
    std::optional<std::int64_t> time_ns;
  };
  void emit();
  std::vector<Entry> group_;
  std::vector<ExpertRoutingRow> out_;
};

// Writer: topology rows that walk the pairs of a GPU list in order ((0,1), (0,2), ..
// (0,n-1), (1,2), ..) with one link, bandwidth, host and source become a domain once all
// pairs are seen and n >= kMinDomain; anything else is written as the pairs it was.
class TopoDomains {
 public:
  static constexpr std::size_t kMinDomain = 4;
  static constexpr std::size_t kMaxDomain = 4096;  // the reader refuses larger (n^2 rows in memory)
  // Where the rows go (the writer's inserts); `pair` returns the new topology rowid.
  struct Sink {
    std::function<std::int64_t(const TopologyRow&)> pair;
    std::function<void(const TopoDomainRow&)> domain;
    std::function<void(const TopoDomainGpuRow&)> gpu;
  };
  explicit TopoDomains(Sink sink) : sink_(std::move(sink)) {}
  void add(const TopologyRow& r);
  void flush() { write_pending(); }

 private:
  struct Gpu {
    std::string label;
    std::optional<std::int64_t> rank;
  };
  void write_pair(const TopologyRow& r) { last_pair_rowid_ = sink_.pair(r); }
  void write_pending();  // the pairs taken so far, as pair rows or (complete) as a domain
  void start(const TopologyRow& r);
  bool same_link(const TopologyRow& r) const;
  bool is_pair(const TopologyRow& r, std::size_t i, std::size_t j) const;
  Sink sink_;
  std::int64_t last_pair_rowid_ = 0, domains_ = 0;
  TopologyRow link_;       // host, link, bandwidth and source of the pending pairs
  std::vector<Gpu> gpus_;  // the pending GPU list; empty: nothing pending
  bool closed_ = false;    // the list is complete (the (1,2) pair was seen)
  std::size_t i_ = 0, j_ = 0, pairs_ = 0;  // next expected pair, pairs taken
};

// Reader: the domains (after_row, id order) and their GPUs, then the pair rows in rowid
// order -> the topology rows in the order they were added.
class TopologyMerger {
 public:
  TopologyMerger(std::vector<TopoDomainRow> domains, const std::vector<TopoDomainGpuRow>& gpus);
  void pair(std::int64_t rowid, TopologyRow&& row);
  std::vector<TopologyRow> finish();

 private:
  void domains_before(std::int64_t rowid);  // emits the domains placed before pair row `rowid`
  std::vector<TopoDomainRow> domains_;
  std::map<std::int64_t, std::vector<const TopoDomainGpuRow*>> gpus_;  // by domain, in idx order
  std::size_t next_ = 0;
  std::vector<TopologyRow> out_;
};

// Strings ending in a long integer list (string_pack.cpp): the BLOB form, when it is
// smaller by enough; unpack_string gives the text back (nullopt: damaged).
bool pack_string(std::string_view s, std::string& out);
std::optional<std::string> unpack_string(std::string_view blob);

// SQL giving the logical row count of a table in a file of `version` (store.counts'
// unit), or "" when it is count(*) of the table itself.
std::string logical_count_sql(std::string_view table, int version);

}  // namespace moetune
