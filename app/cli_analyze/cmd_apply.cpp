// SPDX-License-Identifier: Apache-2.0
// moetune apply PROFILE.json [--record -o AFTER.moetune] -- CMD ...
// Runs CMD with the profile's env added and its fixes rendered for CMD's framework
// (--target, else detected: our samples get --comm-dtype / --overlap-chunks /
// --placement FILE, Megatron-LM, vLLM, SGLang their own options, DeepSpeed config keys
// printed, anything else no option at all; see profile.h "targets"); the exit status of CMD is passed through
// (128 + signal when it was killed). --record runs it under `moetune record` (this same
// binary). A malformed profile or unknown fix type: one line, exit 2.
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

#include "command.h"
#include "moetune/analyzers/profile.h"

namespace moetune::cli {
namespace {

struct ApplyArgs {
  std::string profile, out, placement_out, target;
  bool record = false, force = false, dry_run = false;
  std::vector<std::string> cmd;
};

// The profile rendered for the job's target (--target, else detected from the command):
// appends the options that target takes, prints its config keys and manual steps.
void append_target_knobs(std::vector<std::string>& argv, const analyzers::Profile& prof, const std::string& wanted,
                         const std::string& placement) {
  const std::string target = wanted.empty() ? analyzers::detect_target(argv) : wanted;
  const auto k = analyzers::render_knobs(prof, target, placement, argv);
  argv.insert(argv.end(), k.args.begin(), k.args.end());
  std::string args;
  for (const auto& s : k.args) args += " " + s;
  std::fprintf(stderr, "moetune apply: target %s (%s):%s\n", target.c_str(), wanted.empty() ? "detected" : "--target",
               args.empty() ? " no options added" : args.c_str());
  for (const auto& c : k.config) std::fprintf(stderr, "moetune apply: set by hand (config): %s\n", c.c_str());
  for (const auto& m : k.manual) std::fprintf(stderr, "moetune apply: not applied (no option in %s): %s\n", target.c_str(), m.c_str());
  for (const auto& m : k.kept) std::fprintf(stderr, "moetune apply: kept yours: %s\n", m.c_str());
}

std::string self_exe(const char* fallback) {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string(fallback) : p.string();
}

void run_apply(const ApplyArgs& a, int& exit_code) {
  namespace fs = std::filesystem;
  auto prof = analyzers::read_profile(a.profile);
  if (!prof) throw InputError(prof.error().message);
  if (a.cmd.empty()) throw InputError("apply: no command given (moetune apply PROFILE -- CMD ...)");
  if (a.record && a.out.empty()) throw InputError("apply: --record needs -o AFTER.moetune");
  std::vector<std::string> argv = a.cmd;
  std::string placement;
  if (prof->placement) {
    placement = a.placement_out;
    if (placement.empty()) {
      fs::path p = a.profile;
      placement = (p.parent_path() / (p.stem().string() + ".placement.json")).string();
    }
    auto w = analyzers::write_placement(placement, *prof->placement);
    if (!w) throw InputError(w.error().message);
  } else if (!prof->placement_file.empty()) {
    fs::path p = prof->placement_file;
    if (p.is_relative()) p = fs::path(a.profile).parent_path() / p;
    auto check = analyzers::read_placement(p);
    if (!check) throw InputError(a.profile + ": placement: " + check.error().message);
    placement = p.string();
  }
  append_target_knobs(argv, *prof, a.target, placement);
  if (a.record) {
    std::vector<std::string> rec{self_exe("moetune"), "record", "-o", a.out};
    if (a.force) rec.push_back("--force");
    rec.push_back("--");
    argv.insert(argv.begin(), rec.begin(), rec.end());
  }
  std::string shown;
  for (const auto& [k, v] : prof->env) shown += k + "=" + v + " ";
  for (const auto& s : argv) shown += s + " ";
  std::fprintf(stderr, "moetune apply: %s\n", shown.c_str());
  for (const auto& m : prof->manual)
    std::fprintf(stderr, "moetune apply: not applied (code change): %s\n", m.value("description", "").c_str());
  if (a.dry_run) {
    exit_code = 0;
    return;
  }
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw InputError(std::string("apply: fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    for (const auto& [k, v] : prof->env) ::setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> cargv;
    for (auto& s : argv) cargv.push_back(s.data());
    cargv.push_back(nullptr);
    ::execvp(cargv[0], cargv.data());
    std::fprintf(stderr, "moetune: apply: cannot run %s: %s\n", cargv[0], std::strerror(errno));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw InputError(std::string("apply: waitpid failed: ") + std::strerror(errno));
  if (WIFEXITED(status)) exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) exit_code = 128 + WTERMSIG(status);
  else exit_code = 1;
}

const Register reg{"apply", [](CLI::App& app, int& exit_code) {
                     auto a = std::make_shared<ApplyArgs>();
                     auto* c = app.add_subcommand("apply", "Run a command with a tuning profile's fixes (env, flags, placement)");
                     c->add_option("profile", a->profile, "tuning profile (moetune-profile JSON)")->required();
                     c->add_flag("--record", a->record, "record the run with `moetune record -o OUT`");
                     c->add_option("-o,--output", a->out, "run file for --record");
                     c->add_flag("--force", a->force, "with --record: overwrite OUT");
                     c->add_option("--placement-out", a->placement_out,
                                   "where to write the profile's placement plan (default PROFILE.placement.json)");
                     c->add_flag("--dry-run", a->dry_run, "print what would run, run nothing");
                     c->add_option("--target", a->target,
                                   "the job's framework (default: detected from CMD, else generic): options the "
                                   "profile adds in its own language; generic adds none")
                         ->check(CLI::IsMember(analyzers::profile_targets()));
                     c->add_option("cmd", a->cmd, "command to run (after --)")->required();
                     c->callback([a, &exit_code] { run_apply(*a, exit_code); });
                   }};

}  // namespace
}  // namespace moetune::cli
