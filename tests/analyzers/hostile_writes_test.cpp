// SPDX-License-Identifier: Apache-2.0
// Hostile filesystems under report, plan and apply (issue 16): outputs are never written
// through a symlink, exist-without---force is refused, a full disk (RLIMIT_FSIZE, SIGXFSZ
// ignored so writes fail with EFBIG) never reads "wrote" with exit 0 and leaves the old
// file as it was; apply refuses loader/path variables from a profile unless allowed, and
// --dry-run writes nothing and prints a command a shell reads back word for word.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "anab_helpers.h"

namespace fs = std::filesystem;

namespace {

using anab::cli;
const auto& slurp = moetune::test::read_text;

fs::path dir(const std::string& name) {
  auto d = anab::tmpdir() / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

const fs::path& run_file() {
  static const fs::path p = anab::synth("--ranks 8 --inject gpu_idle:5");
  return p;
}

}  // namespace

TEST(HostileWrites, ReportRefusesToOverwriteWithoutForce) {
  auto d = dir("report_force");
  const fs::path out = d / "r.md";
  std::ofstream(out) << "my notes\n";
  auto r = anab::run(cli() + " report " + run_file().string() + " --format md -o " + out.string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_NE(r.out.find("exists (pass --force to overwrite)"), std::string::npos) << r.out;
  EXPECT_EQ(slurp(out), "my notes\n");
  auto f = anab::run(cli() + " report " + run_file().string() + " --format md -o " + out.string() + " --force");
  EXPECT_EQ(f.rc, 0) << f.out;
  EXPECT_NE(slurp(out).find("gpu_idle"), std::string::npos);
}

TEST(HostileWrites, ReportPlanAndPlacementReplaceASymlinkNeverWriteThroughIt) {
  auto d = dir("symlinks");
  const fs::path victim = d / "victim.txt";
  std::ofstream(victim) << "precious\n";
  // report --force (html and md) and plan --force: the link is replaced by the output.
  for (const std::string& cmd : {std::string(" report ") + run_file().string() + " --format html --force -o ",
                                 std::string(" report ") + run_file().string() + " --format md --force -o ",
                                 std::string(" plan ") + run_file().string() + " --force -o "}) {
    const fs::path link = d / "out";
    fs::remove(link);
    fs::create_symlink(victim, link);
    auto r = anab::run(cli() + cmd + link.string());
    EXPECT_EQ(r.rc, 0) << cmd << r.out;
    EXPECT_EQ(slurp(victim), "precious\n") << cmd;
    EXPECT_FALSE(fs::is_symlink(link)) << cmd;
  }
  // Without --force a symlink (even a dangling one) at -o is an existing output.
  const fs::path dangling = d / "dangling.md";
  fs::create_symlink(d / "nowhere.md", dangling);
  auto r = anab::run(cli() + " report " + run_file().string() + " --format md -o " + dangling.string());
  EXPECT_EQ(r.rc, 2) << r.out;
  EXPECT_FALSE(fs::exists(d / "nowhere.md"));
  // apply's placement file (also under --dry-run, which writes nothing at all).
  auto prof = d / "p.json";
  std::ofstream(prof) << R"({"format":"moetune-profile","version":1,
    "placement":{"experts":2,"ranks":2,"layers":{"0":{"0":[1],"1":[0,1]}}}})";
  const fs::path plink = d / "p.placement.json";
  fs::create_symlink(victim, plink);
  auto dry = anab::run(cli() + " apply " + prof.string() + " --dry-run -- true");
  EXPECT_EQ(dry.rc, 0) << dry.out;
  EXPECT_TRUE(fs::is_symlink(plink));
  EXPECT_EQ(slurp(victim), "precious\n");
  auto app = anab::run(cli() + " apply " + prof.string() + " -- true");
  EXPECT_EQ(app.rc, 0) << app.out;
  EXPECT_EQ(slurp(victim), "precious\n");
  EXPECT_FALSE(fs::is_symlink(plink));
  EXPECT_NE(slurp(plink).find("moetune-placement"), std::string::npos);
}

TEST(HostileWrites, FullDiskReportNeverSaysWrote) {
  auto d = dir("fulldisk");
  for (const char* fmt : {"md", "html", "json", "pdf"}) {
    const fs::path out = d / (std::string("r.") + fmt);
    std::ofstream(out) << "old\n";
    // 1 block of 512 bytes: every report is larger. SIGXFSZ ignored: writes fail with EFBIG.
    auto r = anab::run("trap '' XFSZ; ulimit -f 1; " + cli() + " report " + run_file().string() + " --format " + fmt +
                       " --force -o " + out.string());
    if (std::string(fmt) == "pdf" && r.out.find("pdf needs the Qt build") != std::string::npos) continue;
    EXPECT_EQ(r.rc, 2) << fmt << ": " << r.out;
    EXPECT_EQ(r.out.find("wrote"), std::string::npos) << fmt << ": " << r.out;
    EXPECT_EQ(slurp(out), "old\n") << fmt;
    int temps = 0;
    for (const auto& e : fs::directory_iterator(d)) temps += e.path().filename().string().find(".tmp") != std::string::npos;
    EXPECT_EQ(temps, 0) << fmt;
  }
}

TEST(HostileWrites, ApplyRefusesLoaderVariablesUnlessAllowed) {
  auto d = dir("apply_env");
  // A profile that would put a planted `python3` first on PATH.
  const fs::path bin = d / "bin";
  fs::create_directories(bin);
  std::ofstream(bin / "python3") << "#!/bin/sh\necho PLANTED\n";
  fs::permissions(bin / "python3", fs::perms::owner_all);
  for (const std::string& var : {std::string("PATH"), std::string("LD_PRELOAD"), std::string("PYTHONPATH"),
                                 std::string("BASH_ENV"), std::string("CUDA_INJECTION64_PATH")}) {
    auto prof = d / ("p_" + var + ".json");
    std::ofstream(prof) << R"({"format":"moetune-profile","version":1,"env":{")" << var << R"(":")" << bin.string()
                        << R"("}})";
    auto r = anab::run(cli() + " apply " + prof.string() + " -- python3 -c 'print(1)'");
    EXPECT_EQ(r.rc, 2) << var << ": " << r.out;
    EXPECT_NE(r.out.find("env " + var), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--allow-env " + var), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("PLANTED"), std::string::npos) << r.out;
  }
  auto prof = d / "p_PATH.json";
  auto ok = anab::run(cli() + " apply " + prof.string() + " --allow-env PATH -- python3");
  EXPECT_NE(ok.out.find("PLANTED"), std::string::npos) << ok.out;  // the user asked for it
}

TEST(HostileWrites, ApplyDryRunPrintsAShellQuotedCommandAndWritesNothing) {
  auto d = dir("apply_dry");
  const fs::path canary = d / "canary";
  // Values a shell would run or split if pasted unquoted.
  nlohmann::json prof = {{"format", "moetune-profile"},
                         {"version", 1},
                         {"env", {{"NCCL_ALGO", "$(touch " + canary.string() + ")"}, {"NCCL_PROTO", "a b 'c' \"d\"\nline2"}}},
                         {"flags", {"--name", "x;touch " + canary.string(), "`id`"}},
                         {"placement", {{"experts", 2}, {"ranks", 2}, {"layers", {{"0", {{"0", {1}}, {"1", {0, 1}}}}}}}}};
  const fs::path pf = d / "p.json";
  std::ofstream(pf) << prof.dump();
  auto r = anab::run("(" + cli() + " apply " + pf.string() + " --target as-is --dry-run -- printf '%s\\n' 2>/dev/null)");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_FALSE(fs::exists(d / "p.placement.json"));  // nothing written
  EXPECT_FALSE(fs::exists(canary));
  // Paste the printed line into a shell, with `env` printing instead of running: every
  // value comes back unchanged and nothing runs.
  const fs::path line = d / "line.sh";
  std::ofstream(line) << r.out;
  auto back = anab::run("sh -c \"$(cat " + line.string() + ")\" > " + (d / "out.txt").string());
  EXPECT_FALSE(fs::exists(canary)) << r.out;
  const std::string out = slurp(d / "out.txt");
  EXPECT_NE(out.find("--name\nx;touch " + canary.string() + "\n`id`\n--placement\n"), std::string::npos) << r.out
                                                                                                          << out;
  auto env = anab::run("sh -c \"$(sed 's/printf .*$/env/' " + line.string() + ")\"");
  EXPECT_NE(env.out.find("NCCL_ALGO=$(touch " + canary.string() + ")"), std::string::npos) << env.out;
  EXPECT_NE(env.out.find("NCCL_PROTO=a b 'c' \"d\"\nline2"), std::string::npos) << env.out;
  EXPECT_FALSE(fs::exists(canary));
}
