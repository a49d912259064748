// SPDX-License-Identifier: Apache-2.0
#include "moetune/live/control.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace moetune::live {

std::optional<Verb> parse_request(std::string_view line) {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  if (line.size() > 63) return std::nullopt;
  for (char c : line)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) return std::nullopt;
  if (line == "start") return Verb::Start;
  if (line == "stop") return Verb::Stop;
  if (line == "status") return Verb::Status;
  return std::nullopt;
}

std::string format_status(const CaptureStatus& s) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "ok capturing=%d records=%llu dropped=%llu steps=%llu", s.capturing ? 1 : 0,
                static_cast<unsigned long long>(s.records), static_cast<unsigned long long>(s.dropped),
                static_cast<unsigned long long>(s.steps));
  return buf;
}

std::optional<CaptureStatus> parse_status(std::string_view reply) {
  int cap = 0;
  unsigned long long rec = 0, drop = 0, steps = 0;
  std::string r(reply);
  if (std::sscanf(r.c_str(), "ok capturing=%d records=%llu dropped=%llu steps=%llu", &cap, &rec, &drop, &steps) != 4)
    return std::nullopt;
  return CaptureStatus{cap != 0, rec, drop, steps};
}

namespace {

// $XDG_RUNTIME_DIR when it names an existing directory of ours (pam_systemd makes it;
// containers and batch jobs often have it unset, or set to a directory that does not
// exist there); else empty.
std::filesystem::path usable_xdg() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (!xdg || !*xdg) return {};
  struct stat st{};
  if (::stat(xdg, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid()) return {};
  return xdg;
}

std::filesystem::path tmp_dir() { return "/tmp/moetune-" + std::to_string(::getuid()); }

// Ours, a directory, and closed to others.
Expected<std::filesystem::path> check_private(const std::filesystem::path& dir) {
  struct stat st{};
  if (::lstat(dir.c_str(), &st) != 0) return Error{dir.string() + ": " + std::strerror(errno)};
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::getuid())
    return Error{dir.string() + ": control directory is not a directory owned by this user (owner uid " +
                 std::to_string(st.st_uid) + "); remove it or set XDG_RUNTIME_DIR"};
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Error{dir.string() + ": control directory is accessible to others (mode " + mode + ", want 0700)"};
  }
  return dir;
}

}  // namespace

std::vector<std::filesystem::path> control_dirs() {
  std::vector<std::filesystem::path> out;
  if (auto x = usable_xdg(); !x.empty()) out.push_back(x / "moetune");
  out.push_back(tmp_dir());
  return out;
}

Expected<std::filesystem::path> control_dir() {
  auto x = usable_xdg();
  std::filesystem::path dir = x.empty() ? tmp_dir() : x / "moetune";
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return Error{dir.string() + ": cannot create control directory: " + std::strerror(errno)};
  return check_private(dir);
}

Expected<std::unique_ptr<ControlServer>> ControlServer::start(std::string_view component, Handler h) {
  auto dir = control_dir();
  if (!dir) return dir.error();
  std::unique_ptr<ControlServer> s(new ControlServer());
  s->handler_ = std::move(h);
  s->path_ = *dir / (std::to_string(::getpid()) + "." + std::string(component) + ".sock");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (s->path_.string().size() >= sizeof addr.sun_path) return Error{s->path_.string() + ": socket path too long"};
  std::strcpy(addr.sun_path, s->path_.c_str());
  ::unlink(s->path_.c_str());
  s->listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->listen_fd_ < 0) return Error{std::string("control socket: ") + std::strerror(errno)};
  if (::bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(s->listen_fd_, 8) != 0)
    return Error{s->path_.string() + ": cannot listen: " + std::strerror(errno)};
  ::chmod(s->path_.c_str(), 0600);
  if (::pipe2(s->wake_, O_CLOEXEC) != 0) return Error{std::string("control pipe: ") + std::strerror(errno)};
  s->t_ = std::thread([raw = s.get()] { raw->loop(); });
  return s;
}

ControlServer::~ControlServer() { stop(); }

void ControlServer::stop() {
  if (t_.joinable()) {
    char c = 'x';
    (void)!::write(wake_[1], &c, 1);
    t_.join();
  }
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    ::unlink(path_.c_str());
    listen_fd_ = -1;
  }
  for (int& fd : wake_)
    if (fd >= 0) ::close(fd), fd = -1;
}

// Serves up to kMaxConns connections at once from one poll loop. Each has one deadline
// for its whole request (kRequestMs from accept), not per read: a client sending a byte
// every 0.9 s is cut off after 1 s and never holds up the others.
void ControlServer::loop() {
  // Block signals on this thread so the job's handlers run on its own threads.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  constexpr int kMaxConns = 16, kRequestMs = 1000;
  struct Conn {
    int fd;
    std::chrono::steady_clock::time_point deadline;
    char buf[65];
    std::size_t n = 0;
  };
  std::vector<Conn> conns;
  auto finish = [&](std::size_t i) {
    serve(conns[i].fd, conns[i].buf, conns[i].n);
    ::close(conns[i].fd);
    conns.erase(conns.begin() + static_cast<std::ptrdiff_t>(i));
  };
  for (;;) {
    std::vector<pollfd> p = {{wake_[0], POLLIN, 0},
                             {listen_fd_, static_cast<short>(conns.size() < kMaxConns ? POLLIN : 0), 0}};
    for (const auto& c : conns) p.push_back({c.fd, POLLIN, 0});
    int timeout = -1;
    const auto now = std::chrono::steady_clock::now();
    for (const auto& c : conns) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(c.deadline - now).count();
      timeout = timeout < 0 ? static_cast<int>(std::max<long long>(left, 0))
                            : std::min(timeout, static_cast<int>(std::max<long long>(left, 0)));
    }
    if (::poll(p.data(), p.size(), timeout) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[0].revents) {
      for (auto& c : conns) ::close(c.fd);
      return;
    }
    // Reads (from the back, so erasing keeps the indices of the rest valid).
    for (std::size_t i = conns.size(); i-- > 0;) {
      auto& c = conns[i];
      bool done = std::chrono::steady_clock::now() >= c.deadline;
      if (p[i + 2].revents) {
        ssize_t r = ::read(c.fd, c.buf + c.n, 64 - c.n);
        if (r <= 0) done = true;
        else {
          for (ssize_t k = 0; k < r; ++k)
            if (c.buf[c.n + static_cast<std::size_t>(k)] == '\n') done = true;
          c.n += static_cast<std::size_t>(r);
          if (c.n >= 64) done = true;
        }
      }
      if (done) finish(i);
    }
    if (p[1].revents & POLLIN) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd >= 0) {
        if (peer_allowed(fd)) {
          conns.push_back(Conn{fd, std::chrono::steady_clock::now() + std::chrono::milliseconds(kRequestMs), {}, 0});
        } else {
          ::close(fd);
        }
      }
    }
  }
}

bool ControlServer::peer_allowed(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == ::getuid()) return true;
  ++refused_;
  std::fprintf(stderr, "moetune: refused control connection from uid %u (pid %d) on %s\n",
               static_cast<unsigned>(cred.uid), static_cast<int>(cred.pid), path_.c_str());
  return false;
}

void ControlServer::serve(int fd, const char* buf, std::size_t n) {
  std::string_view sv(buf, n);
  std::string reply;
  std::optional<Verb> v;
  if (auto nl = sv.find('\n'); nl != std::string_view::npos) v = parse_request(sv.substr(0, nl + 1));
  if (!v) {
    ++malformed_;
    reply = "error malformed request (want start|stop|status and a newline within 1 s, <= 64 bytes)\n";
  } else {
    reply = format_status(handler_(*v)) + "\n";
  }
  (void)!::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

std::vector<std::string> control_dir_problems() {
  std::vector<std::string> out;
  for (const auto& d : control_dirs()) {
    struct stat st {};
    if (::lstat(d.c_str(), &st) != 0) continue;  // absent: nothing wrong
    if (auto c = check_private(d); !c) out.push_back(c.error().message);
  }
  return out;
}

std::vector<Endpoint> list_endpoints(long pid) {
  std::vector<Endpoint> out;
  for (const auto& d : control_dirs()) {
    auto dir = check_private(d);  // never create here: a client only looks
    if (!dir) continue;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(*dir, ec)) {
      std::string name = e.path().filename().string();
      auto dot = name.find('.');
      if (dot == std::string::npos || name.size() < 5 || name.substr(name.size() - 5) != ".sock") continue;
      char* end = nullptr;
      long p = std::strtol(name.c_str(), &end, 10);
      if (end != name.c_str() + dot || p <= 0) continue;
      if (pid >= 0 && p != pid) continue;
      if (::kill(static_cast<pid_t>(p), 0) != 0 && errno == ESRCH) {
        std::filesystem::remove(e.path(), ec);  // stale socket of a dead process
        continue;
      }
      out.push_back({p, name.substr(dot + 1, name.size() - 5 - dot - 1), e.path()});
    }
  }
  return out;
}

Expected<std::string> control_request(const std::filesystem::path& sock, std::string_view request, int timeout_ms) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{sock.string() + ": " + std::strerror(errno)};
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::string e = std::strerror(errno);
    ::close(fd);
    return Error{sock.string() + ": cannot connect: " + e};
  }
  (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string reply;
  char buf[256];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) break;
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r <= 0) break;
    reply.append(buf, static_cast<std::size_t>(r));
    if (reply.find('\n') != std::string::npos) break;
  }
  ::close(fd);
  if (auto nl = reply.find('\n'); nl != std::string::npos) reply.resize(nl);
  if (reply.empty()) return Error{sock.string() + ": no reply"};
  return reply;
}

}  // namespace moetune::live
