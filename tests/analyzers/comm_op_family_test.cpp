// SPDX-License-Identifier: Apache-2.0
// The one "which kind of NCCL call is this" rule of the analyses (comm_rules.h op_family):
// canonical names as the importers store them, the other spellings traces use, and names
// that are no all-to-all or point-to-point call.
#include <gtest/gtest.h>

#include "moetune/analyzers/comm_rules.h"

using namespace moetune;
using namespace moetune::analyzers;

TEST(CommOpFamily, CanonicalNames) {
  EXPECT_EQ(op_family("AllToAll"), OpFamily::AllToAll);
  EXPECT_EQ(op_family("Send"), OpFamily::Send);
  EXPECT_EQ(op_family("Recv"), OpFamily::Recv);
  EXPECT_EQ(op_family("SendRecv"), OpFamily::SendRecv);
  for (const char* f : {"AllReduce", "AllGather", "ReduceScatter", "Broadcast", "Reduce", "Barrier"}) {
    EXPECT_EQ(op_family(f), OpFamily::Other) << f;
    EXPECT_FALSE(is_p2p_op(f)) << f;
    EXPECT_FALSE(is_alltoall_op(f)) << f;
  }
}

TEST(CommOpFamily, OtherSpellings) {
  // PyTorch ops, NCCL API names, lower case, and a collective named inside a longer name.
  for (const char* f : {"all_to_all_single", "alltoall", "ncclAlltoAll", "_alltoall_base", "c10d::alltoall_", "a2a"})
    EXPECT_TRUE(is_alltoall_op(f)) << f;
  EXPECT_EQ(op_family("send"), OpFamily::Send);
  EXPECT_EQ(op_family("ncclRecv"), OpFamily::Recv);
  EXPECT_EQ(op_family("sendrecv"), OpFamily::SendRecv);
  EXPECT_EQ(op_family("send_recv"), OpFamily::SendRecv);
  for (const char* f : {"send", "recv", "sendrecv", "ncclSend"}) {
    EXPECT_TRUE(is_p2p_op(f)) << f;
    EXPECT_FALSE(is_alltoall_op(f)) << f;
  }
}

TEST(CommOpFamily, NotCommunicationCalls) {
  for (const char* f : {"", "?", "Unknown", "gemm", "all_reduce", "Generic"}) {
    EXPECT_FALSE(is_p2p_op(f)) << f;
    EXPECT_FALSE(is_alltoall_op(f)) << f;
  }
}

TEST(CommOpFamily, SelfSendUsesTheSameRule) {
  NcclOpRow o;
  o.rank = RankId{2};
  o.peer = 2;
  for (const char* f : {"Send", "recv", "SendRecv"}) {
    o.func = f;
    EXPECT_TRUE(is_self_send(o)) << f;
  }
  o.func = "AllToAll";
  EXPECT_FALSE(is_self_send(o));
  o.func = "Send";
  o.peer = 3;
  EXPECT_FALSE(is_self_send(o));
}
