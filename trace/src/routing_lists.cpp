// SPDX-License-Identifier: Apache-2.0
// expert_counts (format 3): the tokens each rank routed to each expert in a step and
// layer, one row per (step, layer, rank, report time) with the counts as one list.
// A 1024-rank run with 256 experts held 5.24 M expert_routing rows (~77 bytes each with
// the index); the same counts are 20,480 rows of ~260 bytes here.
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

std::optional<ExpertCountsRow> RoutingGroups::add(const ExpertRoutingRow& r) {
  std::optional<ExpertCountsRow> done;
  if (!tokens_.empty() && (r.step != key_.step || r.layer != key_.layer || r.rank != key_.rank ||
                           r.time_ns != key_.time_ns))
    done = flush();
  if (tokens_.empty()) key_ = r;
  experts_.push_back(r.expert);
  tokens_.push_back(r.tokens);
  return done;
}

std::optional<ExpertCountsRow> RoutingGroups::flush() {
  if (tokens_.empty()) return std::nullopt;
  bool consecutive = true;
  for (std::size_t i = 0; i < experts_.size() && consecutive; ++i)
    consecutive = experts_[i] == experts_[0] + static_cast<std::int64_t>(i);
  ExpertCountsRow row{key_.step, key_.layer, key_.rank, key_.time_ns, static_cast<std::int64_t>(tokens_.size()),
                      experts_[0], std::nullopt, OpList::of(tokens_).stored()};
  if (!consecutive) row.experts = OpList::of(experts_).stored();
  experts_.clear();
  tokens_.clear();
  return row;
}

void RoutingExpander::emit() {
  auto by_expert = [](const Entry& a, const Entry& b) { return a.expert < b.expert; };
  if (!std::is_sorted(group_.begin(), group_.end(), by_expert)) std::stable_sort(group_.begin(), group_.end(), by_expert);
  for (const auto& e : group_)
    out_.push_back({e.step, int_id(e.layer), RankId(e.rank), int_id(e.expert), e.tokens, e.time_ns});
  group_.clear();
}

void RoutingExpander::add(const ExpertCountsRow& r) {
  const std::int64_t rank = r.rank.value;
  if (!group_.empty() && (group_.back().layer != r.layer || group_.back().step != r.step || group_.back().rank != rank))
    emit();
  const auto tokens = ints(OpList::from_stored(r.tokens));
  std::vector<std::int64_t> experts;
  if (r.experts) experts = ints(OpList::from_stored(*r.experts));
  const std::size_t n = r.experts ? std::min(tokens.size(), experts.size()) : tokens.size();
  for (std::size_t i = 0; i < n; ++i)
    group_.push_back({r.experts ? experts[i] : static_cast<std::int64_t>(static_cast<std::uint64_t>(r.expert0) + i),
                      tokens[i], r.step, r.layer, rank, r.time_ns});
}

std::vector<ExpertRoutingRow> RoutingExpander::finish() {
  emit();
  return std::move(out_);
}

}  // namespace moetune
