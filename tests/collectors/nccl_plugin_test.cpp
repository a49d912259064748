// SPDX-License-Identifier: Apache-2.0
// The built libmoetune_nccl.so driven the way NCCL 2.28 drives it (dlopen, dlsym
// "ncclProfiler_v5", init with a live mask, Coll/P2p/KernelCh/ProxyOp events), in a
// child process that then exits so the plugin finishes its part file. Covers: armed
// mask 0 until attach's "start", op completion from KernelCh after the host stop,
// GPU times from KernelCh, P2P sequence numbers per peer, foreign (PXN) proxy ops
// ignored, NULL contexts and handles tolerated.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "../../collectors/nccl/include/moetune/nccl/profiler_v5_abi.h"
#include "moetune/live/control.h"
#include "moetune/live/merge.h"
#include "moetune/trace/reader.h"

using namespace moetune;
namespace fs = std::filesystem;

namespace {
fs::path plugin_path() { return fs::path(MOETUNE_CLI).parent_path().parent_path() / "collectors/nccl/libmoetune_nccl.so"; }

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

TEST(NcclPlugin, DrivenLikeNccl) {
  auto so = plugin_path();
  if (!fs::exists(so)) GTEST_SKIP() << so << " not built (MOETUNE_WITH_CUDA=OFF)";
  fs::path dir = fs::temp_directory_path() / ("moetune-nccl-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "rt");
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setenv("XDG_RUNTIME_DIR", (dir / "rt").c_str(), 1);
    ::setenv("MOETUNE_OUTPUT", (dir / "r%r-%p").c_str(), 1);
    ::setenv("MOETUNE_ARMED", "1", 1);
    ::setenv("RANK", "0", 1);
    std::exit(drive_plugin(so));  // exit(): the plugin's atexit handler finishes the file
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0) << "child step failed (code in drive_plugin)";
  auto parts = live::find_parts(dir);
  ASSERT_EQ(parts.size(), 1u);
  auto rd = TraceReader::open(parts[0]);
  ASSERT_TRUE(rd) << rd.error().message;
  auto ops = (*rd)->nccl_ops();
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
  for (const auto& s : (*rd)->stats()) stats[s.name] = s.value;
  EXPECT_EQ(stats["nccl_foreign_proxy_ops"], 1);
  EXPECT_EQ(stats["nccl_ops"], 3);
  EXPECT_EQ(stats["nccl_ops_without_all_channels"], 0);
  fs::remove_all(dir);
}
