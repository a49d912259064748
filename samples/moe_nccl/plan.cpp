// SPDX-License-Identifier: Apache-2.0
#include "plan.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace moe {
namespace {
using moetune::Error;
}

std::vector<float> zipf_bias(int experts, double skew, uint64_t seed, int layer) {
  std::vector<int> order(experts);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed * 1000003ull + static_cast<uint64_t>(layer) * 7919ull + 17);
  // Fisher-Yates with our own draws (std::shuffle's sequence is implementation-defined).
  for (int i = experts - 1; i > 0; --i) std::swap(order[i], order[rng() % static_cast<uint64_t>(i + 1)]);
  std::vector<float> bias(experts, 0.f);
  for (int r = 0; r < experts; ++r) bias[order[r]] = static_cast<float>(-skew * std::log(r + 1.0));
  return bias;
}

moetune::Expected<DispatchPlan> build_dispatch_plan(const int32_t* topk, int tokens, int top_k, int chunks,
                                                    const Placement& p, int layer, int rank, int ranks_per_node) {
  const int E = p.experts, R = p.nranks;
  DispatchPlan d;
  d.chunks = chunks;
  d.nranks = R;
  d.experts = E;
  d.top_k = top_k;
  const int64_t slots = int64_t(tokens) * top_k;
  d.send_rows.resize(slots);
  d.slot_pos.resize(slots);
  d.send_count.assign(chunks, std::vector<int64_t>(R, 0));
  d.send_offset.assign(chunks, std::vector<int64_t>(R, 0));
  d.expert_counts.assign(chunks, std::vector<int32_t>(size_t(R) * E, 0));
  d.tokens_per_expert.assign(E, 0);
  CopyChooser chooser(p, layer, rank, ranks_per_node);
  std::vector<int32_t> dest(slots);
  for (int64_t s = 0; s < slots; ++s) {
    const int e = topk[s];
    if (e < 0 || e >= E) return Error{"moe_nccl: gate produced expert id " + std::to_string(e)};
    dest[s] = chooser.pick(e);
    ++d.tokens_per_expert[e];
  }
  int64_t base = 0;
  for (int c = 0; c < chunks; ++c) {
    const int64_t t0 = int64_t(tokens) * c / chunks, t1 = int64_t(tokens) * (c + 1) / chunks;
    auto& cnt = d.expert_counts[c];
    for (int64_t s = t0 * top_k; s < t1 * top_k; ++s) ++cnt[size_t(dest[s]) * E + topk[s]];
    // Exclusive prefix over (dest, expert) gives each bucket its first row.
    std::vector<int64_t> next(size_t(R) * E);
    int64_t run = base;
    for (int r = 0; r < R; ++r) {
      d.send_offset[c][r] = run;
      for (int e = 0; e < E; ++e) {
        next[size_t(r) * E + e] = run;
        run += cnt[size_t(r) * E + e];
      }
      d.send_count[c][r] = run - d.send_offset[c][r];
    }
    for (int64_t s = t0 * top_k; s < t1 * top_k; ++s) {
      const int64_t row = next[size_t(dest[s]) * E + topk[s]]++;
      d.send_rows[row] = static_cast<int32_t>(s);
      d.slot_pos[s] = static_cast<int32_t>(row);
    }
    base = run;
  }
  return d;
}

moetune::Expected<RecvLayout> build_recv_layout(const std::vector<std::vector<int32_t>>& recv_counts, int nranks,
                                                int experts, const std::vector<int>& local_experts) {
  RecvLayout L;
  L.chunks = static_cast<int>(recv_counts.size());
  L.local_experts = local_experts;
  const int nl = static_cast<int>(local_experts.size());
  std::vector<int> local_index(experts, -1);
  for (int i = 0; i < nl; ++i) local_index[local_experts[i]] = i;
  L.recv_count.assign(L.chunks, std::vector<int64_t>(nranks, 0));
  L.recv_offset.assign(L.chunks, std::vector<int64_t>(nranks, 0));
  L.expert_count.assign(L.chunks, std::vector<int64_t>(nl, 0));
  L.expert_offset.assign(L.chunks, std::vector<int64_t>(nl, 0));
  int64_t row = 0;
  for (int c = 0; c < L.chunks; ++c) {
    const auto& cnt = recv_counts[c];
    if (cnt.size() != size_t(nranks) * experts) return Error{"moe_nccl: counts message has the wrong size"};
    for (int s = 0; s < nranks; ++s) {
      L.recv_offset[c][s] = row;
      for (int e = 0; e < experts; ++e) {
        const int32_t n = cnt[size_t(s) * experts + e];
        if (n < 0) return Error{"moe_nccl: negative count from rank " + std::to_string(s)};
        if (n > 0 && local_index[e] < 0)
          return Error{"moe_nccl: rank " + std::to_string(s) + " sent " + std::to_string(n) + " rows for expert " +
                       std::to_string(e) + ", which this rank does not hold (placements disagree?)"};
        row += n;
        if (n > 0) L.expert_count[c][local_index[e]] += n;
      }
      L.recv_count[c][s] = row - L.recv_offset[c][s];
    }
  }
  L.total_rows = row;
  if (row > INT32_MAX) return Error{"moe_nccl: too many rows received"};
  L.expert_rows.resize(row);
  int64_t j = 0;
  for (int c = 0; c < L.chunks; ++c) {
    const auto& cnt = recv_counts[c];
    for (int li = 0; li < nl; ++li) {
      L.expert_offset[c][li] = j;
      const int e = local_experts[li];
      for (int s = 0; s < nranks; ++s) {
        // First row of (chunk c, source s, expert e) in the receive buffer.
        int64_t r0 = L.recv_offset[c][s];
        for (int e2 = 0; e2 < e; ++e2) r0 += cnt[size_t(s) * experts + e2];
        for (int32_t k = 0; k < cnt[size_t(s) * experts + e]; ++k) L.expert_rows[j++] = static_cast<int32_t>(r0 + k);
      }
    }
  }
  return L;
}

}  // namespace moe
