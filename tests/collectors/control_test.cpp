// SPDX-License-Identifier: Apache-2.0
// Control socket: protocol, private directory, start/stop/status, malformed requests,
// and other users refused (SO_PEERCRED), each through a real Unix socket.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>

#include "moetune/live/control.h"

using namespace moetune::live;

namespace {
struct TempRuntimeDir {
  std::filesystem::path dir;
  TempRuntimeDir() {
    dir = std::filesystem::temp_directory_path() / ("moetune-ctl-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    ::setenv("XDG_RUNTIME_DIR", dir.c_str(), 1);
  }
  ~TempRuntimeDir() {
    ::unsetenv("XDG_RUNTIME_DIR");
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};
}  // namespace

TEST(Control, ProtocolParsing) {
  EXPECT_EQ(parse_request("start\n"), Verb::Start);
  EXPECT_EQ(parse_request("stop"), Verb::Stop);
  EXPECT_EQ(parse_request("status\n"), Verb::Status);
  EXPECT_FALSE(parse_request("START\n"));
  EXPECT_FALSE(parse_request("start now\n"));
  EXPECT_FALSE(parse_request(std::string("sta\x01rt\n")));
  EXPECT_FALSE(parse_request(std::string(80, 'a')));
  auto s = parse_status(format_status({true, 12, 3, 4}));
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->capturing);
  EXPECT_EQ(s->records, 12u);
  EXPECT_EQ(s->dropped, 3u);
  EXPECT_EQ(s->steps, 4u);
  EXPECT_FALSE(parse_status("error malformed"));
}

TEST(Control, PrivateDirectoryAndRoundTrip) {
  TempRuntimeDir tmp;
  std::atomic<bool> capturing{false};
  auto srv = ControlServer::start("test", [&](Verb v) {
    if (v == Verb::Start) capturing = true;
    if (v == Verb::Stop) capturing = false;
    return CaptureStatus{capturing.load(), 5, 0, 1};
  });
  ASSERT_TRUE(srv) << srv.error().message;
  struct stat st{};
  ASSERT_EQ(::stat((tmp.dir / "moetune").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto eps = list_endpoints(::getpid());
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_EQ(eps[0].component, "test");
  auto r = control_request(eps[0].path, "start\n");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "ok capturing=1 records=5 dropped=0 steps=1");
  EXPECT_TRUE(capturing.load());
  r = control_request(eps[0].path, "stop\n");
  ASSERT_TRUE(r);
  EXPECT_FALSE(capturing.load());
  r = control_request(eps[0].path, "rm -rf /\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rfind("error", 0), 0u) << *r;
  r = control_request(eps[0].path, std::string(200, 'x'));  // no newline, too long
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rfind("error", 0), 0u);
  EXPECT_EQ((*srv)->malformed(), 2u);
  (*srv)->stop();
  EXPECT_TRUE(list_endpoints(::getpid()).empty());
}

TEST(Control, RefusesGroupOrWorldAccessibleDirectory) {
  TempRuntimeDir tmp;
  std::filesystem::create_directories(tmp.dir / "moetune");
  ::chmod((tmp.dir / "moetune").c_str(), 0755);
  auto d = control_dir();
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("0700"), std::string::npos);
}

TEST(Control, RefusesOtherUsers) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
  TempRuntimeDir tmp;
  std::atomic<int> calls{0};
  auto srv = ControlServer::start("peer", [&](Verb) {
    ++calls;
    return CaptureStatus{};
  });
  ASSERT_TRUE(srv);
  // Open the path for the test only, so the other uid reaches the peer-credential check.
  ::chmod(tmp.dir.c_str(), 0755);
  ::chmod((tmp.dir / "moetune").c_str(), 0755);
  ::chmod((*srv)->path().c_str(), 0666);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    auto r = control_request((*srv)->path(), "start\n", 1000);
    ::_exit(r ? 1 : 0);  // refused: connection closed without a reply
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(calls.load(), 0);
  EXPECT_EQ((*srv)->refused(), 1u);
}
