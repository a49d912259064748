// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <map>

#include "moetune/analyzers/topology.h"

namespace moetune::analyzers {
namespace {

// Nominal unidirectional PCIe GB/s per lane by generation (128b/130b after gen3).
std::optional<double> pcie_ceiling(int gen, int width) {
  static const double per_lane[] = {0, 0.25, 0.5, 0.985, 1.969, 3.938, 7.563};
  if (gen < 1 || gen > 6 || width <= 0) return std::nullopt;
  return per_lane[gen] * width;
}

bool is_pcie_code(const std::string& c) {
  return c == "PIX" || c == "PXB" || c == "PHB" || c == "NODE" || c == "SYS";
}

// "GPU3" or "host:GPU3" -> (host, 3); device -1 when not a GPU label.
std::pair<std::string, int> parse_label(const std::string& s) {
  auto colon = s.rfind(':');
  std::string host = colon == std::string::npos ? std::string() : s.substr(0, colon);
  std::string g = colon == std::string::npos ? s : s.substr(colon + 1);
  if (g.size() < 4 || g.rfind("GPU", 0) != 0) return {host, -1};
  try {
    return {host, std::stoi(g.substr(3))};
  } catch (...) {
    return {host, -1};
  }
}

}  // namespace

int rank_count(const RunData& run) {
  int n = 0;
  for (const auto& r : run.ranks) n = std::max(n, static_cast<int>(r.rank.value) + 1);
  if (n > 0) return n;
  for (const auto& o : run.nccl_ops) n = std::max(n, static_cast<int>(o.rank.value) + 1);
  for (const auto& r : run.routing) n = std::max(n, static_cast<int>(r.rank.value) + 1);
  for (const auto& p : run.placement) n = std::max(n, static_cast<int>(p.rank.value) + 1);
  return n;
}

RankLinks RankLinks::build(const RunData& run) {
  RankLinks L;
  L.n_ = rank_count(run);
  const auto n = static_cast<std::size_t>(L.n_);
  L.node_.assign(n, 0);
  L.code_.assign(n * n, "");
  L.bw_.assign(n * n, std::nullopt);
  std::map<std::string, int> host_ids;
  std::vector<std::string> host(n);
  std::vector<int> device(n, -1), gen(n, 0), width(n, 0);
  for (const auto& r : run.ranks) {
    auto i = static_cast<std::size_t>(r.rank.value);
    if (i >= n) continue;
    host[i] = r.host;
    device[i] = r.device;
    gen[i] = r.pcie_gen;
    width[i] = r.pcie_width;
  }
  for (std::size_t i = 0; i < n; ++i) {
    auto [it, fresh] = host_ids.emplace(host[i], static_cast<int>(host_ids.size()));
    (void)fresh;
    L.node_[i] = it->second;
  }
  auto find_rank = [&](const std::string& row_host, const std::string& label) -> int {
    auto [h, dev] = parse_label(label);
    if (dev < 0) return -1;
    std::string want = h.empty() ? row_host : h;
    int found = -1;
    for (std::size_t i = 0; i < n; ++i)
      if (device[i] == dev && (want.empty() || host[i] == want || host[i].empty())) {
        if (found >= 0) return -1;  // ambiguous: several hosts have this device
        found = static_cast<int>(i);
      }
    return found;
  };
  for (const auto& t : run.topology) {
    int a = t.rank_a ? static_cast<int>(*t.rank_a) : find_rank(t.host, t.a);
    int b = t.rank_b ? static_cast<int>(*t.rank_b) : find_rank(t.host, t.b);
    if (a < 0 || b < 0 || a == b || a >= L.n_ || b >= L.n_) continue;
    std::optional<double> bw = t.bandwidth_gbps;
    if (!bw && is_pcie_code(t.link)) {
      auto ca = pcie_ceiling(gen[static_cast<std::size_t>(a)], width[static_cast<std::size_t>(a)]);
      auto cb = pcie_ceiling(gen[static_cast<std::size_t>(b)], width[static_cast<std::size_t>(b)]);
      if (ca && cb) bw = std::min(*ca, *cb);
    }
    for (auto [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
      auto k = static_cast<std::size_t>(x) * n + static_cast<std::size_t>(y);
      L.code_[k] = t.link;
      L.bw_[k] = bw;
    }
    if (bw) ++L.known_;
  }
  return L;
}

int RankLinks::node_of(int r) const {
  return r >= 0 && r < n_ ? node_[static_cast<std::size_t>(r)] : r;
}

int RankLinks::node_count() const {
  return node_.empty() ? 0 : *std::max_element(node_.begin(), node_.end()) + 1;
}

const std::string& RankLinks::link(int a, int b) const {
  static const std::string none;
  if (a < 0 || b < 0 || a >= n_ || b >= n_) return none;
  return code_[static_cast<std::size_t>(a) * static_cast<std::size_t>(n_) + static_cast<std::size_t>(b)];
}

std::optional<double> RankLinks::bandwidth(int a, int b) const {
  if (a < 0 || b < 0 || a >= n_ || b >= n_) return std::nullopt;
  return bw_[static_cast<std::size_t>(a) * static_cast<std::size_t>(n_) + static_cast<std::size_t>(b)];
}

std::optional<double> RankLinks::ceiling(const std::vector<int>& ranks) const {
  std::optional<double> c;
  for (std::size_t i = 0; i < ranks.size(); ++i)
    for (std::size_t j = i + 1; j < ranks.size(); ++j)
      if (auto b = bandwidth(ranks[i], ranks[j])) c = c ? std::min(*c, *b) : *b;
  return c;
}

double RankLinks::mean_bandwidth(int r) const {
  double s = 0;
  int k = 0;
  for (int o = 0; o < n_; ++o)
    if (auto b = bandwidth(r, o); o != r && b) {
      s += *b;
      ++k;
    }
  return k ? s / k : 0;
}

}  // namespace moetune::analyzers
