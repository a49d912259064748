// SPDX-License-Identifier: Apache-2.0
// Safe output files: every file moetune writes goes to a temporary in the target's
// directory (O_CREAT|O_EXCL|O_NOFOLLOW: never through a planted symlink), is written with
// checked writes and fsync'd, and is then put in place by
//  - link(2) when overwriting is not allowed: exclusive create, so a second writer racing
//    for the same name fails with "exists" instead of replacing the first one's file;
//  - rename(2) with force: replaces the name atomically; a symlink at the output is
//    replaced, never written through.
// The directory is fsync'd after. Temporaries are registered so that SIGINT/SIGTERM
// (install_temp_cleanup()) removes them before the process dies.
// Cost: one extra fsync of the file and one of its directory per output.
#pragma once
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

#include "moetune/trace/result.h"

namespace moetune {

// "PATH: what: strerror(errno)" -- never "Success" (errno 0 reads "unknown error").
std::string describe_errno(const std::filesystem::path& path, const std::string& what, int err);

// Writes `data` to `path` as above. Without `force` an existing path (file, symlink,
// anything) is an error: "PATH: exists (pass --force to overwrite)".
Expected<void> write_file_safely(const std::filesystem::path& path, std::string_view data, bool force);

// Puts the finished temporary `tmp` (same directory as `target`) in place as above: fsync
// it, link (no force) or rename (force), fsync the directory. `tmp` is gone afterwards.
Expected<void> commit_temp(const std::filesystem::path& tmp, const std::filesystem::path& target, bool force);

// A temporary next to `target` ("DIR/.NAME.tmp-PID-N"), created empty with O_EXCL|O_NOFOLLOW
// and registered for signal cleanup; for producers that write files themselves (SQLite,
// Qt's PDF writer). The destructor removes it unless commit() ran.
class TempFile {
 public:
  static Expected<TempFile> create(const std::filesystem::path& target);
  TempFile(TempFile&& o) noexcept;
  TempFile& operator=(TempFile&&) = delete;
  TempFile(const TempFile&) = delete;
  ~TempFile();
  const std::filesystem::path& path() const { return tmp_; }
  Expected<void> commit(bool force);

 private:
  TempFile(std::filesystem::path tmp, std::filesystem::path target) : tmp_(std::move(tmp)), target_(std::move(target)) {}
  std::filesystem::path tmp_, target_;
  bool done_ = false;
};

// Refuses an existing output unless `force`: "PATH: exists (pass --force to overwrite)".
Expected<void> check_output(const std::filesystem::path& path, bool force);

// Temporaries removed by the SIGINT/SIGTERM handler (async-signal-safe unlink of a fixed
// table of paths), then the signal's default action runs. install_temp_cleanup() is
// idempotent; register/unregister are cheap and thread-safe.
void install_temp_cleanup();
void register_temp(const std::filesystem::path& p);
void unregister_temp(const std::filesystem::path& p);

}  // namespace moetune
