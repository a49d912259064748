// SPDX-License-Identifier: Apache-2.0
// Writer-thread side of the CUPTI collector: turns completed activity buffers into
// store rows and gives the buffers back to the pool. Runs off the job's threads.
#include <cupti.h>

#include <string>
#include <unordered_map>

#include "cupti_state.h"
#include "moetune/live/rank_env.h"

namespace moetune::cupti {

namespace {

CopyKind copy_kind(uint8_t k) {
  switch (k) {
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD: return CopyKind::HtoD;
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH: return CopyKind::DtoH;
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD: return CopyKind::DtoD;
    case CUPTI_ACTIVITY_MEMCPY_KIND_PTOP: return CopyKind::PtoP;
    default: return CopyKind::Unknown;
  }
}

const char* sync_name(CUpti_ActivitySynchronizationType t) {
  switch (t) {
    // CUPTI reports cudaEventQuery (a poll that never blocks) with this type too: on the H100
    // the helper runs had exactly one such record per cudaEventQuery call and no
    // cudaEventSynchronize call at all (tests/data/device/README.md, session 4).
    case CUPTI_ACTIVITY_SYNCHRONIZATION_TYPE_EVENT_SYNCHRONIZE: return "cudaEventSynchronize/Query (wait)";
    case CUPTI_ACTIVITY_SYNCHRONIZATION_TYPE_STREAM_WAIT_EVENT: return "cudaStreamWaitEvent (wait)";
    case CUPTI_ACTIVITY_SYNCHRONIZATION_TYPE_STREAM_SYNCHRONIZE: return "cudaStreamSynchronize (wait)";
    case CUPTI_ACTIVITY_SYNCHRONIZATION_TYPE_CONTEXT_SYNCHRONIZE: return "cudaDeviceSynchronize (wait)";
    default: return "synchronization (wait)";
  }
}

std::int64_t dur(uint64_t start, uint64_t end) { return end > start ? static_cast<std::int64_t>(end - start) : 0; }

// The fields both CUPTI copy records share (MEMCPY and MEMCPY2 = peer copies); the
// caller sets the copy kind and the devices.
template <class Copy>
MemcpyRow copy_row(const Copy* m, RankId R) {
  MemcpyRow r;
  r.rank = R;
  r.stream = StreamId(m->streamId);
  r.start_ns = static_cast<std::int64_t>(m->start);
  r.dur_ns = dur(m->start, m->end);
  r.bytes = static_cast<std::int64_t>(m->bytes);
  r.correlation = m->correlationId;
  return r;
}

// Runtime API names by callback id, cached (cuptiGetCallbackName is not free).
StringId api_name(TraceWriter& w, CUpti_CallbackId cbid) {
  // Leaked on purpose: the writer drains once more from an atexit handler, after
  // function-local statics constructed later than its registration are destroyed.
  static auto* cache = new std::unordered_map<CUpti_CallbackId, StringId>();
  if (auto it = cache->find(cbid); it != cache->end()) return it->second;
  const char* n = nullptr;
  if (cuptiGetCallbackName(CUPTI_CB_DOMAIN_RUNTIME_API, cbid, &n) != CUPTI_SUCCESS || !n) n = "cudaUnknownApi";
  auto id = w.intern(n);
  cache->emplace(cbid, id);
  return id;
}

// GPU activity still running when its buffer was flushed (typically at process exit)
// arrives with start or end 0: it has no time, so it is counted, not stored.
bool incomplete(State& s, std::uint64_t start, std::uint64_t end) {
  if (start != 0 && end >= start) return false;
  s.c.incomplete.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void one(State& s, TraceWriter& w, const CUpti_Activity* rec, RankId R) {
  switch (rec->kind) {
    case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL:
    case CUPTI_ACTIVITY_KIND_KERNEL: {
      auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(rec);
      if (s.device_seen < 0) s.device_seen = static_cast<int>(k->deviceId);
      if (incomplete(s, k->start, k->end)) break;
      KernelRow r;
      r.rank = R;
      r.stream = StreamId(k->streamId);
      r.start_ns = static_cast<std::int64_t>(k->start);
      r.dur_ns = dur(k->start, k->end);
      r.name = w.intern(k->name ? k->name : "?");
      r.correlation = k->correlationId;
      r.grid = pack_dim3(k->gridX, k->gridY, k->gridZ);
      r.block = pack_dim3(k->blockX, k->blockY, k->blockZ);
      w.add(r);
      s.c.kernels.fetch_add(1, std::memory_order_relaxed);
      break;
    }
    case CUPTI_ACTIVITY_KIND_MEMCPY: {
      auto* m = reinterpret_cast<const CUpti_ActivityMemcpy6*>(rec);
      if (incomplete(s, m->start, m->end)) break;
      MemcpyRow r = copy_row(m, R);
      r.kind = copy_kind(m->copyKind);
      r.src_device = r.dst_device = static_cast<int>(m->deviceId);
      w.add(r);
      break;
    }
    case CUPTI_ACTIVITY_KIND_MEMCPY2: {
      auto* m = reinterpret_cast<const CUpti_ActivityMemcpyPtoP4*>(rec);
      if (incomplete(s, m->start, m->end)) break;
      MemcpyRow r = copy_row(m, R);
      r.kind = CopyKind::PtoP;
      r.src_device = static_cast<int>(m->srcDeviceId);
      r.dst_device = static_cast<int>(m->dstDeviceId);
      w.add(r);
      break;
    }
    case CUPTI_ACTIVITY_KIND_MEMSET: {
      auto* m = reinterpret_cast<const CUpti_ActivityMemset4*>(rec);
      if (incomplete(s, m->start, m->end)) break;
      w.add(MemsetRow{0, R, StreamId(m->streamId), static_cast<std::int64_t>(m->start), dur(m->start, m->end),
                      static_cast<std::int64_t>(m->bytes), m->correlationId});
      break;
    }
    case CUPTI_ACTIVITY_KIND_RUNTIME: {
      auto* a = reinterpret_cast<const CUpti_ActivityAPI*>(rec);
      w.add(ApiCallRow{0, R, a->threadId, static_cast<std::int64_t>(a->start), dur(a->start, a->end),
                       api_name(w, a->cbid), ApiKind::Runtime, a->correlationId});
      break;
    }
    case CUPTI_ACTIVITY_KIND_SYNCHRONIZATION: {
      auto* y = reinterpret_cast<const CUpti_ActivitySynchronization2*>(rec);
      w.add(ApiCallRow{0, R, 0, static_cast<std::int64_t>(y->start), dur(y->start, y->end),
                       w.intern(sync_name(y->type)), ApiKind::Sync, y->correlationId});
      break;
    }
    case CUPTI_ACTIVITY_KIND_OVERHEAD: {
      auto* o = reinterpret_cast<const CUpti_ActivityOverhead3*>(rec);
      s.c.overhead_ns.fetch_add(static_cast<std::uint64_t>(dur(o->start, o->end)), std::memory_order_relaxed);
      break;
    }
    case CUPTI_ACTIVITY_KIND_MARKER: {
      auto* m = reinterpret_cast<const CUpti_ActivityMarker2*>(rec);
      std::int64_t tid = m->objectKind == CUPTI_ACTIVITY_OBJECT_THREAD ? m->objectId.pt.threadId : 0;
      auto t = static_cast<std::int64_t>(m->timestamp);
      const char* name = m->name ? m->name : "";
      const char* dom = m->domain ? m->domain : "";
      if (m->flags & CUPTI_ACTIVITY_FLAG_MARKER_INSTANTANEOUS) s.markers->instant(tid, t, name, dom, w);
      else if (m->flags & CUPTI_ACTIVITY_FLAG_MARKER_START) s.markers->range_start(m->id, tid, t, name, dom, w);
      else if (m->flags & CUPTI_ACTIVITY_FLAG_MARKER_END) s.markers->range_end(m->id, t, w);
      s.c.steps.store(s.markers->steps(), std::memory_order_relaxed);
      break;
    }
    case CUPTI_ACTIVITY_KIND_MARKER_DATA: break;  // colours/categories: not stored
    default: s.c.unknown_kinds.fetch_add(1, std::memory_order_relaxed); return;
  }
}

}  // namespace

void drain_buffers(State& s, TraceWriter& w) {
  // Partly filled buffers are forced out about once a second (while we still hold
  // CUPTI's callbacks), so a SIGKILLed job keeps what ran.
  periodic_flush(s);
  FullBuffer batch[64];
  // Bounded per call (the buffers complete at entry, at most 64 each round, 4 rounds)
  // so the writer thread still commits on time under a sustained flood.
  for (int round = 0; round < 4; ++round) {
    std::size_t n = 0;
    {
      std::lock_guard<std::mutex> g(s.pool.m);
      n = s.pool.full.size() < 64 ? s.pool.full.size() : 64;
      for (std::size_t i = 0; i < n; ++i) batch[i] = s.pool.full[i];
      s.pool.full.erase(s.pool.full.begin(), s.pool.full.begin() + static_cast<std::ptrdiff_t>(n));
    }
    if (n == 0) break;
    // Oldest first (completion order), so range starts precede their ends.
    const RankId R(s.rank < 0 ? 0 : s.rank);
    for (std::size_t i = 0; i < n; ++i) {
      CUpti_Activity* rec = nullptr;
      while (cuptiActivityGetNextRecord(batch[i].data, batch[i].valid, &rec) == CUPTI_SUCCESS) {
        one(s, w, rec, R);
        s.c.records.fetch_add(1, std::memory_order_relaxed);
      }
      std::lock_guard<std::mutex> g(s.pool.m);
      s.pool.free_list.push_back(batch[i].data);
    }
  }
  if (s.device_seen >= 0 && !s.device_written) write_device_info(s, w, s.device_seen);
}

}  // namespace moetune::cupti
