// SPDX-License-Identifier: Apache-2.0
// CLI behaviour of record / merge / attach that needs no GPU: exit status passes
// through, an unwritable output directory leaves the job running with one warning,
// bad usage exits 2 with one line, merge of the recorded fixtures works.
#include <gtest/gtest.h>

#include "common/run_command.h"
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
#include <string>

#include "moetune/live/control.h"
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
  EXPECT_EQ((*b)->ranks().size(), 2u);
  for (const char* t : {"kernels", "nvtx", "nccl_ops", "steps", "expert_routing"})
    EXPECT_EQ((*a)->counts().get(t), (*b)->counts().get(t)) << t;
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
