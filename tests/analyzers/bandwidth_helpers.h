// SPDX-License-Identifier: Apache-2.0
// Helpers for the link-model / bandwidth tests (bandwidth_model, link_ceiling, switch_fabric):
// measured all-to-all sweeps from tests/data/device, runs with an imported topology text,
// rank rows, all-to-all nccl_ops rows, and the low-bandwidth finding.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "import_helpers.h"
#include "moetune/analyzers/analyses.h"

namespace bwtest {

using namespace moetune;
using namespace moetune::analyzers;

// One line of a measured sweep (tests/data/device/*_a2a_bw*.jsonl).
struct Point {
  std::int64_t bytes = 0;
  double time_us = 0, busbw = 0;
  int nranks = 0;
};

inline std::vector<Point> sweep(const std::string& file) {
  std::ifstream in(std::filesystem::path(MOETUNE_TEST_DATA) / "device" / file);
  std::vector<Point> v;
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    v.push_back({j["bytes"].get<std::int64_t>(), j["time_us"].get<double>(), j["busbw_gbps"].get<double>(),
                 j["nranks"].get<int>()});
  }
  return v;
}

// Appends `n` rank rows, rank r on device r, with `host` and `gpu_name` ("" leaves them unset).
inline void add_ranks(RunData& run, int n, const std::string& host = "", const std::string& gpu_name = "") {
  for (int r = 0; r < n; ++r) {
    RankRow row;
    row.rank = RankId(r);
    row.device = r;
    row.host = host;
    row.gpu_name = gpu_name;
    run.ranks.push_back(row);
  }
}

// A topology text imported into a run (written under the test's temp folder as `name`),
// plus `ranks` ranks on GPU0..ranks-1 named `gpu_name` ("": no name; the file's "GPU d:
// NAME" lines, when present, are then the only name the model sees).
inline RunData imported(const std::filesystem::path& topo, int ranks, const std::string& name,
                        const std::string& gpu_name = "NVIDIA H200") {
  RunData run = anaa::import_run({topo}, name);
  add_ranks(run, ranks, "", gpu_name);
  return run;
}

// One rank's row of an all-to-all instance `seq` on communicator "ep".
inline NcclOpRow alltoall_op(int rank, std::int64_t seq, const std::string& dtype, std::int64_t bytes, int nranks,
                             std::int64_t start_ns, std::int64_t end_ns) {
  NcclOpRow o;
  o.rank = RankId(rank);
  o.comm_hash = "ep";
  o.seq = seq;
  o.func = "AllToAll";
  o.dtype = dtype;
  o.bytes = bytes;
  o.nranks = nranks;
  o.start_ns = start_ns;
  o.end_ns = end_ns;
  return o;
}

// The sweep as 3 all-to-all instances per size over ranks 0..nranks-1 (nranks 0: the
// point's own), each lasting time_us x slow, 1 ms apart.
inline void add_sweep(RunData& run, const std::vector<Point>& pts, const std::string& dtype, double slow = 1.0,
                      int nranks = 0) {
  std::int64_t t = 1'000'000'000, seq = 0;
  for (const auto& p : pts)
    for (int k = 0; k < 3; ++k, ++seq) {
      auto dur = static_cast<std::int64_t>(p.time_us * 1e3 * slow);
      const int n = nranks > 0 ? nranks : p.nranks;
      for (int r = 0; r < n; ++r) run.nccl_ops.push_back(alltoall_op(r, seq, dtype, p.bytes, n, t, t + dur));
      t += dur + 1'000'000;
    }
}

// The first LowBandwidth finding, or nullptr.
inline const Finding* low_bw(const AnalysisResult& r) {
  for (const auto& f : r.findings)
    if (f.kind == FindingKind::LowBandwidth) return &f;
  return nullptr;
}

}  // namespace bwtest
