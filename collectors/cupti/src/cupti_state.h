// SPDX-License-Identifier: Apache-2.0
// Shared state of the CUPTI collector inside one process (one instance, created by
// the first of InitializeInjection / InitializeInjectionNvtx2, never destroyed so
// late CUPTI callbacks at exit stay safe).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "moetune/live/control.h"
#include "moetune/live/moe_nvtx.h"
#include "moetune/cupti/ownership.h"
#include "moetune/live/part_writer.h"

namespace moetune::cupti {

struct FullBuffer {
  std::uint8_t* data;
  std::size_t valid;
};

// Fixed pool of activity buffers: free list and full queue, both preallocated.
struct BufferPool {
  std::mutex m;
  std::vector<std::uint8_t*> free_list;  // reserved to the pool size at init
  std::vector<FullBuffer> full;          // reserved to the pool size at init
  std::size_t buffer_bytes = 0;
};

struct Counters {
  std::atomic<std::uint64_t> records{0}, cupti_dropped{0}, buffers_denied{0}, kernels{0}, steps{0};
  std::atomic<std::uint64_t> overhead_ns{0}, unknown_kinds{0}, incomplete{0};
};

struct State {
  int rank = -1;
  long pid = 0;
  bool want_cuda = true, want_nvtx = true, armed = false;
  std::atomic<bool> enabled{false}, capturing{false}, exiting{false}, lost_reported{false};
  long long last_force_flush_ns = 0;  // writer thread only
  BufferPool pool;
  OwnershipTracker owner;  // who holds CUPTI's buffer callbacks (see ownership.h)
  Counters c;
  std::unique_ptr<live::PartWriter> writer;
  std::unique_ptr<live::ControlServer> control;
  std::unique_ptr<live::MarkerDecoder> markers;  // writer thread only
  int device_seen = -1;                          // writer thread only
  bool device_written = false;                   // writer thread only
};

State& state();
// Writer-thread side: parses the full buffers into rows and recycles them.
void drain_buffers(State& s, TraceWriter& w);
// Writes the ranks row (with GPU facts of `device` if >= 0) and NVML topology rows.
void write_device_info(State& s, TraceWriter& w, int device);
// Writer-thread side: about once a second, a forced flush that also probes whether
// CUPTI still delivers to us; on loss of the callbacks stops capture for good.
void periodic_flush(State& s);
// Capture control (attach): enable/disable the activity kinds; flushes on stop.
void set_capture(State& s, bool on);
// One warning line on stderr, prefixed "moetune: ".
void warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace moetune::cupti
