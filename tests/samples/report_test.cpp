// SPDX-License-Identifier: Apache-2.0
// moe_nccl's result line and check-file format (read back by tests/gpu/samples_compare.py).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "report.h"

namespace {

TEST(Report, MedianOddEvenEmpty) {
  EXPECT_DOUBLE_EQ(moe::median({3, 1, 2}), 2.0);
  EXPECT_DOUBLE_EQ(moe::median({4, 1, 3, 2}), 2.5);
  EXPECT_DOUBLE_EQ(moe::median({}), 0.0);
}

TEST(Report, JsonLineHasThroughputAndSettings) {
  moe::Options o;
  o.nranks = 4;
  o.tokens = 1000;
  o.comm_dtype = moe::CommDtype::bf16;
  o.overlap_chunks = 2;
  moe::RunResult r;
  r.step_ms = {50, 40, 200};  // median 50 ms -> 4 ranks x 1000 tokens / 0.05 s
  r.nccl_env = {{"NCCL_HOSTID", "moe-node0"}};
  const std::string line = moe::result_json(o, r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto j = nlohmann::json::parse(line);
  EXPECT_DOUBLE_EQ(j["tokens_per_s"].get<double>(), 80000.0);
  EXPECT_DOUBLE_EQ(j["median_step_ms"].get<double>(), 50.0);
  EXPECT_DOUBLE_EQ(j["min_step_ms"].get<double>(), 40.0);
  EXPECT_DOUBLE_EQ(j["max_step_ms"].get<double>(), 200.0);
  EXPECT_EQ(j["comm_dtype"], "bf16");
  EXPECT_EQ(j["overlap_chunks"], 2);
  EXPECT_EQ(j["placement"], "default");
  EXPECT_EQ(j["nccl_env"]["NCCL_HOSTID"], "moe-node0");
}

TEST(Report, CheckFileHeaderAndRows) {
  moe::Options o;
  o.tokens = 3;
  o.hidden = 2;
  o.rank = 2;
  const std::string path = testing::TempDir() + "moe_check_test.bin";
  ASSERT_TRUE(moe::write_check_file(path, o, {1, 2, 3, 4, 5, 6}));
  std::ifstream f(path, std::ios::binary);
  int32_t hdr[4];
  float v[6];
  ASSERT_TRUE(f.read(reinterpret_cast<char*>(hdr), sizeof hdr));
  ASSERT_TRUE(f.read(reinterpret_cast<char*>(v), sizeof v));
  EXPECT_EQ(hdr[0], 0x4D4F4531);
  EXPECT_EQ(hdr[1], 3);
  EXPECT_EQ(hdr[2], 2);
  EXPECT_EQ(hdr[3], 6);  // first global token = rank * tokens
  EXPECT_EQ(v[5], 6.f);
  std::remove(path.c_str());
  EXPECT_FALSE(moe::write_check_file("/nonexistent-dir/x.bin", o, {}));
}

}  // namespace
