// SPDX-License-Identifier: Apache-2.0
// Event bookkeeping of the NCCL plugin, separate from the C ABI glue so the logic is
// plain C++. Handles are slots of one preallocated array (size MOETUNE_NCCL_EVENTS),
// reused in FIFO order so a late child never lands on a recycled op. NCCL stops an
// op (Coll/P2p) on the host long before its KernelCh/ProxyOp children start, so an op
// is finished when the host stopped it, no child is open, and as many KernelCh
// channels as it announced (nChannels) have stopped; ops still short of that wait in
// a list and are written after a grace period (sweep()) with whatever they have. A
// finished op becomes one OpRecord in the ring for the writer thread. All slot
// updates happen under one mutex (job thread + NCCL's proxy/profiler thread).
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "moetune/live/record_ring.h"

namespace moetune::nccl {

// One finished NCCL operation, as the writer thread stores it (plain data).
struct OpRecord {
  std::uint64_t comm_hash = 0, seq = 0;
  const char *func = nullptr, *algo = nullptr, *proto = nullptr, *dtype = nullptr;  // NCCL's static strings
  std::uint64_t count = 0;
  int root = -1, peer = -1, channels = 0, nranks = 0, comm_rank = 0;
  std::int64_t host_start = 0, host_stop = 0;         // CLOCK_REALTIME ns
  std::uint64_t gpu_start = 0, gpu_stop = 0;          // %globaltimer ns (0: no KernelCh seen)
  std::int64_t proxy_start = 0, proxy_stop = 0;       // CLOCK_REALTIME ns (0: no ProxyOp seen)
  std::uint32_t kernel_channels = 0, proxy_ops = 0;
  std::uint32_t expected_channels = 0, stopped_channels = 0;  // KernelCh bookkeeping
};
static_assert(sizeof(OpRecord) <= 160, "OpRecord stays small");

struct Comm {
  std::uint64_t hash = 0;
  int rank = 0, nranks = 0;
  std::vector<std::uint64_t> p2p_seq;  // [peer*2 + isRecv], sized at init
};

enum class Kind : std::uint64_t { None = 0, Op = 1, KernelCh = 2, ProxyOp = 3, ProxyStep = 4 };

struct Slot {
  std::uint64_t type = 0;  // ncclProfile* bit of the event (first field, like NCCL's examples)
  Kind kind = Kind::None;
  Comm* comm = nullptr;
  Slot* parent = nullptr;
  int open_children = 0;  // ops: KernelCh/ProxyOp children started and not stopped
  bool host_stopped = false, waiting = false;
  OpRecord op;
  Slot *wprev = nullptr, *wnext = nullptr;  // waiting list links
};

// Owns the slot array, the free list, the ring and the globaltimer calibration.
class EventTable {
 public:
  EventTable(std::size_t slots, std::size_t ring);
  Slot* alloc();                 // nullptr (counted) when exhausted; caller holds mu
  void release(Slot* s);         // caller holds mu
  bool owns(const void* p) const;
  // Emits the op if it is complete, else parks it in the waiting list. Caller holds mu.
  void try_finish(Slot* op);
  // Emits waiting ops whose host stop is older than `grace_ns` before `now` and that
  // have no open child (those short of channels are counted). Caller holds mu.
  void sweep(std::int64_t now, std::int64_t grace_ns);
  // A host/GPU timestamp pair where host >= gpu start; keeps the tightest offset.
  void calibrate(std::int64_t host_ns, std::uint64_t gpu_ns);
  // A measured offset (gpu_clock.h) replaces the min-lag estimate for good.
  void set_measured(std::int64_t offset_ns);
  bool measured() const { return measured_.load(std::memory_order_relaxed); }
  std::int64_t offset() const { return offset_.load(std::memory_order_relaxed); }
  bool calibrated() const { return calibrated_.load(std::memory_order_relaxed); }

  std::mutex mu;
  live::RecordRing<OpRecord> ring;
  std::atomic<std::uint64_t> slots_exhausted{0}, foreign_proxy{0}, ops{0}, proxy_steps{0}, incomplete{0};

 private:
  void emit(Slot* op);
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_;  // FIFO ring of free slot indices
  std::size_t free_head_ = 0, free_count_ = 0;
  Slot *wait_head_ = nullptr, *wait_tail_ = nullptr;
  std::atomic<std::int64_t> offset_{0};
  std::atomic<bool> calibrated_{false}, measured_{false};
};

// Element size of an NCCL datatype name ("ncclFloat32", "ncclBfloat16", ...); 0 unknown.
int dtype_size(const char* name);
// "RING" -> "Ring", "SIMPLE" -> "Simple", "LL128" stays; nullptr stays nullptr.
const char* pretty(const char* upper);

}  // namespace moetune::nccl
