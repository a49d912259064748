// SPDX-License-Identifier: Apache-2.0
#include "moetune/trace/safe_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace moetune {

namespace fs = std::filesystem;

std::string describe_errno(const fs::path& path, const std::string& what, int err) {
  return path.string() + ": " + what + ": " + (err ? std::strerror(err) : "unknown error");
}

namespace {

fs::path dir_of(const fs::path& p) { return p.has_parent_path() ? p.parent_path() : fs::path("."); }

void fsync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

// Signal cleanup table: fixed slots, no allocation in the handler.
constexpr int kSlots = 32;
constexpr std::size_t kPathMax = 4096;
struct Slot {
  std::atomic<int> state{0};  // 0 free, 1 in use (path valid), 2 being written
  char path[kPathMax];
};
std::array<Slot, kSlots> g_slots;

void on_signal(int sig) {
  for (auto& s : g_slots)
    if (s.state.load() == 1) ::unlink(s.path);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

std::atomic<unsigned> g_counter{0};

}  // namespace

void install_temp_cleanup() {
  static std::atomic<bool> done{false};
  if (done.exchange(true)) return;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;  // nohup: keep ignoring
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, nullptr);
  }
}

void register_temp(const fs::path& p) {
  const std::string s = p.string();
  if (s.size() >= kPathMax) return;
  for (auto& slot : g_slots) {
    int expect = 0;
    if (!slot.state.compare_exchange_strong(expect, 2)) continue;
    std::memcpy(slot.path, s.c_str(), s.size() + 1);
    slot.state.store(1);
    return;
  }
}

void unregister_temp(const fs::path& p) {
  const std::string s = p.string();
  for (auto& slot : g_slots)
    if (slot.state.load() == 1 && s == slot.path) {
      slot.state.store(0);
      return;
    }
}

Expected<void> check_output(const fs::path& path, bool force) {
  struct stat st {};
  if (!force && ::lstat(path.c_str(), &st) == 0) return Error{path.string() + ": exists (pass --force to overwrite)"};
  if (force && ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return Error{path.string() + ": is a directory"};
  return {};
}

Expected<TempFile> TempFile::create(const fs::path& target) {
  const fs::path dir = dir_of(target);
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path tmp = dir / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                          std::to_string(g_counter.fetch_add(1)));
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      return Error{describe_errno(target, "cannot create a temporary file in " + dir.string(), errno)};
    }
    ::close(fd);
    register_temp(tmp);
    return TempFile(tmp, target);
  }
  return Error{target.string() + ": cannot create a temporary file (too many left over)"};
}

TempFile::TempFile(TempFile&& o) noexcept : tmp_(std::move(o.tmp_)), target_(std::move(o.target_)), done_(o.done_) {
  o.done_ = true;
}

TempFile::~TempFile() {
  if (done_) return;
  unregister_temp(tmp_);
  ::unlink(tmp_.c_str());
}

Expected<void> TempFile::commit(bool force) {
  done_ = true;
  return commit_temp(tmp_, target_, force);
}

Expected<void> commit_temp(const fs::path& tmp, const fs::path& target, bool force) {
  auto fail = [&](const std::string& msg) -> Expected<void> {
    unregister_temp(tmp);
    ::unlink(tmp.c_str());
    return Error{msg};
  };
  int fd = ::open(tmp.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return fail(describe_errno(target, "temporary file vanished", errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return fail(describe_errno(target, "write failed (fsync)", err));
  if (force) {
    struct stat st {};
    if (::lstat(target.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return fail(target.string() + ": is a directory");
    if (::rename(tmp.c_str(), target.c_str()) != 0)
      return fail(describe_errno(target, "cannot move the temporary file into place", errno));
  } else {
    // link() fails with EEXIST if anything (file, symlink, dangling symlink) holds the name.
    if (::link(tmp.c_str(), target.c_str()) != 0) {
      if (errno == EEXIST) return fail(target.string() + ": exists (pass --force to overwrite)");
      return fail(describe_errno(target, "cannot move the temporary file into place", errno));
    }
    ::unlink(tmp.c_str());
  }
  unregister_temp(tmp);
  fsync_dir(dir_of(target));
  return {};
}

Expected<void> write_file_safely(const fs::path& path, std::string_view data, bool force) {
  if (auto c = check_output(path, force); !c) return c;
  auto tmp = TempFile::create(path);
  if (!tmp) return tmp.error();
  int fd = ::open(tmp->path().c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Error{describe_errno(path, "cannot write", errno)};
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : ENOSPC;
      ::close(fd);
      return Error{describe_errno(path, "write failed", err)};
    }
    off += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) return Error{describe_errno(path, "write failed (close)", errno)};
  return tmp->commit(force);
}

}  // namespace moetune
