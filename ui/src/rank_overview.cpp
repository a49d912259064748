// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/rank_overview.h"

#include <QColor>
#include <algorithm>
#include <nlohmann/json.hpp>

#include "moetune/analyzers/model.h"

namespace moetune::ui {

namespace {

std::string rank_span(const std::vector<int>& r) {
  if (r.empty()) return "no ranks";
  const bool contiguous = r.back() - r.front() + 1 == int(r.size());
  if (r.size() == 1) return "rank " + std::to_string(r.front());
  if (contiguous) return "ranks " + std::to_string(r.front()) + "-" + std::to_string(r.back());
  return std::to_string(r.size()) + " ranks";
}

}  // namespace

RankNodes RankNodes::build(const analyzers::RunData& run, const TimelineData& tl) {
  // host -> ranks, hosts in the order of their lowest rank
  std::map<int, std::string> host_of;
  for (const auto& r : run.ranks) {
    if (r.rank.value < 0 || r.rank.value > 100'000'000) continue;
    host_of[int(r.rank.value)] = r.host;
  }
  for (const auto& g : tl.groups) host_of.emplace(g.rank, std::string());
  std::map<std::string, std::vector<int>> by_host;
  std::vector<std::pair<int, std::string>> order;  // (lowest rank, host)
  for (const auto& [rank, host] : host_of) {
    const std::string h = host.empty() ? "?" : host;
    auto& v = by_host[h];
    if (v.empty()) order.emplace_back(rank, h);
    v.push_back(rank);
  }
  std::sort(order.begin(), order.end());
  RankNodes out;
  for (const auto& [first, host] : order) {
    const auto& ranks = by_host[host];
    const bool split = int(ranks.size()) > kMaxNodeRanks;
    for (std::size_t i = 0, k = 0; i < ranks.size(); i += split ? kSplitRanks : ranks.size(), ++k) {
      NodeGroup n;
      n.host = host;
      const std::size_t e = split ? std::min(ranks.size(), i + kSplitRanks) : ranks.size();
      n.ranks.assign(ranks.begin() + std::ptrdiff_t(i), ranks.begin() + std::ptrdiff_t(e));
      n.label = (split ? host + "/" + std::to_string(k) : host) + " \u00b7 " + rank_span(n.ranks);
      for (int r : n.ranks) out.node_of[r] = int(out.nodes.size());
      out.nodes.push_back(std::move(n));
    }
  }
  return out;
}

int RankNodes::node_of_rank(int rank) const {
  auto it = node_of.find(rank);
  return it == node_of.end() ? -1 : it->second;
}

RankHeat RankHeat::from_timeline(const TimelineData& tl, std::int64_t data_t0, std::int64_t data_t1) {
  RankHeat h;
  h.data_t0_ = data_t0;
  h.data_t1_ = data_t1;
  h.scale_max_ = 1.0;
  for (const auto& g : tl.groups) {
    const Lane* src = nullptr;
    for (int li : g.lanes) {
      const Lane& l = tl.lanes[std::size_t(li)];
      if (l.kind == LaneKind::Comm) { src = &l; break; }
      if (l.kind == LaneKind::NcclOp && !src) src = &l;
    }
    if (!src || src->events.empty()) continue;
    Busy b;
    for (const LaneEvent& e : src->events) {  // sorted by start: merge overlaps
      if (e.dur <= 0) continue;
      if (!b.end.empty() && e.start <= b.end.back()) {
        b.end.back() = std::max(b.end.back(), e.end());
      } else {
        b.start.push_back(e.start);
        b.end.push_back(e.end());
      }
    }
    b.prefix.resize(b.start.size() + 1, 0);
    for (std::size_t i = 0; i < b.start.size(); ++i) b.prefix[i + 1] = b.prefix[i] + (b.end[i] - b.start[i]);
    h.busy_.emplace(g.rank, std::move(b));
  }
  return h;
}

bool RankHeat::set_metrics(const nlohmann::json& metrics) {
  const auto pr = metrics.find("per_rank");
  if (pr == metrics.end() || !pr->is_array()) return false;
  std::map<int, std::vector<StepCell>> steps;
  double top = 0;
  for (const auto& r : *pr) {
    if (!r.is_object() || !r.contains("rank") || !r["rank"].is_number_integer()) continue;
    const auto sb = r.find("step_buckets");
    if (sb == r.end() || !sb->is_array()) continue;
    auto& cells = steps[r["rank"].get<int>()];
    for (const auto& s : *sb) {
      if (!s.is_object()) continue;
      auto num = [&s](const char* k) { return s.contains(k) && s[k].is_number() ? s[k].get<double>() : 0.0; };
      auto i64 = [&s](const char* k) -> std::int64_t {
        return s.contains(k) && s[k].is_number_integer() ? s[k].get<std::int64_t>() : 0;
      };
      StepCell c{i64("start_ns"), i64("end_ns"), i64("step"), num("comm_wait_ms"), num("step_time_ms")};
      if (c.t1 <= c.t0 || c.step_ms <= 0) continue;
      top = std::max(top, c.share());
      cells.push_back(c);
    }
  }
  if (steps.empty()) return false;
  steps_ = std::move(steps);
  from_analysis_ = true;
  scale_max_ = std::max(top, 0.01);
  return true;
}

const std::vector<StepCell>& RankHeat::steps_of(int rank) const {
  static const std::vector<StepCell> none;
  auto it = steps_.find(rank);
  return it == steps_.end() ? none : it->second;
}

double RankHeat::busy_share(int rank, std::int64_t t0, std::int64_t t1) const {
  t0 = std::max(t0, data_t0_);
  t1 = std::min(t1, data_t1_);
  if (t1 <= t0) return -1;
  auto it = busy_.find(rank);
  if (it == busy_.end()) return -1;
  const Busy& b = it->second;
  // intervals [i, j) overlap [t0, t1): end > t0 and start < t1
  const auto i = std::size_t(std::upper_bound(b.end.begin(), b.end.end(), t0) - b.end.begin());
  const auto j = std::size_t(std::lower_bound(b.start.begin(), b.start.end(), t1) - b.start.begin());
  if (i >= j) return 0;
  std::int64_t sum = b.prefix[j] - b.prefix[i];
  sum -= std::max<std::int64_t>(0, t0 - b.start[i]);      // clip the first
  sum -= std::max<std::int64_t>(0, b.end[j - 1] - t1);    // and the last
  return std::clamp(double(sum) / double(t1 - t0), 0.0, 1.0);
}

QColor heat_color(double v) {
  v = std::clamp(v, 0.0, 1.0);
  // four stops: pale blue (none: apart from the white of no data and the amber of a
  // highlight) -> pale yellow -> orange -> dark red
  struct Stop { double r, g, b; };
  static constexpr Stop s[4] = {{196, 220, 240}, {255, 237, 160}, {253, 141, 60}, {153, 0, 13}};
  const int k = std::min(2, int(v * 3));
  const double f = v * 3 - k;
  return QColor(int(s[k].r + (s[k + 1].r - s[k].r) * f), int(s[k].g + (s[k + 1].g - s[k].g) * f),
                int(s[k].b + (s[k + 1].b - s[k].b) * f));
}

}  // namespace moetune::ui
