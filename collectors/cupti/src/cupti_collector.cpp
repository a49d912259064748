// SPDX-License-Identifier: Apache-2.0
// Entry points of libmoetune_cupti.so. A guest in the job: every CUPTI call is
// checked; on any failure the collector prints one warning line, disables itself and
// returns, never throwing or exiting. Configuration from the environment:
//   MOETUNE_OUTPUT        part file pattern (%r %p %h); ".cupti.moetune" is appended
//   MOETUNE_WHAT          comma list of cuda,nvtx,nccl (default all)
//   MOETUNE_ARMED=1       start idle; capture on `moetune attach`
//   MOETUNE_CUPTI_BUFFERS / MOETUNE_CUPTI_BUFFER_KB  pool size (default 16 x 4096 KiB)
#include <cupti.h>
#include <pthread.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "cupti_state.h"
#include "moetune/live/rank_env.h"

extern "C" CUptiResult CUPTIAPI cuptiNvtxInitialize2(void* fnTables);

namespace moetune::cupti {

State& state() {
  static State* s = new State();  // never destroyed: CUPTI may call back during exit
  return *s;
}

void warn(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "moetune: %s\n", buf);
}

namespace {

std::mutex g_init_mutex;
bool g_init_done = false;

bool ok(CUptiResult r, const char* what) {
  if (r == CUPTI_SUCCESS) return true;
  const char* msg = nullptr;
  cuptiGetResultString(r, &msg);
  warn("CUPTI %s failed (%s); continuing without the CUDA collector", what, msg ? msg : "?");
  return false;
}

bool want(const char* what, const char* item) {
  if (!what || !*what) return true;
  std::string w = std::string(",") + what + ",";
  return w.find(std::string(",") + item + ",") != std::string::npos;
}

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  auto& s = state();
  *max_records = 0;
  std::lock_guard<std::mutex> g(s.pool.m);
  if (s.pool.free_list.empty()) {
    *buffer = nullptr;  // CUPTI drops the records and counts them
    *size = 0;
    s.c.buffers_denied.fetch_add(1, std::memory_order_relaxed);
    s.owner.on_requested(nullptr, live::now_ns());
    return;
  }
  *buffer = s.pool.free_list.back();
  s.pool.free_list.pop_back();
  *size = s.pool.buffer_bytes;
  s.owner.on_requested(*buffer, live::now_ns());
}

void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t* buffer, size_t, size_t valid) {
  auto& s = state();
  // Only our own outstanding buffers enter the pool: a buffer of another CUPTI
  // client (its memory, freed by it) must never be parsed or handed out again.
  if (!buffer || !s.owner.on_completed(buffer, live::now_ns())) return;
  size_t dropped = 0;
  if (cuptiActivityGetNumDroppedRecords(ctx, stream, &dropped) == CUPTI_SUCCESS && dropped)
    s.c.cupti_dropped.fetch_add(dropped, std::memory_order_relaxed);
  std::lock_guard<std::mutex> g(s.pool.m);
  s.pool.full.push_back({buffer, valid});  // capacity reserved: never reallocates
}

const CUpti_ActivityKind kCudaKinds[] = {CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, CUPTI_ACTIVITY_KIND_MEMCPY,
                                         CUPTI_ACTIVITY_KIND_MEMCPY2,           CUPTI_ACTIVITY_KIND_MEMSET,
                                         CUPTI_ACTIVITY_KIND_RUNTIME,           CUPTI_ACTIVITY_KIND_SYNCHRONIZATION,
                                         CUPTI_ACTIVITY_KIND_OVERHEAD};
const CUpti_ActivityKind kNvtxKinds[] = {CUPTI_ACTIVITY_KIND_MARKER, CUPTI_ACTIVITY_KIND_MARKER_DATA};
// Kinds we enable that Kineto (torch.profiler) never enables (CuptiActivityApi::
// enableCuptiActivities): turned off when another client took the callbacks, so CUPTI
// stops writing our records into its buffers (also after it stopped). Kinds it does
// use stay as they are: it enables and disables those itself.
const CUpti_ActivityKind kOnlyOurs[] = {CUPTI_ACTIVITY_KIND_MEMCPY2, CUPTI_ACTIVITY_KIND_MARKER,
                                        CUPTI_ACTIVITY_KIND_MARKER_DATA};

bool enable_kinds(State& s, bool on) {
  auto fn = on ? cuptiActivityEnable : cuptiActivityDisable;
  if (s.want_cuda)
    for (auto k : kCudaKinds)
      if (!ok(fn(k), on ? "cuptiActivityEnable" : "cuptiActivityDisable")) return false;
  if (s.want_nvtx)
    for (auto k : kNvtxKinds)
      if (!ok(fn(k), on ? "cuptiActivityEnable(MARKER)" : "cuptiActivityDisable(MARKER)")) return false;
  return true;
}

// Another client took the callbacks: stop for good (what we had stays in the file),
// turn off the kinds only we use, one warning line. Called once (lost is final).
void on_lost(State& s) {
  if (s.lost_reported.exchange(true)) return;
  s.capturing = false;
  for (auto k : kOnlyOurs) (void)cuptiActivityDisable(k);
  char when[32] = "?";
  const long long t = s.owner.lost_at_ns();
  if (t > 0) {
    std::time_t sec = static_cast<std::time_t>(t / 1'000'000'000LL);
    std::tm tm{};
    if (::localtime_r(&sec, &tm))
      std::snprintf(when, sizeof when, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
                    static_cast<int>((t / 1'000'000LL) % 1000));
  }
  warn("another CUPTI client (torch.profiler, nsys, ...) took the activity buffers at %s; CUDA capture stopped there",
       when);
}

void at_exit() {
  auto& s = state();
  if (!s.enabled.load()) return;
  s.exiting = true;
  // Only while CUPTI still delivers to us: a flush after another client took the
  // callbacks runs its callbacks, possibly after its state was destroyed at exit.
  if (s.capturing.load()) {
    if (s.owner.settle_at_exit()) on_lost(s);
    else if (s.owner.may_flush()) {
      auto probe = s.owner.begin_probe();
      (void)cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
      if (s.owner.end_probe(probe, live::now_ns(), true) == OwnershipTracker::Verdict::Lost) on_lost(s);
    }
  }
  s.enabled = false;
  if (s.control) s.control->stop();
  if (s.writer)
    if (auto r = s.writer->stop(); !r) warn("%s", r.error().message.c_str());
}

// A forked child has none of our threads: it must neither join them nor write the
// parent's file. It drops the state (leaked on purpose) and runs uninstrumented.
void on_fork_child() {
  auto& s = state();
  s.enabled = false;
  s.capturing = false;
  (void)s.writer.release();
  (void)s.control.release();
}

live::CaptureStatus control(live::Verb v) {
  auto& s = state();
  if (v == live::Verb::Start && !s.capturing.load()) set_capture(s, true);
  if (v == live::Verb::Stop && s.capturing.load()) set_capture(s, false);
  std::uint64_t dropped = s.c.cupti_dropped.load() + s.c.buffers_denied.load();
  return {s.capturing.load(), s.c.records.load(), dropped, s.c.steps.load()};
}

// Sets up the writer, the buffer pool and the control socket. False: disabled.
bool init_locked() {
  auto& s = state();
  const char* what = std::getenv("MOETUNE_WHAT");
  s.want_cuda = want(what, "cuda");
  s.want_nvtx = want(what, "nvtx");
  s.armed = live::env_long("MOETUNE_ARMED", 0) != 0;
  s.rank = live::rank_from_env();
  s.pid = static_cast<long>(::getpid());
  if (!s.want_cuda && !s.want_nvtx) return false;
  const char* pat = std::getenv("MOETUNE_OUTPUT");
  std::string path = live::expand_pattern(pat && *pat ? pat : "moetune-r%r-%h-%p", s.rank, s.pid, live::host_name()) +
                     ".cupti.moetune";
  long nbuf = live::env_long("MOETUNE_CUPTI_BUFFERS", 16), kb = live::env_long("MOETUNE_CUPTI_BUFFER_KB", 4096);
  if (nbuf < 2 || nbuf > 4096) nbuf = 16;
  if (kb < 64 || kb > (1 << 20)) kb = 4096;
  s.pool.buffer_bytes = static_cast<std::size_t>(kb) * 1024;
  s.pool.free_list.reserve(nbuf);
  s.pool.full.reserve(nbuf);
  for (long i = 0; i < nbuf; ++i) {
    void* p = std::aligned_alloc(8, s.pool.buffer_bytes);
    if (!p) break;
    s.pool.free_list.push_back(static_cast<std::uint8_t*>(p));
    s.owner.add_buffer(static_cast<std::uint8_t*>(p));
  }
  s.markers = std::make_unique<live::MarkerDecoder>(RankId(s.rank < 0 ? 0 : s.rank));
  auto w = live::PartWriter::open(
      path, [](TraceWriter& w) { drain_buffers(state(), w); },
      [](TraceWriter& w) {
        auto& st = state();
        auto rank = std::optional<std::int64_t>(st.rank < 0 ? 0 : st.rank);
        w.add(StatRow{"cupti_dropped_records", st.c.cupti_dropped ? Severity::DataLoss : Severity::Info,
                      static_cast<std::int64_t>(st.c.cupti_dropped.load()), rank,
                      "activity records CUPTI dropped (no buffer available)"});
        w.add(StatRow{"cupti_buffers_denied", st.c.buffers_denied ? Severity::DataLoss : Severity::Info,
                      static_cast<std::int64_t>(st.c.buffers_denied.load()), rank,
                      "buffer requests refused because the preallocated pool was empty"});
        w.add(StatRow{"cupti_records", Severity::Info, static_cast<std::int64_t>(st.c.records.load()), rank,
                      "activity records written by the CUDA collector"});
        w.add(StatRow{"cupti_incomplete_records", Severity::Info, static_cast<std::int64_t>(st.c.incomplete.load()),
                      rank, "GPU activity without start/end time (still running at the final flush); not stored"});
        w.add(StatRow{"cupti_overhead_ns", Severity::Info, static_cast<std::int64_t>(st.c.overhead_ns.load()), rank,
                      "time CUPTI reported as its own overhead (buffer flushes, instrumentation)"});
        if (st.owner.lost())
          w.add(StatRow{"cupti_callbacks_taken_ns", Severity::DataLoss, st.owner.lost_at_ns(), rank,
                        "another CUPTI client (torch.profiler, nsys, ...) took the activity buffer callbacks "
                        "after this time (CLOCK_REALTIME ns); CUDA capture stopped there"});
        if (auto f = st.owner.foreign_completions())
          w.add(StatRow{"cupti_foreign_buffers", Severity::Info, static_cast<std::int64_t>(f), rank,
                        "buffers of another CUPTI client completed into our callback; ignored"});
        if (st.markers && st.markers->malformed())
          w.add(StatRow{"moe_nvtx_malformed", Severity::Error, static_cast<std::int64_t>(st.markers->malformed()),
                        rank, "moe-domain NVTX marks whose text did not parse"});
      });
  if (!w) {
    warn("%s; continuing without the CUDA collector", w.error().message.c_str());
    return false;
  }
  s.writer = std::move(*w);
  s.writer->with_writer([&](TraceWriter& tw) {
    tw.set_meta("collector", "cupti");
    tw.set_meta("clock", "CLOCK_REALTIME");
    write_device_info(s, tw, -1);
  });
  if (!ok(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed), "cuptiActivityRegisterCallbacks")) {
    (void)s.writer->stop();
    return false;
  }
  // No cuptiActivityFlushPeriod: CUPTI's flush thread would deliver into whichever
  // callbacks are registered, another client's too (also after its exit teardown).
  // The writer thread flushes instead, and only while CUPTI delivers to us.
  s.enabled = true;
  if (!s.armed) set_capture(s, true);
  auto srv = live::ControlServer::start("cupti", control);
  if (srv) s.control = std::move(*srv);
  else if (s.armed) warn("%s; attach will not reach this process", srv.error().message.c_str());
  std::atexit(at_exit);
  ::pthread_atfork(nullptr, nullptr, on_fork_child);
  return true;
}

bool init_once() {
  std::lock_guard<std::mutex> g(g_init_mutex);
  if (g_init_done) return state().enabled.load();
  g_init_done = true;
  try {
    return init_locked();
  } catch (...) {
    warn("CUDA collector setup failed; continuing without it");
    return false;
  }
}

}  // namespace

void set_capture(State& s, bool on) {
  if (!s.enabled.load()) return;
  if (on && s.owner.lost()) return;  // the callbacks are another client's now
  if (on) {
    if (!enable_kinds(s, true)) {
      (void)enable_kinds(s, false);
      s.enabled = false;
      return;
    }
    s.capturing = true;
  } else {
    (void)enable_kinds(s, false);
    s.capturing = false;
    if (s.owner.may_flush()) (void)cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    if (s.writer) s.writer->kick();
  }
}

void periodic_flush(State& s) {
  const long long now = live::now_ns();
  // Every 0.9 s; every 0.1 s until the first GPU record named the device, so its facts
  // (name, bus id, NVML links) are read while the job runs, not at exit.
  const long long period = s.device_written ? 900'000'000LL : 100'000'000LL;
  if (!s.capturing.load() || s.exiting.load() || now - s.last_force_flush_ns < period) return;
  s.last_force_flush_ns = now;
  if (!s.owner.may_flush()) return;  // nothing of ours in CUPTI, or lost
  auto probe = s.owner.begin_probe();
  (void)cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
  if (s.owner.end_probe(probe, live::now_ns()) != OwnershipTracker::Verdict::Lost) return;
  on_lost(s);
}

}  // namespace moetune::cupti

extern "C" __attribute__((visibility("default"))) int InitializeInjection(void) {
  (void)moetune::cupti::init_once();
  return 1;  // never fail the job's CUDA initialisation
}

extern "C" __attribute__((visibility("default"))) int InitializeInjectionNvtx2(void* fn_tables) {
  auto& s = moetune::cupti::state();
  (void)moetune::cupti::init_once();
  if (!s.enabled.load() || !s.want_nvtx) return 0;
  return cuptiNvtxInitialize2(fn_tables) == CUPTI_SUCCESS ? 1 : 0;
}
