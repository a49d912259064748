// SPDX-License-Identifier: Apache-2.0
// CLI behaviour of record / merge / attach that needs no GPU: exit status passes
// through, an unwritable output directory, a full disk (file size limit) or a collector
// library that cannot load leave the job running with one warning, bad usage exits 2
// with one line, merge of the recorded fixtures works.
#include <gtest/gtest.h>

#include "common/run_command.h"
#include "common/text.h"
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>

#include "common/expect_rows.h"
#include "moetune/live/control.h"
#include "moetune/live/part_writer.h"
#include "moetune/live/rank_env.h"
#include "moetune/live/record_ring.h"
#include "moetune/trace/reader.h"

namespace fs = std::filesystem;

namespace {
struct Result {
  int code;
  std::string out;
};
Result sh(const std::string& cmd) {
  auto c = moetune::test::run_command(cmd);
  return Result{c.rc, std::move(c.out)};
}
const std::string cli = MOETUNE_CLI;
}  // namespace

TEST(RecordCli, PassesExitStatusThrough) {
  auto out = fs::temp_directory_path() / ("moetune-rec-" + std::to_string(::getpid()) + ".moetune");
  auto r = sh(cli + " record -o " + out.string() + " -- sh -c 'exit 3'");
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_FALSE(fs::exists(out));  // no CUDA/NCCL use: nothing to write, said once
  EXPECT_NE(r.out.find("wrote no trace"), std::string::npos) << r.out;
  fs::remove_all(out.string() + ".parts");
}

TEST(RecordCli, UnwritableOutputRunsTheJobWithOneWarning) {
  auto r = sh(cli + " record -o /proc/moetune-nope/run.moetune -- sh -c 'echo job-ran; exit 4'");
  EXPECT_EQ(r.code, 4);
  EXPECT_NE(r.out.find("job-ran"), std::string::npos);
  EXPECT_NE(r.out.find("moetune: warning: cannot write"), std::string::npos) << r.out;
}

TEST(RecordCli, BadUsageExitsTwoWithOneLine) {
  auto r = sh(cli + " record -o x.moetune --what cuda,gpu -- true");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("unknown collector 'gpu'"), std::string::npos) << r.out;
  r = sh(cli + " attach 999999999");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("no moetune control socket"), std::string::npos) << r.out;
  r = sh(cli + " attach 1 --duration 5parsecs");
  EXPECT_EQ(r.code, 2);
  r = sh(cli + " merge /nonexistent.moetune -o /tmp/x.moetune");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("/nonexistent.moetune: no such file"), std::string::npos) << r.out;
}

TEST(RecordCli, MergesRecordedRunsIntoOne) {
  auto out = fs::temp_directory_path() / ("moetune-merged-" + std::to_string(::getpid()) + ".moetune");
  std::string data = std::string(MOETUNE_TEST_DATA) + "/recorded/";
  auto r = sh(cli + " merge " + data + "client2.moetune -o " + out.string() + " --force");
  ASSERT_EQ(r.code, 0) << r.out;
  auto a = moetune::TraceReader::open(data + "client2.moetune");
  auto b = moetune::TraceReader::open(out);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(moetune::test::rows((*b)->ranks()).size(), 2u);
  for (const char* t : {"kernels", "nvtx", "nccl_ops", "steps", "expert_routing"})
    EXPECT_EQ(moetune::test::rows((*a)->counts()).get(t), moetune::test::rows((*b)->counts()).get(t)) << t;
  fs::remove(out);
}

// ---- attach to a job started by `record --armed`, the path tests/gpu/run_device.sh
// takes on the device (record -> job; attach PID --status/--duration/--steps), with a
// host process standing in for the GPU job: it serves the control socket the way the
// CUDA collector does and counts a "step" every 20 ms while capturing.
namespace {
// Parent of `pid` from /proc/PID/stat ("pid (comm) state ppid ...").
long parent_of(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto rp = s.rfind(')');
  if (rp == std::string::npos) return -1;
  char state = 0;
  long ppid = -1;
  if (std::sscanf(s.c_str() + rp + 1, " %c %ld", &state, &ppid) != 2) return -1;
  return ppid;
}
long child_of(long ppid) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    char* end = nullptr;
    long p = std::strtol(e.path().filename().c_str(), &end, 10);
    if (*end == '\0' && p > 0 && parent_of(p) == ppid) return p;
  }
  return -1;
}
}  // namespace

// The stand-in job (runs only inside the attach test, as the command under record).
TEST(ArmedHost, Serve) {
  const char* stop_file = std::getenv("MOETUNE_ARMED_HOST_STOP");
  if (!stop_file) GTEST_SKIP() << "helper for RecordCli.AttachToArmedJob";
  std::atomic<bool> capturing{false};
  std::atomic<std::uint64_t> steps{0};
  auto srv = moetune::live::ControlServer::start("cupti", [&](moetune::live::Verb v) {
    if (v == moetune::live::Verb::Start) capturing = true;
    if (v == moetune::live::Verb::Stop) capturing = false;
    return moetune::live::CaptureStatus{capturing.load(), steps.load() * 10, 0, steps.load()};
  });
  ASSERT_TRUE(srv) << srv.error().message;
  for (int i = 0; i < 1500 && !fs::exists(stop_file); ++i) {  // <= 30 s
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (capturing) ++steps;
  }
}

TEST(RecordCli, AttachToArmedJob) {
  const fs::path tmp = fs::temp_directory_path() / ("moetune-attach-" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::create_directories(tmp / "xdg");
  ::chmod((tmp / "xdg").c_str(), 0700);
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  // Case 1: XDG_RUNTIME_DIR names a directory that does not exist (containers, batch
  // jobs): job and attach both fall back to /tmp/moetune-UID.
  // Case 2: the job has no XDG_RUNTIME_DIR, attach runs from a shell that has one:
  // attach still finds the job's socket under /tmp/moetune-UID.
  struct Case {
    const char *job_xdg, *attach_xdg;
  };
  const std::string real_xdg = (tmp / "xdg").string();
  const Case cases[] = {{"/nonexistent/moetune-xdg", "/nonexistent/moetune-xdg"}, {"", real_xdg.c_str()}};
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string("job XDG_RUNTIME_DIR='") + c.job_xdg + "'");
    const fs::path stop = tmp / "stop";
    fs::remove(stop);
    pid_t rec = ::fork();
    if (rec == 0) {
      if (*c.job_xdg) ::setenv("XDG_RUNTIME_DIR", c.job_xdg, 1);
      else ::unsetenv("XDG_RUNTIME_DIR");
      ::setenv("MOETUNE_ARMED_HOST_STOP", stop.c_str(), 1);
      ::setenv("RANK", "0", 1);
      std::string out = (tmp / "run.moetune").string();
      ::execl(MOETUNE_CLI, MOETUNE_CLI, "record", "--armed", "--force", "-o", out.c_str(), "--", self.c_str(),
              "--gtest_filter=ArmedHost.Serve", static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    // The job is record's child; wait for it and for its socket (it starts at once).
    long job = -1;
    std::string attach;
    Result st{1, ""};
    for (int i = 0; i < 100 && st.code != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (job < 0) job = child_of(rec);
      if (job < 0) continue;
      attach = "XDG_RUNTIME_DIR=" + std::string(c.attach_xdg) + " " + cli + " attach " + std::to_string(job);
      st = sh(attach + " --status");
    }
    ASSERT_GT(job, 0);
    EXPECT_EQ(st.code, 0) << st.out;
    EXPECT_NE(st.out.find("capturing=0"), std::string::npos) << st.out;
    auto d = sh(attach + " --duration 300ms");
    EXPECT_EQ(d.code, 0) << d.out;
    auto s = sh(attach + " --steps 5");
    EXPECT_EQ(s.code, 0) << s.out;
    auto after = sh(attach + " --status");
    EXPECT_NE(after.out.find("capturing=0"), std::string::npos) << after.out;
    auto status = moetune::live::parse_status(after.out.substr(after.out.find("ok ")));
    ASSERT_TRUE(status) << after.out;
    EXPECT_GE(status->steps, 5u);  // captured through --duration and then >= 5 more steps
    std::ofstream(stop) << "x";
    int ws = 0;
    ::waitpid(rec, &ws, 0);
    EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
  }
  // A pid without a socket: exit 2 and one line that says where it looked.
  auto none = sh("XDG_RUNTIME_DIR=" + real_xdg + " " + cli + " attach " + std::to_string(::getpid()));
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.out.find("/tmp/moetune-" + std::to_string(::getuid())), std::string::npos) << none.out;
  fs::remove_all(tmp);
}

// ---- full disk under `moetune record`: `ulimit -f` (RLIMIT_FSIZE) on record and its
// job, the job being a host stand-in that writes a part file the way a collector does
// (PartWriter at MOETUNE_OUTPUT, rank row, many kernel rows) with SIGXFSZ left at its
// default action, as a real job has it.
namespace {
using moetune::test::count_lines_with;
}  // namespace

TEST(PartHost, WriteUntilFull) {
  const char* out = std::getenv("MOETUNE_OUTPUT");
  if (!std::getenv("MOETUNE_PART_HOST") || !out) GTEST_SKIP() << "helper for RecordCli.FullDisk*";
  const int rank = moetune::live::rank_from_env();
  auto path = moetune::live::expand_pattern(out, rank, static_cast<long>(::getpid()), moetune::live::host_name()) +
              ".cupti.moetune";
  moetune::live::RecordRing<std::int64_t> ring(1 << 14);
  auto w = moetune::live::PartWriter::open(path, [&](moetune::TraceWriter& tw) {
    static moetune::StringId name = tw.intern("kernel_with_a_name_long_enough_to_matter");
    std::vector<std::int64_t> batch(4096);
    for (int b = 0; b < 4; ++b)
      if (std::size_t n = ring.pop(batch))
        for (std::size_t i = 0; i < n; ++i) {
          moetune::KernelRow k;
          k.rank = moetune::RankId(rank < 0 ? 0 : rank);
          k.stream = moetune::StreamId(7);
          k.start_ns = 1'000'000 + batch[i] * 1000;
          k.dur_ns = 500;
          k.name = name;
          k.correlation = batch[i];
          tw.add(k);
        }
  }, nullptr, 10);
  ASSERT_TRUE(w) << w.error().message;
  (*w)->with_writer([&](moetune::TraceWriter& tw) {
    moetune::RankRow r;
    r.rank = moetune::RankId(rank < 0 ? 0 : rank);
    r.host = moetune::live::host_name();
    r.pid = ::getpid();
    r.source = "cupti";
    tw.add(r);
  });
  const std::int64_t total = std::strtoll(std::getenv("MOETUNE_PART_HOST"), nullptr, 10);
  for (std::int64_t i = 0; i < total; ++i) {
    (void)ring.push(i);  // like a collector: a full ring drops
    if (i % 2000 == 0) {
      (*w)->kick();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  EXPECT_TRUE((*w)->stop());  // an error seen while running was reported by the warning
}

namespace {
// A real shared object to stand in for a collector library that loads (libsqlite3 as
// mapped into this process), or "" when there is none.
std::string loadable_stand_in() {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);)
    if (auto p = line.find('/'); p != std::string::npos && line.find("libsqlite3.so") != std::string::npos)
      return line.substr(p);
  return {};
}
}  // namespace

// Case "part full, run fits": the job is limited to 1 MiB, record to 16 MiB: the job's
// part stops at its limit (one warning, from the job), record merges what was committed
// into a readable run. Case "disk full for both": record too is limited to 1 MiB: it
// cannot write the run, says so in one line of its own and keeps the readable parts;
// no temporary is left. Either way the job's exit status (5) passes through.
TEST(RecordCli, FullDiskPassesExitStatusWithOneWarningAndLeavesReadableFiles) {
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  const std::int64_t total = 200'000;  // ~4 MiB as a part; a fresh part's schema alone takes ~0.3 MiB of WAL
  struct Case {
    const char* name;
    int record_kb;
    bool run_fits;
  };
  for (const Case& c : {Case{"part full, run fits", 16384, true}, Case{"disk full for both", 1024, false}}) {
    SCOPED_TRACE(c.name);
    const fs::path dir = fs::temp_directory_path() / ("moetune-full-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir / "lib");
    // Collector libraries that load (the job makes no CUDA/NCCL call): no warnings
    // about this machine's missing libcuda in the output counted below.
    const std::string real = loadable_stand_in();
    for (const char* lib : {"libmoetune_cupti.so", "libmoetune_nccl.so"})
      if (!real.empty()) fs::copy_file(real, dir / "lib" / lib);
    {
      std::ofstream job(dir / "job.sh");  // exit 5 if the stand-in's own checks passed
      job << "ulimit -f 1024\n\"" << self << "\" --gtest_filter=PartHost.WriteUntilFull >/dev/null || exit 1\nexit 5\n";
    }
    const fs::path run = dir / "run.moetune";
    auto r = sh("MOETUNE_LIB_DIR=" + (dir / "lib").string() + " MOETUNE_PART_HOST=" + std::to_string(total) +
                " RANK=0 bash -c 'ulimit -f " + std::to_string(c.record_kb) + "; exec " + cli + " record -o " +
                run.string() + " -- sh " + (dir / "job.sh").string() + "'");
    std::printf("[ info     ] %s: record said:\n%s", c.name, r.out.c_str());
    EXPECT_EQ(r.code, 5) << r.out;
    const int expected_warnings = c.run_fits ? 1 : 2;
    // Without a stand-in, lines about this machine's collector libraries may come too.
    const int lib_lines = count_lines_with(r.out, "no CUDA/NVTX capture") + count_lines_with(r.out, "no NCCL capture");
    if (!real.empty()) {
      EXPECT_EQ(lib_lines, 0) << r.out;
    }
    EXPECT_EQ(count_lines_with(r.out, "warning") - lib_lines, expected_warnings) << r.out;
    EXPECT_EQ(count_lines_with(r.out, ".cupti.moetune: write failed: "), 1) << r.out;
    EXPECT_EQ(count_lines_with(r.out, "capture stopped"), 1) << r.out;
    EXPECT_EQ(count_lines_with(r.out, run.string() + ": write failed: "), c.run_fits ? 0 : 1) << r.out;
    for (const auto& e : fs::recursive_directory_iterator(dir))
      EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << "half-written: " << e.path();
    std::int64_t kernels = 0;
    EXPECT_EQ(fs::exists(run), c.run_fits);
    if (fs::exists(run)) {
      auto rd = moetune::TraceReader::open(run);
      ASSERT_TRUE(rd) << rd.error().message;
      kernels = moetune::test::rows((*rd)->counts()).get("kernels");
      EXPECT_EQ(moetune::test::rows((*rd)->meta())["exit_status"], "5");
      EXPECT_EQ(moetune::test::rows((*rd)->ranks()).size(), 1u);
    } else {
      EXPECT_NE(count_lines_with(r.out, "per-process files kept in " + run.string() + ".parts"), 0) << r.out;
      int parts = 0;
      for (const auto& p : fs::directory_iterator(run.string() + ".parts")) {
        if (p.path().extension() != ".moetune") continue;
        auto rd = moetune::TraceReader::open(p.path());
        ASSERT_TRUE(rd) << rd.error().message;
        kernels += moetune::test::rows((*rd)->counts()).get("kernels");
        ++parts;
      }
      EXPECT_EQ(parts, 1);
    }
    std::printf("[ measure  ] %s: %lld of %lld kernel rows kept\n", c.name, static_cast<long long>(kernels),
                static_cast<long long>(total));
    EXPECT_GT(kernels, 0);
    EXPECT_LT(kernels, total);
    fs::remove_all(dir);
  }
}

// ---- a collector library that is there but cannot be loaded (here: not an ELF file;
// on a real machine: libcupti.so.13 / libcuda.so.1 missing): the job runs with its own
// status, one warning per library, and is not given the injection variables.
TEST(RecordCli, CollectorThatCannotLoadIsNotInjected) {
  const fs::path dir = fs::temp_directory_path() / ("moetune-badlib-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* lib : {"libmoetune_cupti.so", "libmoetune_nccl.so"})
    std::ofstream(dir / lib) << "not a shared object\n";
  const std::string job =
      " -- sh -c 'echo \"cuda=[${CUDA_INJECTION64_PATH-unset}] nvtx=[${NVTX_INJECTION64_PATH-unset}] "
      "nccl=[${NCCL_PROFILER_PLUGIN-unset}]\"; exit 3'";
  const std::string env = "env -u CUDA_INJECTION64_PATH -u NVTX_INJECTION64_PATH -u NCCL_PROFILER_PLUGIN MOETUNE_LIB_DIR=";
  auto r = sh(env + dir.string() + " " + cli + " record -o " + (dir / "run.moetune").string() + job);
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("cuda=[unset] nvtx=[unset] nccl=[unset]"), std::string::npos) << r.out;
  for (const auto& [lib, what] : {std::pair<std::string, std::string>{"libmoetune_cupti.so", "; no CUDA/NVTX capture"},
                                  {"libmoetune_nccl.so", "; no NCCL capture"}}) {
    EXPECT_EQ(count_lines_with(r.out, "moetune: warning: cannot load " + (dir / lib).string() + " ("), 1) << r.out;
    EXPECT_EQ(count_lines_with(r.out, (dir / lib).string()), 1) << r.out;  // one line names it
    EXPECT_EQ(count_lines_with(r.out, what), 1) << r.out;
  }
  // Control: a library that does load (any real shared object under the collector's
  // name; the job here makes no CUDA/NCCL call) is injected as before.
  const std::string real = loadable_stand_in();
  if (real.empty()) GTEST_SKIP() << "no shared libsqlite3 mapped to use as a loadable stand-in";
  fs::copy_file(real, dir / "libmoetune_cupti.so", fs::copy_options::overwrite_existing);
  fs::copy_file(real, dir / "libmoetune_nccl.so", fs::copy_options::overwrite_existing);
  r = sh(env + dir.string() + " " + cli + " record -o " + (dir / "run2.moetune").string() + job);
  EXPECT_EQ(r.code, 3) << r.out;
  const auto cupti = fs::canonical(dir / "libmoetune_cupti.so").string();
  const auto nccl = fs::canonical(dir / "libmoetune_nccl.so").string();
  EXPECT_NE(r.out.find("cuda=[" + cupti + "] nvtx=[" + cupti + "] nccl=[" + nccl + "]"), std::string::npos) << r.out;
  EXPECT_EQ(count_lines_with(r.out, "cannot load"), 0) << r.out;
  fs::remove_all(dir);
}
