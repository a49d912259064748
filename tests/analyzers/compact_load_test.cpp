// SPDX-License-Identifier: Apache-2.0
// RunData::load on a format 3 file gives the rows that were written: kernel grid/block
// (stored XOR kDim3Ones, moetune/trace/dim3_store.h), routing from expert_counts and
// topology from domains, the same as TraceReader gives them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/expect_rows.h"
#include "moetune/analyzers/model.h"
#include "moetune/trace/dim3_store.h"
#include "moetune/trace/reader.h"
#include "moetune/trace/writer.h"

using namespace moetune;

TEST(CompactLoad, KernelDimsRoutingAndDomainsLoadAsWritten) {
  auto p = std::filesystem::temp_directory_path() / ("moetune_compact_load_" + std::to_string(::getpid()) + ".moetune");
  const std::int64_t dims[] = {0, kDim3Ones, pack_dim3(132, 1, 1), pack_dim3(4, 2, 3), pack_dim3(2097151, 65535, 64),
                               pack_dim3(1, 1, 2)};
  {
    auto w = TraceWriter::create(p, {.force = true});
    ASSERT_TRUE(w);
    auto name = (*w)->intern("k");
    for (int i = 0; i < 6; ++i) {
      KernelRow k;
      k.rank = RankId(0), k.stream = StreamId(7), k.start_ns = 1000 * i, k.dur_ns = 10, k.name = name;
      k.grid = dims[i], k.block = dims[5 - i];
      (*w)->add(k);
    }
    for (int e = 0; e < 8; ++e) (*w)->add(ExpertRoutingRow{0, 0, RankId(0), e, 10 + e, 5});
    for (int a = 0; a < 4; ++a)
      for (int b = a + 1; b < 4; ++b)
        (*w)->add(TopologyRow{"h", "GPU" + std::to_string(a), "GPU" + std::to_string(b), a, b, "NV18", 450.0, "t"});
    ASSERT_TRUE((*w)->finish());
  }
  auto r = TraceReader::open(p);
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)->format_version(), 3);
  // y = z = 1 is stored as x alone
  EXPECT_EQ((*r)->db().scalar("SELECT grid FROM kernels WHERE start_ns = 2000"), 132);
  auto d = analyzers::RunData::load(p);
  ASSERT_TRUE(d) << d.error().message;
  ASSERT_EQ(d->kernels.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(d->kernels[static_cast<std::size_t>(i)].grid, dims[i]) << i;
    EXPECT_EQ(d->kernels[static_cast<std::size_t>(i)].block, dims[5 - i]) << i;
  }
  const auto via_reader = test::rows((*r)->kernels());
  ASSERT_EQ(via_reader.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(via_reader[static_cast<std::size_t>(i)].grid, dims[i]) << i;
  ASSERT_EQ(d->routing.size(), 8u);
  EXPECT_EQ(d->routing[7].expert, 7);
  EXPECT_EQ(d->routing[7].tokens, 17);
  ASSERT_EQ(d->topology.size(), 6u);
  EXPECT_EQ(d->topology[5].a, "GPU2");
  EXPECT_EQ(d->topology[5].b, "GPU3");
  EXPECT_EQ((*r)->db().scalar("SELECT count(*) FROM topology"), 0);  // all six pairs in one domain
  std::filesystem::remove(p);
}
