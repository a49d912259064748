// SPDX-License-Identifier: Apache-2.0
// moetune record -o RUN.moetune [--armed] [--what cuda,nvtx,nccl] [--force] [--keep-parts] -- CMD...
// Runs CMD with the collectors injected (CUDA_INJECTION64_PATH, NVTX_INJECTION64_PATH,
// NCCL_PROFILER_PLUGIN, MOETUNE_*), passes its exit status through, then merges the
// per-process files (RUN.parts/r<rank>-<host>-<pid>.{cupti,nccl}.moetune) into RUN.
// Works as the command inside torchrun/srun/mpirun too: -o may contain %r %p %h.
// If the output directory cannot be written the job still runs, uninstrumented,
// after one warning line; so does a collector library that cannot be loaded (checked
// with dlopen here before it is injected). A full disk while merging: one warning,
// the per-process files are kept, no run file is left half-written.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "command.h"
#include "moetune/live/control.h"
#include "moetune/live/merge.h"
#include "moetune/live/rank_env.h"
#include "record_support.h"

namespace moetune::cli {
namespace {

namespace fs = std::filesystem;

pid_t g_child = -1;
void forward(int sig) {
  if (g_child > 0) ::kill(g_child, sig);
}

struct RecordArgs {
  std::string out, what = "cuda,nvtx,nccl";
  bool armed = false, force = false, keep_parts = false;
  std::vector<std::string> cmd;
};

int run_child(const std::vector<std::string>& cmd, const std::vector<std::pair<std::string, std::string>>& env) {
  std::vector<char*> argv;
  for (const auto& a : cmd) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw InputError(std::string("cannot start ") + cmd[0] + ": fork failed");
  if (pid == 0) {
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "moetune: %s: cannot run: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  g_child = pid;
  struct sigaction sa{}, old_int{}, old_term{};
  sa.sa_handler = forward;
  ::sigaction(SIGINT, &sa, &old_int);
  ::sigaction(SIGTERM, &sa, &old_term);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::sigaction(SIGINT, &old_int, nullptr);
  ::sigaction(SIGTERM, &old_term, nullptr);
  g_child = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// RUN.parts/ is moetune's only when it carries this marker (written when record made the
// directory): stale parts are deleted, and the directory removed, only there. A symlink
// at RUN.parts, or a directory someone else made that holds files, is not used: the job
// runs without collectors after one warning (as with an unwritable directory).
constexpr const char* kPartsMarker = ".moetune-parts";

// Prepares `parts`; "" when usable, else why not (the job then runs uninstrumented).
std::string claim_parts_dir(const fs::path& parts) {
  std::error_code ec;
  auto st = fs::symlink_status(parts, ec);
  if (fs::is_symlink(st)) return "it is a symlink; moetune does not write or delete through one";
  if (fs::exists(st) && !fs::is_directory(st)) return "it exists and is not a directory";
  if (!fs::exists(st)) {
    if (parts.has_parent_path()) fs::create_directories(parts.parent_path(), ec);
    if (::mkdir(parts.c_str(), 0755) != 0) return std::strerror(errno);
  } else if (!fs::exists(fs::symlink_status(parts / kPartsMarker, ec))) {
    if (!fs::is_empty(parts, ec)) return "it exists and was not made by moetune record; remove it or choose another -o";
  }
  if (::access(parts.c_str(), W_OK) != 0) return std::strerror(errno);
  std::ofstream(parts / kPartsMarker) << "made by moetune record; its *.moetune files are deleted by the next record\n";
  for (const auto& e : fs::directory_iterator(parts, ec))  // stale parts of an earlier run (regular files only)
    if (e.path().extension() == ".moetune" && fs::is_regular_file(e.symlink_status(ec))) fs::remove(e.path(), ec);
  return "";
}

// Removes what record made in `parts` (the given files, the marker) and the directory
// if it is then empty; anything else in it stays.
void release_parts_dir(const fs::path& parts, const std::vector<fs::path>& made) {
  std::error_code ec;
  if (fs::is_symlink(fs::symlink_status(parts, ec))) return;
  for (const auto& f : made)
    if (fs::is_regular_file(fs::symlink_status(f, ec))) fs::remove(f, ec);
  fs::remove(parts / kPartsMarker, ec);
  fs::remove(parts, ec);  // only if empty
}

// NCCL loads one profiler plugin (NCCL_PROFILER_PLUGIN); it cannot chain two. When the
// environment already names another one (NCCL Inspector, a site plugin), record keeps it,
// says so in one line and records without NCCL events (collectors/live/README.md).
bool keep_foreign_nccl_plugin(const fs::path& ours) {
  const char* v = std::getenv("NCCL_PROFILER_PLUGIN");
  if (!v || !*v) return false;
  std::error_code ec;
  if (!ours.empty() && fs::exists(v, ec) && fs::equivalent(v, ours, ec)) return false;  // ours already
  std::fprintf(stderr,
               "moetune: NCCL_PROFILER_PLUGIN is already set (%s): kept; no NCCL capture by moetune (NCCL loads one "
               "profiler plugin; unset it to record NCCL)\n",
               v);
  return true;
}

void run_record(const RecordArgs& a, int& exit_code) {
  if (a.cmd.empty()) throw InputError("record: no command given (moetune record -o RUN -- CMD ...)");
  std::string bad;
  {
    std::string rest = a.what + ",";
    for (std::size_t p = 0, c; (c = rest.find(',', p)) != std::string::npos; p = c + 1) {
      auto item = rest.substr(p, c - p);
      if (!item.empty() && item != "cuda" && item != "nvtx" && item != "nccl") bad = item;
    }
  }
  if (!bad.empty()) throw InputError("record: --what: unknown collector '" + bad + "' (want cuda,nvtx,nccl)");
  const int rank = live::rank_from_env();
  const fs::path out = live::expand_pattern(a.out, rank, static_cast<long>(::getpid()), live::host_name());
  std::error_code ec;
  if (fs::exists(out, ec) && !a.force) throw InputError(out.string() + ": output exists (use --force to overwrite)");
  std::string command;
  for (const auto& c : a.cmd) command += (command.empty() ? "" : " ") + c;

  const fs::path parts = out.string() + ".parts";
  if (auto why = claim_parts_dir(parts); !why.empty()) {
    std::fprintf(stderr, "moetune: warning: cannot write %s (%s); running the job without collectors\n",
                 parts.c_str(), why.c_str());
    exit_code = run_child(a.cmd, {});
    return;
  }
  auto libs = find_collector_libs();
  std::vector<std::pair<std::string, std::string>> env;
  auto has = [&](const char* w) { return ("," + a.what + ",").find(std::string(",") + w + ",") != std::string::npos; };
  // A library that is there but does not load (its libcupti/libcuda missing, a broken
  // file) is not injected either: one warning, the job runs without that collector.
  auto usable = [](const fs::path& lib, const char* name, const char* capture) {
    std::string why;
    if (lib.empty()) {
      std::fprintf(stderr, "moetune: warning: %s not found (set MOETUNE_LIB_DIR); no %s capture\n", name, capture);
      return false;
    }
    if (!collector_loads(lib, why)) {
      std::fprintf(stderr, "moetune: warning: cannot load %s (%s); no %s capture\n", lib.c_str(), why.c_str(), capture);
      return false;
    }
    return true;
  };
  if ((has("cuda") || has("nvtx")) && usable(libs.cupti, "libmoetune_cupti.so", "CUDA/NVTX")) {
    env.emplace_back("CUDA_INJECTION64_PATH", libs.cupti.string());
    if (has("nvtx")) env.emplace_back("NVTX_INJECTION64_PATH", libs.cupti.string());
  }
  if (has("nccl") && keep_foreign_nccl_plugin(libs.nccl)) {
    // the job's own profiler plugin (e.g. NCCL Inspector) stays: see keep_foreign_nccl_plugin
  } else if (has("nccl") && usable(libs.nccl, "libmoetune_nccl.so", "NCCL")) {
    env.emplace_back("NCCL_PROFILER_PLUGIN", libs.nccl.string());
  }
  env.emplace_back("MOETUNE_OUTPUT", (fs::absolute(parts) / "r%r-%h-%p").string());
  env.emplace_back("MOETUNE_WHAT", a.what);
  env.emplace_back("MOETUNE_ARMED", a.armed ? "1" : "0");

  if (a.armed)  // say it once here: the collectors cannot arm in a foreign or open directory
    if (auto d = live::control_dir(); !d)
      std::fprintf(stderr, "moetune: warning: %s; attach will not reach this job\n", d.error().message.c_str());
  exit_code = run_child(a.cmd, env);
  // From here on record writes (part recovery, the merged run). Past RLIMIT_FSIZE
  // (`ulimit -f`) SIGXFSZ would kill record and lose the job's exit status; ignored, the
  // write fails with EFBIG like a full disk: one warning, parts kept, status passed on.
  // (Set only now: the job keeps its own disposition.)
  ::signal(SIGXFSZ, SIG_IGN);

  fs::path topo = parts / "topo.txt";
  if (auto text = capture_topo_text(); !text.empty()) std::ofstream(topo) << text;
  else topo.clear();
  auto files = live::find_parts(parts);
  if (files.empty()) {
    std::fprintf(stderr, "moetune: warning: the job wrote no trace (no CUDA/NCCL use, or collectors disabled); %s not written\n",
                 out.c_str());
    release_parts_dir(parts, {topo});
    return;
  }
  try {
    write_merged(files, topo, out, a.force, command, exit_code);
  } catch (const InputError& e) {
    std::fprintf(stderr, "moetune: warning: %s; per-process files kept in %s\n", e.what(), parts.c_str());
    return;
  }
  if (!a.keep_parts) {
    files.push_back(topo);
    release_parts_dir(parts, files);
  }
}

const Register reg{"record", [](CLI::App& app, int& exit_code) {
                     auto a = std::make_shared<RecordArgs>();
                     auto* c = app.add_subcommand("record", "Run a command with the live collectors and record a run");
                     c->add_option("-o,--output", a->out, "run file to write (%r %p %h expand)")->required();
                     c->add_flag("--armed", a->armed, "start idle; capture when `moetune attach` says so");
                     c->add_option("--what", a->what, "collectors: comma list of cuda,nvtx,nccl");
                     c->add_flag("--force", a->force, "overwrite an existing run file");
                     c->add_flag("--keep-parts", a->keep_parts, "keep the per-process files (RUN.parts/)");
                     c->add_option("cmd", a->cmd, "command to run (after --)")->required();
                     c->callback([a, &exit_code] { run_record(*a, exit_code); });
                   }};

}  // namespace
}  // namespace moetune::cli
