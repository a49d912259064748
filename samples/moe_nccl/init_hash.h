// SPDX-License-Identifier: Apache-2.0
// Counter-based deterministic values for weights and inputs: value(seed, stream, index) is the
// same on host and device and for any rank count, so an N-rank run and a 1-rank reference
// build identical experts (replicas included) and identical tokens.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define MOE_HD __host__ __device__
#else
#define MOE_HD
#endif

namespace moe {

MOE_HD inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in [-1, 1).
MOE_HD inline float hash_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  const uint64_t h = splitmix64(splitmix64(seed ^ (stream * 0xD1B54A32D192ED03ull)) + index);
  return static_cast<float>(static_cast<double>(h >> 40) / static_cast<double>(1ull << 24)) * 2.f - 1.f;
}

// Stream ids: one per tensor kind and layer/expert, so tensors never share values.
MOE_HD inline uint64_t stream_gate(int layer) { return 1000000ull + layer; }
MOE_HD inline uint64_t stream_w1(int layer, int expert) { return 2000000ull + uint64_t(layer) * 4096 + expert; }
MOE_HD inline uint64_t stream_w2(int layer, int expert) { return 3000000ull + uint64_t(layer) * 4096 + expert; }
MOE_HD inline uint64_t stream_input() { return 7; }

}  // namespace moe
