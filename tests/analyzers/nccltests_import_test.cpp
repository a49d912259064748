// SPDX-License-Identifier: Apache-2.0
// nccl-tests text importer on the real files in shared/data/external/nccltests. Every
// number pinned here was read by hand from the file (or its `#! expect:` line).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "anab_helpers.h"
#include "common/expect_rows.h"
#include "common/import_store.h"
#include "moetune/import/import.h"
#include "moetune/import/text_formats.h"
#include "moetune/trace/reader.h"

using namespace moetune;
using namespace moetune::import;

namespace {

std::filesystem::path data(const std::string& f) {
  return std::filesystem::path(MOETUNE_SHARED_DATA) / "external" / "nccltests" / f;
}

NcclTestsRun parse_file(const std::string& f) {
  auto p = data(f);
  auto r = parse_nccl_tests(anab::read_text(p), p.string());
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : NcclTestsRun{};
}

double peak(const NcclTestsRun& r, bool in_place) {
  double m = 0;
  for (const auto& row : r.rows)
    if (row.in_place == in_place) m = std::max(m, row.busbw_gbps);
  return m;
}

std::int64_t max_size(const NcclTestsRun& r) {
  std::int64_t m = 0;
  for (const auto& row : r.rows) m = std::max(m, row.bytes);
  return m;
}

// busbw = algbw x nccl-tests factor for the parsed collective and rank count: checks that
// func and nranks were understood (rows with algbw >= 1 GB/s, where 2 decimals suffice).
void expect_factor_consistent(const NcclTestsRun& r) {
  double f = busbw_factor(r.func, r.nranks);
  int checked = 0;
  for (const auto& row : r.rows) {
    if (row.algbw_gbps < 1) continue;
    EXPECT_NEAR(row.algbw_gbps * f, row.busbw_gbps, 0.02 * row.busbw_gbps + 0.011) << row.bytes;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

// What every file's test pins: the collective, the rank count, the rows and the largest size.
void expect_run(const NcclTestsRun& r, const std::string& func, int nranks, std::size_t rows, std::int64_t max_bytes) {
  EXPECT_EQ(r.func, func);
  EXPECT_EQ(r.nranks, nranks);
  EXPECT_EQ(r.rows.size(), rows);
  EXPECT_EQ(max_size(r), max_bytes);
}

}  // namespace

TEST(NcclTestsImport, A3MegaAllReduce16Ranks) {
  auto r = parse_file("a3mega_h100_allreduce_2node_16rank.txt");
  expect_run(r, "AllReduce", 16, 62u, 8589934592LL);  // 62 rows: 31 sizes x (out-of-place, in-place)
  EXPECT_EQ(r.nranks_basis, "device list");
  EXPECT_EQ(r.hosts.size(), 2u);
  EXPECT_EQ(r.rows.front().bytes, 8);
  EXPECT_DOUBLE_EQ(peak(r, false), 338.82);
  EXPECT_DOUBLE_EQ(peak(r, true), 337.35);
  ASSERT_TRUE(r.avg_busbw_gbps.has_value());
  EXPECT_DOUBLE_EQ(*r.avg_busbw_gbps, 70.742);
  EXPECT_EQ(r.wrong, 0);
  EXPECT_EQ(r.rows.front().dtype, "Float");
  expect_factor_consistent(r);
}

TEST(NcclTestsImport, H100SingleNodeAllReduce) {
  auto r = parse_file("ncclt290_h100_allreduce_1node_8gpu.txt");
  expect_run(r, "AllReduce", 8, 12u, 4294967296LL);
  EXPECT_EQ(r.hosts.size(), 1u);
  EXPECT_DOUBLE_EQ(peak(r, true), 476.53);
  ASSERT_TRUE(r.avg_busbw_gbps.has_value());
  EXPECT_DOUBLE_EQ(*r.avg_busbw_gbps, 439.369);
  EXPECT_EQ(r.wrong, 0);
  expect_factor_consistent(r);
}

TEST(NcclTestsImport, AllToAllWithInfoLogAndNoFooter) {
  auto r = parse_file("ncclt321_h20vm_alltoall_2node_4rank_infolog_nofooter.txt");
  expect_run(r, "AllToAll", 4, 26u, 4294967296LL);  // 26 rows: 13 sizes, 1 MB .. 4 GB
  EXPECT_EQ(r.hosts.size(), 2u);
  EXPECT_EQ(r.rows.front().bytes, 1048576);
  EXPECT_DOUBLE_EQ(std::max(peak(r, false), peak(r, true)), 50.37);
  EXPECT_FALSE(r.avg_busbw_gbps.has_value()) << "no footer: the average must be reported missing";
  EXPECT_GT(r.noise_lines, 100);  // NCCL INFO lines skipped
  EXPECT_EQ(r.wrong, 0);          // in-place #wrong is N/A
  expect_factor_consistent(r);
}

TEST(NcclTestsImport, OldFormatKnownBadAllToAll) {
  auto r = parse_file("ncclt78_v100_8node_alltoall_bad.txt");
  expect_run(r, "AllToAll", 64, 4u, 536870912LL);  // 64 ranks: 268435456 B / (1048576 floats x 4 B)
  EXPECT_EQ(r.func_basis, "file name");
  EXPECT_EQ(r.nranks_basis, "count x type size");
  EXPECT_DOUBLE_EQ(peak(r, false), 0.51);
  ASSERT_TRUE(r.avg_busbw_gbps.has_value());
  EXPECT_DOUBLE_EQ(*r.avg_busbw_gbps, 0.507636);
  EXPECT_EQ(r.wrong, 2);  // the in-place "error" column reads 1e+00 on both rows
}

TEST(NcclTestsImport, ImportWritesBenchRowsAndHealth) {
  auto out = anab::tmpdir() / "ncclt321.moetune";
  auto rd = moetune::test::import_store({data("ncclt321_h20vm_alltoall_2node_4rank_infolog_nofooter.txt")}, out);
  ASSERT_TRUE(rd);
  auto bench = test::rows(rd->bench_results());
  EXPECT_EQ(bench.size(), 26u);
  EXPECT_EQ(bench.front().func, "AllToAll");
  EXPECT_EQ(bench.front().nranks, 4);
  bool no_footer = false;
  for (const auto& s : test::rows(rd->stats())) no_footer = no_footer || s.name == "nccl_tests_no_footer";
  EXPECT_TRUE(no_footer);
}

TEST(NcclTestsImport, EveryRealFileIsDetectedAsNcclTests) {
  for (const auto& e : std::filesystem::directory_iterator(data("").parent_path()))
    EXPECT_EQ(detect_format(e.path()), Format::NcclTests) << e.path();
}

TEST(NcclTestsImport, BadInputIsAnErrorNamingTheFile) {
  auto r = parse_nccl_tests("# nThread 1 nGpus 1\n#  size count type\nnot a row\n", "x_perf.txt");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("x_perf.txt"), std::string::npos);
  auto u = parse_nccl_tests("   1048576  262144  float  1.0  2.0  2.0  0\n", "mystery.txt");
  ASSERT_FALSE(u.ok()) << "a collective that cannot be told must not be guessed";
  EXPECT_NE(u.error().message.find("cannot tell which collective"), std::string::npos);
}

TEST(NcclTestsImport, BusFactors) {
  EXPECT_DOUBLE_EQ(busbw_factor("AllReduce", 8), 1.75);
  EXPECT_DOUBLE_EQ(busbw_factor("AllGather", 4), 0.75);
  EXPECT_DOUBLE_EQ(busbw_factor("ReduceScatter", 4), 0.75);
  EXPECT_DOUBLE_EQ(busbw_factor("AllToAll", 64), 63.0 / 64.0);
  EXPECT_DOUBLE_EQ(busbw_factor("Broadcast", 8), 1.0);
  EXPECT_DOUBLE_EQ(busbw_factor("SendRecv", 2), 1.0);
}
