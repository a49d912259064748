// SPDX-License-Identifier: Apache-2.0
// The built libmoetune_nccl.so driven the way NCCL 2.28 drives it (dlopen, dlsym
// "ncclProfiler_v5", init with a live mask, Coll/P2p/KernelCh/ProxyOp events), in a
// child process that then exits so the plugin finishes its part file. Covers: armed
// mask 0 until attach's "start", op completion from KernelCh after the host stop,
// GPU times from KernelCh, P2P sequence numbers per peer, foreign (PXN) proxy ops
// ignored, NULL contexts and handles tolerated; p2p launch spans, stale slots.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../../collectors/nccl/include/moetune/nccl/profiler_v5_abi.h"
#include "common/expect_rows.h"
#include "common/scratch_dir.h"
#include "moetune/live/control.h"
#include "moetune/live/merge.h"
#include "moetune/trace/reader.h"

using namespace moetune;
namespace fs = std::filesystem;

namespace {
fs::path plugin_path() { return fs::path(MOETUNE_CLI).parent_path().parent_path() / "collectors/nccl/libmoetune_nccl.so"; }

// The plugin tests: skipped where the plugin is not built; each has a scratch folder dir_
// holding the child's runtime dir rt/.
class NcclPlugin : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(so_)) GTEST_SKIP() << so_ << " not built (MOETUNE_WITH_CUDA=OFF)";
    fs::create_directories(dir_ / "rt");
  }

  // Runs drive(so) in a forked child as rank 0 with XDG_RUNTIME_DIR dir_/rt, MOETUNE_OUTPUT
  // under dir_ and `env`; the child exit()s with drive's code (exit(): the plugin's atexit
  // handler finishes the file). The child must exit 0 and leave one part file, opened into rd.
  void run_child(std::initializer_list<std::pair<const char*, const char*>> env, int (*drive)(const fs::path&),
                 const char* drive_name, std::unique_ptr<TraceReader>& rd) {
    const fs::path& dir = dir_.path();
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setenv("XDG_RUNTIME_DIR", (dir / "rt").c_str(), 1);
      ::setenv("MOETUNE_OUTPUT", (dir / "r%r-%p").c_str(), 1);
      for (const auto& [name, value] : env) ::setenv(name, value, 1);
      ::setenv("RANK", "0", 1);
      std::exit(drive(so_));
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0) << "child step failed (code in " << drive_name << ")";
    auto parts = live::find_parts(dir);
    ASSERT_EQ(parts.size(), 1u);
    auto r = TraceReader::open(parts[0]);
    ASSERT_TRUE(r) << r.error().message;
    rd = std::move(*r);
  }

  const fs::path so_ = plugin_path();
  const test::ScratchDir dir_{"moetune-nccl-test"};
};

// Child body: returns a small code for the parent to report (0 ok).
int drive_plugin(const fs::path& so) {
  void* h = ::dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) return 10;
  auto* tbl = static_cast<ncclProfiler_v5_t*>(::dlsym(h, "ncclProfiler_v5"));
  if (!tbl || std::strcmp(tbl->name, "moetune") != 0) return 11;
  int mask = -1;
  void* ctx = nullptr;
  if (tbl->init(&ctx, 0xabcdef, &mask, "test", 1, 2, 0, nullptr) != 0 || !ctx) return 12;
  if (mask != 0) return 13;  // armed: nothing until attach
  ncclProfilerEventDescr_v5_t d{};
  void* e = reinterpret_cast<void*>(1);
  d.type = ncclProfileColl;
  tbl->startEvent(ctx, &e, &d);
  if (e != nullptr) return 14;  // not capturing: no handle
  auto eps = live::list_endpoints(::getpid());
  if (eps.size() != 1) return 15;
  // Start capture the way a user does: `moetune attach PID` (CLI, control socket).
  const std::string attach = std::string(MOETUNE_CLI) + " attach " + std::to_string(::getpid());
  if (std::system((attach + " > /dev/null").c_str()) != 0) return 16;
  if (mask != (ncclProfileColl | ncclProfileP2p | ncclProfileKernelCh | ncclProfileProxyOp)) return 17;

  d = {};
  d.type = ncclProfileColl;
  d.rank = 0;
  d.coll.seqNumber = 5;
  d.coll.func = "AllReduce";
  d.coll.count = 1024;
  d.coll.datatype = "ncclFloat32";
  d.coll.nChannels = 2;
  d.coll.algo = "RING";
  d.coll.proto = "SIMPLE";
  void* coll = nullptr;
  tbl->startEvent(ctx, &coll, &d);
  if (!coll) return 18;
  tbl->stopEvent(coll);  // host side done long before the kernel runs
  for (int ch = 0; ch < 2; ++ch) {
    ncclProfilerEventDescr_v5_t k{};
    k.type = ncclProfileKernelCh;
    k.parentObj = coll;
    k.kernelCh.channelId = static_cast<uint8_t>(ch);
    k.kernelCh.pTimer = 1'000'000 + ch * 100;
    void* kh = nullptr;
    tbl->startEvent(ctx, &kh, &k);
    if (!kh) return 19;
    ncclProfilerEventStateArgs_v5_t a{};
    a.kernelCh.pTimer = 1'050'000 + ch * 10;
    tbl->recordEventState(kh, ncclProfilerKernelChStop, &a);
    tbl->stopEvent(kh);
  }
  ncclProfilerEventDescr_v5_t px{};
  px.type = ncclProfileProxyOp;
  px.parentObj = reinterpret_cast<void*>(0x1234);  // another process's object (PXN)
  px.proxyOp.pid = ::getpid() + 1;
  void* ph = reinterpret_cast<void*>(1);
  tbl->startEvent(ctx, &ph, &px);
  if (ph != nullptr) return 20;
  for (int i = 0; i < 2; ++i) {
    ncclProfilerEventDescr_v5_t p{};
    p.type = ncclProfileP2p;
    p.p2p.func = "Send";
    p.p2p.datatype = "ncclBfloat16";
    p.p2p.count = 10;
    p.p2p.peer = 1;
    p.p2p.nChannels = 1;
    void* sh = nullptr;
    tbl->startEvent(ctx, &sh, &p);
    if (!sh) return 21;
    tbl->stopEvent(sh);
    ncclProfilerEventDescr_v5_t k{};
    k.type = ncclProfileKernelCh;
    k.parentObj = sh;
    k.kernelCh.pTimer = 2'000'000 + i * 1000;
    void* kh = nullptr;
    tbl->startEvent(ctx, &kh, &k);
    ncclProfilerEventStateArgs_v5_t a{};
    a.kernelCh.pTimer = 2'000'500 + i * 1000;
    tbl->recordEventState(kh, ncclProfilerKernelChStop, &a);
    tbl->stopEvent(kh);
  }
  tbl->stopEvent(nullptr);
  tbl->recordEventState(nullptr, ncclProfilerKernelChStop, nullptr);
  auto r = live::control_request(eps[0].path, "status\n");
  if (!r || r->rfind("ok capturing=1", 0) != 0) return 23;
  if (std::system((attach + " --stop > /dev/null").c_str()) != 0 || mask != 0) return 22;
  // A forked child (DataLoader-style) exits without touching the parent's writer.
  pid_t kid = ::fork();
  if (kid == 0) {
    ::alarm(5);  // a hang here would be the bug
    std::exit(0);
  }
  int kst = 0;
  ::waitpid(kid, &kst, 0);
  if (!WIFEXITED(kst) || WEXITSTATUS(kst) != 0) return 24;
  tbl->finalize(ctx);
  return 0;
}
}  // namespace

TEST_F(NcclPlugin, DrivenLikeNccl) {
  std::unique_ptr<TraceReader> rd;
  ASSERT_NO_FATAL_FAILURE(run_child({{"MOETUNE_ARMED", "1"}}, drive_plugin, "drive_plugin", rd));
  auto ops = test::rows(rd->nccl_ops());
  ASSERT_EQ(ops.size(), 3u);
  const NcclOpRow* ar = nullptr;
  std::vector<std::int64_t> send_seq;
  for (const auto& o : ops) {
    if (o.func == "AllReduce") ar = &o;
    if (o.func == "Send") {
      send_seq.push_back(o.seq);
      EXPECT_EQ(o.peer, 1);
      EXPECT_EQ(o.bytes, 20);
      EXPECT_EQ(o.dur_ns(), 500);
    }
  }
  ASSERT_TRUE(ar);
  EXPECT_EQ(ar->seq, 5);
  EXPECT_EQ(ar->algo.value_or(""), "Ring");
  EXPECT_EQ(ar->proto.value_or(""), "Simple");
  EXPECT_EQ(ar->dtype.value_or(""), "Float32");
  EXPECT_EQ(ar->bytes, 4096);
  EXPECT_EQ(ar->nranks, 2);
  EXPECT_EQ(ar->channels, 2);
  EXPECT_EQ(ar->comm_hash.value_or(""), "0000000000abcdef");
  EXPECT_EQ(ar->dur_ns(), 1'050'010 - 1'000'000);  // first channel start .. last channel stop
  // No CUDA here: the offset is the callback-lag bound, host time - GPU time.
  EXPECT_GT(ar->start_ns, 1'000'000'000'000'000'000LL);
  EXPECT_EQ(send_seq, (std::vector<std::int64_t>{0, 1}));
  std::map<std::string, std::int64_t> stats;
  for (const auto& s : test::rows(rd->stats())) stats[s.name] = s.value;
  EXPECT_EQ(stats["nccl_foreign_proxy_ops"], 1);
  EXPECT_EQ(stats["nccl_ops"], 3);
  EXPECT_EQ(stats["nccl_ops_without_all_channels"], 0);
}

// ---- Event sequences of NCCL 2.28 for grouped send/recv and collectives ----------
namespace {

long long wall_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

void sleep_us(long us) {
  timespec ts{0, us * 1000};
  ::nanosleep(&ts, nullptr);
}

struct Driver {
  ncclProfiler_v5_t* tbl = nullptr;
  void* ctx = nullptr;
  void* op(std::uint64_t type, const char* func, int peer, int nch, size_t count = 256) {
    ncclProfilerEventDescr_v5_t d{};
    d.type = type;
    if (type == ncclProfileColl) {
      d.coll.func = func;
      d.coll.seqNumber = 7;
      d.coll.count = count;
      d.coll.datatype = "ncclFloat32";
      d.coll.nChannels = static_cast<uint8_t>(nch);
      d.coll.algo = "RING";
      d.coll.proto = "LL";
    } else {
      d.p2p.func = func;
      d.p2p.count = count;
      d.p2p.datatype = "ncclFloat32";
      d.p2p.peer = peer;
      d.p2p.nChannels = static_cast<uint8_t>(nch);
    }
    void* h = nullptr;
    tbl->startEvent(ctx, &h, &d);
    return h;
  }
  // op() started and stopped at once (as a launch's task events are), then 300 us for its
  // kernel to run; `stopped_ns`: when it stopped. nullptr when it did not start.
  void* ran(std::uint64_t type, const char* func, int peer, int nch, std::uint64_t& stopped_ns,
            size_t count = 256) {
    void* h = op(type, func, peer, nch, count);
    if (!h) return nullptr;
    tbl->stopEvent(h);
    stopped_ns = static_cast<std::uint64_t>(wall_ns());
    sleep_us(300);
    return h;
  }
  // A ProxyOp child of `parent` (network transport), posted and finished now.
  bool proxy(void* parent) {
    ncclProfilerEventDescr_v5_t p{};
    p.type = ncclProfileProxyOp;
    p.parentObj = parent;
    p.proxyOp.pid = ::getpid();
    void* ph = nullptr;
    tbl->startEvent(ctx, &ph, &p);
    if (!ph) return false;
    tbl->stopEvent(ph);
    return true;
  }
  // One KernelCh of `parent` on `channel` with GPU start/stop (ns on the wall clock here).
  bool channel(void* parent, int ch, std::uint64_t start, std::uint64_t stop) {
    ncclProfilerEventDescr_v5_t k{};
    k.type = ncclProfileKernelCh;
    k.parentObj = parent;
    k.kernelCh.channelId = static_cast<uint8_t>(ch);
    k.kernelCh.pTimer = start;
    void* kh = nullptr;
    tbl->startEvent(ctx, &kh, &k);
    if (!kh) return false;
    ncclProfilerEventStateArgs_v5_t a{};
    a.kernelCh.pTimer = stop;
    tbl->recordEventState(kh, ncclProfilerKernelChStop, &a);
    tbl->stopEvent(kh);
    return true;
  }
};

// Rank 0 of 2, GPU clock = wall clock (the offset estimate is then the smallest
// callback lag). Communicator A ("seq"), the event order of the 2-rank H200 client
// fixture (client2, 2026-11-28): two grouped all-to-all launches (send/recv to self
// and to rank 1, as tests/gpu/moe_client does) enqueued before the GPU ran the first;
// the proxy then hands the second launch exactly the first launch's stamps (its slot
// counter lags the kernel's by the self item), stamps that lie after the second
// launch's enqueue and after the first one's host stop, so only the after-self rule
// catches them; then an all-reduce on A whose stamps look plausible but come from
// the same lagged counters. Communicator B ("seq2", no self exchange): a zero-byte
// send (its own launch), an all-reduce of which channel 0 hands in a slot 50 ms old,
// and a second all-reduce whose channel 0 carries stamps from before the first
// all-reduce's host stop (less than 1 ms before its own enqueue: only the
// communicator floor catches it). Grace period is huge: an op that waited for a
// channel NCCL never sends would only be written by the final sweep and counted.
int drive_sequences(const fs::path& so) {
  void* h = ::dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) return 30;
  Driver D;
  D.tbl = static_cast<ncclProfiler_v5_t*>(::dlsym(h, "ncclProfiler_v5"));
  int mask = 0;
  if (!D.tbl || D.tbl->init(&D.ctx, 0x42, &mask, "seq", 2, 2, 0, nullptr) != 0 || !D.ctx) return 31;
  if (!(mask & ncclProfileKernelCh)) return 32;
  Driver B{D.tbl, nullptr};
  if (D.tbl->init(&B.ctx, 0x43, &mask, "seq2", 2, 2, 0, nullptr) != 0 || !B.ctx) return 44;
  constexpr std::uint64_t us = 1000;
  // hostStreamPlanTask: all task events of the plan start, proxy ops are posted, all stop.
  const auto t0 = static_cast<std::uint64_t>(wall_ns());
  void* l1[4] = {D.op(ncclProfileP2p, "Recv", 0, 2), D.op(ncclProfileP2p, "Send", 0, 2),
                 D.op(ncclProfileP2p, "Recv", 1, 2), D.op(ncclProfileP2p, "Send", 1, 2)};
  for (void* o : l1)
    if (!o) return 33;
  // A goes through the proxy (sockets between emulated nodes): its peer ops post ProxyOps.
  for (void* o : {l1[2], l1[3]})
    if (!D.proxy(o)) return 48;
  for (void* o : l1) D.tbl->stopEvent(o);
  void* l2[4] = {D.op(ncclProfileP2p, "Recv", 0, 2), D.op(ncclProfileP2p, "Send", 0, 2),
                 D.op(ncclProfileP2p, "Recv", 1, 2), D.op(ncclProfileP2p, "Send", 1, 2)};
  for (void* o : l2)
    if (!o) return 45;
  for (void* o : l2) D.tbl->stopEvent(o);
  sleep_us(1000);  // the kernels ran meanwhile; the profiler proxy reports afterwards
  // One KernelCh per channel of each non-self op; recv and send to the peer share
  // channels 1 and 3 (one fused work item each). Launch 2 gets launch 1's stamps.
  for (void** l : {l1, l2})
    for (int ch : {1, 3}) {
      if (!D.channel(l[2], ch, t0 + 200 * us + ch, t0 + 900 * us)) return 34;
      if (!D.channel(l[3], ch, t0 + 300 * us + ch, t0 + 800 * us + ch)) return 35;
    }
  // All-reduce on A after the self exchanges: plausible stamps, lagged counters.
  std::uint64_t tx = 0, t2 = 0, ta = 0, tb = 0;
  void* ar_a = D.ran(ncclProfileColl, "AllReduce", -1, 2, tx);
  if (!ar_a) return 46;
  for (int ch : {0, 1})
    if (!D.channel(ar_a, ch, tx + 20 * us, tx + 120 * us)) return 47;
  // A zero-byte send still takes one channel (nsteps 1) and reports it.
  void* empty = B.ran(ncclProfileP2p, "Send", 1, 1, t2, 0);
  if (!empty) return 36;
  if (!B.channel(empty, 2, t2 + 50 * us, t2 + 150 * us)) return 37;
  // All-reduce on channels 0 and 1; channel 0 matched a work item 50 ms old.
  void* ar = B.ran(ncclProfileColl, "AllReduce", -1, 2, ta);
  if (!ar) return 38;
  if (!B.channel(ar, 1, ta + 20 * us, ta + 120 * us)) return 39;
  if (!B.channel(ar, 0, ta - 50'000 * us, ta - 49'000 * us)) return 40;
  // Second all-reduce: channel 0's slot is from 600 us before the first one stopped.
  void* ar2 = B.ran(ncclProfileColl, "AllReduce", -1, 2, tb);
  if (!ar2) return 41;
  if (!B.channel(ar2, 1, tb + 10 * us, tb + 110 * us)) return 42;
  if (!B.channel(ar2, 0, ta - 600 * us, ta - 500 * us)) return 43;
  // Communicator C: NVLink-like (no ProxyOp ever), a self exchange in every launch as
  // on the 4xH200 run, where the stamps of later launches were sound: they are kept.
  Driver C{D.tbl, nullptr};
  if (D.tbl->init(&C.ctx, 0x44, &mask, "nvl", 2, 2, 0, nullptr) != 0 || !C.ctx) return 49;
  for (int launch = 0; launch < 2; ++launch) {
    void* l[4] = {C.op(ncclProfileP2p, "Recv", 0, 2), C.op(ncclProfileP2p, "Send", 0, 2),
                  C.op(ncclProfileP2p, "Recv", 1, 2), C.op(ncclProfileP2p, "Send", 1, 2)};
    for (void* o : l)
      if (!o) return 52;
    for (void* o : l) C.tbl->stopEvent(o);
    const auto tc = static_cast<std::uint64_t>(wall_ns());
    sleep_us(300);
    for (int ch : {1, 3}) {
      if (!C.channel(l[2], ch, tc + 20 * us, tc + 120 * us)) return 53;
      if (!C.channel(l[3], ch, tc + 30 * us, tc + 110 * us)) return 54;
    }
  }
  D.tbl->finalize(C.ctx);
  D.tbl->finalize(B.ctx);
  D.tbl->finalize(D.ctx);
  return 0;
}

}  // namespace

TEST_F(NcclPlugin, P2pLaunchSpansSelfSendsZeroBytesAndStaleSlots) {
  std::unique_ptr<TraceReader> rd;
  ASSERT_NO_FATAL_FAILURE(
      run_child({{"MOETUNE_ARMED", "0"}, {"MOETUNE_NCCL_GRACE_MS", "600000"}}, drive_sequences, "drive_sequences", rd));
  std::map<std::string, std::int64_t> stats;
  for (const auto& s : test::rows(rd->stats())) stats[s.name] = s.value;
  // Every op finished on its own channels (none waited for a KernelCh that never comes).
  EXPECT_EQ(stats["nccl_ops_without_all_channels"], 0);
  EXPECT_EQ(stats["nccl_ops"], 20);
  // A: launch 2 (4 channels) + its all-reduce (2); B: ar ch0 (50 ms old), ar2 ch0 (floor).
  // C (no ProxyOp: not a network communicator) keeps its second launch's stamps.
  EXPECT_EQ(stats["nccl_kernelch_after_self"], 6);
  EXPECT_EQ(stats["nccl_kernelch_stale"], 8);
  EXPECT_EQ(stats["nccl_ops_gpu_times"], 15);       // launch 1 (self ops too: its span) + B's 3 + C's 8
  EXPECT_EQ(stats["nccl_ops_host_times"], 5);       // launch 2 and A's all-reduce: no ProxyOp of their own
  EXPECT_EQ(stats["nccl_p2p_group_span_ops"], 13);  // 4 of launch 1 + the zero-byte send + C's 8
  int self = 0, reduces = 0, lagged = 0, nvl = 0;
  for (const auto& o : test::rows(rd->nccl_ops())) {
    const bool host = o.start_ns == o.enqueue_ns.value_or(-1);
    if (o.comm_hash == std::optional<std::string>("0000000000000044")) {
      EXPECT_FALSE(host) << o.func << " peer " << o.peer << " seq " << o.seq;
      EXPECT_EQ(o.dur_ns(), 100'000);  // 20 us .. 120 us of its own launch
      ++nvl;
      continue;
    }
    if (o.func == "AllReduce" && o.channels == 2 && host) {
      ++lagged;  // A's all-reduce
    } else if (o.func == "AllReduce") {
      ++reduces;
      EXPECT_EQ(o.dur_ns(), 100'000);  // only channel 1; the stale channel 0 is left out
    } else if (o.count == 0) {
      EXPECT_FALSE(host);
      EXPECT_EQ(o.dur_ns(), 100'000);  // a launch of its own
    } else if (o.seq == 1) {
      EXPECT_TRUE(host) << o.func << " peer " << o.peer << ": launch 2 must not keep launch 1's stamps";
      lagged += o.peer == 1;
    } else {
      // Launch 1: every op (self included) gets first start .. last stop over all
      // channels of the launch.
      EXPECT_FALSE(host) << o.func << " peer " << o.peer;
      self += o.peer == 0;
      EXPECT_EQ(o.dur_ns(), 900'000 - (200'000 + 1)) << o.func << " peer " << o.peer;
    }
  }
  EXPECT_EQ(self, 2);
  EXPECT_EQ(reduces, 2);
  EXPECT_EQ(lagged, 3);  // A's all-reduce + launch 2's two ops to rank 1
  EXPECT_EQ(nvl, 8);
}

// ---- Older NCCL: v1..v4 tables decline with one line per process ----------------
namespace {
// Child: calls init of every older table (the one of `first` first, twice) and checks
// each declines; stderr goes to `log`.
int drive_legacy(const fs::path& so, int first, const fs::path& log) {
  if (!std::freopen(log.c_str(), "w", stderr)) return 50;
  void* h = ::dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) return 51;
  auto call = [&](int v) -> int {
    const std::string sym = "ncclProfiler_v" + std::to_string(v);
    void* t = ::dlsym(h, sym.c_str());
    if (!t) return 52;
    void* ctx = reinterpret_cast<void*>(1);
    int mask = -1;
    ncclResult_t rc;
    if (v == 4) {
      auto* tbl = static_cast<ncclProfiler_v4_t*>(t);
      if (std::strcmp(tbl->name, "moetune") != 0) return 53;
      rc = tbl->init(&ctx, &mask, "comm", 0x99, 1, 2, 0, nullptr);
    } else {
      auto* tbl = static_cast<ncclProfiler_v1_3_t*>(t);
      if (std::strcmp(tbl->name, "moetune") != 0) return 53;
      rc = tbl->init(&ctx, &mask);
    }
    if (rc == 0) return 54;  // must decline so NCCL carries on without us
    if (ctx != nullptr || mask != 0) return 55;
    return 0;
  };
  for (int v : {first, first, 1, 2, 3, 4})
    if (int rc = call(v)) return rc;
  std::fflush(stderr);
  return 0;
}
}  // namespace

TEST_F(NcclPlugin, OlderAbisDeclineWithOneLine) {
  const char* range[] = {"", "2.23", "2.24", "2.25", "2.26-2.27"};
  for (int v = 1; v <= 4; ++v) {
    const fs::path log = dir_ / "legacy.log";
    pid_t pid = ::fork();
    if (pid == 0) std::_Exit(drive_legacy(so_, v, log));
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    ASSERT_EQ(WEXITSTATUS(status), 0) << "v" << v << ": child step failed (code in drive_legacy)";
    std::ifstream in(log);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    ASSERT_EQ(lines.size(), 1u) << "v" << v;
    // No NCCL in this process: the version is the release range of the ABI.
    EXPECT_EQ(lines[0], "moetune: NCCL profiler ABI v" + std::to_string(v) + " (NCCL " + range[v] +
                            ") is not supported; NCCL ops are not captured");
    fs::remove(log);
  }
}
