// SPDX-License-Identifier: Apache-2.0
// Report model: plot series and tables shared by the HTML/SVG report and the GUI's
// QCustomPlot report (see report_model.h).
#include "moetune/analyzers/report_model.h"

#include <algorithm>
#include <cctype>
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

namespace {
// nccl-tests bus-bandwidth factor (2(n-1)/n for all-reduce, (n-1)/n for all-gather,
// reduce-scatter and all-to-all, 1 otherwise).
double busbw_factor(const std::string& func, int n) {
  if (n <= 1) return 1.0;
  std::string f = func;
  std::transform(f.begin(), f.end(), f.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  if (f.find("allreduce") != std::string::npos) return 2.0 * (n - 1) / n;
  if (f.find("allgather") != std::string::npos || f.find("reducescatter") != std::string::npos ||
      f.find("alltoall") != std::string::npos)
    return double(n - 1) / n;
  return 1.0;
}
}  // namespace

BusBw busbw_series(const RunData& run) {
  BusBw b;
  const int nranks_run = std::max<int>(1, int(run.ranks.size()));
  std::map<std::string, std::map<int, std::vector<double>>> samples;  // func -> log2 bucket -> busbw
  for (const auto& o : run.nccl_ops) {
    const auto dur = o.end_ns - o.start_ns;
    if (dur <= 0 || o.bytes <= 0) continue;
    const double algbw = double(o.bytes) / double(dur);  // bytes/ns == GB/s
    const int n = o.nranks > 0 ? o.nranks : nranks_run;
    int bucket = 0;
    for (auto v = o.bytes; v > 1; v >>= 1) ++bucket;
    samples[o.func][bucket].push_back(algbw * busbw_factor(o.func, n));
  }
  for (auto& [func, buckets] : samples) {
    Series s;
    s.name = func;
    for (auto& [bucket, v] : buckets) {
      std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(v.size() / 2), v.end());
      s.x.push_back(std::ldexp(1.0, bucket));
      s.y.push_back(v[v.size() / 2]);
    }
    b.by_func.push_back(std::move(s));
  }
  for (const auto& t : run.topology)
    if (t.bandwidth_gbps && *t.bandwidth_gbps > b.ceiling_gbps) {
      b.ceiling_gbps = *t.bandwidth_gbps;
      b.ceiling_link = t.link;
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
  std::map<int, double> total;
  h.step_min = INT64_MAX;
  h.step_max = INT64_MIN;
  for (const auto& r : run.routing) {
    if (r.layer != layer) continue;
    h.tokens[{r.step, r.expert}] += double(r.tokens);
    total[r.expert] += double(r.tokens);
    h.step_min = std::min(h.step_min, r.step);
    h.step_max = std::max(h.step_max, r.step);
    h.experts = std::max(h.experts, r.expert + 1);
  }
  if (h.tokens.empty()) {
    h.step_min = h.step_max = 0;
    return h;
  }
  std::set<int> hot, cold;
  auto pick = [&](const nlohmann::json& arr, std::set<int>& out) {
    if (!arr.is_array()) return;
    for (const auto& e : arr) {
      if (e.is_number_integer()) out.insert(e.get<int>());
      else if (e.is_object() && e.contains("expert") && e.value("layer", layer) == layer) out.insert(e.value("expert", -1));
    }
  };
  if (result) {
    if (auto it = result->metrics.find("experts"); it != result->metrics.end() && it->is_object()) {
      if (it->contains("hot")) pick((*it)["hot"], hot);
      if (it->contains("cold")) pick((*it)["cold"], cold);
    }
  }
  h.hot_from_metrics = !hot.empty() || !cold.empty();
  if (!h.hot_from_metrics) {
    std::vector<std::pair<double, int>> order;
    for (auto [e, t] : total) order.push_back({t, e});
    std::sort(order.begin(), order.end());
    for (std::size_t i = 0; i < std::min<std::size_t>(3, order.size()); ++i) {
      cold.insert(order[i].second);
      hot.insert(order[order.size() - 1 - i].second);
    }
  }
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
  if (!busbw_series(run).by_func.empty()) out.push_back({"busbw", "Bus bandwidth per collective", -1});
  int n = 0;
  for (int layer : expert_layers(run)) {
    if (n++ == kMaxExpertLayers) break;  // first layers only: the report stays readable
    out.push_back({"experts_l" + std::to_string(layer), "Expert load, layer " + std::to_string(layer), layer});
  }
  return out;
}

}  // namespace moetune::analyzers
