// SPDX-License-Identifier: Apache-2.0
// Placement planners: moetune's speed- and topology-aware local search, and an
// EPLB-style greedy balance for comparison. Both work per layer: every MoE layer is a
// dispatch/combine sync point, so a step costs roughly the sum over layers of the
// slowest rank's expert time in that layer.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "moetune/analyzers/placement.h"

namespace moetune::analyzers {
namespace {

using Layer = std::vector<std::vector<int>>;  // expert -> ranks

// Cost of one layer under the routing rule of placement.h:
// (max over ranks of tokens/speed, cross-node tokens). Lower is better, compared in order;
// busiest-rank times within 1 % count as equal, so a plan that keeps the pace but sends
// fewer tokens across nodes (a replicated hot expert) wins: on socket/network-bound jobs
// the traffic, not the expert compute, is what the step waits for.
struct Cost {
  double max_time = 0, cross = 0;
  bool better_than(const Cost& o) const {
    const double eps = 0.01 * std::max(1.0, o.max_time);
    if (max_time < o.max_time - eps) return true;
    if (max_time > o.max_time + eps) return false;
    return cross < o.cross - 1e-9 * std::max(1.0, o.cross);
  }
};

class LayerModel {
 public:
  LayerModel(const PlanInputs& in, std::size_t layer) : in_(in), load_(in.load[layer]) {}

  int node(int r) const {
    return r < static_cast<int>(in_.node_of_rank.size()) ? in_.node_of_rank[static_cast<std::size_t>(r)] : r;
  }
  double speed(int r) const {
    auto i = static_cast<std::size_t>(r);
    return i < in_.speed.size() && in_.speed[i] > 0 ? in_.speed[i] : 1.0;
  }
  std::vector<double> rank_tokens(const Layer& ex, double* cross_out) const {
    std::vector<double> t(static_cast<std::size_t>(in_.ranks), 0.0);
    double cross = 0;
    std::vector<int> near;
    for (std::size_t s = 0; s < load_.size(); ++s)
      for (std::size_t e = 0; e < load_[s].size() && e < ex.size(); ++e) {
        double v = load_[s][e];
        if (v <= 0) continue;
        const auto& rs = ex[e];
        if (std::find(rs.begin(), rs.end(), static_cast<int>(s)) != rs.end()) {
          t[s] += v;
          continue;
        }
        near.clear();
        for (int r : rs)
          if (node(r) == node(static_cast<int>(s))) near.push_back(r);
        if (near.empty()) cross += v;
        const auto& tg = near.empty() ? rs : near;
        for (int r : tg) t[static_cast<std::size_t>(r)] += v / static_cast<double>(tg.size());
      }
    if (cross_out) *cross_out = cross;
    return t;
  }
  // Cost of `ex` with one more copy of expert e on rank r, from t/cross = rank_tokens(ex):
  // only expert e's tokens move, so this is O(ranks), not O(ranks x experts).
  Cost cost_with_replica(const Layer& ex, const std::vector<double>& t, double cross, int e, int r) const {
    auto rs = ex[static_cast<std::size_t>(e)];
    rs.push_back(r);
    return cost_with(ex, t, cross, e, rs);
  }
  // Cost of `ex` with expert e placed on `rs` (and expert f on `rf` when f >= 0), from
  // t/cross = rank_tokens(ex): only those experts' tokens move (O(ranks) per trial).
  Cost cost_with(const Layer& ex, const std::vector<double>& t, double cross, int e, const std::vector<int>& rs,
                 int f = -1, const std::vector<int>* rf = nullptr) const {
    std::vector<double> t2 = t;
    spread(e, ex[static_cast<std::size_t>(e)], -1.0, t2, cross);
    spread(e, rs, 1.0, t2, cross);
    if (f >= 0 && rf) {
      spread(f, ex[static_cast<std::size_t>(f)], -1.0, t2, cross);
      spread(f, *rf, 1.0, t2, cross);
    }
    Cost c;
    c.cross = cross;
    for (int q = 0; q < in_.ranks; ++q) c.max_time = std::max(c.max_time, t2[static_cast<std::size_t>(q)] / speed(q));
    return c;
  }
  Cost cost(const Layer& ex) const {
    Cost c;
    auto t = rank_tokens(ex, &c.cross);
    for (int r = 0; r < in_.ranks; ++r) c.max_time = std::max(c.max_time, t[static_cast<std::size_t>(r)] / speed(r));
    return c;
  }
  std::vector<double> expert_load() const {
    std::vector<double> w(static_cast<std::size_t>(in_.experts), 0.0);
    for (const auto& src : load_)
      for (std::size_t e = 0; e < src.size() && e < w.size(); ++e) w[e] += src[e];
    return w;
  }

 private:
  // Adds sign x expert e's tokens from every source rank onto the copies `rs`, as rank_tokens does.
  void spread(int e, const std::vector<int>& rs, double sign, std::vector<double>& t, double& cross) const {
    const auto ei = static_cast<std::size_t>(e);
    std::vector<int> near;
    for (std::size_t s = 0; s < load_.size(); ++s) {
      if (ei >= load_[s].size()) continue;
      double v = load_[s][ei];
      if (v <= 0) continue;
      if (std::find(rs.begin(), rs.end(), static_cast<int>(s)) != rs.end()) {
        t[s] += sign * v;
        continue;
      }
      near.clear();
      for (int r : rs)
        if (node(r) == node(static_cast<int>(s))) near.push_back(r);
      if (near.empty()) cross += sign * v;
      const auto& tg = near.empty() ? rs : near;
      for (int r : tg) t[static_cast<std::size_t>(r)] += sign * v / static_cast<double>(tg.size());
    }
  }

  const PlanInputs& in_;
  const std::vector<std::vector<double>>& load_;
};

bool holds(const std::vector<int>& rs, int r) { return std::find(rs.begin(), rs.end(), r) != rs.end(); }

// Local search on the slowest rank (tokens / speed): swap one of its copies with a copy on
// another rank, or move it to a rank with a free slot (no rank may hold more than `cap`
// copies: memory per rank stays bounded). Takes the best improving step until none is left.
void improve_by_swaps(const LayerModel& m, const PlanInputs& in, Layer& ex, int cap) {
  Cost cur = m.cost(ex);
  const long budget_evals = std::max<long>(64, 20'000'000L / std::max(1, in.ranks * in.experts));
  long evals = 0;
  for (int iter = 0; iter < 4 * in.experts && evals < budget_evals; ++iter) {
    double cross = 0;
    auto t = m.rank_tokens(ex, &cross);
    int slow = 0;
    for (int r = 1; r < in.ranks; ++r)
      if (t[static_cast<std::size_t>(r)] / m.speed(r) > t[static_cast<std::size_t>(slow)] / m.speed(slow)) slow = r;
    std::vector<int> count(static_cast<std::size_t>(in.ranks), 0);
    for (const auto& rs : ex)
      for (int r : rs) ++count[static_cast<std::size_t>(r)];
    // Trials are costed incrementally (cost_with: only the moved experts' tokens are
    // recounted); the full recount per trial made this ranks^2 x experts per iteration.
    struct Move {
      int e = -1, f = -1, q = -1;
      std::size_t ie = 0, jf = 0;
    } best;
    Cost best_cost = cur;
    auto consider = [&](const Move& mv, const Cost& c) {
      ++evals;
      if (c.better_than(best_cost)) {
        best_cost = c;
        best = mv;
      }
    };
    for (int e = 0; e < in.experts; ++e) {
      const auto& re = ex[static_cast<std::size_t>(e)];
      auto pos_e = std::find(re.begin(), re.end(), slow);
      if (pos_e == re.end()) continue;
      const auto ie = static_cast<std::size_t>(pos_e - re.begin());
      std::vector<int> new_re = re, new_rf;
      for (int q = 0; q < in.ranks; ++q) {  // move
        if (q == slow || holds(re, q) || count[static_cast<std::size_t>(q)] >= cap) continue;
        new_re[ie] = q;
        consider({e, -1, q, ie, 0}, m.cost_with(ex, t, cross, e, new_re));
      }
      for (int f = 0; f < in.experts; ++f) {  // swap with a copy of f on another rank
        const auto& rf = ex[static_cast<std::size_t>(f)];
        if (f == e || holds(rf, slow)) continue;
        for (std::size_t jf = 0; jf < rf.size(); ++jf) {
          int q = rf[jf];
          if (holds(re, q)) continue;
          new_re[ie] = q;
          new_rf = rf;
          new_rf[jf] = slow;
          consider({e, f, q, ie, jf}, m.cost_with(ex, t, cross, e, new_re, f, &new_rf));
        }
      }
    }
    if (best.e < 0) break;
    ex[static_cast<std::size_t>(best.e)][best.ie] = best.q;
    if (best.f >= 0) ex[static_cast<std::size_t>(best.f)][best.jf] = slow;
    cur = m.cost(ex);
  }
}

// Adds up to `budget` replicas, each time the (hot expert, fast rank) pair that lowers the cost most.
void add_replicas(const LayerModel& m, const PlanInputs& in, Layer& ex, int budget) {
  Cost cur = m.cost(ex);
  for (int b = 0; b < budget; ++b) {
    auto w = m.expert_load();
    std::vector<int> order(static_cast<std::size_t>(in.experts));
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int c) {
      double la = w[static_cast<std::size_t>(a)] / static_cast<double>(ex[static_cast<std::size_t>(a)].size());
      double lc = w[static_cast<std::size_t>(c)] / static_cast<double>(ex[static_cast<std::size_t>(c)].size());
      return la != lc ? la > lc : a < c;
    });
    // Each trial adds one copy: its cost comes from this layout's per-rank tokens with
    // only that expert's tokens redistributed (O(ranks) per trial; at 1024 ranks the full
    // recount per trial was ranks^2 x experts and most of analyze's time).
    double cross = 0;
    const auto t = m.rank_tokens(ex, &cross);
    int best_e = -1, best_r = -1;
    Cost best_cost = cur;
    for (std::size_t k = 0; k < order.size() && k < 4; ++k) {
      int e = order[k];
      for (int r = 0; r < in.ranks; ++r) {
        if (holds(ex[static_cast<std::size_t>(e)], r)) continue;
        Cost c = m.cost_with_replica(ex, t, cross, e, r);
        if (c.better_than(best_cost)) {
          best_cost = c;
          best_e = e, best_r = r;
        }
      }
    }
    if (best_e < 0) break;
    ex[static_cast<std::size_t>(best_e)].push_back(best_r);
    cur = m.cost(ex);
  }
}

Layer layer_or_default(const PlanInputs& in, int layer) {
  auto it = in.current.layers.find(layer);
  if (it != in.current.layers.end() && static_cast<int>(it->second.size()) == in.experts) return it->second;
  Layer ex(static_cast<std::size_t>(in.experts));
  for (int e = 0; e < in.experts; ++e) ex[static_cast<std::size_t>(e)] = {e % in.ranks};
  return ex;
}

}  // namespace

int replica_budget(const PlanInputs& in) {
  if (in.memory_budget_pct <= 0) return 0;
  int b = static_cast<int>(std::floor(in.memory_budget_pct * in.experts / 100.0));
  return std::min(std::max(b, 1), in.experts * std::max(0, in.ranks - 1));
}

PlacementPlan plan_placement(const PlanInputs& in) {
  PlacementPlan p;
  p.experts = in.experts;
  p.ranks = in.ranks;
  const int budget = replica_budget(in);
  const int cap = (in.experts + budget + in.ranks - 1) / in.ranks;  // copies per rank after the plan
  PlacementPlan greedy = plan_eplb_greedy(in);
  for (std::size_t l = 0; l < in.load.size(); ++l) {
    LayerModel m(in, l);
    // Start 1: the current placement (few moves). Start 2: the EPLB-style greedy packing
    // (good when one expert dominates). Both refined with the speed/topology-aware search.
    Layer a = layer_or_default(in, static_cast<int>(l));
    int cap_a = cap;
    for (int r = 0; r < in.ranks; ++r) {
      int c = 0;
      for (const auto& rs : a) c += holds(rs, r) ? 1 : 0;
      cap_a = std::max(cap_a, c);
    }
    improve_by_swaps(m, in, a, cap_a);
    add_replicas(m, in, a, budget);
    improve_by_swaps(m, in, a, cap_a);
    Layer b = greedy.layers.at(static_cast<int>(l));
    improve_by_swaps(m, in, b, cap);
    p.layers[static_cast<int>(l)] = m.cost(b).better_than(m.cost(a)) ? std::move(b) : std::move(a);
  }
  return p;
}

PlacementPlan plan_eplb_greedy(const PlanInputs& in) {
  PlacementPlan p;
  p.experts = in.experts;
  p.ranks = in.ranks;
  const int budget = replica_budget(in);
  const int phys = in.experts + budget;
  const int cap = (phys + in.ranks - 1) / in.ranks;  // slots per rank
  for (std::size_t l = 0; l < in.load.size(); ++l) {
    LayerModel m(in, l);
    auto w = m.expert_load();
    std::vector<int> cnt(static_cast<std::size_t>(in.experts), 1);
    for (int b = 0; b < budget; ++b) {  // replicate the heaviest by load per copy
      int best = 0;
      for (int e = 1; e < in.experts; ++e)
        if (w[static_cast<std::size_t>(e)] / cnt[static_cast<std::size_t>(e)] >
            w[static_cast<std::size_t>(best)] / cnt[static_cast<std::size_t>(best)])
          best = e;
      if (cnt[static_cast<std::size_t>(best)] >= in.ranks) break;
      ++cnt[static_cast<std::size_t>(best)];
    }
    struct Item {
      int expert;
      double load;
    };
    std::vector<Item> items;
    for (int e = 0; e < in.experts; ++e)
      for (int c = 0; c < cnt[static_cast<std::size_t>(e)]; ++c)
        items.push_back({e, w[static_cast<std::size_t>(e)] / cnt[static_cast<std::size_t>(e)]});
    std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.load > b.load; });
    std::vector<double> rank_load(static_cast<std::size_t>(in.ranks), 0.0);
    std::vector<int> used(static_cast<std::size_t>(in.ranks), 0);
    Layer ex(static_cast<std::size_t>(in.experts));
    for (const auto& it : items) {
      int pick = -1;
      for (int pass = 0; pass < 2 && pick < 0; ++pass)  // pass 1 allows a full rank if nothing else fits
        for (int r = 0; r < in.ranks; ++r) {
          auto ri = static_cast<std::size_t>(r);
          if ((pass == 0 && used[ri] >= cap) || holds(ex[static_cast<std::size_t>(it.expert)], r)) continue;
          if (pick < 0 || rank_load[ri] < rank_load[static_cast<std::size_t>(pick)]) pick = r;
        }
      if (pick < 0) continue;
      ex[static_cast<std::size_t>(it.expert)].push_back(pick);
      rank_load[static_cast<std::size_t>(pick)] += it.load;
      ++used[static_cast<std::size_t>(pick)];
    }
    p.layers[static_cast<int>(l)] = std::move(ex);
  }
  return p;
}

}  // namespace moetune::analyzers
