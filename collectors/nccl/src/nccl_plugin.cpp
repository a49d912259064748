// SPDX-License-Identifier: Apache-2.0
// libmoetune_nccl.so: the ncclProfiler_v5 table and its process-wide state. A guest:
// no exception crosses the C ABI, every entry returns ncclSuccess except a failed
// init (then NCCL runs on without us), nothing blocks beyond a short mutex.
// Also exports ncclProfiler_v4..v1 whose init prints one line and declines, so an
// older NCCL (2.23-2.27) runs on without us instead of misreading v5 structs.
// Default mask: Coll | P2p | KernelCh | ProxyOp (+ ProxyStep with
// MOETUNE_NCCL_PROXYSTEP=1). Armed (MOETUNE_ARMED=1): mask 0 until attach starts it;
// the mask NCCL hands to init is a live pointer, attach/detach just flips it.
// Op times (collectors/live/README.md, nccl_events.h: stale slots, p2p launch spans):
// GPU start/stop from KernelCh %globaltimer, put on CLOCK_REALTIME with an
// offset calibrated as min(host time at the KernelCh callback - GPU time) (the
// callback always runs after the GPU event, so the minimum is the tightest bound);
// without KernelCh, ProxyOp host times; else the host enqueue/stop times.
#include <dlfcn.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "moetune/live/control.h"
#include "moetune/live/part_writer.h"
#include "moetune/live/rank_env.h"
#include "moetune/nccl/profiler_v5_abi.h"
#include "gpu_clock.h"
#include "nccl_events.h"

namespace moetune::nccl {
namespace {

constexpr int kDefaultMask = ncclProfileColl | ncclProfileP2p | ncclProfileKernelCh | ncclProfileProxyOp;
constexpr ncclResult_t kNcclInvalidUsage = 5;  // ncclInvalidUsage: NCCL continues without the plugin

struct Plugin {
  std::mutex init_mu;
  int comms = 0;
  bool tried = false, armed = false;
  std::atomic<bool> ok{false};
  int rank = -1, mask = kDefaultMask;
  int* live_mask = nullptr;
  std::atomic<bool> capturing{false};
  std::unique_ptr<EventTable> table;
  std::unique_ptr<live::PartWriter> writer;
  std::unique_ptr<live::ControlServer> control;
  std::vector<OpRecord> batch;  // writer thread only
  std::uint64_t written = 0;    // writer thread only
  std::int64_t clock_error_ns = -1;       // uncertainty of the measured offset (-1: min-lag estimate)
  std::int64_t grace_ns = 2'000'000'000;  // MOETUNE_NCCL_GRACE_MS: how long an op waits for its channels
  KernelWindow window;  // stale_slack_ns: MOETUNE_NCCL_STALE_US (1000)
  std::uint64_t by_source[3] = {0, 0, 0};   // writer thread only: ops written with GPU/proxy/host times
};

Plugin& P() {
  static Plugin* p = new Plugin();  // never destroyed: NCCL threads may call late
  return *p;
}

void write_ops(TraceWriter& w, bool final_sweep) {
  auto& p = P();
  auto& t = *p.table;
  {
    std::lock_guard<std::mutex> g(t.mu);
    t.sweep(final_sweep ? INT64_MAX / 2 : live::now_ns(), p.grace_ns);
  }
  const RankId R(p.rank < 0 ? 0 : p.rank);
  for (int round = 0; round < (final_sweep ? 1 << 20 : 64); ++round) {  // bounded: commits stay on time
    std::size_t n = t.ring.pop(p.batch);
    if (n == 0) break;
    const std::int64_t off = t.offset();
    for (std::size_t i = 0; i < n; ++i) {
      const OpRecord& o = p.batch[i];
      NcclOpRow r;
      r.rank = R;
      char hash[24];
      std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(o.comm_hash));
      r.comm_hash = hash;
      r.seq = static_cast<std::int64_t>(o.seq);
      r.func = o.func ? o.func : "?";
      if (o.algo) r.algo = pretty(o.algo);
      if (o.proto) r.proto = pretty(o.proto);
      r.channels = o.channels ? o.channels : static_cast<int>(o.kernel_channels);
      r.count = static_cast<std::int64_t>(o.count);
      if (o.dtype) r.dtype = std::strncmp(o.dtype, "nccl", 4) ? o.dtype : o.dtype + 4;
      r.bytes = static_cast<std::int64_t>(o.count) * dtype_size(o.dtype);
      r.peer = o.peer;
      r.root = o.root;
      r.nranks = o.nranks;
      r.enqueue_ns = o.host_start;
      const TimeSource src = time_source(o, t.calibrated());
      ++p.by_source[static_cast<int>(src)];
      if (src == TimeSource::Gpu) {
        r.start_ns = static_cast<std::int64_t>(o.gpu_start) + off;
        r.end_ns = static_cast<std::int64_t>(o.gpu_stop) + off;
      } else if (src == TimeSource::Proxy) {
        r.start_ns = o.proxy_start;
        r.end_ns = o.proxy_stop;
      } else {
        r.start_ns = o.host_start;
        r.end_ns = o.host_stop > o.host_start ? o.host_stop : o.host_start;
      }
      (void)w.add(r);
      ++p.written;
    }
  }
}

void write_stats(TraceWriter& w) {
  auto& p = P();
  auto& t = *p.table;
  auto rank = std::optional<std::int64_t>(p.rank < 0 ? 0 : p.rank);
  auto dropped = static_cast<std::int64_t>(t.ring.dropped());
  w.add(StatRow{"nccl_dropped_records", dropped ? Severity::DataLoss : Severity::Info, dropped, rank,
                "finished NCCL ops dropped because the writer ring was full"});
  auto ex = static_cast<std::int64_t>(t.slots_exhausted.load());
  w.add(StatRow{"nccl_event_slots_exhausted", ex ? Severity::DataLoss : Severity::Info, ex, rank,
                "NCCL events not tracked because the preallocated event pool was empty"});
  w.add(StatRow{"nccl_foreign_proxy_ops", Severity::Info, static_cast<std::int64_t>(t.foreign_proxy.load()), rank,
                "proxy ops posted by other processes (PXN), ignored"});
  w.add(StatRow{"nccl_ops", Severity::Info, static_cast<std::int64_t>(p.written), rank, "NCCL ops written"});
  auto inc = static_cast<std::int64_t>(t.incomplete.load());
  w.add(StatRow{"nccl_ops_without_all_channels", inc ? Severity::Error : Severity::Info, inc, rank,
                "ops written after the grace period without all expected KernelCh channels (GPU times partial or host times)"});
  auto stale = static_cast<std::int64_t>(t.stale_channels.load());
  w.add(StatRow{"nccl_kernelch_stale", Severity::Info, stale, rank,
                "KernelCh channels whose GPU stamps lie outside the op's possible window (before its kernel could "
                "start, or after NCCL read them, or on a comm after its first send/recv to self): NCCL handed us an "
                "earlier work item's slot; not used"});
  w.add(StatRow{"nccl_kernelch_after_self", Severity::Info, static_cast<std::int64_t>(t.after_self_channels.load()),
                rank,
                "of nccl_kernelch_stale: channels of ops launched after a send/recv to self on their comm (NCCL 2.28's "
                "slot counter lags the kernel's from then on)"});
  w.add(StatRow{"nccl_p2p_group_span_ops", Severity::Info, static_cast<std::int64_t>(t.group_span_ops.load()), rank,
                "Send/Recv ops written with their launch's GPU span (all p2p ops NCCL launched together share "
                "first channel start .. last channel stop)"});
  static const char* const kSource[3][2] = {
      {"nccl_ops_gpu_times", "ops written with GPU times (KernelCh %globaltimer + offset)"},
      {"nccl_ops_proxy_times", "ops written with proxy-thread host times (ProxyOp, no usable KernelCh)"},
      {"nccl_ops_host_times", "ops written with host enqueue..stop times (no KernelCh/ProxyOp, e.g. send/recv to self)"}};
  for (int i = 0; i < 3; ++i)
    w.add(StatRow{kSource[i][0], Severity::Info, static_cast<std::int64_t>(p.by_source[i]), rank, kSource[i][1]});
  if (t.calibrated()) {
    w.add(StatRow{"nccl_globaltimer_offset_ns", Severity::Info, t.offset(), rank,
                  t.measured() ? "CLOCK_REALTIME - %globaltimer offset, measured with a calibration kernel"
                               : "CLOCK_REALTIME - %globaltimer offset, estimated from callback lag (upper bound)"});
    if (p.clock_error_ns >= 0)
      w.add(StatRow{"nccl_globaltimer_offset_error_ns", Severity::Info, p.clock_error_ns, rank,
                    "half the host-time bracket of the calibration kernel (offset uncertainty)"});
    w.set_meta("nccl_globaltimer_offset_ns", std::to_string(t.offset()));
  }
}

live::CaptureStatus control(live::Verb v) {
  auto& p = P();
  if (v == live::Verb::Start) p.capturing = true;
  if (v == live::Verb::Stop) p.capturing = false;
  if (p.live_mask && v != live::Verb::Status)
    __atomic_store_n(p.live_mask, p.capturing.load() ? p.mask : 0, __ATOMIC_RELAXED);
  if (v == live::Verb::Stop && p.writer) p.writer->kick();
  return {p.capturing.load(), p.table->ops.load(), p.table->ring.dropped() + p.table->slots_exhausted.load(), 0};
}

void at_exit() {
  auto& p = P();
  if (!p.ok) return;
  if (p.live_mask) __atomic_store_n(p.live_mask, 0, __ATOMIC_RELAXED);
  if (p.control) p.control->stop();
  if (p.writer)
    if (auto r = p.writer->stop(); !r) std::fprintf(stderr, "moetune: %s\n", r.error().message.c_str());
}

// A forked child has none of our threads: drop the state (leaked), stay silent.
void on_fork_child() {
  auto& p = P();
  p.ok = false;
  (void)p.writer.release();
  (void)p.control.release();
}

// Pins this library in memory: NCCL dlcloses its plugin after the last finalize,
// but our writer thread and atexit handler must outlive that.
void pin_self() {
  Dl_info info{};
  if (::dladdr(reinterpret_cast<void*>(&pin_self), &info) && info.dli_fname)
    (void)::dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

bool setup(int comm_rank) {
  auto& p = P();
  p.tried = true;
  const char* what = std::getenv("MOETUNE_WHAT");
  if (what && *what && std::string(",") .append(what).append(",").find(",nccl,") == std::string::npos) return false;
  p.rank = live::rank_from_env();
  if (p.rank < 0) p.rank = comm_rank;
  p.armed = live::env_long("MOETUNE_ARMED", 0) != 0;
  if (live::env_long("MOETUNE_NCCL_PROXYSTEP", 0)) p.mask |= ncclProfileProxyStep;
  long slots = live::env_long("MOETUNE_NCCL_EVENTS", 65536), ring = live::env_long("MOETUNE_NCCL_RING", 65536);
  p.table = std::make_unique<EventTable>(static_cast<std::size_t>(slots > 64 ? slots : 65536),
                                         static_cast<std::size_t>(ring > 64 ? ring : 65536));
  p.batch.resize(4096);
  const char* pat = std::getenv("MOETUNE_OUTPUT");
  std::string path =
      live::expand_pattern(pat && *pat ? pat : "moetune-r%r-%h-%p", p.rank, static_cast<long>(::getpid()),
                           live::host_name()) + ".nccl.moetune";
  p.grace_ns = live::env_long("MOETUNE_NCCL_GRACE_MS", 2000) * 1'000'000LL;
  p.window.stale_slack_ns = live::env_long("MOETUNE_NCCL_STALE_US", 1000) * 1'000LL;
  auto w = live::PartWriter::open(path, [](TraceWriter& tw) { write_ops(tw, false); }, [](TraceWriter& tw) {
    write_ops(tw, true);
    write_stats(tw);
  });
  if (!w) {
    std::fprintf(stderr, "moetune: %s; continuing without the NCCL collector\n", w.error().message.c_str());
    return false;
  }
  p.writer = std::move(*w);
  p.writer->with_writer([&](TraceWriter& tw) {
    tw.set_meta("collector", "nccl");
    RankRow r;
    r.rank = RankId(p.rank);  // env rank, else the first communicator's rank
    r.host = live::node_name();
    r.pid = ::getpid();
    r.source = "nccl";
    tw.add(r);
  });
  p.capturing = !p.armed;
  auto srv = live::ControlServer::start("nccl", control);
  if (srv) p.control = std::move(*srv);
  pin_self();
  std::atexit(at_exit);
  ::pthread_atfork(nullptr, nullptr, on_fork_child);
  return true;
}

ncclResult_t init(void** context, uint64_t commId, int* eActivationMask, const char*, int, int nranks, int rank,
                  ncclDebugLogger_t) {
  try {
    auto& p = P();
    std::lock_guard<std::mutex> g(p.init_mu);
    if (!p.tried) p.ok = setup(rank);
    if (!p.ok) {
      if (eActivationMask) *eActivationMask = 0;
      *context = nullptr;
      return 1;  // ncclUnhandledCudaError-like: NCCL continues without the plugin
    }
    auto* c = new Comm();
    c->hash = commId;
    c->rank = rank;
    c->nranks = nranks;
    c->p2p_seq.assign(static_cast<std::size_t>(nranks > 0 ? nranks : 1) * 2, 0);
    if (!p.table->measured()) {
      if (auto off = measure_globaltimer_offset()) {
        p.table->set_measured(off->offset_ns);
        p.clock_error_ns = off->error_ns;
        std::lock_guard<std::mutex> tg(p.table->mu);  // finish_kernel_ch reads the window under mu
        p.window.widen_for_offset_error(off->error_ns);
      }
    }
    p.live_mask = eActivationMask;
    if (eActivationMask) __atomic_store_n(eActivationMask, p.capturing ? p.mask : 0, __ATOMIC_RELAXED);
    ++p.comms;
    *context = c;
    return 0;
  } catch (...) {
    *context = nullptr;
    return 1;
  }
}

ncclResult_t start_event(void* context, void** eHandle, ncclProfilerEventDescr_v5_t* d) {
  *eHandle = nullptr;
  auto& p = P();
  if (!context || !d || !p.ok || !p.capturing.load(std::memory_order_relaxed)) return 0;
  auto* comm = static_cast<Comm*>(context);
  auto& t = *p.table;
  const std::int64_t now = live::now_ns();
  std::lock_guard<std::mutex> g(t.mu);
  if (d->type == ncclProfileColl || d->type == ncclProfileP2p) {
    Slot* s = t.alloc();
    if (!s) return 0;
    s->type = d->type;
    s->kind = Kind::Op;
    s->comm = comm;
    OpRecord& o = s->op;
    o.comm_hash = comm->hash;
    o.nranks = comm->nranks;
    o.comm_rank = comm->rank;
    o.host_start = now;
    s->floor_ns = comm->last_stop_ns;  // the previous launch's task events ended before this op's kernel launch
    // What collectives and point-to-point ops both carry, from their part of the descriptor.
    auto common = [&](const auto& part, bool p2p, int peer) {
      o.func = part.func;
      o.count = part.count;
      o.dtype = part.datatype;
      o.channels = part.nChannels;
      o.expected_channels = expected_kernel_channels(p.mask & ncclProfileKernelCh, p2p, comm->nranks, comm->rank,
                                                     peer, part.nChannels);
    };
    if (d->type == ncclProfileColl) {
      o.seq = d->coll.seqNumber;
      o.root = d->coll.root;
      o.algo = d->coll.algo;
      o.proto = d->coll.proto;
      common(d->coll, false, -1);
      t.op_started(s, comm, false);
    } else {
      o.peer = d->p2p.peer;
      common(d->p2p, true, o.peer);
      // Sequence per (peer, direction): send #k to B matches B's recv #k from us.
      bool recv = o.func && o.func[0] == 'R';
      std::size_t idx = static_cast<std::size_t>(o.peer) * 2 + (recv ? 1 : 0);
      if (o.peer >= 0 && idx < comm->p2p_seq.size()) o.seq = comm->p2p_seq[idx]++;
      (void)t.join_group(s, comm);  // no free slot: written with its own channels' span
      t.op_started(s, comm, comm->nranks > 1 && o.peer == comm->rank && d->p2p.nChannels > 0);
    }
    *eHandle = s;
    return 0;
  }
  if (d->type == ncclProfileKernelCh || d->type == ncclProfileProxyOp || d->type == ncclProfileProxyStep) {
    if (d->type == ncclProfileProxyOp && d->proxyOp.pid != ::getpid()) {
      t.foreign_proxy.fetch_add(1, std::memory_order_relaxed);  // PXN: parent lives in another process
      return 0;
    }
    auto* parent = static_cast<Slot*>(d->parentObj);
    if (!parent || !t.owns(parent) || parent->kind == Kind::None) return 0;
    if (d->type == ncclProfileProxyStep) {
      t.proxy_steps.fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
    if (parent->kind != Kind::Op) return 0;
    Slot* s = t.alloc();
    if (!s) return 0;
    s->type = d->type;
    s->parent = parent;
    ++parent->open_children;
    if (d->type == ncclProfileKernelCh) {
      s->kind = Kind::KernelCh;
      s->op.gpu_start = d->kernelCh.pTimer;  // merged into the parent when the channel stops
      s->op.host_start = now;                // the GPU wrote the start before this callback
      t.calibrate(now, d->kernelCh.pTimer);
    } else {
      s->kind = Kind::ProxyOp;
      auto& po = parent->op;
      if (!po.proxy_start || now < po.proxy_start) po.proxy_start = now;
      ++po.proxy_ops;
      if (parent->comm) parent->comm->proxied = true;  // network transport: slot lag applies
    }
    *eHandle = s;
  }
  return 0;
}

ncclResult_t stop_event(void* eHandle) {
  auto& p = P();
  if (!eHandle || !p.ok) return 0;
  auto& t = *p.table;
  const std::int64_t now = live::now_ns();
  std::lock_guard<std::mutex> g(t.mu);
  auto* s = static_cast<Slot*>(eHandle);
  if (!t.owns(s) || s->kind == Kind::None) return 0;
  if (s->kind == Kind::Op) {
    t.host_stop(s, now);
    t.try_finish(s);
    return 0;
  }
  if (s->kind == Kind::KernelCh) {
    t.finish_kernel_ch(s, p.window);
    return 0;
  }
  Slot* parent = s->parent;
  if (s->kind == Kind::ProxyOp && parent && now > parent->op.proxy_stop) parent->op.proxy_stop = now;
  t.release(s);
  if (parent) {
    --parent->open_children;
    t.try_finish(parent);
  }
  return 0;
}

ncclResult_t record_state(void* eHandle, ncclProfilerEventState_v5_t state, ncclProfilerEventStateArgs_v5_t* args) {
  auto& p = P();
  if (!eHandle || !p.ok || state != ncclProfilerKernelChStop || !args) return 0;
  auto& t = *p.table;
  const std::int64_t now = live::now_ns();
  std::lock_guard<std::mutex> g(t.mu);
  auto* s = static_cast<Slot*>(eHandle);
  if (!t.owns(s) || s->kind != Kind::KernelCh || !s->parent) return 0;
  const std::uint64_t stop = args->kernelCh.pTimer;
  t.calibrate(now, stop);
  s->op.gpu_stop = stop;  // merged into the parent when the channel stops
  s->op.host_stop = now;  // the GPU wrote the stop before this callback
  return 0;
}

ncclResult_t finalize(void* context) {
  auto& p = P();
  std::lock_guard<std::mutex> g(p.init_mu);
  if (auto* c = static_cast<Comm*>(context)) {
    // Kept (a few dozen bytes): ops and groups still in flight point at it.
    std::lock_guard<std::mutex> tg(p.table->mu);
    std::vector<std::uint64_t>().swap(c->p2p_seq);
    c->group = nullptr;
    --p.comms;
  }
  if (p.writer) p.writer->kick();
  return 0;
}

// ---- Older NCCL (profiler ABI v1-v4): decline with one line per process ----

// "2.23.4" from ncclGetVersion of the NCCL that loaded us (it is in the process), else
// the release range that uses ABI `abi`.
std::string nccl_version_text(int abi) {
  using GetVersion = int (*)(int*);
  if (auto fn = reinterpret_cast<GetVersion>(::dlsym(RTLD_DEFAULT, "ncclGetVersion"))) {
    int v = 0;
    if (fn(&v) == 0 && v > 0) {
      // NCCL_VERSION(X,Y,Z): X*1000+Y*100+Z before 2.9, X*10000+Y*100+Z since.
      int major = v >= 10000 ? v / 10000 : v / 1000, minor = v >= 10000 ? (v / 100) % 100 : (v / 100) % 10;
      return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(v % 100);
    }
  }
  static const char* const range[] = {"?", "2.23", "2.24", "2.25", "2.26-2.27"};
  return range[abi >= 1 && abi <= 4 ? abi : 0];
}

ncclResult_t decline(int abi, void** context, int* eActivationMask) {
  static std::atomic<bool> said{false};
  if (context) *context = nullptr;
  if (eActivationMask) *eActivationMask = 0;
  if (!said.exchange(true))
    std::fprintf(stderr, "moetune: NCCL profiler ABI v%d (NCCL %s) is not supported; NCCL ops are not captured\n", abi,
                 nccl_version_text(abi).c_str());
  return kNcclInvalidUsage;
}

template <int Abi>
ncclResult_t init_v1_3(void** context, int* eActivationMask) {
  return decline(Abi, context, eActivationMask);
}
ncclResult_t init_v4(void** context, int* eActivationMask, const char*, uint64_t, int, int, int, ncclDebugLogger_t) {
  return decline(4, context, eActivationMask);
}
ncclResult_t legacy_start(void*, void** eHandle, void*) {
  if (eHandle) *eHandle = nullptr;
  return 0;
}
ncclResult_t legacy_stop(void*) { return 0; }
ncclResult_t legacy_record(void*, int, void*) { return 0; }
ncclResult_t legacy_finalize(void*) { return 0; }

}  // namespace
}  // namespace moetune::nccl

extern "C" {
__attribute__((visibility("default"))) ncclProfiler_v5_t ncclProfiler_v5 = {
    "moetune", moetune::nccl::init, moetune::nccl::start_event, moetune::nccl::stop_event,
    moetune::nccl::record_state, moetune::nccl::finalize};
__attribute__((visibility("default"))) ncclProfiler_v4_t ncclProfiler_v4 = {
    "moetune", moetune::nccl::init_v4, moetune::nccl::legacy_start, moetune::nccl::legacy_stop,
    moetune::nccl::legacy_record, moetune::nccl::legacy_finalize};
__attribute__((visibility("default"))) ncclProfiler_v1_3_t ncclProfiler_v3 = {
    "moetune", moetune::nccl::init_v1_3<3>, moetune::nccl::legacy_start, moetune::nccl::legacy_stop,
    moetune::nccl::legacy_record, moetune::nccl::legacy_finalize};
__attribute__((visibility("default"))) ncclProfiler_v1_3_t ncclProfiler_v2 = {
    "moetune", moetune::nccl::init_v1_3<2>, moetune::nccl::legacy_start, moetune::nccl::legacy_stop,
    moetune::nccl::legacy_record, moetune::nccl::legacy_finalize};
__attribute__((visibility("default"))) ncclProfiler_v1_3_t ncclProfiler_v1 = {
    "moetune", moetune::nccl::init_v1_3<1>, moetune::nccl::legacy_start, moetune::nccl::legacy_stop,
    moetune::nccl::legacy_record, moetune::nccl::legacy_finalize};
}
