// SPDX-License-Identifier: Apache-2.0
// The one communication vocabulary (moetune/trace/comm_vocab.h) on real kernel names
// (common/comm_kernel_cases.h), on names and dtypes, and with user rules.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "common/comm_kernel_cases.h"
#include "moetune/trace/comm_vocab.h"

using namespace moetune;
using comm::Kind;

namespace {

Kind kind(std::string_view n) { return comm::classify_kernel(n, nullptr); }

}  // namespace

TEST(CommVocab, NcclKernelsOldAndNew) {
  test::expect_kinds(kind, test::kNcclKernelKinds);
  test::expect_decodes_nccl_kernels(comm::parse_nccl_kernel);
  EXPECT_FALSE(comm::is_nccl_kernel("my_ncclDevKernel_x"));
}

TEST(CommVocab, ExpertParallelKernelsByStructure) { test::expect_kinds(kind, test::kEpKernelKinds); }

TEST(CommVocab, ComputeKernelsStayCompute) { test::expect_compute(kind); }

TEST(CommVocab, NamesDtypesAndBusFactors) {
  EXPECT_EQ(comm::func_from_name("all_to_all_single"), "AllToAll");
  EXPECT_EQ(comm::func_from_name("_allgather_base"), "AllGather");
  EXPECT_EQ(comm::func_from_name("reduce_scatter_tensor"), "ReduceScatter");
  EXPECT_EQ(comm::func_from_name("ncclBcast"), "Broadcast");
  EXPECT_EQ(comm::func_from_name("ncclAlltoAll"), "AllToAll");
  EXPECT_EQ(comm::func_from_name("ncclSend"), "Send");
  EXPECT_EQ(comm::func_from_name("ncclGroupStart"), "");
  EXPECT_EQ(comm::func_in_text("all_reduce_perf"), "AllReduce");
  EXPECT_EQ(comm::func_in_text("ncclt78_v100_8node_alltoall_bad.txt"), "AllToAll");
  EXPECT_EQ(comm::func_in_text("reduce_scatter_perf"), "ReduceScatter");
  EXPECT_EQ(comm::dtype_size("BFloat16"), 2);
  EXPECT_EQ(comm::dtype_size("c10::Half"), 2);
  EXPECT_EQ(comm::dtype_size("bf16"), 2);
  EXPECT_EQ(comm::dtype_size("ncclFloat32"), 4);
  EXPECT_EQ(comm::dtype_size("int8_t"), 1);
  EXPECT_EQ(comm::dtype_size("f8e4m3"), 1);
  EXPECT_EQ(comm::dtype_size("Long"), 8);
  EXPECT_EQ(comm::dtype_size("Mystery"), 0);
  EXPECT_EQ(comm::dtype_name("bfloat16"), "BFloat16");
  EXPECT_EQ(comm::dtype_name("float"), "Float");
  EXPECT_EQ(comm::dtype_name("f8e5m2"), "Float8e5m2");
  EXPECT_EQ(comm::dtype_name("Mystery"), "Mystery");
  EXPECT_DOUBLE_EQ(comm::busbw_factor("AllReduce", 8), 1.75);
  EXPECT_DOUBLE_EQ(comm::busbw_factor("all_to_all_single", 4), 0.75);
  EXPECT_DOUBLE_EQ(comm::busbw_factor("AlltoAll", 64), 63.0 / 64.0);
  EXPECT_DOUBLE_EQ(comm::busbw_factor("SendRecv", 2), 1.0);
  EXPECT_DOUBLE_EQ(comm::busbw_factor("AllReduce", 0), 1.0);  // unknown size: algbw
}

TEST(CommVocab, UserRulesComeFirstAndFileErrorsNameTheFile) {
  auto rs = comm::RuleSet::parse(R"([
      {"pattern": "my_xfer_", "match": "prefix", "kind": "dispatch"},
      {"pattern": "^fused_moe_.*_send", "match": "regex", "kind": "p2p"},
      {"pattern": "deep_ep::intranode::combine", "match": "contains", "kind": "none"}])",
                                 "rules.json");
  ASSERT_TRUE(rs.ok()) << rs.error().message;
  EXPECT_EQ(comm::classify_kernel("my_xfer_kernel<1>(int)", &*rs), Kind::EpDispatch);
  EXPECT_EQ(comm::classify_kernel("void fused_moe_layer3_send_tokens(int)", &*rs), Kind::NcclP2P);
  // A user rule can overrule the built-in table, both ways.
  EXPECT_EQ(comm::classify_kernel("void deep_ep::intranode::combine<8>(int)", &*rs), Kind::None);
  EXPECT_EQ(comm::classify_kernel("void deep_ep::intranode::combine<8>(int)", nullptr), Kind::EpCombine);
  {
    comm::ScopedRules scope(&*rs);
    EXPECT_EQ(comm::classify_kernel("my_xfer_kernel"), Kind::EpDispatch);
  }
  EXPECT_EQ(comm::classify_kernel("my_xfer_kernel"), Kind::None);

  auto err = [](const std::string& text) {
    auto r = comm::RuleSet::parse(text, "bad.json");
    EXPECT_FALSE(r.ok()) << text;
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_NE(err("[{\"pattern\": \"x\", \"kind\": \"teleport\"}]").find("bad.json: rule 1: kind \"teleport\""),
            std::string::npos);
  EXPECT_NE(err("[{\"pattern\": \"(\", \"match\": \"regex\", \"kind\": \"p2p\"}]").find("not a valid regex"),
            std::string::npos);
  EXPECT_NE(err("[{\"pattern\": \"x\", \"match\": \"glob\", \"kind\": \"p2p\"}]").find("match \"glob\""),
            std::string::npos);
  EXPECT_NE(err("[{\"patern\": \"x\", \"kind\": \"p2p\"}]").find("unknown key \"patern\""), std::string::npos);
  EXPECT_NE(err("{not json").find("bad.json: not valid JSON"), std::string::npos);
  EXPECT_NE(err("[{\"kind\": \"p2p\"}]").find("missing \"pattern\""), std::string::npos);
  auto missing = comm::RuleSet::load("/nonexistent/rules.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message.rfind("/nonexistent/rules.json: ", 0), 0u);
}

TEST(CommVocab, CommLikeNamesForTraceHealth) {
  EXPECT_TRUE(comm::looks_like_comm("void my_lib::ep::all2all_fused_kernel<4>(int)"));
  EXPECT_TRUE(comm::looks_like_comm("sendTokensKernel"));
  EXPECT_TRUE(comm::looks_like_comm("ibgda_put_warp"));
  EXPECT_TRUE(comm::looks_like_comm("dispatch_kernel"));
  EXPECT_FALSE(comm::looks_like_comm("void at::native::(anonymous namespace)::descend_sort_kernel<float>(float*)"));
  EXPECT_FALSE(comm::looks_like_comm(
      "void cub::DeviceReduceByKeyKernel<cub::DispatchReduceByKey<long*, long*, int>::Policy, long*>(long*, int)"));
  EXPECT_FALSE(comm::looks_like_comm("flash_fwd_kernel<Flash_fwd_kernel_traits<128, 128, 64, 4> >(Flash_fwd_params)"));
}
