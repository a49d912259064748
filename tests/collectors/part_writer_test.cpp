// SPDX-License-Identifier: Apache-2.0
// Per-process writer: committed at least every second while running, readable after
// SIGKILL, and its sustained rate (events/s) measured.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

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
  auto n = (*rd)->counts().get("kernels");
  EXPECT_GT(n, 1000) << "at least one flush (every <= 1 s) must have reached the file";
  EXPECT_EQ((*rd)->ranks().size(), 1u);
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
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
  EXPECT_EQ((*rd)->counts().get("kernels"), total);
  EXPECT_GT(rate, 100000.0);
  auto bytes = std::filesystem::file_size(path);
  std::printf("[ measure  ] %.1f bytes per kernel row on disk\n", static_cast<double>(bytes) / total);
  std::filesystem::remove(path);
}
