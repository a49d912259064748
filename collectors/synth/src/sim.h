// SPDX-License-Identifier: Apache-2.0
// Sim: a lock-step model of N ranks running the same program (SPMD). Each call issues one
// op on every rank: the host launches it (cudaLaunchKernel row, correlation id), the GPU
// runs it on a stream once the stream is free and its dependencies are met. Collectives
// synchronise: every rank's kernel starts at its own arrival and all end at
// max(arrival) + transfer. Rows go straight to the TraceWriter; cost O(1) per row.
// Invariant: per rank and stream, kernels never overlap and start in launch order.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "moetune/synth/synth.h"
#include "moetune/trace/writer.h"

namespace moetune::synth {

using Times = std::vector<std::int64_t>;  // one value per rank

inline constexpr int kComputeStream = 7;
inline constexpr int kCommStream = 13;

// Deterministic 64-bit generator (splitmix64).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0,1)
  // x * (1 +- frac)
  std::int64_t jitter(double x, double frac) { return static_cast<std::int64_t>(x * (1.0 + frac * (2 * uniform() - 1))); }

 private:
  std::uint64_t s_;
};

// The per-rank nccl_ops fields of one collective instance (times, ids filled by Sim).
struct CollOp {
  std::string func, algo, proto, dtype, comm;
  int channels = 0;
  std::vector<std::int64_t> count, bytes;                  // per rank
  std::vector<OpList> in_splits, out_splits;  // per rank (AllToAll)
};

class Sim {
 public:
  // tids: the host thread id of each rank (one rank per entry).
  Sim(Times tids, std::uint64_t seed, std::int64_t t0, TraceWriter& w, Summary& sum);

  Rng& rng() { return rng_; }
  int ranks() const { return n_; }
  // Host does `ns` of non-CUDA work on rank r (no row).
  void host_work(int r, std::int64_t ns) { host_[r] += ns; }
  std::int64_t host_time(int r) const { return host_[r]; }
  std::int64_t stream_free(int r, int stream) const { return stream == kCommStream ? comm_free_[r] : comp_free_[r]; }

  // Launch one kernel per rank on `stream`, lasting dur[r], starting no earlier than dep[r].
  Times kernel(int stream, StringId name, const Times& dur, const Times* dep = nullptr,
               std::int64_t grid = 0, std::int64_t block = 0);
  // Collective: one kernel + one nccl_ops row per rank; all end at max(arrival) + transfer.
  Times collective(int stream, StringId name, const CollOp& op, std::int64_t transfer, const Times* dep = nullptr);
  // One copy per rank on `stream` (cudaMemcpyAsync api row + memcpy row), `bytes` at `gbps`.
  Times memcpy(int stream, CopyKind kind, std::int64_t bytes, double gbps);
  // Host time spent before every launch (Python / framework overhead); 0 in a clean run.
  void set_launch_overhead(std::int64_t ns) { launch_overhead_ = ns; }
  // cudaDeviceSynchronize on rank r: the host blocks until every stream of r is idle.
  void device_sync(int r);
  // NVTX ranges (moe domain) on the host thread, and marks.
  void range_begin();
  void range_end(StringId name);
  void mark(int r, StringId name);

 private:
  std::int64_t launch(int r, int stream, StringId api);

  int n_;
  Times tid_;
  std::uint64_t seed_;
  Rng rng_;
  TraceWriter& w_;
  Summary& sum_;
  StringId launch_api_, sync_api_, moe_domain_, memcpy_api_;
  std::int64_t launch_overhead_ = 0;
  Times host_, comp_free_, comm_free_, corr_;
  std::vector<std::vector<std::int64_t>> open_;  // per rank: start times of open ranges
  std::vector<std::pair<std::string, std::int64_t>> comm_seq_;  // communicator -> next seq
  OpList ranks_list_;  // pg_ranks of every op (all ranks)
};

}  // namespace moetune::synth
