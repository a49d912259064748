// SPDX-License-Identifier: Apache-2.0
// Hostile filesystems and peers of the live side (issue 16): a RUN.parts symlink or a
// foreign directory there (record must not delete what it did not make), an empty parts
// directory left behind, a slow control client holding up the others, a control socket
// that never answers (attach must fail loudly), a control directory open to others.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/run_command.h"
#include "moetune/live/control.h"

namespace fs = std::filesystem;
using moetune::test::run_command;

namespace {

const std::string kCli = MOETUNE_CLI;

fs::path fresh_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("moetune_hostile_live_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

int connect_to(const fs::path& sock) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

TEST(HostileLive, RecordNeverDeletesThroughAPartsSymlink) {
  auto d = fresh_dir("parts_symlink");
  fs::create_directories(d / "other");
  std::ofstream(d / "other" / "keep.moetune") << "someone else's run\n";
  fs::create_directory_symlink(d / "other", d / "run.moetune.parts");
  auto r = run_command(kCli + " record -o " + (d / "run.moetune").string() + " -- sh -c 'echo job-ran'");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("job-ran"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("symlink"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(d / "other" / "keep.moetune"));
  EXPECT_TRUE(fs::is_symlink(d / "run.moetune.parts"));
}

TEST(HostileLive, RecordLeavesAForeignPartsDirectoryAlone) {
  auto d = fresh_dir("parts_foreign");
  fs::create_directories(d / "run.moetune.parts");
  std::ofstream(d / "run.moetune.parts" / "notes.moetune") << "not ours\n";
  auto r = run_command(kCli + " record -o " + (d / "run.moetune").string() + " -- true");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("not made by moetune record"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(d / "run.moetune.parts" / "notes.moetune"));
}

TEST(HostileLive, EmptyPartsDirectoryIsRemovedWhenTheJobWroteNothing) {
  auto d = fresh_dir("parts_empty");
  auto r = run_command(kCli + " record -o " + (d / "run.moetune").string() + " -- true");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("wrote no trace"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(d / "run.moetune.parts"));
  // A second record reuses nothing and leaves nothing either.
  auto again = run_command(kCli + " record -o " + (d / "run.moetune").string() + " -- true");
  EXPECT_EQ(again.rc, 0) << again.out;
  EXPECT_FALSE(fs::exists(d / "run.moetune.parts"));
}

namespace {
struct RuntimeDir {
  fs::path dir;
  explicit RuntimeDir(const std::string& name) : dir(fresh_dir(name)) {
    fs::permissions(dir, fs::perms::owner_all);
    ::setenv("XDG_RUNTIME_DIR", dir.c_str(), 1);
  }
  ~RuntimeDir() { ::unsetenv("XDG_RUNTIME_DIR"); }
};
}  // namespace

TEST(HostileLive, SlowControlClientDoesNotHoldUpOthers) {
  RuntimeDir rt("ctl_slow");
  auto srv = moetune::live::ControlServer::start("cupti", [](moetune::live::Verb) {
    return moetune::live::CaptureStatus{true, 1, 0, 0};
  });
  ASSERT_TRUE(srv) << srv.error().message;
  // The slow client: one byte every 0.9 s (the old server read it for ~1 min, one
  // connection at a time).
  int slow = connect_to((*srv)->path());
  ASSERT_GE(slow, 0);
  std::atomic<bool> stop{false};
  std::thread dribble([&] {
    for (int i = 0; i < 6 && !stop; ++i) {
      (void)!::send(slow, "s", 1, MSG_NOSIGNAL);
      for (int k = 0; k < 9 && !stop; ++k) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = moetune::live::control_request((*srv)->path(), "status\n", 3000);
  const auto took = std::chrono::steady_clock::now() - t0;
  stop = true;
  dribble.join();
  ::close(slow);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->rfind("ok capturing=1", 0), 0u) << *r;
  EXPECT_LT(took, std::chrono::milliseconds(700));
  // The slow one is cut off (deadline or its close), counted as malformed.
  for (int i = 0; i < 40 && (*srv)->malformed() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GE((*srv)->malformed(), 1u);
}

TEST(HostileLive, AttachFailsLoudlyWhenTheSocketNeverAnswers) {
  RuntimeDir rt("ctl_mute");
  fs::create_directories(rt.dir / "moetune");
  fs::permissions(rt.dir / "moetune", fs::perms::owner_all);
  // A socket of this (live) process that is listened on but never served.
  const fs::path sock = rt.dir / "moetune" / (std::to_string(::getpid()) + ".cupti.sock");
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  auto r = run_command(kCli + " attach " + std::to_string(::getpid()) + " --status");
  ::close(fd);
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("no reply"), std::string::npos) << r.out;
}

TEST(HostileLive, ControlDirectoryOpenToOthersIsReportedInOneLine) {
  RuntimeDir rt("ctl_open");
  fs::create_directories(rt.dir / "moetune");
  ::chmod((rt.dir / "moetune").c_str(), 0777);
  auto r = run_command(kCli + " attach " + std::to_string(::getpid()));  // not --all: other users of /tmp/moetune-<uid>
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find((rt.dir / "moetune").string() + ": control directory is accessible to others (mode 0777"),
            std::string::npos)
      << r.out;
  int lines = 0;
  for (char c : r.out) lines += c == '\n';
  EXPECT_EQ(lines, 1) << r.out;
  auto srv = moetune::live::ControlServer::start("cupti", [](moetune::live::Verb) {
    return moetune::live::CaptureStatus{};
  });
  EXPECT_FALSE(srv);  // and no server listens in it
}
