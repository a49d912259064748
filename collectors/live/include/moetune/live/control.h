// SPDX-License-Identifier: Apache-2.0
// Control socket of an armed process (attach). Each collector module of a process
// listens on its own Unix stream socket
//   $XDG_RUNTIME_DIR/moetune/<pid>.<component>.sock
// when XDG_RUNTIME_DIR names an existing directory of this user, else
//   /tmp/moetune-<uid>/<pid>.<component>.sock
// in a directory created with mode 0700 (refused if it exists with other owner/mode).
// Clients (attach) look in both, so a job started without XDG_RUNTIME_DIR (batch,
// container) is found from a login shell that has one, and the reverse.
// Every connection's peer uid is checked with SO_PEERCRED: other users are refused,
// logged on stderr, and the connection closed.
//
// Protocol (text, one request per connection):
//   request : one line "start\n" | "stop\n" | "status\n" (at most 64 bytes incl. \n)
//   reply   : one line "ok capturing=0|1 records=N dropped=N steps=N\n"
//             or "error <reason>\n" (malformed: too long, no newline within 1 s of
//             connecting, non-printable bytes, unknown verb). Up to 16 connections
//             are served at once, each with its own 1 s deadline.
// No network listener exists; nothing but these three verbs is understood.
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "moetune/trace/result.h"

namespace moetune::live {

enum class Verb { Start, Stop, Status };

// Parses one request line (with or without the trailing newline); nullopt if malformed.
std::optional<Verb> parse_request(std::string_view line);

struct CaptureStatus {
  bool capturing = false;
  std::uint64_t records = 0, dropped = 0, steps = 0;
};
std::string format_status(const CaptureStatus& s);
// Parses an "ok ..." reply; nullopt for "error ..." or garbage.
std::optional<CaptureStatus> parse_status(std::string_view reply);

// The private socket directory servers listen in, created 0700 if missing. Error if
// it is not ours or is accessible to others.
Expected<std::filesystem::path> control_dir();
// One line per control directory that exists but cannot be used (another owner, a
// symlink, open to others); empty when all is well.
std::vector<std::string> control_dir_problems();
// Every directory clients search, in order ($XDG_RUNTIME_DIR/moetune if usable, then
// /tmp/moetune-<uid>); none is created.
std::vector<std::filesystem::path> control_dirs();

// Serves requests on a thread until stop(). The handler runs on that thread.
class ControlServer {
 public:
  using Handler = std::function<CaptureStatus(Verb)>;
  static Expected<std::unique_ptr<ControlServer>> start(std::string_view component, Handler h);
  ~ControlServer();
  void stop();
  const std::filesystem::path& path() const { return path_; }
  std::uint64_t refused() const { return refused_.load(); }
  std::uint64_t malformed() const { return malformed_.load(); }

 private:
  ControlServer() = default;
  void loop();
  bool peer_allowed(int fd);
  void serve(int fd, const char* buf, std::size_t n);
  int listen_fd_ = -1, wake_[2] = {-1, -1};
  std::filesystem::path path_;
  Handler handler_;
  std::atomic<std::uint64_t> refused_{0}, malformed_{0};
  std::thread t_;
};

struct Endpoint {
  long pid = 0;
  std::string component;
  std::filesystem::path path;
};
// Sockets of live processes of this user (pid < 0: all) in control_dirs(). Stale ones
// (dead pid) are removed and skipped.
std::vector<Endpoint> list_endpoints(long pid = -1);
// Sends one raw request text and returns the reply line (without newline).
Expected<std::string> control_request(const std::filesystem::path& sock, std::string_view request,
                                      int timeout_ms = 2000);

}  // namespace moetune::live
