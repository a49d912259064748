// SPDX-License-Identifier: Apache-2.0
// The NCCL 2.28 profiler v5 layout our header must match (x86-64 LP64). Offsets are
// the C layout of NCCL's declarations: any change in our header that moves a field
// breaks the plugin silently, so each used field is pinned here.
#include <gtest/gtest.h>

#include <cstddef>

#include "../../collectors/nccl/include/moetune/nccl/profiler_v5_abi.h"

TEST(NcclAbi, DescriptorLayout) {
  using D = ncclProfilerEventDescr_v5_t;
  EXPECT_EQ(offsetof(D, type), 0u);
  EXPECT_EQ(offsetof(D, parentObj), 8u);
  EXPECT_EQ(offsetof(D, rank), 16u);
  EXPECT_EQ(offsetof(D, coll), 24u);
  EXPECT_EQ(sizeof(D), 112u);
  EXPECT_EQ(offsetof(D, coll.seqNumber), 24u);
  EXPECT_EQ(offsetof(D, coll.func), 32u);
  EXPECT_EQ(offsetof(D, coll.count), 56u);
  EXPECT_EQ(offsetof(D, coll.root), 64u);
  EXPECT_EQ(offsetof(D, coll.datatype), 72u);
  EXPECT_EQ(offsetof(D, coll.nChannels), 80u);
  EXPECT_EQ(offsetof(D, coll.nWarps), 81u);
  EXPECT_EQ(offsetof(D, coll.algo), 88u);
  EXPECT_EQ(offsetof(D, coll.proto), 96u);
  EXPECT_EQ(offsetof(D, coll.parentGroup), 104u);
  EXPECT_EQ(offsetof(D, p2p.func), 24u);
  EXPECT_EQ(offsetof(D, p2p.datatype), 40u);
  EXPECT_EQ(offsetof(D, p2p.count), 48u);
  EXPECT_EQ(offsetof(D, p2p.peer), 56u);
  EXPECT_EQ(offsetof(D, p2p.nChannels), 60u);
  EXPECT_EQ(offsetof(D, proxyOp.pid), 24u);
  EXPECT_EQ(offsetof(D, proxyOp.channelId), 28u);
  EXPECT_EQ(offsetof(D, proxyOp.peer), 32u);
  EXPECT_EQ(offsetof(D, proxyOp.isSend), 44u);
  EXPECT_EQ(offsetof(D, kernelCh.channelId), 24u);
  EXPECT_EQ(offsetof(D, kernelCh.pTimer), 32u);
}

TEST(NcclAbi, StateArgsAndTable) {
  EXPECT_EQ(sizeof(ncclProfilerEventStateArgs_v5_t), 8u);
  EXPECT_EQ(offsetof(ncclProfilerEventStateArgs_v5_t, kernelCh.pTimer), 0u);
  EXPECT_EQ(sizeof(ncclProfiler_v5_t), 6 * sizeof(void*));
  EXPECT_EQ(offsetof(ncclProfiler_v5_t, init), 8u);
  EXPECT_EQ(offsetof(ncclProfiler_v5_t, finalize), 40u);
  EXPECT_EQ(static_cast<int>(ncclProfilerKernelChStop), 22);
  EXPECT_EQ(ncclProfileKernelCh, 64u);
  EXPECT_EQ(sizeof(ncclProfilerEventState_v5_t), sizeof(int));
}
