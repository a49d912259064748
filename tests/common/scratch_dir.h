// SPDX-License-Identifier: Apache-2.0
// Scratch folders for tests and fuzz entries: <base>/<name>-<pid>. ctest runs each test in
// a process of its own, so the pid keeps parallel tests apart. Created (empty) on
// construction, removed with what is in it on destruction, and only by the process that
// made it: a forked child that exit()s (collector tests) leaves its parent's folder alone.
#pragma once
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <system_error>

namespace moetune::test {

class ScratchDir {
 public:
  // Disk: the system temp folder. Tmpfs: /dev/shm where there is one (SQLite's fsyncs on
  // a disk cost ~100 ms per store: fuzz entries write thousands).
  enum class On { Disk, Tmpfs };

  explicit ScratchDir(const std::string& name, On on = On::Disk)
      : path_(base(on) / (name + "-" + std::to_string(::getpid()))), owner_(::getpid()) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);  // left by an earlier process with the same pid
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    if (::getpid() != owner_) return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& child) const { return path_ / child; }

 private:
  static std::filesystem::path base(On on) {
    std::error_code ec;
    if (on == On::Tmpfs && std::filesystem::is_directory("/dev/shm", ec)) return "/dev/shm";
    return std::filesystem::temp_directory_path();
  }

  std::filesystem::path path_;
  pid_t owner_;
};

// The scratch folder `name` of this process, made on first use and removed at exit.
inline const std::filesystem::path& process_dir(const std::string& name) {
  static std::map<std::string, std::unique_ptr<ScratchDir>> dirs;
  auto& d = dirs[name];
  if (!d) d = std::make_unique<ScratchDir>(name);
  return d->path();
}

}  // namespace moetune::test
