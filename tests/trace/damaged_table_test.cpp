// SPDX-License-Identifier: Apache-2.0
// Issue 15 item 2: a damaged or partial store says which table failed and how. A real
// run (the nsys 2-GPU export of /work/shared/data, imported by the CLI) gets ONE table
// damaged: its root page overwritten, a column or the table renamed, or a table whose
// rows fail while read (what a damaged page deep in a large file does: open() runs
// quick_check only up to 256 MiB). `info` and `analyze` must exit 2 with one line naming
// the file and the table; the reader's queries return that error, not an empty result.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/damaged_run.h"
#include "moetune/trace/reader.h"

namespace fs = std::filesystem;
using namespace moetune;
using test::expect_one_line_error;

namespace {

const std::string& kCli = test::cli();

fs::path tmpdir() { return test::damage_dir("damaged_table"); }

// The real run, imported once; each test damages a copy.
const fs::path& real_run() {
  static const fs::path run = test::make_run(
      "import " + std::string(MOETUNE_SHARED_DATA) + "/external/nsys/nsys_ai_mfu_2gpu_before.sqlite",
      tmpdir() / "nsys2.moetune");
  return run;
}

fs::path copy_of_run(const std::string& name) { return test::copy_of(real_run(), name); }

}  // namespace

TEST(DamagedTable, TheUndamagedRunReads) {
  auto r = test::run_command(kCli + " info " + real_run().string());
  ASSERT_EQ(r.rc, 0) << r.out;
  auto rd = TraceReader::open(real_run());
  ASSERT_TRUE(rd) << rd.error().message;
  auto ops = (*rd)->nccl_ops();
  ASSERT_TRUE(ops) << ops.error().message;
  EXPECT_GT(ops->size(), 0u);
}

TEST(DamagedTable, OverwrittenRootPageNamesTheTable) {
  for (const std::string table : {"nccl_ops", "kernels", "steps"}) {
    auto p = copy_of_run("root_" + table + ".moetune");
    ASSERT_EQ(test::smash_table_root(p.string(), table), "");
    expect_one_line_error("info", p, "damaged store: table " + table + " (");
    expect_one_line_error("analyze", p, "damaged store: table " + table + " (");
  }
}

TEST(DamagedTable, RenamedColumnOrTableNamesIt) {
  auto col = copy_of_run("renamed_column.moetune");
  ASSERT_EQ(test::exec_sql(col.string(), "ALTER TABLE nccl_ops RENAME COLUMN func TO fn"), "");
  expect_one_line_error("info", col, "column nccl_ops.func is missing");
  expect_one_line_error("analyze", col, "column nccl_ops.func is missing");
  auto tab = copy_of_run("renamed_table.moetune");
  ASSERT_EQ(test::exec_sql(tab.string(), "ALTER TABLE api_calls RENAME TO api_calls_old"), "");
  expect_one_line_error("info", tab, "table api_calls is missing");
  expect_one_line_error("analyze", tab, "table api_calls is missing");
}

TEST(DamagedTable, RowsThatFailWhileReadAreAnErrorNotNoRows) {
  auto p = copy_of_run("fails_on_read.moetune");
  ASSERT_EQ(test::fail_table_on_read(p.string(), "nccl_ops",
                                     "id,rank,comm_hash,seq,func,algo,proto,channels,count,dtype,bytes,peer,root,nranks,"
                                     "enqueue_ns,start_ns,end_ns,stream,kernel_id,in_splits,out_splits,pg_name,pg_ranks"),
            "");
  // Schema and quick_check pass: info (no nccl_ops rows read) still works, analyze does not.
  auto info = test::run_command(kCli + " info " + p.string());
  EXPECT_EQ(info.rc, 0) << info.out;
  expect_one_line_error("analyze", p, ": table nccl_ops: integer overflow");
  expect_one_line_error("export -o " + (tmpdir() / "x.json").string(), p, ": table nccl_ops: integer overflow");
  EXPECT_FALSE(fs::exists(tmpdir() / "x.json"));
  auto rd = TraceReader::open(p);
  ASSERT_TRUE(rd) << rd.error().message;
  auto ops = (*rd)->nccl_ops();
  ASSERT_FALSE(ops);
  EXPECT_EQ(ops.error().message, p.string() + ": table nccl_ops: integer overflow");
  auto ranged = (*rd)->nccl_ops(RankId(0), 0, kTimeMax - 1);
  EXPECT_FALSE(ranged);
  auto kernels = (*rd)->kernels();  // the other tables still read
  ASSERT_TRUE(kernels) << kernels.error().message;
  EXPECT_GT(kernels->size(), 0u);
}

TEST(DamagedTable, QueriesOfAnUncheckedOpenReportTheDamagedTable) {
  // open(check = false) is what a file over the quick_check size gets.
  auto p = copy_of_run("unchecked.moetune");
  ASSERT_EQ(test::smash_table_root(p.string(), "kernels"), "");
  auto rd = TraceReader::open(p, false);
  ASSERT_TRUE(rd) << rd.error().message;
  auto k = (*rd)->kernels();
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().message.rfind(p.string() + ": table kernels: ", 0), 0u) << k.error().message;
  int seen = 0;
  auto each = (*rd)->for_each_kernel([&](const KernelRow&) { ++seen; });
  ASSERT_FALSE(each);
  EXPECT_NE(each.error().message.find("table kernels"), std::string::npos) << each.error().message;
  auto full = (*rd)->check_integrity(true);
  ASSERT_FALSE(full);
  EXPECT_NE(full.error().message.find("damaged store: table kernels ("), std::string::npos) << full.error().message;
}
