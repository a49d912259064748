// SPDX-License-Identifier: Apache-2.0
// The dispatch/receive plans of moe_nccl, exercised as a full N-rank exchange on the CPU:
// every (token, slot) must reach a rank holding its expert exactly once and come back to
// the same slot, for chunked (overlap) dispatch and replicated placements too.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "init_hash.h"
#include "plan.h"

namespace {

struct Sim {
  int R, E, K, T, C;
  moe::Placement p;
  std::vector<std::vector<int32_t>> topk;  // per rank
};

Sim make(int R, int E, int K, int T, int C, uint64_t seed, moe::Placement p) {
  Sim s{R, E, K, T, C, std::move(p), {}};
  std::mt19937 rng(seed);
  for (int r = 0; r < R; ++r) {
    std::vector<int32_t> t;
    for (int i = 0; i < T; ++i) {
      std::vector<int> e(E);
      for (int j = 0; j < E; ++j) e[j] = j;
      std::shuffle(e.begin(), e.end(), rng);
      for (int k = 0; k < K; ++k) t.push_back(e[k]);
    }
    s.topk.push_back(std::move(t));
  }
  return s;
}

// Runs the exchange: each row carries (src rank, slot); checks expert grouping and round trip.
void run_exchange(const Sim& s) {
  std::vector<moe::DispatchPlan> plans;
  for (int r = 0; r < s.R; ++r) {
    auto d = moe::build_dispatch_plan(s.topk[r].data(), s.T, s.K, s.C, s.p, 0, r, 1);
    ASSERT_TRUE(d) << d.error().message;
    plans.push_back(std::move(*d));
  }
  // Send buffers: row -> (src, slot).
  for (int dst = 0; dst < s.R; ++dst) {
    std::vector<std::vector<int32_t>> rc(s.C, std::vector<int32_t>(size_t(s.R) * s.E));
    for (int c = 0; c < s.C; ++c)
      for (int src = 0; src < s.R; ++src)
        for (int e = 0; e < s.E; ++e) rc[c][size_t(src) * s.E + e] = plans[src].expert_counts[c][size_t(dst) * s.E + e];
    auto L = moe::build_recv_layout(rc, s.R, s.E, s.p.local_experts(0, dst));
    ASSERT_TRUE(L) << L.error().message;
    // Fill receive buffer as NCCL would: chunk c, source src segment = src's rows for dst.
    std::vector<std::pair<int, int32_t>> recv(L->total_rows);
    for (int c = 0; c < s.C; ++c)
      for (int src = 0; src < s.R; ++src) {
        ASSERT_EQ(L->recv_count[c][src], plans[src].send_count[c][dst]);
        for (int64_t i = 0; i < L->recv_count[c][src]; ++i)
          recv[L->recv_offset[c][src] + i] = {src, plans[src].send_rows[plans[src].send_offset[c][dst] + i]};
      }
    // Expert-major gather: every row of local expert li must carry a slot routed to it.
    for (int c = 0; c < s.C; ++c)
      for (size_t li = 0; li < L->local_experts.size(); ++li)
        for (int64_t j = 0; j < L->expert_count[c][li]; ++j) {
          auto [src, slot] = recv[L->expert_rows[L->expert_offset[c][li] + j]];
          ASSERT_EQ(s.topk[src][slot], L->local_experts[li]);
          // And the slot's token lies in chunk c's token range.
          const int tok = slot / s.K;
          EXPECT_GE(tok, int64_t(s.T) * c / s.C);
          EXPECT_LT(tok, int64_t(s.T) * (c + 1) / s.C);
        }
  }
  // Each sender: slot_pos inverts send_rows, each slot sent once, tokens_per_expert adds up.
  for (int r = 0; r < s.R; ++r) {
    const auto& d = plans[r];
    std::vector<int> seen(size_t(s.T) * s.K, 0);
    for (size_t i = 0; i < d.send_rows.size(); ++i) {
      ++seen[d.send_rows[i]];
      EXPECT_EQ(d.slot_pos[d.send_rows[i]], int32_t(i));
    }
    for (int v : seen) ASSERT_EQ(v, 1);
    int64_t sum = 0;
    for (auto v : d.tokens_per_expert) sum += v;
    EXPECT_EQ(sum, int64_t(s.T) * s.K);
  }
}

TEST(Routing, ExchangeDefaultPlacement) { run_exchange(make(4, 8, 2, 257, 1, 1, moe::default_placement(1, 8, 4))); }

TEST(Routing, ExchangeChunked) { run_exchange(make(3, 6, 3, 100, 4, 2, moe::default_placement(1, 6, 3))); }

TEST(Routing, ExchangeReplicated) {
  auto p = moe::default_placement(1, 8, 4);
  p.copies[0][0] = {0, 1, 2, 3};
  p.copies[0][5] = {1, 3};
  run_exchange(make(4, 8, 2, 300, 2, 3, p));
}

TEST(Routing, ReplicaTakesLocalCopy) {
  auto p = moe::default_placement(1, 4, 2);
  p.copies[0][1] = {1, 0};
  std::vector<int32_t> topk = {1, 1, 1, 0};  // top-1, 4 tokens
  auto d = moe::build_dispatch_plan(topk.data(), 4, 1, 1, p, 0, /*rank*/ 0, 1);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->send_count[0][0], 4);  // expert 1 has a copy on rank 0, expert 0 lives there
  EXPECT_EQ(d->send_count[0][1], 0);
  EXPECT_EQ(d->tokens_per_expert, std::vector<int64_t>({1, 3, 0, 0}));
}

TEST(Routing, BadExpertIdAndForeignRowsAreErrors) {
  auto p = moe::default_placement(1, 4, 2);
  std::vector<int32_t> topk = {7};
  EXPECT_FALSE(moe::build_dispatch_plan(topk.data(), 1, 1, 1, p, 0, 0, 1));
  std::vector<std::vector<int32_t>> rc = {{0, 3, 0, 0, 0, 0, 0, 0}};  // rank 0 sent 3 rows for expert 1
  auto L = moe::build_recv_layout(rc, 2, 4, p.local_experts(0, 0));  // rank 0 holds experts 0, 2
  ASSERT_FALSE(L);
  EXPECT_NE(L.error().message.find("expert 1"), std::string::npos);
}

TEST(Routing, ZipfBiasIsAPermutedPowerLaw) {
  auto b = moe::zipf_bias(8, 1.2, 42, 0);
  auto sorted = b;
  std::sort(sorted.rbegin(), sorted.rend());
  for (int r = 0; r < 8; ++r) EXPECT_NEAR(sorted[r], -1.2 * std::log(r + 1.0), 1e-5);
  EXPECT_NE(moe::zipf_bias(8, 1.2, 42, 1), b);  // layers get their own hot experts
  EXPECT_EQ(moe::zipf_bias(8, 1.2, 42, 0), b);
  for (float v : moe::zipf_bias(8, 0.0, 42, 0)) EXPECT_EQ(v, 0.f);
}

TEST(Routing, HashValuesAreDeterministicAndSpread) {
  double sum = 0, sq = 0;
  for (int i = 0; i < 10000; ++i) {
    float v = moe::hash_uniform(1, moe::stream_w1(0, 3), i);
    ASSERT_GE(v, -1.f);
    ASSERT_LT(v, 1.f);
    sum += v;
    sq += v * v;
  }
  EXPECT_NEAR(sum / 10000, 0.0, 0.03);
  EXPECT_NEAR(sq / 10000, 1.0 / 3.0, 0.02);
  EXPECT_EQ(moe::hash_uniform(5, 9, 77), moe::hash_uniform(5, 9, 77));
  EXPECT_NE(moe::hash_uniform(5, 9, 77), moe::hash_uniform(5, 10, 77));
}

}  // namespace
