// SPDX-License-Identifier: Apache-2.0
// Event bookkeeping of the NCCL plugin, separate from the C ABI glue so the logic is
// plain C++. Handles are slots of one preallocated array (size MOETUNE_NCCL_EVENTS),
// reused in FIFO order so a late child never lands on a recycled op. NCCL stops an
// op (Coll/P2p) on the host long before its KernelCh/ProxyOp children start, so an op
// is finished when the host stopped it, no child is open, and as many KernelCh
// channels as NCCL will report for it have stopped (expected_kernel_channels()); ops
// still short of that wait in a list and are written after a grace period (sweep())
// with whatever they have. A finished op becomes one OpRecord in the ring for the
// writer thread. All slot updates happen under one mutex (job thread + NCCL's
// proxy/profiler thread).
//
// Where KernelCh events come from (NCCL 2.28): the profiler proxy posts one proxy op
// per (op, channel) and, when the kernel's per-channel work counter reaches it, calls
// startEvent(KernelCh, pTimer = %globaltimer at the channel's work start), then
// recordEventState(KernelChStop, pTimer = stop) and stopEvent. Collectives get one
// per channel of nChannels. A Send or a Recv gets one per channel of its own
// nChannels (send and recv of one peer pair have separate counts; they may share a
// channel, each still gets its own event); a send/recv to self posts no proxy op at
// all, so it never sees a KernelCh although NCCL announces nChannels >= 1 for it.
//
// Stale slots (NCCL 2.28, addP2pToPlan: `nProxyOps = selfSend ? 0 : 2`): the kernel
// stamps every work item of a channel's batch, a self send/recv included, into
// workStarted/workCompleted[channel].data[counter % 64], while the host counter the
// proxy reads with is bumped only for items it posts a profiler op for. Each self
// exchange therefore leaves the host one behind on the self round's channels for
// good, and a later op on such a channel (e.g. an all-reduce on channel 0 after an
// all-to-all done with grouped send/recv) is handed the stamps of an earlier work
// item, up to ~64 items back. Not fixable from a plugin; finish_kernel_ch() rejects
// stamps outside the window the op's own work can lie in (KernelWindow) and counts
// them; the op falls back to ProxyOp or host times.
// The window alone is not enough (2-rank H200 fixtures client2/torch2, 2026-11-28):
// the lag grows by one item per channel with every launch that holds a self
// exchange, and the GPU runs ms behind the host, so an older item's stamps often
// lie after this op's enqueue and after the previous op's host stop. client2: the
// second all-to-all launch got the first one's stamps exactly (start 361.2 us =
// the first ncclDevKernel_SendRecv's CUPTI start, stop 25 us later while that
// kernel ran 4.7 ms), launches 3 and 4 both got launch 2's start. So once a
// communicator ran a self send/recv, KernelCh stamps of every op of a LATER launch
// on it are rejected (Comm::lag_after_ord; stat nccl_kernelch_after_self, also
// counted in nccl_kernelch_stale). NCCL does not say which channels the self items
// used, so all channels of the communicator count as lagged. The launch holding
// the first self exchange keeps its stamps: a lagged item there reads its own
// batch's slot, and the kernel stamps a whole batch with one start/stop.
// Only on communicators that post ProxyOps (network transport, Comm::proxied): on the
// 4xH200 NVSwitch run (NVLink P2P, no ProxyOp at all, a self send/recv in every
// launch) 1146 of 1156 KernelCh-timed ops lay inside their own CUPTI kernel, so there
// the stamps are not lagged and the rule would only throw good GPU times away.
//
// Grouped p2p: NCCL fuses the send and recv of one schedule round into one device
// work item per channel (one counter, incWorkCounter set on one of the two), and the
// kernel stamps all items of a batch at batch start and end, so a Send's or Recv's
// KernelCh interval is that of the channel's batch, shared with other ops, not its
// own transfer; on the H200x4 run its stop was often long before the peer had even
// launched (a send completes into the peer's buffer). So every P2p op of one launch
// (the task events NCCL starts together in hostStreamPlanTask, self send/recv
// included) is written with the launch's span: first accepted KernelCh start .. last
// accepted stop over all its ops (OpRecord::group_span). Ops of a launch wait for
// each other (a group is emitted when its last op is done).
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
  std::uint32_t stale_channels = 0;  // KernelCh whose stamps fall outside the op's window (not used)
  bool group_span = false;            // p2p: times are the launch's span over all its p2p ops
};
static_assert(sizeof(OpRecord) <= 160, "OpRecord stays small");

struct Slot;

// Per communicator (NCCL's context). Never deleted (finalize only clears p2p_seq):
// ops still in flight point at it.
struct Comm {
  std::uint64_t hash = 0;
  int rank = 0, nranks = 0;
  std::vector<std::uint64_t> p2p_seq;  // [peer*2 + isRecv], sized at init
  std::int64_t last_stop_ns = 0;       // host time of the last Coll/P2p stop event
  Slot* group = nullptr;               // open p2p launch group (valid while group_id matches)
  std::uint64_t group_id = 0;
  std::uint64_t ops_started = 0;       // ordinal of the last Coll/P2p started (Slot::ord)
  std::uint64_t lag_after_ord = 0;     // 0: no self send/recv yet; else ops with ord > it get lagged slots
  bool proxied = false;                // a ProxyOp was seen: ops go through the proxy (network transport)
};

enum class Kind : std::uint64_t { None = 0, Op = 1, KernelCh = 2, ProxyOp = 3, ProxyStep = 4, Group = 5 };

// How many KernelCh events NCCL 2.28 will deliver for an op (see the header comment):
// 0 without KernelCh in the mask, on a one-rank communicator, or for a send/recv to
// self (peer == comm_rank); else the op's announced nChannels.
std::uint32_t expected_kernel_channels(bool kernel_ch_on, bool is_p2p, int nranks, int comm_rank, int peer,
                                       int n_channels);

// Which clock an op's written start/end come from.
enum class TimeSource { Gpu, Proxy, Host };
// GPU times when KernelCh gave a usable interval and the offset is known, else the
// ProxyOp host interval, else the host enqueue..stop interval.
TimeSource time_source(const OpRecord& o, bool calibrated);

// Where a KernelCh's own work can lie, on CLOCK_REALTIME: from `lo` (the op's work
// cannot have started earlier) to the host times at which NCCL handed us its start
// and stop (the GPU wrote them before). Stamps outside, beyond `slack_ns` of clock
// uncertainty, come from another work item.
struct KernelWindow {
  std::int64_t stale_slack_ns = 1'000'000;  // how far before the op's host start a start may lie
  std::int64_t clock_slack_ns = 50'000;     // offset uncertainty allowed on every bound
  // Widens clock_slack_ns to cover a measured offset's uncertainty (time-sliced GPU:
  // torch2 measured +-115..124 us) plus 20 us.
  void widen_for_offset_error(std::int64_t error_ns) {
    if (error_ns >= 0 && error_ns + 20'000 > clock_slack_ns) clock_slack_ns = error_ns + 20'000;
  }
};

struct Slot {
  std::uint64_t type = 0;  // ncclProfile* bit of the event (first field, like NCCL's examples)
  Kind kind = Kind::None;
  Comm* comm = nullptr;
  Slot* parent = nullptr;
  int open_children = 0;  // ops: KernelCh/ProxyOp children started and not stopped; groups: ops not done
  bool host_stopped = false, waiting = false;
  bool done = false;       // p2p op complete, waiting for the rest of its launch group
  bool closed = false;     // group: a member stopped on the host, no op joins any more
  OpRecord op;             // KernelCh: gpu_start/gpu_stop, host_start/host_stop = callback times
  Slot *wprev = nullptr, *wnext = nullptr;  // waiting list links
  Slot* group = nullptr;   // p2p op: its launch group slot
  Slot* gnext = nullptr;   // group member list (group slot: head)
  std::uint64_t gid = 0;   // group slot: id (Comm::group_id when created)
  std::int64_t floor_ns = 0;  // op: host time of the comm's last op stop before it started (0: none)
  std::uint64_t ord = 0;      // op: Comm::ops_started when it started
  bool self_p2p = false;      // op: send/recv to self that NCCL runs on >= 1 channel of a multi-rank comm
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
  // A KernelCh child stopped: counts the channel on its parent and merges the child's
  // GPU interval (child->op.gpu_start/gpu_stop) into the parent's unless it is stale
  // (on the calibrated clock): a start before max(op host start - stale_slack, comm's
  // previous op stop - clock_slack) (the op's kernel was launched after both), a start
  // or stop later than the callback that delivered it (+ clock_slack), or a stop
  // before the start; or any stamp of an op of a launch after the comm's first self
  // send/recv. Releases the child and tries to finish the parent. Caller holds mu.
  void finish_kernel_ch(Slot* child, const KernelWindow& w);
  // Adds a new P2p op slot to its communicator's open launch group (a new group when
  // there is none, or when an op of the open one has already stopped on the host).
  // Returns false if no slot was free for the group (the op is then ungrouped).
  bool join_group(Slot* op, Comm* comm);
  // Numbers a new op on its communicator (Slot::ord); `self_p2p` marks a send/recv
  // to self run on channels (lags NCCL's slot counters, see the header comment).
  void op_started(Slot* op, Comm* comm, bool self_p2p);
  // Host stop of an op: closes its launch group to new members, records the comm's
  // last stop time; the stop of the first self send/recv fixes Comm::lag_after_ord
  // (every op of its launch has started by then). Caller holds mu.
  void host_stop(Slot* op, std::int64_t now);
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
  std::atomic<std::uint64_t> stale_channels{0}, group_span_ops{0}, after_self_channels{0};

 private:
  void emit(Slot* op);
  void unwait(Slot* op);
  void complete(Slot* op);       // op has all it will get: emit, or mark done in its group
  void emit_group(Slot* group);  // every member done: write them with the group's span
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
