// SPDX-License-Identifier: Apache-2.0
// Format 3's compact tables (trace/schema.sql), behind the unchanged row API:
//  - expert_counts: one row per (step, layer, rank, report time) with the per-expert
//    token counts as one list (OpList::stored), instead of one expert_routing row per
//    expert (routing_lists.cpp). TraceReader::expert_routing() gives the same rows in
//    the same order as the format 1/2 table did.
//  - topology_domains / topology_domain_gpus: a set of GPUs whose every pair has the same
//    link (an NVSwitch host: n GPUs, n(n-1)/2 pairs) as one row per GPU; pairs stay in
//    `topology` where links differ (topology_domains.cpp). TraceReader::topology() gives
//    the same rows in the same order as were added.
// The writer keeps store.counts in logical rows (routing entries, GPU pairs);
// logical_count_sql() counts the same from the tables for the integrity check.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "moetune/trace/db.h"
#include "moetune/trace/rows.h"

namespace moetune {

// Rows of one (step, layer, rank, time) are collected and written as one expert_counts row
// when the next row has another key, or at flush(). Return: an SQLite rc (SQLITE_DONE ok).
class RoutingGroups {
 public:
  Expected<void> prepare(Db& db);
  int add(const ExpertRoutingRow& r);
  int flush();

 private:
  Statement ins_;
  ExpertRoutingRow key_;
  std::vector<std::int64_t> experts_, tokens_;
};

// Topology rows that walk the pairs of a GPU list in order ((0,1), (0,2), .. (0,n-1),
// (1,2), ..) with one link, bandwidth, host and source become a domain once all pairs
// are seen and n >= kMinDomain; anything else is written as the pairs it was.
class TopoDomains {
 public:
  static constexpr std::size_t kMinDomain = 4;
  static constexpr std::size_t kMaxDomain = 4096;  // the reader refuses larger (n^2 rows in memory)
  Expected<void> prepare(Db& db);
  int add(const TopologyRow& r);
  int flush();

 private:
  struct Gpu {
    std::string label;
    std::optional<std::int64_t> rank;
  };
  int write_pair(const TopologyRow& r);
  int write_pending();  // the pairs taken so far, as pair rows or (complete) as a domain
  void start(const TopologyRow& r);
  bool same_link(const TopologyRow& r) const;
  bool is_pair(const TopologyRow& r, std::size_t i, std::size_t j) const;
  Db* db_ = nullptr;
  Statement pair_, domain_, gpu_;
  std::int64_t last_pair_rowid_ = 0, domains_ = 0;
  TopologyRow link_;       // host, link, bandwidth and source of the pending pairs
  std::vector<Gpu> gpus_;  // the pending GPU list; empty: nothing pending
  bool closed_ = false;    // the list is complete (the (1,2) pair was seen)
  std::size_t i_ = 0, j_ = 0, pairs_ = 0;  // next expected pair, pairs taken
};

// Strings ending in a long integer list (string_pack.cpp): the BLOB form, when it is
// smaller by enough; unpack_string gives the text back (nullopt: damaged).
bool pack_string(std::string_view s, std::string& out);
std::optional<std::string> unpack_string(std::string_view blob);

// Reader side (format 3).
std::vector<ExpertRoutingRow> read_routing_v3(Db& db);
std::vector<TopologyRow> read_topology_v3(Db& db);
// SQL giving the logical row count of a table in a file of `version` (store.counts'
// unit), or "" when it is count(*) of the table itself.
std::string logical_count_sql(const std::string& table, int version);
// Tables a format before `version` has that this schema no longer creates, with the
// columns they must have (check_schema checks them on older files).
std::map<std::string, std::set<std::string>> legacy_tables(int version);

}  // namespace moetune
