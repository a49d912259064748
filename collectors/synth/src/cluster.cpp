// SPDX-License-Identifier: Apache-2.0
// Topology specs, injection lists and the synthetic cluster (see README.md tables).
#include "cluster.h"

#include "moetune/trace/link_rates.h"

#include <algorithm>
#include <charconv>
#include <sstream>

namespace moetune::synth {
namespace {

// Raw per-direction link rates from the shared link model (moetune/trace/link_rates.h).
constexpr double kNvlinkGbps = 18 * links::kNvlink4PerLinkGbps;  // NV18: 18 x 26.5625 = 478.125 GB/s
const double kPcieGen4x16 = *links::pcie_raw_gbps(4, 16);        // 16 x 1.969 = 31.504 GB/s
constexpr double kSysGbps = 20.0;      // across sockets (synth's choice: below one PCIe gen4 x16)
constexpr double kNetGbps = 12.5;      // 100 Gb/s network

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

bool parse_int(const std::string& s, int& v) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

Expected<std::vector<TopologyGroup>> parse_topology(const std::string& spec, int ranks) {
  std::vector<TopologyGroup> out;
  int total = 0;
  for (const auto& g : split(spec, ',')) {
    auto colon = g.find(':');
    TopologyGroup tg;
    tg.kind = g.substr(0, colon);
    if (tg.kind != "nvlink" && tg.kind != "pcie" && tg.kind != "net" && tg.kind != "sxm-no-nvlink")
      return Error{"--topology: unknown group '" + tg.kind + "' (nvlink, pcie, net, sxm-no-nvlink)"};
    if (colon == std::string::npos || !parse_int(g.substr(colon + 1), tg.count) || tg.count <= 0)
      return Error{"--topology: group '" + g + "' needs a positive count, e.g. nvlink:8"};
    total += tg.count;
    out.push_back(tg);
  }
  if (out.empty()) return Error{"--topology: empty spec"};
  if (total != ranks)
    return Error{"--topology: groups hold " + std::to_string(total) + " GPUs but --ranks is " +
                 std::to_string(ranks)};
  return out;
}

Expected<Injections> parse_injections(const std::string& list, int ranks) {
  Injections inj;
  for (const auto& item : split(list, ',')) {
    auto colon = item.find(':');
    std::string name = item.substr(0, colon);
    std::optional<int> rank;
    if (colon != std::string::npos) {
      int r = -1;
      if (!parse_int(item.substr(colon + 1), r) || r < 0 || r >= ranks)
        return Error{"--inject: '" + item + "': rank must be 0.." + std::to_string(ranks - 1)};
      rank = r;
    }
    auto no_rank = [&]() -> Expected<void> {
      if (rank) return Error{"--inject: '" + name + "' takes no rank"};
      return {};
    };
    if (name == "tree_sync" || name == "fp32_dispatch" || name == "hot_experts_slow_rank" ||
        name == "no_overlap" || name == "slow_link" || name == "memcpy_bound" || name == "launch_bound" ||
        name == "fp32_grad_allreduce") {
      if (auto r = no_rank(); !r) return r.error();
      if (name == "tree_sync") inj.tree_sync = true;
      if (name == "fp32_dispatch") inj.fp32_dispatch = true;
      if (name == "hot_experts_slow_rank") inj.hot_experts_slow_rank = true;
      if (name == "no_overlap") inj.no_overlap = true;
      if (name == "slow_link") inj.slow_link = true;
      if (name == "memcpy_bound") inj.memcpy_bound = true;
      if (name == "launch_bound") inj.launch_bound = true;
      if (name == "fp32_grad_allreduce") inj.fp32_grad_allreduce = true;
    } else if (name == "straggler") {
      inj.straggler = rank.value_or(std::min(1, ranks - 1));
    } else if (name == "host_sync") {
      inj.host_sync = rank.value_or(0);
    } else if (name == "gpu_idle") {
      inj.gpu_idle = rank.value_or(0);
    } else {
      return Error{"--inject: unknown injection '" + name +
                   "' (tree_sync, fp32_dispatch, hot_experts_slow_rank, straggler[:R], host_sync[:R], "
                   "no_overlap, slow_link, gpu_idle[:R], memcpy_bound, launch_bound, fp32_grad_allreduce)"};
    }
  }
  return inj;
}

Cluster build_cluster(const std::vector<TopologyGroup>& groups, std::uint64_t seed) {
  Cluster c;
  int host_local_device[2] = {0, 0};
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (int i = 0; i < groups[g].count; ++i) {
      RankInfo r;
      r.kind = groups[g].kind;
      r.group = static_cast<int>(g);
      int host = r.kind == "net" ? 1 : 0;
      r.host = "node" + std::to_string(host);
      r.device = host_local_device[host]++;
      if (r.kind == "pcie") {
        r.gpu = "NVIDIA A100 80GB PCIe", r.sm_count = 108, r.memory_bytes = 85899345920LL;
        r.compute_cap = "8.0", r.pcie_gen = 4, r.pcie_width = 16;
      } else if (r.kind == "sxm-no-nvlink") {
        r.gpu = "NVIDIA A100-SXM4-80GB", r.sm_count = 108, r.memory_bytes = 85899345920LL;
        r.compute_cap = "8.0", r.pcie_gen = 4, r.pcie_width = 16;
      } else {
        r.gpu = "NVIDIA H200", r.sm_count = 132, r.memory_bytes = 150754820096LL;
        r.compute_cap = "9.0", r.pcie_gen = 5, r.pcie_width = 16;
      }
      r.pid = 40000 + static_cast<std::int64_t>(seed % 1000) * 37 + static_cast<std::int64_t>(c.ranks.size()) * 17;
      c.ranks.push_back(r);
    }
  }
  const int n = c.size();
  c.link.assign(n, std::vector<std::string>(n, "X"));
  c.bw.assign(n, std::vector<double>(n, 0.0));
  c.ceiling = kNvlinkGbps;
  c.healthy_eff = n > 1 ? 0 : links::kNvlinkAchievable.fraction;
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b) {
      if (a == b) continue;
      const auto &ra = c.ranks[a], &rb = c.ranks[b];
      std::string l;
      double bw = 0;
      if (ra.host != rb.host) {
        l = "NET", bw = kNetGbps;
      } else if (ra.group != rb.group) {
        l = "NODE", bw = kPcieGen4x16;
      } else if (ra.kind == "nvlink") {
        l = "NV18", bw = kNvlinkGbps;
      } else if (ra.kind == "pcie") {
        l = "PHB", bw = kPcieGen4x16;
      } else if (ra.kind == "net") {
        l = "SYS", bw = kSysGbps;
      } else {  // sxm-no-nvlink
        l = ra.device / 2 == rb.device / 2 ? "PHB" : "NODE", bw = kPcieGen4x16;
      }
      c.link[a][b] = l;
      c.bw[a][b] = bw;
      double eff = links::achievable(links::link_kind(l)).fraction;
      if (bw * eff < c.ceiling * c.healthy_eff || c.healthy_eff == 0) c.ceiling = bw, c.healthy_eff = eff;
      if (l.rfind("NV", 0) != 0) c.all_nvlink = false;
    }
  double worst = 1e300;
  for (int a = 0; a < n; ++a) {
    double sum = 0;
    for (int b = 0; b < n; ++b) sum += c.bw[a][b];
    double mean = n > 1 ? sum / (n - 1) : 0;
    if (mean <= worst) worst = mean, c.slowest_rank = a;
  }
  return c;
}

void write_cluster(const Cluster& c, TraceWriter& w) {
  for (int i = 0; i < c.size(); ++i) {
    const auto& r = c.ranks[i];
    RankRow row;
    row.rank = RankId(i);
    row.host = r.host, row.pid = r.pid, row.device = r.device, row.gpu_name = r.gpu;
    char uuid[64];
    std::snprintf(uuid, sizeof uuid, "GPU-5e7d%04x-0000-4000-8000-%012x", i, 0x51A7 + i);
    row.gpu_uuid = uuid;
    char bus[32];
    std::snprintf(bus, sizeof bus, "00000000:%02X:00.0", 0x18 + 0x10 * r.device);
    row.bus_id = bus;
    row.source = "synth";
    row.sm_count = r.sm_count, row.memory_bytes = r.memory_bytes, row.compute_cap = r.compute_cap;
    row.pcie_gen = r.pcie_gen, row.pcie_width = r.pcie_width;
    w.add(row);
  }
  for (int a = 0; a < c.size(); ++a)
    for (int b = a + 1; b < c.size(); ++b) {
      TopologyRow t;
      t.host = c.ranks[a].host == c.ranks[b].host ? c.ranks[a].host : "";
      t.a = c.ranks[a].host + ":GPU" + std::to_string(c.ranks[a].device);
      t.b = c.ranks[b].host + ":GPU" + std::to_string(c.ranks[b].device);
      t.rank_a = a, t.rank_b = b;
      t.link = c.link[a][b];
      t.bandwidth_gbps = c.bw[a][b];
      t.source = "synth";
      w.add(t);
    }
}

}  // namespace moetune::synth
