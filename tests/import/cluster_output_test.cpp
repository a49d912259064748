// SPDX-License-Identifier: Apache-2.0
// What clusters print (issue 11 item 6). Inputs are DERIVED from the real files in
// shared/data/external/{nccltests,topo}: the same text with the tag a launcher puts
// before every line (srun --label, mpirun --tag-output, MPICH/Intel MPI -prepend-rank), a
// topo paste cut short, a header without the "# Rank" lines. Each must read like the
// original; the numbers pinned are the original file's (read by hand, see its `#! expect:`).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/expect_rows.h"
#include "common/import_store.h"
#include "common/scratch_dir.h"
#include "common/text.h"
#include "moetune/import/import.h"
#include "moetune/import/text_formats.h"
#include "moetune/trace/reader.h"
#include "moetune/trace/writer.h"

using namespace moetune;
using namespace moetune::import;
namespace fs = std::filesystem;

namespace {

fs::path shared(const std::string& sub) { return fs::path(MOETUNE_SHARED_DATA) / sub; }

using moetune::test::read_text;

// Every line of `text` (our "#! " provenance lines dropped) with `prefix(i)` in front.
template <class F>
std::string tagged(const std::string& text, F prefix) {
  std::istringstream in(text);
  std::string line, out;
  for (int i = 0; std::getline(in, line);) {
    if (line.rfind("#!", 0) == 0) continue;
    out += prefix(i++) + line + "\n";
  }
  return out;
}

fs::path write_tmp(const std::string& name, const std::string& text) {
  return moetune::test::write_text(moetune::test::process_dir("moetune_cluster") / name, text);
}

void expect_same_rows(const NcclTestsRun& a, const NcclTestsRun& b) {
  ASSERT_EQ(a.rows.size(), b.rows.size());
  for (std::size_t i = 0; i < a.rows.size(); ++i) {
    EXPECT_EQ(a.rows[i].bytes, b.rows[i].bytes);
    EXPECT_EQ(a.rows[i].count, b.rows[i].count);
    EXPECT_EQ(a.rows[i].dtype, b.rows[i].dtype);
    EXPECT_DOUBLE_EQ(a.rows[i].time_us, b.rows[i].time_us);
    EXPECT_DOUBLE_EQ(a.rows[i].busbw_gbps, b.rows[i].busbw_gbps);
    EXPECT_EQ(a.rows[i].in_place, b.rows[i].in_place);
  }
  EXPECT_EQ(a.func, b.func);
  EXPECT_EQ(a.nranks, b.nranks);
  EXPECT_EQ(a.nranks_basis, b.nranks_basis);
  EXPECT_EQ(a.hosts, b.hosts);
  EXPECT_EQ(a.avg_busbw_gbps.has_value(), b.avg_busbw_gbps.has_value());
  if (a.avg_busbw_gbps && b.avg_busbw_gbps) {
    EXPECT_DOUBLE_EQ(*a.avg_busbw_gbps, *b.avg_busbw_gbps);
  }
  EXPECT_EQ(a.wrong, b.wrong);
}

const char* kFiles[] = {"a3mega_h100_allreduce_2node_16rank.txt", "ncclt290_h100_allreduce_1node_8gpu.txt",
                        "ncclt321_h20vm_alltoall_2node_4rank_infolog_nofooter.txt", "ncclt78_v100_8node_alltoall_bad.txt"};

}  // namespace

TEST(ClusterOutput, LauncherTagsReadLikeThePlainOutput) {
  for (const char* f : kFiles) {
    SCOPED_TRACE(f);
    const std::string plain = read_text(shared("external/nccltests") / f);
    auto base = parse_nccl_tests(plain, f);
    ASSERT_TRUE(base.ok()) << base.error().message;
    EXPECT_EQ(base->prefixed_lines, 0);
    const std::vector<std::pair<std::string, std::string>> variants{
        {"srun --label", tagged(plain, [](int) { return std::string(" 0: "); })},
        {"srun --label, 2-digit", tagged(plain, [](int) { return std::string("12: "); })},
        {"mpirun --tag-output", tagged(plain, [](int) { return std::string("[1,0]<stdout>:"); })},
        {"Open MPI 5 --tag-output", tagged(plain, [](int) { return std::string("[1,0]<stdout>: "); })},
        {"-prepend-rank, glued", tagged(plain, [](int) { return std::string("[0]"); })},
        {"-prepend-rank", tagged(plain, [](int) { return std::string("[0] "); })}};
    for (const auto& [how, text] : variants) {
      SCOPED_TRACE(how);
      auto r = parse_nccl_tests(text, f);
      ASSERT_TRUE(r.ok()) << r.error().message;
      EXPECT_GT(r->prefixed_lines, 0);
      expect_same_rows(*base, *r);
      // The launcher tag must not make the file look like another format.
      EXPECT_EQ(detect_format(write_tmp(std::string("tagged_") + f, text)), Format::NcclTests);
    }
  }
  // Known answers of the plain files (their #! expect lines), through the tagged path.
  auto a3 = parse_nccl_tests(tagged(read_text(shared("external/nccltests") / kFiles[0]),
                                    [](int) { return std::string("[1,0]<stdout>:"); }),
                             kFiles[0]);
  ASSERT_TRUE(a3.ok());
  EXPECT_EQ(a3->nranks, 16);
  EXPECT_EQ(a3->hosts.size(), 2u);
  EXPECT_NEAR(*a3->avg_busbw_gbps, 70.742, 1e-9);
}

TEST(ClusterOutput, NcclInfoLinesOfOtherRanksAndASecondTableAreNotMixedIn) {
  // Derived: ncclt321 (4 ranks, INFO lines interleaved) with INFO lines tagged by ranks 1-3 and,
  // appended, the data rows again as printed by rank 3 (an independent run): only rank 0's table.
  const std::string plain = read_text(shared("external/nccltests") / kFiles[2]);
  auto base = parse_nccl_tests(plain, kFiles[2]);
  ASSERT_TRUE(base.ok());
  std::string text;
  std::istringstream in(plain);
  std::string line, again;
  while (std::getline(in, line)) {
    if (line.rfind("#!", 0) == 0) continue;
    const bool info = line.find("NCCL INFO") != std::string::npos;
    text += (info ? "2: " : "0: ") + line + "\n";
    if (!info && !line.empty() && line[0] != '#') again += "3: " + line + "\n";
  }
  auto r = parse_nccl_tests(text + again, kFiles[2]);
  ASSERT_TRUE(r.ok()) << r.error().message;
  expect_same_rows(*base, *r);
  EXPECT_EQ(r->other_rank_rows, 13) << "the 13 data rows rank 3 printed again";
}

TEST(ClusterOutput, RankCountFromTheHeaderOrUnknownNeverFromTheBandwidthRatio) {
  // Derived: the 16-rank a3mega all_reduce output without its "# Rank" lines. busbw/algbw of
  // its rows is 1.88 (2 x 15/16 = 1.875, rounded): a ratio would say 17 or 16 depending on the
  // row. The rank count is unknown.
  const std::string plain = read_text(shared("external/nccltests") / kFiles[0]);
  std::string no_ranks;
  std::istringstream in(plain);
  std::string line;
  while (std::getline(in, line))
    if (line.find("#  Rank") == std::string::npos) no_ranks += line + "\n";
  auto r = parse_nccl_tests(no_ranks, kFiles[0]);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->func, "AllReduce");
  EXPECT_EQ(r->nranks, 0);
  EXPECT_EQ(r->nranks_basis, "");
  for (const auto& row : r->rows) EXPECT_EQ(row.nranks, 0);
  // An explicit nRanks header line is what the output states.
  auto h = parse_nccl_tests("# nRanks 64\n" + no_ranks, kFiles[0]);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->nranks, 64);
  EXPECT_EQ(h->nranks_basis, "header nRanks");
  // The 64-rank alltoall (ncclt78) keeps its exact count x type size relation.
  auto a2a = parse_nccl_tests(read_text(shared("external/nccltests") / kFiles[3]), kFiles[3]);
  ASSERT_TRUE(a2a.ok());
  EXPECT_EQ(a2a->nranks, 64);

  // Imported: the unknown count is said in a stat, never stored as a guess.
  auto file = write_tmp("all_reduce_no_ranks.txt", no_ranks);
  auto store = file.parent_path() / "no_ranks.moetune";
  auto rd = moetune::test::import_store({file}, store);
  ASSERT_TRUE(rd);
  bool said = false;
  for (const auto& s : test::rows(rd->stats())) said |= s.name == "nccl_tests_nranks_unknown";
  EXPECT_TRUE(said);
  for (const auto& b : test::rows(rd->bench_results())) EXPECT_EQ(b.nranks, 0);
}

TEST(ClusterOutput, TopoPasteCutShortKeepsItsRows) {
  // Derived: the real 8x A100 SXM4 topo -m (deepep13) cut after the GPU3 row.
  const std::string plain = read_text(shared("external/topo") / "deepep13_a100sxm4_8gpu_8nic_roce.txt");
  auto full = parse_topo(plain);
  ASSERT_TRUE(full.ok()) << full.error().message;
  ASSERT_EQ(full->gpus(), 8);
  auto cut_at = plain.find("\nGPU4");
  ASSERT_NE(cut_at, std::string::npos);
  auto cut = parse_topo(plain.substr(0, cut_at + 1));
  ASSERT_TRUE(cut.ok()) << cut.error().message;
  EXPECT_EQ(cut->gpus(), 8);
  EXPECT_EQ(cut->missing_rows.size(), 4u);  // GPU4..GPU7
  EXPECT_EQ(cut->missing_rows.front(), "GPU4");
  // GPU0-GPU7 is in GPU0's row; GPU4-GPU7 is in no row.
  EXPECT_EQ(cut->links[0][7], full->links[0][7]);
  EXPECT_EQ(cut->links[7][0], full->links[0][7]);
  EXPECT_EQ(cut->links[4][7], "");
  // A paste that ends inside a row keeps that row's columns.
  auto mid = parse_topo(plain.substr(0, cut_at + 1) + "GPU4\tNV12\tNV12\n");
  ASSERT_TRUE(mid.ok()) << mid.error().message;
  EXPECT_EQ(mid->cut_rows, std::vector<std::string>{"GPU4"});
  EXPECT_EQ(mid->links[4][1], "NV12");

  auto file = write_tmp("topo_cut.txt", plain.substr(0, cut_at + 1));
  auto store = file.parent_path() / "topo_cut.moetune";
  auto rd = moetune::test::import_store({file}, store);
  ASSERT_TRUE(rd);
  bool warned = false;
  for (const auto& s : test::rows(rd->stats()))
    if (s.name == "topo_matrix_cut_short") warned = s.description.find("GPU4") != std::string::npos;
  EXPECT_TRUE(warned);
  int gpu_pairs = 0;
  for (const auto& t : test::rows(rd->topology())) gpu_pairs += t.a.rfind("GPU", 0) == 0 && t.b.rfind("GPU", 0) == 0;
  EXPECT_EQ(gpu_pairs, 28 - 6) << "all 28 GPU pairs but the 6 among GPU4..GPU7";
}
