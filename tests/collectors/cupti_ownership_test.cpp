// SPDX-License-Identifier: Apache-2.0
// OwnershipTracker (collectors/cupti): inferring from what CUPTI does with our
// buffers whether we still hold its activity callbacks, as happens when torch.profiler
// (Kineto) registers its own callbacks inside a recorded job. CUPTI is simulated:
// "CUPTI writes a record" = a non-zero kind word at the start of the buffer,
// "the flush returns it to us" = on_completed during the probe.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "../../collectors/cupti/include/moetune/cupti/ownership.h"

using moetune::cupti::OwnershipTracker;
using V = OwnershipTracker::Verdict;

namespace {

struct Pool {
  alignas(8) std::uint8_t buf[4][64];
  OwnershipTracker t;
  Pool() {
    std::memset(buf, 0xab, sizeof buf);  // garbage, as from aligned_alloc
    for (auto& b : buf) t.add_buffer(b);
  }
  static void cupti_writes(std::uint8_t* b) {
    const std::uint32_t kind = 10;  // CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL
    std::memcpy(b, &kind, sizeof kind);
  }
  // CUPTI asks for buffer i at `at_ns` and writes a record into it.
  void filled(int i, std::int64_t at_ns) {
    t.on_requested(buf[i], at_ns);
    cupti_writes(buf[i]);
  }
  // A probe whose forced flush returns nothing of ours.
  V empty_probe(std::int64_t at_ns, bool final = false) { return t.end_probe(t.begin_probe(), at_ns, final); }
  // A probe whose forced flush returns buffer i at `returned_ns` (it must be taken as
  // ours), ending at `end_ns`.
  V returning_probe(int i, std::int64_t returned_ns, std::int64_t end_ns, bool final = false) {
    auto st = t.begin_probe();
    EXPECT_TRUE(t.on_completed(buf[i], returned_ns)) << "buffer " << i << " not taken as ours";
    return t.end_probe(st, end_ns, final);
  }
};

TEST(CuptiOwnership, RequestZeroesTheCanaryOfOurBuffer) {
  Pool p;
  p.t.on_requested(p.buf[2], 100);
  for (std::size_t i = 0; i < OwnershipTracker::kCanaryBytes; ++i) EXPECT_EQ(p.buf[2][i], 0) << i;
  EXPECT_EQ(p.buf[2][OwnershipTracker::kCanaryBytes], 0xab);  // only the canary is touched
  EXPECT_EQ(p.buf[1][0], 0xab);
  EXPECT_EQ(p.t.outstanding(), 1u);
}

TEST(CuptiOwnership, AloneEveryProbeConfirmsAndNothingIsLost) {
  Pool p;
  for (int round = 0; round < 5; ++round) {
    p.filled(round % 4, 1000 + round);
    EXPECT_TRUE(p.t.may_flush());
    EXPECT_EQ(p.returning_probe(round % 4, 1100 + round, 1200 + round), V::Owner);
  }
  EXPECT_FALSE(p.t.lost());
  EXPECT_EQ(p.t.owner_confirmed_ns(), 1204);
  EXPECT_EQ(p.t.outstanding(), 0u);
  EXPECT_EQ(p.t.foreign_completions(), 0u);
}

TEST(CuptiOwnership, IdleJobIsNeitherFlushedNorLost) {
  Pool p;
  p.filled(0, 10);
  ASSERT_EQ(p.returning_probe(0, 11, 12), V::Owner);
  // No callback since, nothing of ours in CUPTI: no flush (nothing to deliver, and
  // the callbacks may be someone else's by now).
  EXPECT_FALSE(p.t.may_flush());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(p.empty_probe(20 + i), V::Idle);
  EXPECT_FALSE(p.t.lost());
}

TEST(CuptiOwnership, EmptyBufferKeptByCuptiIsNoEvidence) {
  Pool p;
  p.t.on_requested(p.buf[1], 10);  // CUPTI holds it but wrote nothing
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(p.t.may_flush());
    EXPECT_EQ(p.empty_probe(20 + i), V::Idle);
  }
  EXPECT_FALSE(p.t.lost());
}

TEST(CuptiOwnership, TakeoverWithOurBufferInCuptiIsLostAfterTwoProbes) {
  Pool p;
  p.filled(0, 500);
  // torch.profiler registers its callbacks now: the buffer completes into Kineto
  // ("unknown buffer"), never to us; our forced flushes return nothing of ours.
  EXPECT_TRUE(p.t.may_flush());
  EXPECT_EQ(p.empty_probe(1500), V::Suspect);
  EXPECT_FALSE(p.t.lost());
  EXPECT_EQ(p.empty_probe(2500), V::Lost);
  EXPECT_TRUE(p.t.lost());
  EXPECT_EQ(p.t.lost_at_ns(), 500);  // the last time CUPTI called us
  EXPECT_FALSE(p.t.may_flush());     // never again: not periodic, not at exit
  EXPECT_EQ(p.empty_probe(3500), V::Lost);  // final
  // A late completion does not bring it back.
  EXPECT_TRUE(p.t.on_completed(p.buf[0], 4000));
  EXPECT_TRUE(p.t.lost());
  EXPECT_FALSE(p.t.may_flush());
}

TEST(CuptiOwnership, OneSuspectProbeFollowedByAReturnIsNotALoss) {
  Pool p;
  p.filled(0, 10);
  EXPECT_EQ(p.empty_probe(20), V::Suspect);  // raced a record being written
  EXPECT_EQ(p.returning_probe(0, 25, 30), V::Owner);
  p.filled(1, 35);
  EXPECT_EQ(p.empty_probe(40), V::Suspect);  // count restarted at 0
  EXPECT_FALSE(p.t.lost());
}

TEST(CuptiOwnership, BufferHandedOutDuringTheFlushIsNotEvidence) {
  Pool p;
  auto st = p.t.begin_probe();
  p.t.on_requested(p.buf[3], 10);  // requested by another thread while the flush ran
  Pool::cupti_writes(p.buf[3]);
  EXPECT_EQ(p.t.end_probe(st, 20), V::Idle);
  EXPECT_EQ(p.empty_probe(30), V::Suspect);  // older than this probe
}

TEST(CuptiOwnership, TakeoverWhileCuptiHeldNoneOfOursNeverFlushes) {
  Pool p;
  p.filled(0, 10);
  ASSERT_EQ(p.returning_probe(0, 11, 12), V::Owner);
  // Kineto registers now; all later requests go to it. We must not flush into it.
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(p.t.may_flush());
}

TEST(CuptiOwnership, ForeignAndDuplicateCompletionsAreRefused) {
  Pool p;
  alignas(8) std::uint8_t kineto[64] = {};
  EXPECT_FALSE(p.t.on_completed(kineto, 10));             // another client's buffer
  EXPECT_FALSE(p.t.on_completed(p.buf[2], 11));           // ours, but not handed out
  p.t.on_requested(p.buf[2], 12);
  EXPECT_TRUE(p.t.on_completed(p.buf[2], 13));
  EXPECT_FALSE(p.t.on_completed(p.buf[2], 14));           // twice
  EXPECT_FALSE(p.t.on_completed(p.buf[2] + 8, 15));       // inside ours, not a buffer start
  EXPECT_EQ(p.t.foreign_completions(), 4u);
  EXPECT_EQ(p.t.outstanding(), 0u);
}

TEST(CuptiOwnership, DeniedRequestStillCountsAsACallToUs) {
  Pool p;
  p.t.on_requested(nullptr, 10);
  EXPECT_TRUE(p.t.may_flush());
  EXPECT_EQ(p.empty_probe(20), V::Idle);
  EXPECT_FALSE(p.t.may_flush());
}

}  // namespace

namespace {

TEST(CuptiOwnership, AtExitOneSuspectIsALoss) {
  Pool p;
  p.filled(0, 70);
  ASSERT_EQ(p.empty_probe(80), V::Suspect);
  EXPECT_TRUE(p.t.settle_at_exit());  // no later probe can clear it: no exit flush
  EXPECT_EQ(p.t.lost_at_ns(), 70);
  EXPECT_FALSE(p.t.may_flush());
}

TEST(CuptiOwnership, FinalProbeLosesOnFirstSuspectButKeepsAnOwnerRun) {
  Pool alone;
  alone.filled(0, 1);
  EXPECT_FALSE(alone.t.settle_at_exit());
  EXPECT_EQ(alone.returning_probe(0, 2, 3, true), V::Owner);
  EXPECT_FALSE(alone.t.lost());

  Pool taken;
  taken.filled(1, 5);
  EXPECT_EQ(taken.empty_probe(6, true), V::Lost);
  EXPECT_EQ(taken.t.lost_at_ns(), 5);
}

}  // namespace
