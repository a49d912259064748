// SPDX-License-Identifier: Apache-2.0
// The one communication vocabulary (moetune/trace/comm_vocab.h) on real kernel names:
// positives as the libraries name their kernels (the source file is given per name; the
// demangled form is what Kineto / nsys write), negatives from real compute kernels.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "moetune/trace/comm_vocab.h"

using namespace moetune;
using comm::Kind;

namespace {

Kind kind(const std::string& n) { return comm::classify_kernel(n, nullptr); }

}  // namespace

TEST(CommVocab, NcclKernelsOldAndNew) {
  // NCCL <= 2.18 (HTA traces), >= 2.19 (our H200 runs), demangled with "void " and mangled (CUPTI).
  EXPECT_EQ(kind("ncclKernel_AllReduce_RING_LL_Sum_float(ncclDevComm*, unsigned long, ncclWork*)"),
            Kind::NcclCollective);
  EXPECT_EQ(kind("ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclDevComm*, unsigned long, ncclWork*)"), Kind::NcclP2P);
  EXPECT_EQ(kind("ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)"), Kind::NcclCollective);
  EXPECT_EQ(kind("void ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)"), Kind::NcclP2P);
  EXPECT_EQ(kind("_Z22ncclDevKernel_SendRecv24ncclDevKernelArgsStorageILm4096EE"), Kind::NcclP2P);
  EXPECT_EQ(kind("ncclAllReduceRingLLKernel_sum_f32(CollectiveArgs)"), Kind::NcclCollective);  // NCCL < 2.7

  auto a = comm::parse_nccl_kernel("ncclKernel_AllReduce_RING_LL_Sum_float(ncclDevComm*, unsigned long, ncclWork*)");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->func, "AllReduce");
  EXPECT_EQ(a->algo, "Ring");
  EXPECT_EQ(a->proto, "LL");
  EXPECT_EQ(a->redop, "Sum");
  EXPECT_EQ(a->dtype, "float");
  auto b = comm::parse_nccl_kernel("void ncclDevKernel_AllReduce_Sum_bf16_TREE_LL128(ncclDevKernelArgsStorage<4096ul>)");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->algo, "Tree");
  EXPECT_EQ(b->proto, "LL128");
  EXPECT_EQ(b->dtype, "bf16");
  auto c = comm::parse_nccl_kernel("ncclDevKernel_AllGather_COLLNET_DIRECT_SIMPLE");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->algo, "CollNetDirect");
  EXPECT_EQ(c->proto, "Simple");
  auto d = comm::parse_nccl_kernel("_Z22ncclDevKernel_SendRecv24ncclDevKernelArgsStorageILm4096EE");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->func, "SendRecv");
  EXPECT_EQ(d->algo, "");
  auto old = comm::parse_nccl_kernel("ncclAllReduceRingLLKernel_sum_f32");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->func, "AllReduce");
  EXPECT_EQ(old->algo, "Ring");
  EXPECT_EQ(old->proto, "LL");
  EXPECT_FALSE(comm::parse_nccl_kernel("flash_fwd_kernel"));
  EXPECT_FALSE(comm::is_nccl_kernel("my_ncclDevKernel_x"));
}

TEST(CommVocab, ExpertParallelKernelsByStructure) {
  // deepseek-ai/DeepEP csrc/kernels/intranode.cu, internode.cu, internode_ll.cu.
  EXPECT_EQ(kind("void deep_ep::intranode::dispatch<8, 768, 6144>(int4*, float*, int*, long*, float*, int*, int*)"),
            Kind::EpDispatch);
  EXPECT_EQ(kind("void deep_ep::intranode::combine<__nv_bfloat16, 8, 768, 4096>(__nv_bfloat16*, float*)"),
            Kind::EpCombine);
  EXPECT_EQ(kind("void deep_ep::intranode::notify_dispatch<8>(int const*, int*, int, int const*, int*)"),
            Kind::EpNotify);
  EXPECT_EQ(kind("void deep_ep::intranode::cached_notify_combine<8>(void**, int*, int, int, int)"), Kind::EpNotify);
  EXPECT_EQ(kind("void deep_ep::internode::cached_notify(int, int, int, int, int)"), Kind::EpNotify);
  EXPECT_EQ(kind("void deep_ep::internode_ll::dispatch<false, 3, 7168>(void*, float*, int*)"), Kind::EpDispatch);
  EXPECT_EQ(kind("void deep_ep::internode_ll::combine<false, 3, 7168, 128>(void*, void*, int*)"), Kind::EpCombine);
  // The same kernels in forks under other namespaces.
  EXPECT_EQ(kind("void my_ep::internode::dispatch<false, 8, 32>(int4*, float*)"), Kind::EpDispatch);
  EXPECT_EQ(kind("void uccl_ep::internode_ll::combine<false, 3, 7168, 128>(void*, void*)"), Kind::EpCombine);
  EXPECT_EQ(kind("void uccl_ep::intranode::notify_dispatch<8>(int const*, int*)"), Kind::EpNotify);
  // pplx-kernels csrc/all_to_all/internode_dispatch.cu and intranode_combine.cu.
  EXPECT_EQ(kind("void dispatchKernel<10u, true, true>(int*, unsigned long, std::byte*)"), Kind::EpDispatch);
  EXPECT_EQ(kind("void (anonymous namespace)::combineKernel<float, __nv_bfloat16, 32ul, true, true>(__nv_bfloat16*)"),
            Kind::EpCombine);
  // TensorRT-LLM communicationKernels/moeAlltoAllKernels.cu and moeCommKernels.cu.
  EXPECT_EQ(kind("void tensorrt_llm::kernels::moe_comm::moeA2ADispatchKernel<__nv_bfloat16, 8>(int const*)"),
            Kind::EpDispatch);
  EXPECT_EQ(kind("void tensorrt_llm::kernels::moe_comm::moeA2ACombineKernel<__nv_bfloat16, 8, true, false>(int)"),
            Kind::EpCombine);
  EXPECT_EQ(kind("tensorrt_llm::kernels::moe_comm::moeA2APrepareDispatchKernel(int*, int*, int, unsigned int*)"),
            Kind::EpNotify);
  EXPECT_EQ(kind("tensorrt_llm::kernels::moeAllToAllKernel(tensorrt_llm::kernels::MoeEpWorldInfo)"), Kind::NcclP2P);
  // Triton-distributed tutorials/04-deepseek-infer-all2all.py; tilelang's DeepEP port.
  EXPECT_EQ(kind("all_to_all_kernel"), Kind::NcclP2P);
  EXPECT_EQ(kind("notify_dispatch_kernel"), Kind::EpNotify);
  // NVSHMEM / IBGDA kernels.
  EXPECT_EQ(kind("void nvshmemi_transfer_rma_nbi<(threadgroup_t)3, (nvshmemi_op_t)1>(void*, void*, unsigned long)"),
            Kind::OneSided);
}

TEST(CommVocab, ComputeKernelsStayCompute) {
  // Real compute kernels (HTA Kineto traces, our synth/torch runs) with "dispatch" / "combine"
  // / "moe" / "a2a" somewhere in the name.
  for (const char* n : {
           "void cub::DeviceReduceByKeyKernel<cub::DispatchReduceByKey<long*, long*, cub::ConstantInputIterator<int, "
           "int>, int*, int*, cub::Equality, cub::Sum, int>::PtxReduceByKeyPolicy, long*, long*>(long*, long*, int)",
           "void at_cuda_detail::cub::DeviceRadixSortOnesweepKernel<at_cuda_detail::cub::DeviceRadixSortPolicy<long, "
           "long, int>::Policy800, false, long, long, int, int>(int*, int*, long*, long const*, long*, long const*, int)",
           "void deep_ep::layout::get_dispatch_layout<256, 32, 8>(long const*, int*, int*, int*, bool*, int, int)",
           "void moe::permute_tokens_kernel<__nv_bfloat16, 128>(__nv_bfloat16 const*, __nv_bfloat16*, int const*)",
           "void vllm::moe::moe_align_block_size_kernel<int>(int const*, int*, int*, int*, int, int, int, unsigned long)",
           "MoeA2AGateKernel",
           "void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<c10::BFloat16>, "
           "at::detail::Array<char*, 3> >(int, at::native::CUDAFunctor_add<c10::BFloat16>, at::detail::Array<char*, 3>)",
           "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel",
           "dispatch", "combine", "triton_poi_fused_combine_0", "dispatch_kernel", "my_custom_alltoall_kernel"}) {
    EXPECT_EQ(kind(n), Kind::None) << n;
  }
}

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
