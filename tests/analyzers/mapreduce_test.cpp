// SPDX-License-Identifier: Apache-2.0
// Sharded analysis (summary.h, docs/MULTIHOST.md): a run is split by node into files that
// physically hold only that node's ranks (every table), each node file is mapped to a
// summary with the other nodes' files as --peers, and the reduce of the summaries must give
// the same analyze --json document, byte for byte, as analyzing the whole run. Synth runs
// (several topologies and injections, 2-3 nodes; synthetic data) and a real 4-rank Kineto
// trace (tests/data/recorded/torch4_nomarks: no nccl_ops, aligned by NCCL kernel names).
// Also: the summary does not grow with events, and bad or mismatched summaries are refused.
#include <sqlite3.h>

#include <set>

#include "anaa_helpers.h"
#include "import_helpers.h"
#include "moetune/analyzers/summary.h"
#include "moetune/trace/writer.h"

namespace anaa {
namespace {

// A file holding only `keep`'s rows of every table (small shared tables copied whole),
// as one node's merged parts would.
std::filesystem::path write_node(const RunData& run, const std::set<int>& keep, const std::string& name) {
  auto out = tmpdir() / (name + ".moetune");
  auto w = TraceWriter::create(out, {.force = true});
  EXPECT_TRUE(w) << (w ? "" : w.error().message);
  if (!w) return out;
  auto& tw = **w;
  auto in = [&](RankId r) { return keep.count(static_cast<int>(r.value)) > 0; };
  auto sid = [&](StringId id) { return tw.intern(run.str(id)); };
  for (const auto& [k, v] : run.meta)
    if (k.rfind("store.", 0) != 0) tw.set_meta(k, v);
  auto kept = [&](const auto& rows) {
    for (const auto& row : rows)
      if (in(row.rank)) tw.add(row);
  };
  auto all = [&](const auto& rows) {
    for (const auto& row : rows) tw.add(row);
  };
  kept(run.ranks), kept(run.memcpys), kept(run.memsets), kept(run.nccl_ops), kept(run.steps), kept(run.routing);
  kept(run.placement), all(run.topology), all(run.bench), all(run.stats);
  // Rows naming interned strings get this file's ids.
  for (auto k : run.kernels)
    if (in(k.rank)) k.name = sid(k.name), tw.add(k);
  for (auto a : run.api_calls)
    if (in(a.rank)) a.name = sid(a.name), tw.add(a);
  for (auto n : run.nvtx)
    if (in(n.rank)) n.name = sid(n.name), n.domain = sid(n.domain), tw.add(n);
  auto fin = tw.finish();
  EXPECT_TRUE(fin) << (fin ? "" : fin.error().message);
  return out;
}

struct Split {
  std::string whole, reduced;
  std::vector<std::filesystem::path> summaries;
  std::vector<std::uintmax_t> sizes;
};

// Whole-run analysis vs node files -> map (peers: the other nodes) -> reduce.
Split map_reduce(const std::filesystem::path& whole_path, const std::vector<std::set<int>>& nodes,
                 const std::string& name) {
  Split s;
  auto whole = RunData::load(whole_path);
  EXPECT_TRUE(whole) << (whole ? "" : whole.error().message);
  if (!whole) return s;
  s.whole = to_json(analyze(*whole)).dump(2);
  std::vector<std::filesystem::path> files;
  for (std::size_t i = 0; i < nodes.size(); ++i) files.push_back(write_node(*whole, nodes[i], name + "_node" + std::to_string(i)));
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    MapOptions mo;
    mo.force = true;
    for (std::size_t j = 0; j < files.size(); ++j)
      if (j != i) mo.peers.push_back(files[j]);
    auto node = RunData::load(files[i]);
    EXPECT_TRUE(node) << (node ? "" : node.error().message);
    if (!node) return s;
    auto out = tmpdir() / (name + "_node" + std::to_string(i) + ".summary");
    auto rep = write_summary(std::move(*node), mo, {}, out);
    EXPECT_TRUE(rep) << (rep ? "" : rep.error().message);
    if (!rep) return s;
    EXPECT_EQ(rep->ranks, nodes[i]);
    s.summaries.push_back(out);
    s.sizes.push_back(rep->bytes);
  }
  auto r = reduce_summaries(s.summaries, {});
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  if (r) s.reduced = to_json(*r).dump(2);
  return s;
}

std::filesystem::path synth_with(const std::string& name, int ranks, const std::string& topo, const std::string& inject,
                                 int steps = 10, int kernels_per_step = 96) {
  auto path = tmpdir() / (name + ".moetune");
  synth::Options o;
  o.ranks = ranks, o.steps = steps, o.topology = topo, o.inject = inject, o.kernels_per_step = kernels_per_step;
  auto r = synth::generate_file(path, o, true);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  return path;
}

std::set<std::string> kinds(const std::string& doc) {
  std::set<std::string> k;
  if (doc.empty()) return k;
  const auto j = nlohmann::json::parse(doc);
  for (const auto& f : j.at("findings")) k.insert(f.at("kind").get<std::string>());
  return k;
}
std::string str(const std::set<std::string>& s) {
  std::string o;
  for (const auto& x : s) o += x + " ";
  return o;
}

TEST(MapReduce, TwoNodesStragglerHotExpertsTreeSync) {
  auto p = synth_with("mr_a", 8, "nvlink:4,net:4", "straggler,hot_experts_slow_rank,tree_sync", 12);
  auto s = map_reduce(p, {{0, 1, 2, 3}, {4, 5, 6, 7}}, "mr_a");
  ASSERT_FALSE(s.whole.empty());
  EXPECT_EQ(s.reduced, s.whole);
  auto k = kinds(s.whole);  // the equality covers real findings, not an empty document
  EXPECT_TRUE(k.count("straggler") && k.count("hot_experts") && k.count("global_sync")) << str(k);
}

TEST(MapReduce, ThreeNodesHostSyncCopiesGradAllReduce) {
  auto p = synth_with("mr_b", 8, "nvlink:4,pcie:2,net:2",
                      "host_sync:3,gpu_idle:5,memcpy_bound,fp32_grad_allreduce,fp32_dispatch");
  auto s = map_reduce(p, {{0, 1, 2, 3}, {4, 5}, {6, 7}}, "mr_b");
  EXPECT_EQ(s.reduced, s.whole);
  auto k = kinds(s.whole);
  EXPECT_TRUE(k.count("host_sync") && k.count("memcpy_bound") && k.count("grad_compression") && k.count("comm_precision"))
      << str(k);
}

TEST(MapReduce, UnevenNodesNoOverlapSlowLinkLaunchBound) {
  auto p = synth_with("mr_c", 6, "nvlink:2,net:4", "no_overlap,slow_link,launch_bound");
  auto s = map_reduce(p, {{0, 1}, {2, 3, 4, 5}}, "mr_c");
  EXPECT_EQ(s.reduced, s.whole);
  auto k = kinds(s.whole);
  EXPECT_TRUE(k.count("exposed_comm") && k.count("low_bandwidth")) << str(k);
}

TEST(MapReduce, RealKinetoTraceAndKernelNameAlignment) {
  // 4 ranks of torch_moe (Kineto, no step marks: step period detected per rank). As imported
  // (collectives from its NCCL records), then with nccl_ops removed, so the collectives are
  // aligned by NCCL kernel names and the summaries carry those kernels.
  auto dir = std::filesystem::path(MOETUNE_SOURCE_DIR) / "tests/data/recorded/torch4_nomarks";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  auto run = import_run(files, "mr_torch4");
  ASSERT_FALSE(run.nccl_ops.empty());
  auto s = map_reduce(tmpdir() / "mr_torch4.moetune", {{0, 1}, {2, 3}}, "mr_torch4");
  ASSERT_FALSE(s.whole.empty());
  EXPECT_EQ(s.reduced, s.whole);

  run.nccl_ops.clear();
  auto no_ops = write_node(run, {0, 1, 2, 3}, "mr_torch4_kernels");
  auto k = map_reduce(no_ops, {{0, 1}, {2, 3}}, "mr_torch4_kernels");
  ASSERT_FALSE(k.whole.empty());
  EXPECT_EQ(k.reduced, k.whole);
  auto doc = nlohmann::json::parse(k.whole);
  EXPECT_EQ(doc.at("metrics").at("global_sync").at("source"), "kernel names");
  EXPECT_GT(doc.at("metrics").at("global_sync").at("aligned").get<int>(), 0);
}

TEST(MapReduce, SummaryDoesNotGrowWithEvents) {
  // 20x the kernels per step: the run grows many times, the summaries stay the same size (+-10 %).
  auto small = synth_with("mr_ev1", 4, "nvlink:2,net:2", "straggler", 8, 40);
  auto big = synth_with("mr_ev10", 4, "nvlink:2,net:2", "straggler", 8, 800);
  auto a = map_reduce(small, {{0, 1}, {2, 3}}, "mr_ev1");
  auto b = map_reduce(big, {{0, 1}, {2, 3}}, "mr_ev10");
  EXPECT_EQ(a.reduced, a.whole);
  EXPECT_EQ(b.reduced, b.whole);
  ASSERT_EQ(a.sizes.size(), 2u);
  ASSERT_EQ(b.sizes.size(), 2u);
  const double run_ratio = static_cast<double>(std::filesystem::file_size(big)) /
                           static_cast<double>(std::filesystem::file_size(small));
  EXPECT_GT(run_ratio, 4.0);
  for (int i = 0; i < 2; ++i)
    EXPECT_LT(static_cast<double>(b.sizes[i]), 1.1 * static_cast<double>(a.sizes[i]))
        << "summary " << a.sizes[i] << " -> " << b.sizes[i] << " bytes for a run " << run_ratio << "x larger";
}

std::string reduce_error(const std::vector<std::filesystem::path>& files) {
  auto r = reduce_summaries(files, {});
  return r ? std::string() : r.error().message;
}

TEST(MapReduce, RefusesMismatchedSummaries) {
  auto pa = synth_with("mr_e1", 4, "nvlink:2,net:2", "straggler", 6);
  auto pb = synth_with("mr_e2", 4, "nvlink:2,net:2", "tree_sync", 6);
  auto a = map_reduce(pa, {{0, 1}, {2, 3}}, "mr_e1");
  auto b = map_reduce(pb, {{0, 1}, {2, 3}}, "mr_e2");
  ASSERT_EQ(a.summaries.size(), 2u);
  ASSERT_EQ(b.summaries.size(), 2u);
  // Same node twice: ranks overlap.
  EXPECT_NE(reduce_error({a.summaries[0], a.summaries[0]}).find("must not overlap"), std::string::npos);
  // Nodes of two different runs: their collectives differ.
  EXPECT_NE(reduce_error({a.summaries[0], b.summaries[1]}).find("different runs"), std::string::npos);
  // One node missing: the summaries were mapped with ranks 0-3's tables.
  EXPECT_NE(reduce_error({a.summaries[0]}).find("mapped with the small tables of ranks 0,1,2,3"), std::string::npos);
  // A node mapped without --peers.
  {
    auto node = RunData::load(tmpdir() / "mr_e1_node1.moetune");
    ASSERT_TRUE(node);
    auto out = tmpdir() / "mr_e1_alone.summary";
    MapOptions mo;
    mo.force = true;
    ASSERT_TRUE(write_summary(std::move(*node), mo, {}, out));
    auto e = reduce_error({a.summaries[0], out});
    EXPECT_NE(e.find("mr_e1_alone.summary: mapped with the small tables of ranks 2,3"), std::string::npos) << e;
  }
  // A run file is not a summary.
  EXPECT_NE(reduce_error({pa}).find("not a moetune summary"), std::string::npos);
  EXPECT_FALSE(is_summary(pa));
  EXPECT_TRUE(is_summary(a.summaries[0]));
}

void set_meta(const std::filesystem::path& f, const std::string& key, const std::string& value) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(f.c_str(), &db), SQLITE_OK);
  std::string sql = "UPDATE meta SET value='" + value + "' WHERE key='" + key + "'";
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

TEST(MapReduce, RefusesDamagedOrNewerSummaries) {
  auto p = synth_with("mr_d", 4, "nvlink:2,net:2", "", 6);
  auto s = map_reduce(p, {{0, 1}, {2, 3}}, "mr_d");
  ASSERT_EQ(s.summaries.size(), 2u);
  auto bad = tmpdir() / "mr_d_bad.summary";
  std::filesystem::copy_file(s.summaries[1], bad, std::filesystem::copy_options::overwrite_existing);
  set_meta(bad, "summary.gathers", "{\"ranks\": [2, 3]");
  auto e = reduce_error({s.summaries[0], bad});
  EXPECT_NE(e.find("mr_d_bad.summary: damaged summary"), std::string::npos) << e;
  set_meta(bad, "moetune.summary", "99");
  e = reduce_error({s.summaries[0], bad});
  EXPECT_NE(e.find("mr_d_bad.summary: summary version 99 is not supported"), std::string::npos) << e;
}

}  // namespace
}  // namespace anaa
