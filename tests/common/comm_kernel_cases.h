// SPDX-License-Identifier: Apache-2.0
// Real kernel names and what the communication vocabulary (moetune/trace/comm_vocab.h)
// makes of them, for every test of it: its own, the analyzers' names for it and the nsys
// importer's decoder (empty fields as nullopt). The positives are named as the libraries
// name their kernels (the source is given per group; the demangled form is what Kineto and
// nsys write), the negatives are real compute kernels.
#pragma once
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

#include "moetune/trace/comm_vocab.h"

namespace moetune::test {

// ---- NCCL kernel-name decoding ----------------------------------------------------------
// Old (NCCL <= 2.18, HTA traces), new (>= 2.19, our H200 runs), demangled with "void ",
// mangled (CUPTI), and NCCL < 2.7.
// A kernel name and its fields; "" where the name does not say.
struct NcclKernelCase {
  std::string_view name, func, algo, proto, redop, dtype;
};

inline constexpr NcclKernelCase kNcclKernelCases[] = {
    {"ncclKernel_AllReduce_RING_LL_Sum_float(ncclDevComm*, unsigned long, ncclWork*)", "AllReduce", "Ring", "LL", "Sum",
     "float"},
    {"ncclKernel_AllReduce_TREE_LL128_Sum_bf16", "AllReduce", "Tree", "LL128", "Sum", "bf16"},
    {"ncclDevKernel_AllReduce_Sum_bf16_TREE_LL128(ncclDevKernelArgsStorage<4096ul>)", "AllReduce", "Tree", "LL128",
     "Sum", "bf16"},
    {"void ncclDevKernel_AllReduce_Sum_bf16_TREE_LL128(ncclDevKernelArgsStorage<4096ul>)", "AllReduce", "Tree", "LL128",
     "Sum", "bf16"},
    {"ncclDevKernel_AllReduce_Sum_f32_RING_LL", "AllReduce", "Ring", "LL", "Sum", "f32"},
    {"ncclDevKernel_AllGather_COLLNET_DIRECT_SIMPLE", "AllGather", "CollNetDirect", "Simple", "", ""},
    {"ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)", "SendRecv", "", "", "", ""},
    {"_Z22ncclDevKernel_SendRecv24ncclDevKernelArgsStorageILm4096EE", "SendRecv", "", "", "", ""},
    {"ncclAllReduceRingLLKernel_sum_f32", "AllReduce", "Ring", "LL", "", ""},
};

// Compute kernels, and a name that only contains an NCCL prefix.
inline constexpr std::string_view kNotNcclKernels[] = {"flash_fwd_kernel", "vectorized_elementwise_kernel",
                                                       "my_ncclDevKernel_x"};

// A decoder's field as text: a string as it is; an optional one as its value, "" when
// absent, and a marker when present but empty (decoders that use optionals say "not in
// the name" with nullopt, never with "").
inline std::string field_text(const std::string& s) { return s; }
inline std::string field_text(const std::optional<std::string>& s) {
  return !s ? std::string() : s->empty() ? std::string("<present but empty>") : *s;
}

// `decode(name)` gives an optional decoded kernel with fields func, algo, proto, redop,
// dtype: every case decodes to its fields, every non-NCCL name to nullopt.
template <class Decode>
void expect_decodes_nccl_kernels(Decode decode) {
  for (const auto& c : kNcclKernelCases) {
    SCOPED_TRACE(std::string(c.name));
    auto k = decode(c.name);
    ASSERT_TRUE(k);
    EXPECT_EQ(field_text(k->func), c.func);
    EXPECT_EQ(field_text(k->algo), c.algo);
    EXPECT_EQ(field_text(k->proto), c.proto);
    EXPECT_EQ(field_text(k->redop), c.redop);
    EXPECT_EQ(field_text(k->dtype), c.dtype);
  }
  for (auto n : kNotNcclKernels) EXPECT_FALSE(decode(n)) << n;
}

// ---- classification -----------------------------------------------------------------
struct CommKernelCase {
  std::string_view name;
  comm::Kind kind;
};

// NCCL kernels, old and new, demangled with "void " and mangled (CUPTI).
inline constexpr CommKernelCase kNcclKernelKinds[] = {
    {"ncclKernel_AllReduce_RING_LL_Sum_float(ncclDevComm*, unsigned long, ncclWork*)", comm::Kind::NcclCollective},
    {"ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclDevComm*, unsigned long, ncclWork*)", comm::Kind::NcclP2P},
    {"ncclKernel_SendRecv_RING_SIMPLE_Sum_int8_t(ncclWorkElem)", comm::Kind::NcclP2P},
    {"ncclDevKernel_AllReduce_Sum_bf16_RING_LL(ncclDevKernelArgsStorage<4096ul>)", comm::Kind::NcclCollective},
    {"ncclDevKernel_AllReduce_Sum_bf16_TREE_LL(ncclDevKernelArgsStorage<4096ul>)", comm::Kind::NcclCollective},
    {"ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)", comm::Kind::NcclP2P},
    {"void ncclDevKernel_SendRecv(ncclDevKernelArgsStorage<4096ul>)", comm::Kind::NcclP2P},
    {"_Z22ncclDevKernel_SendRecv24ncclDevKernelArgsStorageILm4096EE", comm::Kind::NcclP2P},
    {"ncclAllReduceRingLLKernel_sum_f32(CollectiveArgs)", comm::Kind::NcclCollective},  // NCCL < 2.7
};

// Expert-parallel and one-sided kernels, recognised by structure.
inline constexpr CommKernelCase kEpKernelKinds[] = {
    // deepseek-ai/DeepEP csrc/kernels/intranode.cu, internode.cu, internode_ll.cu.
    {"void deep_ep::intranode::dispatch<8, 768, 6144>(int4*, float*, int*, long*, float*, int*, int*)",
     comm::Kind::EpDispatch},
    {"void deep_ep::intranode::dispatch<8, 768, 8192>(int4*, float*)", comm::Kind::EpDispatch},
    {"void deep_ep::intranode::combine<__nv_bfloat16, 8, 768, 4096>(__nv_bfloat16*, float*)", comm::Kind::EpCombine},
    {"void deep_ep::intranode::notify_dispatch<8>(int const*, int*, int, int const*, int*)", comm::Kind::EpNotify},
    {"void deep_ep::intranode::notify_dispatch<8>(int const*)", comm::Kind::EpNotify},
    {"void deep_ep::intranode::cached_notify_combine<8>(void**, int*, int, int, int)", comm::Kind::EpNotify},
    {"void deep_ep::internode::cached_notify(int, int, int, int, int)", comm::Kind::EpNotify},
    {"void deep_ep::internode_ll::dispatch<false, 3, 7168>(void*, float*, int*)", comm::Kind::EpDispatch},
    {"void deep_ep::internode_ll::combine<false, 3, 7168, 128>(void*, void*, int*)", comm::Kind::EpCombine},
    {"void deep_ep::internode_ll::combine<false, 7168>(void*)", comm::Kind::EpCombine},
    // The same kernels in forks under other namespaces.
    {"void my_ep::internode::dispatch<false, 8, 32>(int4*, float*)", comm::Kind::EpDispatch},
    {"void uccl_ep::internode_ll::combine<false, 3, 7168, 128>(void*, void*)", comm::Kind::EpCombine},
    {"void uccl_ep::intranode::notify_dispatch<8>(int const*, int*)", comm::Kind::EpNotify},
    // pplx-kernels csrc/all_to_all/internode_dispatch.cu and intranode_combine.cu.
    {"void dispatchKernel<10u, true, true>(int*, unsigned long, std::byte*)", comm::Kind::EpDispatch},
    {"void (anonymous namespace)::combineKernel<float, __nv_bfloat16, 32ul, true, true>(__nv_bfloat16*)",
     comm::Kind::EpCombine},
    // TensorRT-LLM communicationKernels/moeAlltoAllKernels.cu and moeCommKernels.cu.
    {"void tensorrt_llm::kernels::moe_comm::moeA2ADispatchKernel<__nv_bfloat16, 8>(int const*)",
     comm::Kind::EpDispatch},
    {"void tensorrt_llm::kernels::moe_comm::moeA2ACombineKernel<__nv_bfloat16, 8, true, false>(int)",
     comm::Kind::EpCombine},
    {"tensorrt_llm::kernels::moe_comm::moeA2APrepareDispatchKernel(int*, int*, int, unsigned int*)",
     comm::Kind::EpNotify},
    {"tensorrt_llm::kernels::moeAllToAllKernel(tensorrt_llm::kernels::MoeEpWorldInfo)", comm::Kind::NcclP2P},
    // Triton-distributed tutorials/04-deepseek-infer-all2all.py; tilelang's DeepEP port.
    {"all_to_all_kernel", comm::Kind::NcclP2P},
    {"notify_dispatch_kernel", comm::Kind::EpNotify},
    // NVSHMEM / IBGDA kernels.
    {"void nvshmemi_transfer_rma_nbi<(threadgroup_t)3, (nvshmemi_op_t)1>(void*, void*, unsigned long)",
     comm::Kind::OneSided},
};

// Real compute kernels (HTA Kineto traces, our synth/torch runs) with "dispatch" / "combine"
// / "moe" / "a2a" somewhere in the name, and unknown names: never communication.
inline constexpr std::string_view kComputeKernels[] = {
    "void cub::DeviceReduceByKeyKernel<cub::DispatchReduceByKey<long*, long*, cub::ConstantInputIterator<int, "
    "int>, int*, int*, cub::Equality, cub::Sum, int>::PtxReduceByKeyPolicy, long*, long*>(long*, long*, int)",
    "void at_cuda_detail::cub::DeviceRadixSortOnesweepKernel<at_cuda_detail::cub::DeviceRadixSortPolicy<long, "
    "long, int>::Policy800, false, long, long, int, int>(int*, int*, long*, long const*, long*, long const*, int)",
    "void deep_ep::layout::get_dispatch_layout<256, 32, 8>(long const*, int*, int*, int*, bool*, int, int)",
    "void deep_ep::layout::get_dispatch_layout<256, 32, 8>(long const*)",
    "void moe::permute_tokens_kernel<__nv_bfloat16, 128>(__nv_bfloat16 const*, __nv_bfloat16*, int const*)",
    "void moe::dispatch_tokens_kernel(float*)",
    "void vllm::moe::moe_align_block_size_kernel<int>(int const*, int*, int*, int*, int, int, int, unsigned long)",
    "MoeA2AGateKernel",
    "void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<c10::BFloat16>, "
    "at::detail::Array<char*, 3> >(int, at::native::CUDAFunctor_add<c10::BFloat16>, at::detail::Array<char*, 3>)",
    "void at::native::vectorized_elementwise_kernel<4>(int)",
    "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_warpgroupsize1x1x1_execute_segment_k_off_kernel",
    "dispatch",
    "combine",
    "combine_kernel",
    "triton_poi_fused_combine_0",
    "dispatch_kernel",
    "my_custom_alltoall_kernel",
};

// `classify(name)` gives the comm::Kind of a kernel name: every case its kind.
template <class Classify, std::size_t N>
void expect_kinds(Classify classify, const CommKernelCase (&cases)[N]) {
  for (const auto& c : cases) EXPECT_EQ(classify(c.name), c.kind) << c.name;
}
// Every compute kernel classifies as comm::Kind::None.
template <class Classify>
void expect_compute(Classify classify) {
  for (auto n : kComputeKernels) EXPECT_EQ(classify(n), comm::Kind::None) << n;
}

}  // namespace moetune::test
