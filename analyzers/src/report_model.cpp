// SPDX-License-Identifier: Apache-2.0
// Report model: plot series and tables shared by the HTML/SVG report and the GUI's
// QCustomPlot report (see report_model.h).
#include "moetune/analyzers/report_model.h"

#include <algorithm>
#include <cstdio>
#include <climits>
#include <cmath>
#include <set>

#include "moetune/analyzers/report.h"

namespace moetune::analyzers {
std::vector<Series> step_time_series(const RunData& run) {
  std::map<std::int64_t, Series> by_rank;
  for (const auto& s : run.steps) {
    auto& v = by_rank[s.rank.value];
    v.x.push_back(double(s.step));
    v.y.push_back(double(s.end_ns - s.start_ns) / 1e6);
  }
  std::vector<Series> out;
  for (auto& [rank, v] : by_rank) {
    v.name = "rank " + std::to_string(rank);
    out.push_back(std::move(v));
  }
  return out;
}

std::string BusBw::ceiling_label() const {
  if (ceiling_gbps <= 0) return {};
  char buf[160];
  std::snprintf(buf, sizeof buf, "link ceiling %s %.0f GB/s (achievable: %.0f %% of %.0f GB/s raw)", ceiling_link.c_str(),
                ceiling_gbps, 100 * ceiling_fraction, ceiling_raw_gbps);
  return buf;
}

BusBw busbw_series(const AnalysisResult& r) {
  BusBw b;
  std::map<std::string, std::map<std::int64_t, const CollectiveMetrics*>> pick;  // func -> bytes -> row
  for (const auto& c : r.collectives) {
    if (c.bytes <= 0 || c.busbw_gbps <= 0) continue;
    auto& slot = pick[c.func][c.bytes];
    if (!slot || c.count > slot->count) slot = &c;
    if (c.ceiling && c.ceiling->achievable_gbps > b.ceiling_gbps) {
      b.ceiling_gbps = c.ceiling->achievable_gbps;
      b.ceiling_raw_gbps = c.ceiling->raw_gbps;
      b.ceiling_fraction = c.ceiling->fraction;
      b.ceiling_link = c.ceiling->link;
    }
  }
  for (const auto& [func, by_size] : pick) {
    Series s;
    s.name = func;
    for (const auto& [bytes, row] : by_size) {
      s.x.push_back(static_cast<double>(bytes));
      s.y.push_back(row->busbw_gbps);
    }
    b.by_func.push_back(std::move(s));
  }
  return b;
}

std::vector<int> expert_layers(const RunData& run) {
  std::set<int> s;
  for (const auto& r : run.routing) s.insert(r.layer);
  return {s.begin(), s.end()};
}

ExpertHeat expert_heat(const RunData& run, const AnalysisResult* result, int layer) {
  ExpertHeat h;
  h.layer = layer;
  h.step_min = INT64_MAX;
  h.step_max = INT64_MIN;
  for (const auto& r : run.routing) {
    if (r.layer != layer) continue;
    h.tokens[{r.step, r.expert}] += double(r.tokens);
    h.step_min = std::min(h.step_min, r.step);
    h.step_max = std::max(h.step_max, r.step);
    h.experts = std::max(h.experts, r.expert < INT_MAX ? r.expert + 1 : INT_MAX);  // ids come from the file
  }
  if (h.tokens.empty()) {
    h.step_min = h.step_max = 0;
    return h;
  }
  std::set<int> hot, cold;
  if (result) {
    for (const auto& m : result->experts.hot)
      if (m.layer == layer) hot.insert(m.expert);
    for (const auto& m : result->experts.cold)
      if (m.layer == layer) cold.insert(m.expert);
  }
  h.hot_from_metrics = !hot.empty() || !cold.empty();
  h.hot.assign(hot.begin(), hot.end());
  h.cold.assign(cold.begin(), cold.end());
  return h;
}

LinkMatrix link_matrix(const RunData& run) {
  LinkMatrix m;
  std::map<std::string, std::size_t> idx;
  auto id = [&](const std::string& n) {
    auto [it, fresh] = idx.try_emplace(n, m.names.size());
    if (fresh) m.names.push_back(n);
    return it->second;
  };
  for (const auto& t : run.topology) {
    id(t.a);
    id(t.b);
  }
  m.code.assign(m.names.size(), std::vector<std::string>(m.names.size()));
  for (const auto& t : run.topology) {
    const auto a = idx[t.a], b = idx[t.b];
    m.code[a][b] = t.link;
    if (m.code[b][a].empty()) m.code[b][a] = t.link;
  }
  return m;
}

std::vector<PlotSpec> report_plots(const RunData& run, const AnalysisResult& r) {
  std::vector<PlotSpec> out;
  if (!run.steps.empty()) out.push_back({"step_time", "Step time per step", -1});
  if (step_ratios(r).plotted().size() >= 2) out.push_back({"comm_ratio", "Communication ratio per step", -1});
  if (!busbw_series(r).by_func.empty()) out.push_back({"busbw", "Bus bandwidth per collective", -1});
  int n = 0;
  for (int layer : expert_layers(run)) {
    if (n++ == kMaxExpertLayers) break;  // first layers only: the report stays readable
    out.push_back({"experts_l" + std::to_string(layer), "Expert load, layer " + std::to_string(layer), layer});
  }
  return out;
}

}  // namespace moetune::analyzers
