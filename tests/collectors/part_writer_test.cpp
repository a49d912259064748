// SPDX-License-Identifier: Apache-2.0
// Per-process writer: committed at least every second while running, readable after
// SIGKILL, a full disk (file size limit) stops writing with one warning and the job
// runs on, and its sustained rate (events/s) measured.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/expect_rows.h"
#include "common/text.h"
#include "moetune/live/part_writer.h"
#include "moetune/live/record_ring.h"
#include "moetune/trace/reader.h"

using namespace moetune;
using namespace moetune::live;

namespace {
std::filesystem::path tmp(const char* name) {
  return std::filesystem::temp_directory_path() / (std::string(name) + "-" + std::to_string(::getpid()) + ".moetune");
}
KernelRow kernel(std::int64_t i, StringId name) {
  KernelRow k;
  k.rank = RankId(0);
  k.stream = StreamId(7);
  k.start_ns = 1'000'000 + i * 1000;
  k.dur_ns = 500;
  k.name = name;
  k.correlation = i;
  return k;
}
}  // namespace

TEST(RecordRing, DropsAndCountsWhenFull) {
  RecordRing<int> r(3);
  EXPECT_TRUE(r.push(1));
  EXPECT_TRUE(r.push(2));
  EXPECT_TRUE(r.push(3));
  EXPECT_FALSE(r.push(4));
  EXPECT_EQ(r.dropped(), 1u);
  std::vector<int> out(2);
  ASSERT_EQ(r.pop(out), 2u);
  EXPECT_EQ(out[0], 1);
  EXPECT_TRUE(r.push(5));
  out.resize(8);
  ASSERT_EQ(r.pop(out), 2u);
  EXPECT_EQ(out[0], 3);
  EXPECT_EQ(out[1], 5);
}

TEST(PartWriter, SigkilledProcessLeavesReadableFileWithFlushedRows) {
  auto path = tmp("moetune-killed");
  pid_t pid = ::fork();
  if (pid == 0) {
    std::atomic<std::int64_t> produced{0};
    RecordRing<std::int64_t> ring(1 << 16);
    auto w = PartWriter::open(path, [&](TraceWriter& tw) {
      static StringId name = tw.intern("k");
      std::vector<std::int64_t> batch(4096);
      for (int b = 0; b < 16; ++b)  // bounded per call, like the collectors' drains
        if (std::size_t n = ring.pop(batch))
          for (std::size_t i = 0; i < n; ++i) tw.add(kernel(batch[i], name));
    }, nullptr);
    if (!w) ::_exit(2);
    (*w)->with_writer([](TraceWriter& tw) {
      RankRow r;
      r.rank = RankId(0);
      r.pid = ::getpid();
      tw.add(r);
    });
    for (std::int64_t i = 0;; ++i) {  // produce until killed
      ring.push(i);
      if (i % 1000 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  std::error_code ec;
  std::printf("[ info     ] part %ju bytes, wal %jd bytes\n", static_cast<std::uintmax_t>(std::filesystem::file_size(path, ec)),
              static_cast<std::intmax_t>(std::filesystem::file_size(path.string() + "-wal", ec)));
  auto rd = TraceReader::open(path);
  ASSERT_TRUE(rd) << rd.error().message;
  auto n = test::rows((*rd)->counts()).get("kernels");
  EXPECT_GT(n, 1000) << "at least one flush (every <= 1 s) must have reached the file";
  EXPECT_EQ(test::rows((*rd)->ranks()).size(), 1u);
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

namespace {
const auto& slurp = moetune::test::read_text;
using moetune::test::count_lines_with;
void remove_part(const std::filesystem::path& path) {
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
}

// 1 MiB: a fresh part's schema alone takes ~0.3 MiB of WAL (one commit per CREATE), so
// a 256 KiB limit fails at open (also handled: the collectors say so in one line).
constexpr rlim_t kFileLimit = 1024 * 1024;

// Child body of the full-disk test: a collector-like producer writes `total` kernel
// rows through a PartWriter into `path` under RLIMIT_FSIZE = 1 MiB; stderr goes to
// `err`. Exits 0 when it got to its own end (the job ran on), 3 if open failed, 4 if
// stop() reported an error the warning had already reported.
[[noreturn]] void full_disk_child(const std::filesystem::path& path, const std::filesystem::path& err,
                                  bool ignore_sigxfsz, std::int64_t total) {
  int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) ::_exit(5);
  ::dup2(fd, 2);
  if (ignore_sigxfsz) ::signal(SIGXFSZ, SIG_IGN);
  rlimit lim{kFileLimit, kFileLimit};
  if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(6);
  RecordRing<std::int64_t> ring(1 << 14);
  auto w = PartWriter::open(path, [&](TraceWriter& tw) {
    static StringId name = tw.intern("kernel_with_a_name_long_enough_to_matter");
    std::vector<std::int64_t> batch(4096);
    for (int b = 0; b < 4; ++b)
      if (std::size_t n = ring.pop(batch))
        for (std::size_t i = 0; i < n; ++i) tw.add(kernel(batch[i], name));
  }, [](TraceWriter& tw) { tw.add(StatRow{"test_at_stop", Severity::Info, 1, std::nullopt, "written by at_stop"}); },
                            10);
  if (!w) {
    std::fprintf(stderr, "open: %s\n", w.error().message.c_str());
    ::_exit(3);
  }
  (*w)->with_writer([](TraceWriter& tw) {
    RankRow r;
    r.rank = RankId(0);
    r.pid = ::getpid();
    tw.add(r);
    tw.set_meta("collector", "test");
  });
  // Like a collector: never wait on the writer; a full ring drops (and counts).
  for (std::int64_t i = 0; i < total; ++i) {
    (void)ring.push(i);
    if (i % 2000 == 0) {
      (*w)->kick();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  auto r = (*w)->stop();
  std::fprintf(stdout, "dropped %ju\n", static_cast<std::uintmax_t>(ring.dropped()));
  ::_exit(r ? 0 : 4);
}
}  // namespace

// Full disk without root: RLIMIT_FSIZE makes writes past 1 MiB fail with EFBIG
// (ENOSPC goes down the same SQLITE_FULL path). Once with SIGXFSZ ignored by the job,
// once with the default action (which would kill the job if the writer let it through).
TEST(PartWriter, FullDiskStopsWritingWithOneWarningAndTheJobRunsOn) {
  const std::int64_t total = 200'000;  // ~4 MiB of part
  for (bool ignore : {true, false}) {
    SCOPED_TRACE(ignore ? "SIGXFSZ ignored" : "SIGXFSZ default action");
    auto path = tmp(ignore ? "moetune-full-ign" : "moetune-full-dfl");
    auto err = path.string() + ".err";
    remove_part(path);
    pid_t pid = ::fork();
    if (pid == 0) full_disk_child(path, err, ignore, total);
    int status = 0;
    ::waitpid(pid, &status, 0);
    std::string text = slurp(err);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << "\n"
                                   << text;
    EXPECT_EQ(WEXITSTATUS(status), 0) << text;
    EXPECT_EQ(count_lines_with(text, "moetune:"), 1) << text;
    EXPECT_EQ(count_lines_with(text, "moetune: warning: " + path.string() + ": write failed:"), 1) << text;
    EXPECT_NE(text.find("capture stopped"), std::string::npos) << text;
    std::error_code ec;
    auto bytes = std::filesystem::file_size(path, ec);
    EXPECT_LE(bytes, kFileLimit);
    std::printf("[ info     ] part %ju bytes, wal %jd bytes, warning: %s", static_cast<std::uintmax_t>(bytes),
                static_cast<std::intmax_t>(std::filesystem::file_size(path.string() + "-wal", ec)), text.c_str());
    auto rd = TraceReader::open(path);
    ASSERT_TRUE(rd) << rd.error().message;
    auto n = test::rows((*rd)->counts()).get("kernels");
    std::printf("[ measure  ] %lld of %lld kernel rows committed before the limit\n", static_cast<long long>(n),
                static_cast<long long>(total));
    EXPECT_GT(n, 0);
    EXPECT_LT(n, total);
    EXPECT_EQ(test::rows((*rd)->ranks()).size(), 1u);  // with_writer rows of the first commit
    auto meta = test::rows((*rd)->meta());
    EXPECT_EQ(meta["format"], "moetune");
    EXPECT_EQ(meta["collector"], "test");
    EXPECT_EQ(meta.count("store.counts"), 0u) << "not finished: no summary";
    for (const auto& s : test::rows((*rd)->stats())) EXPECT_NE(s.name, "test_at_stop") << "at_stop ran after the failure";
    rd->reset();
    remove_part(path);
    std::filesystem::remove(err);
  }
}

TEST(PartWriter, SustainedEventsPerSecond) {
  auto path = tmp("moetune-rate");
  const std::int64_t total = 1'000'000;
  RecordRing<std::int64_t> ring(1 << 16);
  std::atomic<std::int64_t> written{0};
  auto w = PartWriter::open(path, [&](TraceWriter& tw) {
    static StringId name = tw.intern("kernel_name");
    std::vector<std::int64_t> batch(8192);
    for (int b = 0; b < 16; ++b) {
      std::size_t n = ring.pop(batch);
      if (n == 0) break;
      for (std::size_t i = 0; i < n; ++i) tw.add(kernel(batch[i], name));
      written += static_cast<std::int64_t>(n);
    }
  }, nullptr, 5);
  ASSERT_TRUE(w);
  auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t i = 0; i < total;) {
    if (ring.push(i)) ++i;
    else std::this_thread::yield();  // writer behind: the producer waits in this test only
  }
  ASSERT_TRUE((*w)->stop());
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double rate = static_cast<double>(total) / s;
  std::printf("[ measure  ] writer sustained %.0f kernel rows/s (%lld rows in %.3f s)\n", rate,
              static_cast<long long>(total), s);
  auto rd = TraceReader::open(path);
  ASSERT_TRUE(rd);
  EXPECT_EQ(test::rows((*rd)->counts()).get("kernels"), total);
  EXPECT_GT(rate, 100000.0);
  auto bytes = std::filesystem::file_size(path);
  std::printf("[ measure  ] %.1f bytes per kernel row on disk\n", static_cast<double>(bytes) / total);
  std::filesystem::remove(path);
}
