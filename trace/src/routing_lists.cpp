// SPDX-License-Identifier: Apache-2.0
// expert_counts (format 3): the tokens each rank routed to each expert in a step and
// layer, one row per (step, layer, rank, report time) with the counts as one list.
// A 1024-rank run with 256 experts held 5.24 M expert_routing rows (~77 bytes each with
// the index); the same counts are 20,480 rows of ~260 bytes here.
#include <sqlite3.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "compact_store.h"

namespace moetune {

namespace {
// The integers of a list: compact ones decoded, verbatim text ("[-3, 4]": negative
// values keep OpList's text form) parsed.
std::vector<std::int64_t> ints(const OpList& l) {
  if (l.compact() || !l) return l.values();
  std::vector<std::int64_t> out;
  const std::string s = l.text();
  const char* p = s.c_str();
  while (*p) {
    if ((*p >= '0' && *p <= '9') || *p == '-') {
      char* end = nullptr;
      const long long v = std::strtoll(p, &end, 10);
      if (end == p) {
        ++p;
        continue;
      }
      out.push_back(v);
      p = end;
    } else {
      ++p;
    }
  }
  return out;
}

int int_id(std::int64_t v) { return v < INT_MIN || v > INT_MAX ? -1 : static_cast<int>(v); }
}  // namespace

Expected<void> RoutingGroups::prepare(Db& db) {
  auto st = db.prepare(
      "INSERT INTO expert_counts(step,layer,rank,time_ns,n,expert0,experts,tokens) VALUES(?,?,?,?,?,?,?,?)");
  if (!st) return st.error();
  ins_ = std::move(*st);
  return {};
}

int RoutingGroups::add(const ExpertRoutingRow& r) {
  int rc = SQLITE_DONE;
  if (!tokens_.empty() && (r.step != key_.step || r.layer != key_.layer || r.rank != key_.rank ||
                           r.time_ns != key_.time_ns))
    rc = flush();
  if (tokens_.empty()) key_ = r;
  experts_.push_back(r.expert);
  tokens_.push_back(r.tokens);
  return rc;
}

int RoutingGroups::flush() {
  if (tokens_.empty()) return SQLITE_DONE;
  bool consecutive = true;
  for (std::size_t i = 0; i < experts_.size() && consecutive; ++i)
    consecutive = experts_[i] == experts_[0] + static_cast<std::int64_t>(i);
  ins_.bind(1, key_.step).bind(2, static_cast<std::int64_t>(key_.layer)).bind(3, key_.rank.value);
  if (key_.time_ns) ins_.bind(4, *key_.time_ns);
  else ins_.bind_null(4);
  ins_.bind(5, static_cast<std::int64_t>(tokens_.size())).bind(6, experts_[0]);
  if (consecutive) ins_.bind_null(7);
  else ins_.bind_blob(7, OpList::of(experts_).stored());
  ins_.bind_blob(8, OpList::of(tokens_).stored());
  experts_.clear();
  tokens_.clear();
  return ins_.exec();
}

// Rows ordered by (layer, step, rank, expert) as the format 1/2 query gave them; rows of
// one (layer, step, rank) in the order they were added where the expert ties.
std::vector<ExpertRoutingRow> read_routing_v3(Db& db) {
  std::vector<ExpertRoutingRow> out;
  auto st = db.prepare(
      "SELECT step,layer,rank,time_ns,expert0,experts,tokens FROM expert_counts ORDER BY layer, step, rank, rowid");
  if (!st) return out;
  struct Entry {
    std::int64_t expert, tokens;
    std::int64_t step, layer, rank;
    std::optional<std::int64_t> time_ns;
  };
  std::vector<Entry> group;
  auto emit = [&] {
    auto by_expert = [](const Entry& a, const Entry& b) { return a.expert < b.expert; };
    if (!std::is_sorted(group.begin(), group.end(), by_expert)) std::stable_sort(group.begin(), group.end(), by_expert);
    for (const auto& e : group)
      out.push_back({e.step, int_id(e.layer), RankId(e.rank), int_id(e.expert), e.tokens, e.time_ns});
    group.clear();
  };
  while (st->step()) {
    const std::int64_t step = st->i64(0), layer = st->i64(1), rank = st->i64(2);
    if (!group.empty() && (group.back().layer != layer || group.back().step != step || group.back().rank != rank))
      emit();
    const auto time_ns = st->opt_i64(3);
    const std::int64_t expert0 = st->i64(4);
    const auto tokens = ints(OpList::from_stored(std::string(st->text_view(6))));
    std::vector<std::int64_t> experts;
    if (!st->is_null(5)) experts = ints(OpList::from_stored(std::string(st->text_view(5))));
    const std::size_t n = st->is_null(5) ? tokens.size() : std::min(tokens.size(), experts.size());
    for (std::size_t i = 0; i < n; ++i)
      group.push_back({st->is_null(5) ? static_cast<std::int64_t>(static_cast<std::uint64_t>(expert0) + i) : experts[i],
                       tokens[i], step, layer, rank, time_ns});
  }
  emit();
  return out;
}

}  // namespace moetune
