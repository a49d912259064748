// SPDX-License-Identifier: Apache-2.0
// `nvidia-smi topo -m` importer on the real files: each file's `#! expect:` line is
// asserted here, then the pcie_topology analysis on the imported runs.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "anab_helpers.h"
#include "import_helpers.h"
#include "moetune/analyzers/analyses.h"
#include "moetune/import/import.h"
#include "moetune/import/text_formats.h"

using namespace moetune;
using namespace moetune::import;

namespace {

std::filesystem::path topo_file(const std::string& f) {
  if (f.rfind("h200", 0) == 0) return std::filesystem::path(MOETUNE_SHARED_DATA) / "device" / f;
  return std::filesystem::path(MOETUNE_SHARED_DATA) / "external" / "topo" / f;
}

TopoMatrix parse(const std::string& f) {
  auto r = parse_topo(anab::read_text(topo_file(f)));
  EXPECT_TRUE(r.ok()) << f << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : TopoMatrix{};
}

std::string link(const TopoMatrix& m, const std::string& a, const std::string& b) {
  auto ia = std::find(m.labels.begin(), m.labels.end(), a) - m.labels.begin();
  auto ib = std::find(m.labels.begin(), m.labels.end(), b) - m.labels.begin();
  if (ia >= static_cast<long>(m.labels.size()) || ib >= static_cast<long>(m.labels.size())) return "?";
  return m.links[static_cast<std::size_t>(ia)][static_cast<std::size_t>(ib)];
}

std::string g(int i) { return "GPU" + std::to_string(i); }

// The file parsed, with the GPU and NIC counts it must have.
TopoMatrix parse(const std::string& f, int gpus, int nics) {
  auto m = parse(f);
  EXPECT_EQ(m.gpus(), gpus) << f;
  EXPECT_EQ(m.nics(), nics) << f;
  return m;
}

// `got` has every entry of `want` (a label's CPU affinity, NUMA node, NIC name, ...).
void expect_entries(const std::map<std::string, std::string>& got, const std::map<std::string, std::string>& want) {
  for (const auto& [k, v] : want) {
    auto it = got.find(k);
    EXPECT_TRUE(it != got.end() && it->second == v) << k << ": want " << v << ", got "
                                                    << (it == got.end() ? "nothing" : it->second);
  }
}

// Every pair of distinct GPUs among GPU0..n-1 is linked by `code`.
void expect_all_pairs(const TopoMatrix& m, int n, const std::string& code) {
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      if (i != j) {
        EXPECT_EQ(link(m, g(i), g(j)), code) << i << "," << j;
      }
}

analyzers::AnalysisResult analyze_file(const std::string& f) {
  return analyzers::analyze(anaa::import_run({topo_file(f)}, f));
}

std::vector<const analyzers::Finding*> pcie(const analyzers::AnalysisResult& r) {
  std::vector<const analyzers::Finding*> v;
  for (const auto& f : r.findings)
    if (f.kind == analyzers::FindingKind::PcieTopology) v.push_back(&f);
  return v;
}

}  // namespace

TEST(TopoImport, Club1229TwoRtx5090Phb) {
  // expect: 2 GPUs, TAB-separated; GPU0-GPU1 PHB; both CPU 0-63, NUMA 0, GPU NUMA ID N/A; no NIC columns
  auto m = parse("club3090_1229_2x5090_phb_tabs.txt", 2, 0);
  EXPECT_TRUE(m.tabs);
  EXPECT_EQ(link(m, "GPU0", "GPU1"), "PHB");
  EXPECT_EQ(link(m, "GPU1", "GPU0"), "PHB");
  EXPECT_EQ(link(m, "GPU0", "GPU0"), "X");
  for (auto gpu : {"GPU0", "GPU1"}) {
    EXPECT_EQ(m.cpu_affinity[gpu], "0-63");
    EXPECT_EQ(m.numa_affinity[gpu], "0");
    EXPECT_EQ(m.gpu_numa_id[gpu], "N/A");
  }
  EXPECT_TRUE(m.legend);
}

TEST(TopoImport, Club178TwoRtx3090SysNumaNa) {
  // expect: GPU0-GPU1 SYS; GPU0 CPU 0-7,16-23 NUMA "N/A" (empty field then N/A), GPU1 CPU 8-15,24-31 NUMA 1
  auto m = parse("club3090_178_2x3090_sys_numa_na_tabs.txt", 2, 0);
  EXPECT_TRUE(m.tabs);
  EXPECT_EQ(link(m, "GPU0", "GPU1"), "SYS");
  expect_entries(m.cpu_affinity, {{"GPU0", "0-7,16-23"}, {"GPU1", "8-15,24-31"}});
  expect_entries(m.numa_affinity, {{"GPU0", "N/A"}, {"GPU1", "1"}});
  expect_entries(m.gpu_numa_id, {{"GPU0", "N/A"}, {"GPU1", "N/A"}});
}

TEST(TopoImport, DeepEpA100Sxm4EightNics) {
  // expect: 8 GPUs, every pair NV12; 8 NICs mlx5_0..7 via NIC Legend, each GPU PXB to 2 NICs;
  // GPU0-3 CPU 0-31,64-95 NUMA 0, GPU4-7 CPU 32-63,96-127 NUMA 1; no GPU NUMA ID column
  auto m = parse("deepep13_a100sxm4_8gpu_8nic_roce.txt", 8, 8);
  EXPECT_FALSE(m.tabs);
  expect_all_pairs(m, 8, "NV12");
  for (int n = 0; n < 8; ++n) EXPECT_EQ(m.nic_names["NIC" + std::to_string(n)], "mlx5_" + std::to_string(n));
  for (int i = 0; i < 8; ++i) {
    int pxb = 0;
    for (int n = 0; n < 8; ++n) pxb += link(m, g(i), "NIC" + std::to_string(n)) == "PXB";
    EXPECT_EQ(pxb, 2) << g(i);
    EXPECT_EQ(m.cpu_affinity[g(i)], i < 4 ? "0-31,64-95" : "32-63,96-127");
    EXPECT_EQ(m.numa_affinity[g(i)], i < 4 ? "0" : "1");
  }
  EXPECT_TRUE(m.gpu_numa_id.empty());
}

TEST(TopoImport, K8sA100NvlinkBridgePairOldNicLabels) {
  // expect (as the matrix reads): NV12 for (0,1); GPU2-GPU3 NODE; cross pairs SYS; NIC columns
  // labelled mlx5_0/mlx5_1 directly (no NIC Legend, no GPU NUMA ID); NICs NODE to GPU0/1, SYS to GPU2/3.
  // (The file's expect line also says "(2,3)" are NV12; the pasted matrix says NODE: the matrix wins.)
  auto m = parse("k8sdeviceplugin436_4xa100_nvbridge_mlx5_tabs.txt", 4, 2);
  EXPECT_TRUE(m.tabs);
  EXPECT_FALSE(m.legend);
  EXPECT_EQ(link(m, "GPU0", "GPU1"), "NV12");
  EXPECT_EQ(link(m, "GPU2", "GPU3"), "NODE");
  for (int a : {0, 1})
    for (int b : {2, 3}) EXPECT_EQ(link(m, g(a), g(b)), "SYS");
  EXPECT_TRUE(m.nic_names.empty());
  for (auto nic : {"mlx5_0", "mlx5_1"}) {
    EXPECT_EQ(link(m, "GPU0", nic), "NODE");
    EXPECT_EQ(link(m, "GPU1", nic), "NODE");
    EXPECT_EQ(link(m, "GPU2", nic), "SYS");
    EXPECT_EQ(link(m, "GPU3", nic), "SYS");
  }
  EXPECT_TRUE(m.gpu_numa_id.empty());
  EXPECT_EQ(m.numa_affinity["GPU2"], "1");
}

TEST(TopoImport, Nccl428OldFormatT4) {
  // expect: 4 GPUs, no NVLink; GPU0 SYS to all (CPU 0-15,32-47), GPU1-3 NODE to each other
  // (CPU 16-31,48-63); only "CPU Affinity", no Legend
  auto m = parse("nccl428_4xt4_old_format_sys_node.txt", 4, 0);
  EXPECT_FALSE(m.legend);
  for (int j = 1; j < 4; ++j) EXPECT_EQ(link(m, "GPU0", g(j)), "SYS");
  EXPECT_EQ(link(m, "GPU1", "GPU2"), "NODE");
  EXPECT_EQ(link(m, "GPU1", "GPU3"), "NODE");
  EXPECT_EQ(link(m, "GPU2", "GPU3"), "NODE");
  EXPECT_EQ(m.cpu_affinity["GPU0"], "0-15,32-47");
  for (int j = 1; j < 4; ++j) EXPECT_EQ(m.cpu_affinity[g(j)], "16-31,48-63");
  EXPECT_TRUE(m.numa_affinity.empty());
}

TEST(TopoImport, SglangH800NineNics) {
  // expect: all pairs NV8; 9 NICs, GPUn PIX to one rail NIC, NIC8 (mlx5_bond_0) NODE to GPU0-3 /
  // SYS to GPU4-7; NIC names mlx5_0, mlx5_3..9; GPU0-3 NUMA 0, GPU4-7 NUMA 1; label line skipped
  auto m = parse("sglang28424_h800_8gpu_9nic.txt", 8, 9);
  expect_all_pairs(m, 8, "NV8");
  for (int i = 0; i < 8; ++i) {
    int pix = 0;
    for (int n = 0; n < 9; ++n) pix += link(m, g(i), "NIC" + std::to_string(n)) == "PIX";
    EXPECT_EQ(pix, 1);
    EXPECT_EQ(link(m, g(i), "NIC" + std::to_string(i)), "PIX");
    EXPECT_EQ(link(m, g(i), "NIC8"), i < 4 ? "NODE" : "SYS");
    EXPECT_EQ(m.numa_affinity[g(i)], i < 4 ? "0" : "1");
  }
  expect_entries(m.nic_names, {{"NIC0", "mlx5_0"}, {"NIC1", "mlx5_3"}, {"NIC7", "mlx5_9"}, {"NIC8", "mlx5_bond_0"}});
}

TEST(TopoImport, DeviceH200Single) {
  auto m = parse("h200_topo.txt", 1, 0);
  auto r = analyze_file("h200_topo.txt");
  EXPECT_TRUE(pcie(r).empty()) << "one GPU: nothing to link";
}

TEST(TopoImport, DeviceH200x2Nv18WithLinkSpeeds) {
  auto m = parse("h200x2_topo.txt");
  EXPECT_EQ(m.gpus(), 2);
  EXPECT_EQ(link(m, "GPU0", "GPU1"), "NV18");
  EXPECT_EQ(m.gpu_names[0], "NVIDIA H200");
  EXPECT_DOUBLE_EQ(m.link_gbps[0], 26.562);
  EXPECT_TRUE(pcie(analyze_file("h200x2_topo.txt")).empty());
}

TEST(TopoImport, CeilingsByGeneration) {
  EXPECT_DOUBLE_EQ(*nvlink_gbps_per_link("NVIDIA H200", 18), 26.5625);
  EXPECT_DOUBLE_EQ(*nvlink_gbps_per_link("NVIDIA A100-SXM4-80GB", 12), 25.0);
  EXPECT_DOUBLE_EQ(*nvlink_gbps_per_link("", 18), 26.5625);
  EXPECT_FALSE(nvlink_gbps_per_link("", 8).has_value()) << "NV8 could be H800 or A800: unknown";
  EXPECT_NEAR(*pcie_gbps(4, 16), 31.5, 0.1);
  EXPECT_NEAR(*pcie_gbps(5, 16), 63.0, 0.1);
  EXPECT_FALSE(pcie_gbps(0, 16).has_value());
}

TEST(TopoImport, PcieTopologyFindingsOnRealBoxes) {
  for (auto f : {"club3090_1229_2x5090_phb_tabs.txt", "club3090_178_2x3090_sys_numa_na_tabs.txt",
                 "nccl428_4xt4_old_format_sys_node.txt"}) {
    auto r = analyze_file(f);
    auto v = pcie(r);
    ASSERT_EQ(v.size(), 1u) << f;
    EXPECT_NE(v[0]->title.find("only over PCIe"), std::string::npos) << v[0]->title;
  }
  auto k8s_result = analyze_file("k8sdeviceplugin436_4xa100_nvbridge_mlx5_tabs.txt");
  auto k8s = pcie(k8s_result);
  ASSERT_EQ(k8s.size(), 1u);
  EXPECT_NE(k8s[0]->title.find("not an NVSwitch"), std::string::npos) << k8s[0]->title;
  EXPECT_EQ(k8s[0]->evidence["gpus_without_nvlink"], nlohmann::json({"GPU2", "GPU3"}));
  for (auto f : {"deepep13_a100sxm4_8gpu_8nic_roce.txt", "sglang28424_h800_8gpu_9nic.txt"})
    EXPECT_TRUE(pcie(analyze_file(f)).empty()) << f << ": fully NVLink-connected";
}

TEST(TopoImport, EveryRealFileIsDetectedAsTopo) {
  for (const auto& e : std::filesystem::directory_iterator(topo_file("x").parent_path()))
    EXPECT_EQ(detect_format(e.path()), Format::Topo) << e.path();
  EXPECT_EQ(detect_format(topo_file("h200_topo.txt")), Format::Topo);
  EXPECT_EQ(detect_format(topo_file("h200x2_topo.txt")), Format::Topo);
}

TEST(TopoImport, BadInput) {
  EXPECT_FALSE(parse_topo("hello\nworld\n").ok());
  auto r = parse_topo("\tGPU0\tGPU1\tCPU Affinity\nGPU0\t X \nGPU1\tPHB\t X \t0-3\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("GPU0"), std::string::npos);
  // A paste cut short keeps the rows it has (issue 11 item 6): GPU1's row is missing, its
  // link to GPU0 is in GPU0's row.
  auto cut = parse_topo("\tGPU0\tGPU1\nGPU0\t X \tNV4\n");
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->missing_rows, std::vector<std::string>{"GPU1"});
  EXPECT_EQ(cut->links[1][0], "NV4");
}
