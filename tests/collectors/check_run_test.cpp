// SPDX-License-Identifier: Apache-2.0
// tests/gpu/check_run.py (the device-run checker) on the H200x4 fixture, recorded with
// the collectors before the fixes for its defects: it must fail exactly the checks of
// the real defects (NVML remote bus ids FFFFFFFF; the all-reduce's stale KernelCh
// times, 358 ms before its enqueue; self send/recv waiting for KernelCh channels that
// never come) and pass the rest (CUPTI cross-rank kernel overlap, ops inside their own
// kernel). Then on a copy where only those defects are replaced by what the current
// collectors write (host times for the rejected all-reduce, NVSwitch topology rows,
// no op short of channels) it must pass everything.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>
#include <string>

namespace fs = std::filesystem;

namespace {
std::string run(const std::string& cmd, int* rc) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int st = ::pclose(p);
  *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

// Names of the checks with "ok": false in check_run.py's JSON line; `all` gets every name.
std::set<std::string> failed(const std::string& json, std::set<std::string>* all) {
  std::set<std::string> bad;
  static const std::regex re(R"re("([a-z0-9_]+)": \{"ok": (true|false))re");
  for (std::sregex_iterator it(json.begin(), json.end(), re), end; it != end; ++it) {
    all->insert((*it)[1]);
    if ((*it)[2] == "false") bad.insert((*it)[1]);
  }
  return bad;
}

bool have_python() {
  int rc = -1;
  run("python3 -c 'import sqlite3' 2>/dev/null", &rc);
  return rc == 0;
}
}  // namespace

TEST(CheckRun, H200x4FixtureFailsOnlyItsRealDefects) {
  if (!have_python()) GTEST_SKIP() << "python3 with sqlite3 not available";
  const std::string script = std::string(MOETUNE_SOURCE_DIR) + "/tests/gpu/check_run.py";
  const std::string fixture = std::string(MOETUNE_TEST_DATA) + "/recorded/h200x4_moe_nccl.moetune";
  int rc = -1;
  std::string out = run("python3 " + script + " " + fixture + " --ranks 4 2>&1", &rc);
  std::set<std::string> names;
  auto bad = failed(out, &names);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_EQ(bad, (std::set<std::string>{"topology", "nccl_no_stale", "clock_overlap", "nccl_channels_complete"}))
      << out;
  for (const char* must : {"clock_kernels", "nccl_in_kernel", "nccl_gpu_times", "seq_match", "p2p_ops"})
    EXPECT_TRUE(names.count(must)) << must << " not reported: " << out;

  // The same run with those defects replaced by what the collectors write now.
  fs::path copy = fs::temp_directory_path() / ("moetune-check-run-" + std::to_string(::getpid()) + ".moetune");
  fs::copy_file(fixture, copy, fs::copy_options::overwrite_existing);
  const std::string fix = R"py(
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
# Rejected stale channels: the all-reduce falls back to host times (enqueue..stop).
db.execute("UPDATE nccl_ops SET start_ns = enqueue_ns, end_ns = enqueue_ns + 25000 WHERE start_ns < enqueue_ns - 1000000")
# Self send/recv no longer wait for channels: no op short of channels.
db.execute("UPDATE stats SET value = 0, severity = 'info' WHERE name = 'nccl_ops_without_all_channels'")
# NVSwitch links: GPU<i> - NVSwitch rows instead of the all-ones remote bus id.
db.execute("UPDATE topology SET a = 'GPU' || rank_a, b = 'NVSwitch', source = 'nvml nvlink remote=switch' "
           "WHERE b LIKE 'FFFFFFFF%'")
db.commit()
)py";
  const fs::path fix_py = copy.string() + ".py";
  {
    FILE* f = std::fopen(fix_py.c_str(), "w");
    ASSERT_TRUE(f);
    std::fputs(fix.c_str(), f);
    std::fclose(f);
  }
  std::string fix_out = run("python3 " + fix_py.string() + " " + copy.string() + " 2>&1", &rc);
  ASSERT_EQ(rc, 0) << fix_out;
  fs::remove(fix_py);
  out = run("python3 " + script + " " + copy.string() + " --ranks 4 2>&1", &rc);
  names.clear();
  bad = failed(out, &names);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_TRUE(bad.empty()) << out;
  fs::remove(copy);
}

// Recorded on the same 4×H200 machine after the collector fixes (moe_nccl and torch_moe,
// one process per GPU): the real runs pass every check, NVSwitch topology rows included.
TEST(CheckRun, H200x4RunsRecordedAfterTheFixesPassEveryCheck) {
  if (!have_python()) GTEST_SKIP() << "python3 with sqlite3 not available";
  const std::string script = std::string(MOETUNE_SOURCE_DIR) + "/tests/gpu/check_run.py";
  for (const char* name : {"h200x4_moe_nccl_v2.moetune", "h200x4_torch_moe.moetune"}) {
    const std::string fixture = std::string(MOETUNE_TEST_DATA) + "/recorded/" + name;
    int rc = -1;
    std::string out = run("python3 " + script + " " + fixture + " --ranks 4 2>&1", &rc);
    std::set<std::string> names;
    auto bad = failed(out, &names);
    EXPECT_EQ(rc, 0) << name << ": " << out;
    EXPECT_TRUE(bad.empty()) << name << ": " << out;
    for (const char* must : {"clock_kernels", "clock_overlap", "nccl_in_kernel", "nccl_gpu_times", "nccl_no_stale",
                             "topology", "seq_match", "routing"})
      EXPECT_TRUE(names.count(must)) << name << ": " << must << " not reported";
  }
}

// The one-GPU runs of tests/gpu/run_device.sh (session 2, final collectors): 1 rank, and 2
// ranks as emulated nodes time-slicing the H200 (client and torchrun). Every check passes,
// the cross-rank ones included.
TEST(CheckRun, OneGpuRunsRecordedAfterTheFixesPassEveryCheck) {
  if (!have_python()) GTEST_SKIP() << "python3 with sqlite3 not available";
  const std::string script = std::string(MOETUNE_SOURCE_DIR) + "/tests/gpu/check_run.py";
  for (auto [name, ranks] : {std::pair{"client1.moetune", 1}, {"client2.moetune", 2}, {"torch2.moetune", 2}}) {
    const std::string fixture = std::string(MOETUNE_TEST_DATA) + "/recorded/" + name;
    int rc = -1;
    std::string out = run("python3 " + script + " " + fixture + " --ranks " + std::to_string(ranks) + " 2>&1", &rc);
    std::set<std::string> names;
    auto bad = failed(out, &names);
    EXPECT_EQ(rc, 0) << name << ": " << out;
    EXPECT_TRUE(bad.empty()) << name << ": " << out;
    EXPECT_TRUE(names.count("kernels") && names.count("nvtx_ranges") && names.count("topology")) << name;
    if (ranks > 1) {
      for (const char* must : {"clock_kernels", "nccl_gpu_times", "nccl_no_stale", "seq_match", "algo_proto"})
        EXPECT_TRUE(names.count(must)) << name << ": " << must << " not reported";
    }
  }
}
