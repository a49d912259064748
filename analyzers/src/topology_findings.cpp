// SPDX-License-Identifier: Apache-2.0
// pcie_topology: per host, which GPUs reach each other over NVLink (NV#) and which only
// over PCIe (PIX/PXB/PHB/NODE/SYS). Reports PCIe-only boxes, GPUs left out of the NVLink
// fabric, NVLink bridge pairs/islands (not an NVSwitch system), and GPUs named SXM that
// show no NV# link. Works from the topology table alone (imported `nvidia-smi topo -m`)
// or with ranks (live capture, synth).
#include <algorithm>
#include <map>
#include <set>

#include "moetune/analyzers/analyses.h"
#include "moetune/analyzers/topology.h"

namespace moetune::analyzers {
namespace {

struct Endpoint {
  std::string host, gpu;  // gpu = "GPU3"
  int rank = -1;
};

std::optional<Endpoint> endpoint(const RunData& run, const TopologyRow& t, const std::string& label,
                                 std::optional<std::int64_t> rank) {
  auto colon = label.rfind(':');
  Endpoint e;
  e.gpu = colon == std::string::npos ? label : label.substr(colon + 1);
  if (e.gpu.size() < 4 || e.gpu.rfind("GPU", 0) != 0) return std::nullopt;
  e.host = colon == std::string::npos ? t.host : label.substr(0, colon);
  if (rank) e.rank = static_cast<int>(*rank);
  if (e.rank >= 0 && e.host.empty())
    for (const auto& r : run.ranks)
      if (r.rank.value == e.rank) e.host = r.host;
  if (e.rank < 0) {
    int dev = -1;
    try {
      dev = std::stoi(e.gpu.substr(3));
    } catch (...) {
      return std::nullopt;
    }
    int found = -1, hits = 0;
    for (const auto& r : run.ranks)
      if (r.device == dev && (e.host.empty() || r.host == e.host)) {
        found = static_cast<int>(r.rank.value);
        ++hits;
      }
    if (hits == 1) e.rank = found;
  }
  return e;
}

bool is_nv(const std::string& code) { return code.size() > 2 && code.rfind("NV", 0) == 0; }
bool is_pcie(const std::string& c) { return c == "PIX" || c == "PXB" || c == "PHB" || c == "NODE" || c == "SYS"; }

struct HostView {
  std::map<std::string, std::set<std::string>> nv_peers;  // gpu -> NV-linked gpus
  std::map<std::string, int> rank_of;
  std::map<std::string, int> codes;  // link code -> pairs
  std::set<std::string> gpus;
};

}  // namespace

void find_pcie_topology(const RunData& run, AnalysisResult& out) {
  std::map<std::string, HostView> hosts;
  for (const auto& t : run.topology) {
    auto a = endpoint(run, t, t.a, t.rank_a), b = endpoint(run, t, t.b, t.rank_b);
    if (!a || !b || a->host != b->host || a->gpu == b->gpu) continue;
    auto& h = hosts[a->host];
    h.gpus.insert(a->gpu);
    h.gpus.insert(b->gpu);
    h.nv_peers[a->gpu];
    h.nv_peers[b->gpu];
    if (a->rank >= 0) h.rank_of[a->gpu] = a->rank;
    if (b->rank >= 0) h.rank_of[b->gpu] = b->rank;
    ++h.codes[t.link];
    if (is_nv(t.link)) {
      h.nv_peers[a->gpu].insert(b->gpu);
      h.nv_peers[b->gpu].insert(a->gpu);
    }
  }
  auto gpu_name = [&](const std::string& host, const std::string& gpu, const HostView& h) -> std::string {
    auto it = h.rank_of.find(gpu);
    if (it != h.rank_of.end())
      for (const auto& r : run.ranks)
        if (r.rank.value == it->second && !r.gpu_name.empty()) return r.gpu_name;
    auto m = run.meta.find("topo.gpu_name." + gpu);
    if (m != run.meta.end()) return m->second;
    (void)host;
    return {};
  };
  const bool has_comm = !run.nccl_ops.empty();
  nlohmann::json summary = nlohmann::json::array();
  for (const auto& [host, h] : hosts) {
    if (h.gpus.size() < 2) continue;
    std::vector<std::string> pcie_only, sxm_no_nv;
    std::size_t max_peers = 0;
    bool any_pcie = false;
    for (const auto& [code, n] : h.codes) any_pcie = any_pcie || is_pcie(code);
    for (const auto& g : h.gpus) {
      const auto& p = h.nv_peers.at(g);
      max_peers = std::max(max_peers, p.size());
      if (p.empty()) {
        pcie_only.push_back(g);
        std::string name = gpu_name(host, g, h);
        if (name.find("SXM") != std::string::npos) sxm_no_nv.push_back(g + " (" + name + ")");
      }
    }
    const std::size_t n = h.gpus.size();
    bool islands = max_peers > 0 && max_peers + 1 < n;  // NVLink present, but not between all GPUs
    const bool fully = pcie_only.empty() && !islands;
    // > 2 GPUs with NV# between every pair can only be an NVSwitch fabric (link_rates.h, Fabric).
    summary.push_back({{"host", host}, {"gpus", n}, {"link_codes", h.codes}, {"gpus_without_nvlink", pcie_only},
                       {"nvlink_fully_connected", fully},
                       {"fabric", fully && n > 2 ? "nvswitch" : max_peers > 0 ? "nvlink point-to-point" : "pcie"}});
    if (pcie_only.empty() && !islands) continue;
    if (!any_pcie && !islands) continue;
    Finding f;
    f.kind = FindingKind::PcieTopology;
    std::vector<std::string> affected =
        pcie_only.empty() ? std::vector<std::string>(h.gpus.begin(), h.gpus.end()) : pcie_only;
    for (const auto& g : affected)
      if (auto it = h.rank_of.find(g); it != h.rank_of.end()) f.ranks.push_back(it->second);
    std::sort(f.ranks.begin(), f.ranks.end());
    std::string where = host.empty() ? std::string("this host") : "host " + host;
    if (pcie_only.size() == n)
      f.title = where + ": GPUs talk only over PCIe (no NVLink between any pair)";
    else if (!pcie_only.empty())
      f.title = where + ": " + std::to_string(pcie_only.size()) + " of " + std::to_string(n) +
                " GPUs have no NVLink and reach the others over PCIe" +
                (islands ? "; NVLink only within pairs/islands (not an NVSwitch system)" : "");
    else
      f.title = where + ": NVLink only within pairs/islands (bridges, not an NVSwitch system); other pairs use PCIe";
    if (!sxm_no_nv.empty()) f.title += "; SXM-named GPU without NV# links";
    f.severity = has_comm ? FindingSeverity::Medium : FindingSeverity::Low;
    if (!sxm_no_nv.empty()) f.severity = FindingSeverity::High;
    f.evidence = {{"host", host}, {"link_codes", h.codes}, {"gpus_without_nvlink", pcie_only},
                  {"max_nvlink_peers", max_peers}, {"gpus", n}};
    if (!sxm_no_nv.empty())
      f.evidence["sold_as_sxm_without_nvlink"] = sxm_no_nv;
    if (islands) {
      nlohmann::json isl = nlohmann::json::object();
      for (const auto& [g, p] : h.nv_peers) isl[g] = p;
      f.evidence["nvlink_peers"] = isl;
      f.evidence["note"] = "NV# links only inside pairs/islands: an NVLink bridge between PCIe cards, not an NVSwitch "
                           "fabric; traffic between islands crosses PCIe/CPU";
    }
    f.estimated_gain_pct = 0;
    f.gain_basis = "hardware property: no gain is claimed for it; it bounds what placement, precision and overlap "
                   "fixes can achieve on these GPUs";
    f.recommendation.text =
        "Keep the expert-parallel (all-to-all) group inside an NVLink island and put the data-parallel all-reduce "
        "across the PCIe/CPU links; if that is not possible, cut dispatch bytes (bf16/fp8) and overlap them.";
    if (!sxm_no_nv.empty())
      f.recommendation.text += " An SXM GPU should show NV# links: check `nvidia-smi nvlink --status`, that "
                               "nvidia-fabricmanager runs on NVSwitch systems, and whether the VM passes NVLink through.";
    f.recommendation.fixes.push_back(
        {"code", {{"description", "build the expert-parallel process groups from ranks that share NVLink (see "
                                  "evidence); place experts so that hot ones are reached without crossing PCIe"}}});
    out.findings.push_back(f);
  }
  if (!summary.empty()) out.metrics["topology"] = summary;
}

}  // namespace moetune::analyzers
