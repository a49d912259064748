// SPDX-License-Identifier: Apache-2.0
// NVSwitch fabric vs direct NVLink mesh (link_rates.h Fabric, RankLinks): NV# to every peer
// is a switch only when a GPU's NV# over its peers add up to more links than it has. Real
// `nvidia-smi topo -m` files plus one SYNTHETIC 4-GPU NV6 mesh (HGX H100 4-GPU board shape:
// 18 links split 6/6/6 over 3 peers), labelled as such.
#include <gtest/gtest.h>

#include "bandwidth_helpers.h"
#include "moetune/analyzers/topology.h"
#include "moetune/trace/link_rates.h"

using namespace moetune;
using namespace moetune::analyzers;

namespace {

// The topology file imported, plus `n` ranks on GPU0..n-1 of one host with no GPU name.
RunData imported_unnamed(const std::filesystem::path& topo, int n, const std::string& name) {
  return bwtest::imported(topo, n, name, "");
}

RunData mesh(int n, const std::string& code, const std::string& gpu_name) {
  RunData run;  // SYNTHETIC: n GPUs, `code` between every pair
  bwtest::add_ranks(run, n, "box", gpu_name);
  const int nl = links::nvlink_count(code);
  for (int a = 0; a < n; ++a)
    for (int b = a + 1; b < n; ++b) {
      TopologyRow t;
      t.host = "box", t.a = "GPU" + std::to_string(a), t.b = "GPU" + std::to_string(b), t.link = code;
      t.bandwidth_gbps = nl * links::kNvlink4PerLinkGbps;
      run.topology.push_back(t);
    }
  return run;
}

}  // namespace

TEST(NvlinkMesh, FourGpusWithNv6ToEveryPeerAreAMeshNotASwitch) {
  for (const char* name : {"NVIDIA H100 80GB HBM3", ""}) {
    SCOPED_TRACE(name);
    auto L = RankLinks::build(mesh(4, "NV6", name));
    for (int a = 0; a < 4; ++a)
      for (int b = 0; b < 4; ++b) {
        if (a != b) {
          EXPECT_EQ(L.fabric(a, b), links::Fabric::PointToPoint) << a << "-" << b;
        }
      }
    // Each pair has its own 6 links: the per-pair ceiling is 6 x 26.5625, not shared by the peers.
    EXPECT_NEAR(*L.bandwidth(0, 1), 6 * links::kNvlink4PerLinkGbps, 1e-9);
    EXPECT_NEAR(*L.peer_share(0, 1), *L.achievable(0, 1), 1e-9);
  }
  // The same 4 GPUs on NVSwitch print NV18 to every peer: 54 links > 18 per GPU.
  auto S = RankLinks::build(mesh(4, "NV18", "NVIDIA H200"));
  EXPECT_EQ(S.fabric(0, 3), links::Fabric::Switch);
  EXPECT_NEAR(*S.peer_share(0, 1), *S.achievable(0, 1) / 3, 1e-9);
  // A GPU with fewer links (H800: 8) on a switch: NV8 to 3 peers is 24 > 8.
  EXPECT_EQ(RankLinks::build(mesh(4, "NV8", "NVIDIA H800")).fabric(0, 1), links::Fabric::Switch);
}

TEST(NvlinkMesh, RealTopologies) {
  const auto dir = std::filesystem::path(MOETUNE_SHARED_DATA);
  // 8x A100 SXM4 (NV12 to all 7 peers) and 8x H800 (NV8 to all 7 peers): NVSwitch fabrics.
  for (const char* f : {"deepep13_a100sxm4_8gpu_8nic_roce.txt", "sglang28424_h800_8gpu_9nic.txt"}) {
    SCOPED_TRACE(f);
    auto L = RankLinks::build(imported_unnamed(dir / "external" / "topo" / f, 8, std::string(f) + ".moetune"));
    EXPECT_EQ(L.fabric(0, 7), links::Fabric::Switch);
    EXPECT_EQ(L.fabric(3, 4), links::Fabric::Switch);
  }
  // 4x A100 PCIe with NVLink bridges on pairs: point-to-point.
  auto B = RankLinks::build(imported_unnamed(dir / "external" / "topo" / "k8sdeviceplugin436_4xa100_nvbridge_mlx5_tabs.txt",
                                             4, "bridge.moetune"));
  for (int a = 0; a < 4; ++a)
    for (int b = a + 1; b < 4; ++b) {
      EXPECT_EQ(B.fabric(a, b), links::Fabric::PointToPoint) << a << "-" << b;
    }
  // The 2x H200 device machine: one NV18 pair, point-to-point.
  auto P = RankLinks::build(imported_unnamed(dir / "device" / "h200x2_topo.txt", 2, "x2.moetune"));
  EXPECT_EQ(P.fabric(0, 1), links::Fabric::PointToPoint);
  // The 4x H200 device machine (NV18 to every peer, tests/data/device): a switch.
  auto X = RankLinks::build(imported_unnamed(std::filesystem::path(MOETUNE_TEST_DATA) / "device" / "h200x4_topo.txt",
                                             4, "x4.moetune"));
  EXPECT_EQ(X.fabric(0, 3), links::Fabric::Switch);
}

TEST(NvlinkMesh, LinksPerGpuFromTheName) {
  EXPECT_EQ(links::nvlinks_per_gpu("NVIDIA H100 80GB HBM3"), 18);
  EXPECT_EQ(links::nvlinks_per_gpu("NVIDIA H200"), 18);
  EXPECT_EQ(links::nvlinks_per_gpu("NVIDIA H800"), 8);
  EXPECT_EQ(links::nvlinks_per_gpu("NVIDIA A100-SXM4-80GB"), 12);
  EXPECT_EQ(links::nvlinks_per_gpu("Tesla V100-SXM2-32GB"), 6);
  EXPECT_EQ(links::nvlinks_per_gpu("NVIDIA GeForce RTX 3090"), std::nullopt);
  EXPECT_EQ(links::nvlink_count("NV18"), 18);
  EXPECT_EQ(links::nvlink_count("PHB"), 0);
  EXPECT_EQ(links::nvlink_count("NV99999999999"), 0) << "a code from a file: bounded, not an int overflow";
}
