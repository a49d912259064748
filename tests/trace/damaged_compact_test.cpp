// SPDX-License-Identifier: Apache-2.0
// Issue 15 item 2 for store format 3's compact tables: a damaged expert_counts,
// topology_domains or topology_domain_gpus table is an error naming that table (file:
// table T: what), in the reader's queries and in `analyze` (exit 2, one line), never an
// empty routing or topology. The run is SYNTHETIC (`moetune synth`, 8 ranks on one
// NVLink domain): the synthetic generator is what writes routing lists and a GPU domain.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/damaged_run.h"
#include "moetune/trace/reader.h"

namespace fs = std::filesystem;
using namespace moetune;

namespace {

// SYNTHETIC run, made once; each test damages a copy.
const fs::path& synth_run() {
  static const fs::path run =
      test::make_run("synth --ranks 8 --steps 4 --topology nvlink:8", test::damage_dir("damaged_compact") / "synth8.moetune");
  return run;
}

fs::path copy_of_run(const std::string& name) { return test::copy_of(synth_run(), name); }

}  // namespace

TEST(DamagedCompactTable, TheUndamagedRunHasRoutingListsAndADomain) {
  auto rd = TraceReader::open(synth_run());
  ASSERT_TRUE(rd) << rd.error().message;
  ASSERT_EQ((*rd)->format_version(), 3);
  EXPECT_GT((*rd)->db().scalar("SELECT count(*) FROM expert_counts").value_or(0), 0);
  EXPECT_EQ((*rd)->db().scalar("SELECT count(*) FROM topology_domains").value_or(0), 1);
  auto routing = (*rd)->expert_routing();
  ASSERT_TRUE(routing) << routing.error().message;
  EXPECT_EQ(static_cast<std::int64_t>(routing->size()),
            (*rd)->db().scalar("SELECT sum(n) FROM expert_counts").value_or(-1));
  auto topo = (*rd)->topology();
  ASSERT_TRUE(topo) << topo.error().message;
  EXPECT_EQ(topo->size(), 8u * 7u / 2u);  // every pair of the 8-GPU domain
}

TEST(DamagedCompactTable, RoutingListsThatFailWhileReadNameExpertCounts) {
  auto p = copy_of_run("counts_fail.moetune");
  ASSERT_EQ(test::fail_table_on_read(p.string(), "expert_counts", "step,layer,rank,time_ns,n,expert0,experts,tokens"),
            "");
  auto rd = TraceReader::open(p);
  ASSERT_TRUE(rd) << rd.error().message;
  auto routing = (*rd)->expert_routing();
  ASSERT_FALSE(routing);
  EXPECT_EQ(routing.error().message, p.string() + ": table expert_counts: integer overflow");
  auto topo = (*rd)->topology();  // the other tables still read
  ASSERT_TRUE(topo) << topo.error().message;
  test::expect_one_line_error("analyze", p, "table expert_counts: integer overflow");
}

TEST(DamagedCompactTable, DomainsThatFailWhileReadNameTopologyDomains) {
  auto p = copy_of_run("domains_fail.moetune");
  ASSERT_EQ(test::fail_table_on_read(p.string(), "topology_domains", "id,after_row,host,link,bandwidth_gbps,source"), "");
  auto rd = TraceReader::open(p);
  ASSERT_TRUE(rd) << rd.error().message;
  auto topo = (*rd)->topology();
  ASSERT_FALSE(topo);
  EXPECT_EQ(topo.error().message, p.string() + ": table topology_domains: integer overflow");
  test::expect_one_line_error("analyze", p, "table topology_domains: integer overflow");
}

TEST(DamagedCompactTable, OverwrittenDomainGpusPageNamesTheTable) {
  auto p = copy_of_run("gpus_root.moetune");
  ASSERT_EQ(test::smash_table_root(p.string(), "topology_domain_gpus"), "");
  auto rd = TraceReader::open(p);
  ASSERT_FALSE(rd);
  EXPECT_NE(rd.error().message.find("damaged store: table topology_domain_gpus ("), std::string::npos)
      << rd.error().message;
  test::expect_one_line_error("analyze", p, "damaged store: table topology_domain_gpus (");
  // Unchecked (a file over the quick_check size): the query names it.
  auto unchecked = TraceReader::open(p, false);
  ASSERT_TRUE(unchecked) << unchecked.error().message;
  auto topo = (*unchecked)->topology();
  ASSERT_FALSE(topo);
  EXPECT_EQ(topo.error().message.rfind(p.string() + ": table topology_domain_gpus: ", 0), 0u) << topo.error().message;
}

TEST(DamagedCompactTable, AMissingFormat3TableIsNamed) {
  auto p = copy_of_run("no_counts.moetune");
  ASSERT_EQ(test::exec_sql(p.string(), "DROP TABLE expert_counts"), "");
  auto rd = TraceReader::open(p);
  ASSERT_FALSE(rd);
  EXPECT_NE(rd.error().message.find("table expert_counts is missing"), std::string::npos) << rd.error().message;
  auto view = copy_of_run("no_view.moetune");
  ASSERT_EQ(test::exec_sql(view.string(), "DROP VIEW topology_pairs"), "");
  auto rv = TraceReader::open(view);
  ASSERT_FALSE(rv);
  EXPECT_NE(rv.error().message.find("table topology_pairs is missing"), std::string::npos) << rv.error().message;
}
