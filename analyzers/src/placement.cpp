// SPDX-License-Identifier: Apache-2.0
// Placement plan file format (docs/PLACEMENT.md), EPLB layout, and plan evaluation.
#include "moetune/analyzers/placement.h"
#include "json_io.h"
#include "moetune/trace/safe_file.h"

#include <algorithm>
#include <numeric>
#include <set>

namespace moetune::analyzers {

int PlacementPlan::copies(int layer) const {
  auto it = layers.find(layer);
  if (it == layers.end()) return 0;
  int n = 0;
  for (const auto& r : it->second) n += static_cast<int>(r.size());
  return n;
}

Expected<void> validate(const PlacementPlan& p) {
  if (p.experts <= 0) return Error{"\"experts\" must be > 0"};
  if (p.ranks <= 0) return Error{"\"ranks\" must be > 0"};
  for (const auto& [layer, ex] : p.layers) {
    std::string where = "layer " + std::to_string(layer);
    if (layer < 0) return Error{where + ": negative layer index"};
    if (static_cast<int>(ex.size()) != p.experts)
      return Error{where + ": lists " + std::to_string(ex.size()) + " experts, expected " + std::to_string(p.experts)};
    for (int e = 0; e < p.experts; ++e) {
      const auto& rs = ex[static_cast<std::size_t>(e)];
      if (rs.empty()) return Error{where + " expert " + std::to_string(e) + ": no rank holds it"};
      std::set<int> seen;
      for (int r : rs) {
        if (r < 0 || r >= p.ranks)
          return Error{where + " expert " + std::to_string(e) + ": rank " + std::to_string(r) + " out of range 0.." +
                       std::to_string(p.ranks - 1)};
        if (!seen.insert(r).second)
          return Error{where + " expert " + std::to_string(e) + ": rank " + std::to_string(r) + " listed twice"};
      }
    }
  }
  return {};
}

EplbLayout to_eplb(const PlacementPlan& p) {
  EplbLayout out;
  // Slots per rank: the most copies any rank holds in any layer (EPLB needs a fixed count).
  int slots = 1;
  for (const auto& [layer, ex] : p.layers) {
    std::vector<int> per(static_cast<std::size_t>(p.ranks), 0);
    for (const auto& rs : ex)
      for (int r : rs) slots = std::max(slots, ++per[static_cast<std::size_t>(r)]);
  }
  out.slots_per_rank = slots;
  for (const auto& [layer, ex] : p.layers) {
    std::vector<int> phy(static_cast<std::size_t>(p.ranks * slots), -1);
    std::vector<int> used(static_cast<std::size_t>(p.ranks), 0);
    std::vector<std::vector<int>> l2p(static_cast<std::size_t>(p.experts));
    std::vector<int> cnt(static_cast<std::size_t>(p.experts), 0);
    std::size_t max_rep = 1;
    for (int e = 0; e < p.experts; ++e) {
      for (int r : ex[static_cast<std::size_t>(e)]) {
        int slot = r * slots + used[static_cast<std::size_t>(r)]++;
        phy[static_cast<std::size_t>(slot)] = e;
        l2p[static_cast<std::size_t>(e)].push_back(slot);
      }
      cnt[static_cast<std::size_t>(e)] = static_cast<int>(ex[static_cast<std::size_t>(e)].size());
      max_rep = std::max(max_rep, l2p[static_cast<std::size_t>(e)].size());
    }
    for (auto& v : l2p) v.resize(max_rep, -1);
    out.phy2log.push_back(std::move(phy));
    out.log2phy.push_back(std::move(l2p));
    out.logcnt.push_back(std::move(cnt));
  }
  return out;
}

nlohmann::json to_json(const PlacementPlan& p) {
  nlohmann::json j{{"format", "moetune-placement"}, {"version", 1}, {"experts", p.experts}, {"ranks", p.ranks}};
  auto& layers = j["layers"] = nlohmann::json::object();
  for (const auto& [layer, ex] : p.layers) {
    auto& jl = layers[std::to_string(layer)] = nlohmann::json::object();
    for (std::size_t e = 0; e < ex.size(); ++e) jl[std::to_string(e)] = ex[e];
  }
  EplbLayout eb = to_eplb(p);
  j["eplb"] = {{"slots_per_rank", eb.slots_per_rank},
               {"phy2log", eb.phy2log},
               {"log2phy", eb.log2phy},
               {"logcnt", eb.logcnt}};
  return j;
}

namespace {
bool parse_index(const std::string& s, int& out) {
  if (s.empty() || s.size() > 9) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  out = std::stoi(s);
  return true;
}
}  // namespace

Expected<PlacementPlan> placement_from_json(const nlohmann::json& j, const std::string& where) {
  auto bad = [&](const std::string& what) { return Error{where + ": " + what}; };
  if (!j.is_object()) return bad("placement is not a JSON object");
  if (j.contains("format") && j["format"] != "moetune-placement")
    return bad("\"format\" is not \"moetune-placement\"");
  if (j.contains("version") && (!j["version"].is_number_integer() || j["version"].get<int>() != 1))
    return bad("unsupported placement \"version\" (this moetune reads version 1)");
  if (!j.contains("experts") || !j["experts"].is_number_integer()) return bad("missing integer \"experts\"");
  if (!j.contains("ranks") || !j["ranks"].is_number_integer()) return bad("missing integer \"ranks\"");
  if (!j.contains("layers") || !j["layers"].is_object()) return bad("missing object \"layers\"");
  PlacementPlan p;
  p.experts = j["experts"].get<int>();
  p.ranks = j["ranks"].get<int>();
  if (p.experts <= 0 || p.experts > 1 << 20) return bad("\"experts\" out of range");
  if (p.ranks <= 0 || p.ranks > 1 << 20) return bad("\"ranks\" out of range");
  for (const auto& [lk, lv] : j["layers"].items()) {
    int layer = 0;
    if (!parse_index(lk, layer)) return bad("layer key \"" + lk + "\" is not a non-negative integer");
    if (!lv.is_object()) return bad("layer " + lk + " is not an object");
    std::vector<std::vector<int>> ex(static_cast<std::size_t>(p.experts));
    for (const auto& [ek, ev] : lv.items()) {
      int e = 0;
      if (!parse_index(ek, e) || e >= p.experts)
        return bad("layer " + lk + ": expert key \"" + ek + "\" is not in 0.." + std::to_string(p.experts - 1));
      if (!ev.is_array()) return bad("layer " + lk + " expert " + ek + ": ranks must be an array");
      for (const auto& r : ev) {
        if (!r.is_number_integer()) return bad("layer " + lk + " expert " + ek + ": rank is not an integer");
        ex[static_cast<std::size_t>(e)].push_back(r.get<int>());
      }
    }
    p.layers[layer] = std::move(ex);
  }
  if (auto v = validate(p); !v) return bad(v.error().message);
  return p;
}

Expected<PlacementPlan> read_placement(const std::filesystem::path& file) {
  return detail::read_json_file(file, placement_from_json);
}

Expected<void> write_placement(const std::filesystem::path& file, const PlacementPlan& p) {
  if (auto v = validate(p); !v) return Error{file.string() + ": " + v.error().message};
  // Replaced, never written through: a symlink at `file` is replaced by the new file.
  return write_file_safely(file, to_json(p).dump(2) + "\n", true);
}

PlacementPlan default_placement(int layers, int experts, int ranks) {
  PlacementPlan p;
  p.experts = experts;
  p.ranks = ranks;
  for (int l = 0; l < layers; ++l) {
    std::vector<std::vector<int>> ex(static_cast<std::size_t>(experts));
    for (int e = 0; e < experts; ++e) ex[static_cast<std::size_t>(e)] = {e % ranks};
    p.layers[l] = std::move(ex);
  }
  return p;
}

PlanEval evaluate_plan(const PlanInputs& in, const PlacementPlan& plan) {
  PlanEval ev;
  const auto R = static_cast<std::size_t>(in.ranks);
  ev.rank_tokens.assign(R, 0.0);
  std::vector<double> sent(R, 0.0), received(R, 0.0), cross_sent(R, 0.0), cross_received(R, 0.0);
  double local = 0, same = 0, cross = 0;
  auto node = [&](int r) { return r < static_cast<int>(in.node_of_rank.size()) ? in.node_of_rank[static_cast<std::size_t>(r)] : r; };
  for (std::size_t l = 0; l < in.load.size(); ++l) {
    auto it = plan.layers.find(static_cast<int>(l));
    if (it == plan.layers.end()) continue;
    const auto& ex = it->second;
    for (std::size_t s = 0; s < in.load[l].size(); ++s) {
      for (std::size_t e = 0; e < in.load[l][s].size() && e < ex.size(); ++e) {
        double t = in.load[l][s][e];
        if (t <= 0) continue;
        const auto& rs = ex[e];
        if (std::find(rs.begin(), rs.end(), static_cast<int>(s)) != rs.end()) {
          local += t;
          ev.rank_tokens[s] += t;
          continue;
        }
        std::vector<int> near;
        for (int r : rs)
          if (node(r) == node(static_cast<int>(s))) near.push_back(r);
        const auto& targets = near.empty() ? rs : near;
        (near.empty() ? cross : same) += t;
        const double part = t / static_cast<double>(targets.size());
        for (int r : targets) {
          const auto d = static_cast<std::size_t>(r);
          ev.rank_tokens[d] += part;
          if (s < R) sent[s] += part;
          if (d < R) received[d] += part;
          if (near.empty() && s < R && d < R) cross_sent[s] += part, cross_received[d] += part;
        }
      }
    }
  }
  double total = local + same + cross;
  if (total > 0) {
    ev.local_pct = 100.0 * local / total;
    ev.same_node_pct = 100.0 * same / total;
    ev.cross_node_pct = 100.0 * cross / total;
  }
  ev.cross_node_tokens = cross;
  double mx = 0, sum = 0;
  for (std::size_t r = 0; r < R; ++r) {
    double sp = r < in.speed.size() && in.speed[r] > 0 ? in.speed[r] : 1.0;
    ev.max_rank_time = std::max(ev.max_rank_time, ev.rank_tokens[r] / sp);
    mx = std::max(mx, ev.rank_tokens[r]);
    sum += ev.rank_tokens[r];
    ev.max_rank_remote_tokens = std::max({ev.max_rank_remote_tokens, sent[r], received[r]});
    ev.max_rank_cross_node_tokens = std::max({ev.max_rank_cross_node_tokens, cross_sent[r], cross_received[r]});
  }
  ev.balancedness = mx > 0 ? (sum / static_cast<double>(R)) / mx : 1.0;
  int base = 0;
  for (const auto& [layer, ex] : plan.layers) {
    ev.extra_copies += plan.copies(layer) - static_cast<int>(ex.size());
    base += static_cast<int>(ex.size());
  }
  ev.memory_cost_pct = base > 0 ? 100.0 * ev.extra_copies / base : 0;
  return ev;
}

nlohmann::json to_json(const PlanEval& e) {
  return {{"local_hit_pct", e.local_pct},
          {"same_node_pct", e.same_node_pct},
          {"cross_node_pct", e.cross_node_pct},
          {"cross_node_tokens_per_step", e.cross_node_tokens},
          {"max_rank_time_tokens", e.max_rank_time},
          {"max_rank_remote_tokens", e.max_rank_remote_tokens},
          {"max_rank_cross_node_tokens", e.max_rank_cross_node_tokens},
          {"balancedness", e.balancedness},
          {"extra_copies", e.extra_copies},
          {"memory_cost_pct", e.memory_cost_pct},
          {"rank_tokens_per_step", e.rank_tokens}};
}

}  // namespace moetune::analyzers
