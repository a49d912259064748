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

#include <algorithm>
#include <cctype>
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
  std::vector<std::string> cmd, allow_env;
};

std::string fs_basename(const std::string& p);

// Variables that change which programs, libraries or startup scripts run: a profile may
// not set them unless the user names them with --allow-env (issue 16). Our own CUDA
// injection / NCCL plugin libraries (libmoetune*) are allowed.
std::string env_refusal(const std::string& k, const std::string& v, const std::vector<std::string>& allow) {
  if (k.empty() || !(std::isalpha(static_cast<unsigned char>(k[0])) || k[0] == '_') ||
      !std::all_of(k.begin(), k.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }))
    return "is not a valid variable name";
  if (std::find(allow.begin(), allow.end(), k) != allow.end()) return "";
  static const char* const kLoaders[] = {"PATH", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE",
                                         "PYTHONINSPECT", "BASH_ENV", "ENV", "IFS", "SHELLOPTS", "PS4",
                                         "PERL5LIB", "PERL5OPT", "RUBYLIB", "RUBYOPT", "NODE_OPTIONS", "GCONV_PATH",
                                         "HOSTALIASES", "TMPDIR", "HOME", "NCCL_NET_PLUGIN", "NCCL_TUNER_PLUGIN",
                                         "CUDA_INJECTION64_PATH", "NCCL_PROFILER_PLUGIN"};
  const bool ours = fs_basename(v).rfind("libmoetune", 0) == 0;
  if ((k == "CUDA_INJECTION64_PATH" || k == "NCCL_PROFILER_PLUGIN") && ours) return "";
  if (k.rfind("LD_", 0) == 0 || k.rfind("DYLD_", 0) == 0 ||
      std::find(std::begin(kLoaders), std::end(kLoaders), k) != std::end(kLoaders))
    return "changes which programs or libraries run";
  return "";
}

// One word for a POSIX shell: '...' with ' written as '\'' ($(...), spaces, newlines stay literal).
std::string shell_quote(const std::string& w) {
  if (!w.empty() && std::all_of(w.begin(), w.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || (c != 0 && std::strchr("_-./:=@,+%", c));
      }))
    return w;
  std::string q = "'";
  for (char c : w) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string fs_basename(const std::string& p) { return std::filesystem::path(p).filename().string(); }

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
  for (const auto& m : k.overridden) std::fprintf(stderr, "moetune apply: overrides yours: %s\n", m.c_str());
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
  for (const auto& [k, v] : prof->env)
    if (auto why = env_refusal(k, v, a.allow_env); !why.empty())
      throw InputError(a.profile + ": env " + k + " " + why + "; refused (pass --allow-env " + k +
                       " to set it anyway)");
  std::vector<std::string> argv = a.cmd;
  std::string placement;
  if (prof->placement) {
    placement = a.placement_out;
    if (placement.empty()) {
      fs::path p = a.profile;
      placement = (p.parent_path() / (p.stem().string() + ".placement.json")).string();
    }
    if (a.dry_run) {
      std::fprintf(stderr, "moetune apply: would write the placement plan to %s\n", placement.c_str());
    } else if (auto w = analyzers::write_placement(placement, *prof->placement); !w) {
      throw InputError(w.error().message);
    }
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
  std::string shown = prof->env.empty() ? "" : "env ";  // shell-quoted: safe to paste
  for (const auto& [k, v] : prof->env) shown += shell_quote(k + "=" + v) + " ";
  if (!prof->env.empty() && !argv.empty() && argv[0].find('=') != std::string::npos) shown += "-- ";
  for (const auto& w : argv) shown += shell_quote(w) + " ";
  if (!shown.empty()) shown.pop_back();
  if (a.dry_run) std::printf("%s\n", shown.c_str());
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
    if (a.record) {  // the recorded run names its profile: `moetune diff` prints predicted vs measured
      std::error_code ec;
      ::setenv("MOETUNE_PROFILE", fs::absolute(a.profile, ec).c_str(), 1);
    }
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
                     c->add_flag("--dry-run", a->dry_run,
                                 "print the command (shell-quoted) on stdout; write and run nothing");
                     c->add_option("--allow-env", a->allow_env,
                                   "let the profile set this loader/path variable (PATH, LD_*, PYTHONPATH, ...)");
                     c->add_option("--target", a->target,
                                   "the job's framework (default: detected from CMD, else generic): options the "
                                   "profile adds in its own language; generic adds none")
                         ->check(CLI::IsMember(analyzers::profile_targets()));
                     c->add_option("cmd", a->cmd, "command to run (after --)")->required();
                     c->callback([a, &exit_code] { run_apply(*a, exit_code); });
                   }};

}  // namespace
}  // namespace moetune::cli
