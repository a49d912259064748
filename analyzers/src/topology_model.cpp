// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <map>
#include <set>

#include "moetune/analyzers/topology.h"
#include "moetune/trace/link_rates.h"

namespace moetune::analyzers {
namespace {

std::optional<double> pcie_ceiling(int gen, int width) { return links::pcie_raw_gbps(gen, width); }

bool is_pcie_code(const std::string& c) { return links::link_kind(c) == links::LinkKind::Pcie; }

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

using GpuKey = std::pair<std::string, int>;  // (host, device)

// The GPU a topology row endpoint names: its label ("GPU3", "host:GPU3"; host defaults to
// the row's), else the recorded rank's host and device. Device -1 when not a GPU.
GpuKey gpu_key(const TopologyRow& t, const std::string& label, std::optional<std::int64_t> rank,
               const std::vector<std::string>& host, const std::vector<int>& device) {
  auto [h, dev] = parse_label(label);
  if (dev >= 0) return {h.empty() ? t.host : h, dev};
  if (rank && *rank >= 0 && static_cast<std::size_t>(*rank) < device.size() && device[static_cast<std::size_t>(*rank)] >= 0)
    return {host[static_cast<std::size_t>(*rank)], device[static_cast<std::size_t>(*rank)]};
  return {t.host, -1};
}

// Links of one GPU: from its name (the rank's gpu_name, else the topo file's "GPU d: NAME" line),
// else the most any GPU has.
int gpu_links(const RunData& run, const GpuKey& g, const std::vector<std::string>& host,
              const std::vector<int>& device) {
  for (const auto& r : run.ranks) {
    auto i = static_cast<std::size_t>(r.rank.value);
    if (i < device.size() && device[i] == g.second && host[i] == g.first && !r.gpu_name.empty())
      if (auto l = links::nvlinks_per_gpu(r.gpu_name)) return *l;
  }
  if (auto it = run.meta.find("topo.gpu_name.GPU" + std::to_string(g.second)); it != run.meta.end())
    if (auto l = links::nvlinks_per_gpu(it->second)) return *l;
  return links::kMaxNvlinksPerGpu;
}

// GPUs that sit on an NVSwitch fabric (link_rates.h, Fabric): per host, when the host has > 2
// GPUs in GPU-GPU rows, every pair of them is NV# (bridges link pairs only; a cube-mesh
// leaves pairs without NV#) and some GPU's NV# over its peers add up to more links than it
// has (a direct mesh, e.g. 4 GPUs with NV6 each way, splits its links among the peers);
// plus GPUs an NVML row says are linked to an NVSwitch.
std::set<GpuKey> switch_gpus(const RunData& run, const std::vector<std::string>& host, const std::vector<int>& device) {
  std::map<std::string, std::set<int>> gpus;                           // host -> devices in GPU-GPU rows
  std::map<std::string, std::map<std::pair<int, int>, int>> nv;        // host -> NV# pairs (lo, hi) -> links
  std::set<GpuKey> out;
  for (const auto& t : run.topology) {
    const bool is_nv = links::link_kind(t.link) == links::LinkKind::NvLink;
    GpuKey a = gpu_key(t, t.a, t.rank_a, host, device);
    if (a.second < 0) continue;
    if (t.b == "NVSwitch" || t.source.find("remote=switch") != std::string::npos) {
      if (is_nv) out.insert(a);
      continue;
    }
    GpuKey b = gpu_key(t, t.b, t.rank_b, host, device);
    if (b.second < 0 || a == b || a.first != b.first) continue;
    gpus[a.first].insert(a.second);
    gpus[a.first].insert(b.second);
    if (is_nv)
      nv[a.first][{std::min(a.second, b.second), std::max(a.second, b.second)}] = links::nvlink_count(t.link);
  }
  for (const auto& [h, devs] : gpus) {
    const std::size_t n = devs.size();
    if (n <= 2 || nv[h].size() != n * (n - 1) / 2) continue;
    bool oversubscribed = false;  // more links to peers than the GPU has: only a switch does that
    std::map<int, int> sum;       // NV# over each GPU's peers, in one pass (was one pass per GPU: n^3)
    for (const auto& [pair, l] : nv[h]) sum[pair.first] += l, sum[pair.second] += l;
    for (int d : devs)
      if (sum[d] > gpu_links(run, {h, d}, host, device)) {
        oversubscribed = true;
        break;
      }
    if (!oversubscribed) continue;
    for (int d : devs) out.insert({h, d});
  }
  return out;
}

}  // namespace

int rank_count(const RunData& run) {
  std::set<std::int64_t> ids;
  auto count = [&](const auto& rows) {
    ids.clear();
    for (const auto& r : rows)
      if (r.rank.value >= 0) ids.insert(r.rank.value);
    const std::int64_t lim = dense_id_limit(ids.size());
    std::int64_t n = 0;
    for (auto id : ids)
      if (id < lim) n = id + 1;
    return static_cast<int>(n);
  };
  if (int n = count(run.ranks); n > 0) return n;
  int n = 0;
  for (int m : {count(run.nccl_ops), count(run.routing), count(run.placement)}) n = std::max(n, m);
  return n;
}

RankLinks RankLinks::build(const RunData& run) {
  RankLinks L;
  L.n_ = rank_count(run);
  const auto n = static_cast<std::size_t>(L.n_);
  L.node_.assign(n, 0);
  L.peers_.assign(n, {});
  L.switched_peers_.assign(n, 0);
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
  const std::set<GpuKey> on_switch = switch_gpus(run, host, device);
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
    bool sw = false;
    if (links::link_kind(t.link) == links::LinkKind::NvLink) {
      GpuKey ka = gpu_key(t, t.a, t.rank_a, host, device), kb = gpu_key(t, t.b, t.rank_b, host, device);
      sw = ka.first == kb.first && on_switch.count(ka) && on_switch.count(kb);
    }
    for (auto [x, y] : {std::pair{a, b}, std::pair{b, a}}) {
      auto [it, fresh] = L.pairs_.try_emplace(static_cast<std::uint64_t>(x) * n + static_cast<std::uint64_t>(y));
      if (fresh) L.peers_[static_cast<std::size_t>(x)].push_back(y);
      it->second = Pair{t.link, bw, static_cast<char>(sw ? 1 : 0)};
    }
    if (bw) ++L.known_;
  }
  for (std::size_t r = 0; r < n; ++r) {
    std::sort(L.peers_[r].begin(), L.peers_[r].end());  // sums in rank order, as over a dense matrix
    for (int o : L.peers_[r]) L.switched_peers_[r] += L.pair(static_cast<int>(r), o)->switched;
  }
  return L;
}

const RankLinks::Pair* RankLinks::pair(int a, int b) const {
  if (a < 0 || b < 0 || a >= n_ || b >= n_) return nullptr;
  auto it = pairs_.find(static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(n_) + static_cast<std::uint64_t>(b));
  return it == pairs_.end() ? nullptr : &it->second;
}

int RankLinks::node_of(int r) const {
  return r >= 0 && r < n_ ? node_[static_cast<std::size_t>(r)] : r;
}

int RankLinks::node_count() const {
  return node_.empty() ? 0 : *std::max_element(node_.begin(), node_.end()) + 1;
}

const std::string& RankLinks::link(int a, int b) const {
  static const std::string none;
  const Pair* p = pair(a, b);
  return p ? p->code : none;
}

std::optional<double> RankLinks::bandwidth(int a, int b) const {
  const Pair* p = pair(a, b);
  return p ? p->bw : std::nullopt;
}

std::optional<double> RankLinks::achievable(int a, int b) const {
  auto raw = bandwidth(a, b);
  if (!raw) return std::nullopt;
  return *raw * links::achievable(links::link_kind(link(a, b))).fraction;
}

links::Fabric RankLinks::fabric(int a, int b) const {
  const Pair* p = pair(a, b);
  return p && p->switched ? links::Fabric::Switch : links::Fabric::PointToPoint;
}

std::optional<double> RankLinks::peer_share(int a, int b) const {
  auto ach = achievable(a, b);
  if (!ach || fabric(a, b) != links::Fabric::Switch) return ach;
  return *ach / std::max(switched_peers_[static_cast<std::size_t>(a)], 1);
}

std::optional<RankLinks::Ceiling> RankLinks::slowest(const std::vector<int>& ranks) const {
  std::optional<Ceiling> c;
  for (std::size_t i = 0; i < ranks.size(); ++i)
    for (std::size_t j = i + 1; j < ranks.size(); ++j) {
      auto raw = bandwidth(ranks[i], ranks[j]);
      if (!raw) continue;
      const auto& code = link(ranks[i], ranks[j]);
      const auto& ach = links::achievable(links::link_kind(code));
      if (c && *raw * ach.fraction >= c->achievable_gbps) continue;
      c = Ceiling{*raw, *raw * ach.fraction, ach.fraction, code, ach.basis, fabric(ranks[i], ranks[j])};
    }
  return c;
}

std::optional<double> RankLinks::ceiling(const std::vector<int>& ranks) const {
  auto c = slowest(ranks);
  if (!c) return std::nullopt;
  return c->achievable_gbps;
}

double RankLinks::mean_bandwidth(int r) const {
  if (r < 0 || r >= n_) return 0;
  double s = 0;
  int k = 0;
  for (int o : peers_[static_cast<std::size_t>(r)])
    if (auto b = peer_share(r, o); o != r && b) {
      s += *b;
      ++k;
    }
  return k ? s / k : 0;
}

}  // namespace moetune::analyzers
