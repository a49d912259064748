// SPDX-License-Identifier: Apache-2.0
// Link figures, one source of truth for the analyzers, synth and the importers' tests:
//  - raw: the per-direction rate of a link as the hardware reports it (nvidia-smi nvlink
//    --status per NVLink, PCIe gen x width), what the topology table's bandwidth_gbps holds;
//  - achievable: the share of raw that NCCL reaches as bus bandwidth (nccl-tests
//    convention) at large messages over that link kind. The analyzers judge collectives
//    against raw x achievable (a measured nccl-tests baseline of the run wins over it).
// Each fraction says whether it was measured (and where) or assumed. Header only, no deps.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace moetune::links {

// Raw NVLink rate per link per direction, GB/s (nvidia-smi nvlink --status).
inline constexpr double kNvlink4PerLinkGbps = 26.5625;  // Hopper (H100/H200/H800/H20); 18 links on SXM
inline constexpr double kNvlink3PerLinkGbps = 25.0;     // A100/A800 (12 links)
inline constexpr double kNvlink2PerLinkGbps = 25.0;     // V100
inline constexpr double kNvlink1PerLinkGbps = 20.0;     // P100
// NVLinks per GPU, from the GPU name: Hopper SXM (H100/H200/H20/GH200) and Blackwell 18,
// H800 8 (export part), A100 12, A800 8, V100 6, P100 4; empty when the name does not tell.
inline constexpr int kMaxNvlinksPerGpu = 18;  // no GPU has more; the bound when the name is unknown
inline std::optional<int> nvlinks_per_gpu(std::string_view gpu_name) {
  std::string n;
  for (char c : gpu_name) n += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  auto has = [&](const char* k) { return n.find(k) != std::string::npos; };
  if (has("h800")) return 8;
  if (has("a800")) return 8;
  if (has("h100") || has("h200") || has("h20") || has("gh200") || has("b200") || has("b100") || has("b300"))
    return 18;
  if (has("a100")) return 12;
  if (has("v100")) return 6;
  if (has("p100")) return 4;
  return std::nullopt;
}
// Number of links of an NVLink code ("NV6" -> 6); 0 when not NV#.
inline int nvlink_count(std::string_view code) {
  if (code.size() < 3 || code.substr(0, 2) != "NV") return 0;
  int v = 0;
  for (char c : code.substr(2)) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + (c - '0');
    if (v > 4096) return 0;  // no GPU pair has that many links; bounds v (the code comes from a file)
  }
  return v;
}

// Raw PCIe rate per lane per direction, GB/s, by generation (128b/130b from gen3).
inline constexpr double kPciePerLaneGbps[] = {0, 0.25, 0.5, 0.985, 1.969, 3.938, 7.563};
inline std::optional<double> pcie_raw_gbps(int gen, int width) {
  if (gen < 1 || gen > 6 || width <= 0) return std::nullopt;
  return kPciePerLaneGbps[gen] * width;
}

enum class LinkKind { NvLink, Pcie, Network, Unknown };
// "NV18" -> NvLink; PIX/PXB/PHB/NODE/SYS -> Pcie (the path goes through PCIe, maybe the CPU);
// NET/SOCK -> Network; anything else Unknown.
inline LinkKind link_kind(std::string_view code) {
  if (code.size() > 2 && code.substr(0, 2) == "NV") return LinkKind::NvLink;
  if (code == "PIX" || code == "PXB" || code == "PHB" || code == "NODE" || code == "SYS") return LinkKind::Pcie;
  if (code == "NET" || code == "SOCK") return LinkKind::Network;
  return LinkKind::Unknown;
}

struct Achievable {
  double fraction;    // NCCL bus bandwidth at large messages / raw per-direction rate
  const char* basis;  // where the number comes from
};
inline constexpr Achievable kNvlinkAchievable{
    0.69,
    "measured: torch all_to_all_single (NCCL 2.28) bus bandwidth at 1 GiB against 18 x 26.5625 = 478 GB/s raw: "
    "2x H200 NV18 329 GB/s (269-279 at 128-256 MiB, 159 at 16 MiB; tests/data/device/h200x2_a2a_bw.jsonl); "
    "4x H200 on NVSwitch 336.2 GB/s with 4 ranks (318.0 at 256 MiB, 270.1 at 64 MiB, 191.5 at 16 MiB; "
    "tests/data/device/h200x4_a2a_bw_n4.jsonl) and 330.0 GB/s for a 2-rank pair on the same machine "
    "(tests/data/device/h200x4_a2a_bw_n2pair.jsonl): 0.69-0.70 of the per-GPU raw rate with 2 and 4 ranks"};
inline constexpr Achievable kPcieAchievable{
    0.80,
    "assumed, not measured here: PCIe packet overhead (TLP headers, flow control) leaves ~80 % of the per-direction "
    "rate for NCCL P2P/SHM transfers"};
inline constexpr Achievable kNetworkAchievable{
    0.90,
    "assumed, not measured here: NCCL over InfiniBand/RoCE reaches ~90 % of the NIC line rate at large messages; "
    "sockets (NCCL_IB_DISABLE, emulated nodes) reach far less"};
inline constexpr Achievable kUnknownAchievable{0.80, "assumed: link kind unknown, PCIe-like overhead"};

// How the GPUs of a host share NVLink (RankLinks in the analyzers applies it):
//  - Switch: an NVSwitch fabric (HGX/DGX H100/H200, A100 SXM4). Every GPU pair shows the
//    same NV# = all of a GPU's links, which only a switch can give to > 2 peers at once
//    (4x H200 print NV18 for all 6 pairs with 18 links per GPU: tests/data/device/h200x4_topo.txt).
//    A direct mesh (HGX H100 4-GPU: NV6 to each of 3 peers, 18 links split) also shows NV#
//    to every peer, but its NV# add up to no more than the GPU's links.
//    The raw rate is the GPU's port into the fabric, shared by all its peers: an all-to-all
//    among n GPUs still reaches ~0.69-0.70 x that per GPU (bus bandwidth), not n-1 times it.
//  - PointToPoint: NV# bridges between some pairs only (PCIe cards with NVLink bridges,
//    hybrid cube-mesh): each pair's rate is its own.
// Rule: a host whose topology lists > 2 GPUs with NV# between every pair is a switch fabric
// when some GPU's NV# summed over its peers exceeds its own link count (nvlinks_per_gpu, or
// kMaxNvlinksPerGpu when the name does not tell): the links are then not split among peers.
// So is a GPU whose NVLinks NVML says end on an NVSwitch. Anything else is point-to-point.
enum class Fabric { PointToPoint, Switch };
inline const char* fabric_name(Fabric f) { return f == Fabric::Switch ? "nvswitch" : "point-to-point"; }
inline const char* fabric_basis(Fabric f) {
  return f == Fabric::Switch
             ? "switch fabric: the host has > 2 GPUs with NV# between every pair and a GPU's NV# over its peers add "
               "up to more links than it has (or NVML names the far end an NVSwitch); the NV# rate is each GPU's "
               "port into the switch, shared by all its peers"
             : "point-to-point: the link belongs to this pair alone";
}

inline const Achievable& achievable(LinkKind k) {
  switch (k) {
    case LinkKind::NvLink: return kNvlinkAchievable;
    case LinkKind::Pcie: return kPcieAchievable;
    case LinkKind::Network: return kNetworkAchievable;
    default: return kUnknownAchievable;
  }
}

}  // namespace moetune::links
