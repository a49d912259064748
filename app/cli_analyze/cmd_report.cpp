// SPDX-License-Identifier: Apache-2.0
// moetune report RUN --format json|md|html|pdf|png -o FILE [--force] [--comm-rules FILE]
// [--set NAME=VALUE ...].
// json, md and html come from the analyzers (no Qt: html carries SVG plots). pdf and
// png plots are the GUI binary's (moetune-gui --report, QCustomPlot): when moetune-gui
// is installed beside moetune it is run for them, else one line says to use it (exit 2).
// Files are written through trace/safe_file (temporary, checked, renamed; no symlinks).
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "analysis_flags.h"
#include "command.h"
#include "moetune/analyzers/model.h"
#include "moetune/analyzers/report.h"
#include "moetune/trace/safe_file.h"

namespace moetune::cli {
namespace {

namespace fs = std::filesystem;

// moetune-gui next to this binary (installed layout) or in the build tree's app/gui/.
fs::path gui_beside() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  for (const auto& p : {exe.parent_path() / "moetune-gui", exe.parent_path() / "gui" / "moetune-gui"})
    if (::access(p.c_str(), X_OK) == 0) return p;
  return {};
}

// Runs moetune-gui --report for the Qt formats; returns its exit status.
int report_with_gui(const std::string& path, const std::string& format, const std::string& out) {
  const fs::path gui = gui_beside();
  if (gui.empty())
    throw InputError(out + ": --format " + format + " is drawn by the GUI binary: run `moetune-gui --report " + path +
                     " --format " + format + " -o " + out + "` (package moetune-gui)");
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw InputError(out + ": cannot start " + gui.string());
  if (pid == 0) {
    const std::string g = gui.string();
    const char* argv[] = {g.c_str(), "--report", path.c_str(), "--format", format.c_str(), "-o", out.c_str(), nullptr};
    ::execv(g.c_str(), const_cast<char* const*>(argv));
    std::fprintf(stderr, "moetune: %s: cannot run\n", g.c_str());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}

void run_report(const std::string& path, const std::string& format, const std::string& out, const AnalysisFlags& flags,
                bool force, int& exit_code) {
  const auto opts = flags.options();
  if (out != "-")
    if (auto c = check_output(out, force); !c) throw InputError(c.error().message);
  if (format == "pdf" || format == "png") {
    if (out == "-") throw InputError("-o -: " + format + " goes to a file (stdout takes json, md or html)");
    if (!flags.set.empty() || !flags.comm_rules.empty())  // moetune-gui --report analyses with the defaults
      throw InputError("--set and --comm-rules apply to json, md and html; " + format +
                       " comes from moetune-gui, which uses the default thresholds and rules");
    exit_code = report_with_gui(path, format, out);
    return;
  }
  auto run = analyzers::RunData::load(path);
  if (!run) throw InputError(run.error().message);
  auto result = analyzers::analyze(*run, opts);
  std::string text = format == "json" ? analyzers::to_json(result).dump(2) + "\n"
                     : format == "md" ? analyzers::report_markdown(*run, result)
                                      : analyzers::report_html(*run, result);
  if (out == "-") {  // -o -: the report on stdout (json, md, html)
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0)
      throw InputError("stdout: write failed");
    exit_code = 0;
    return;
  }
  auto w = write_file_safely(out, text, force);
  if (!w) throw InputError(w.error().message);
  std::fprintf(stderr, "wrote %s (%s, %zu findings)\n", out.c_str(), format.c_str(), result.findings.size());
  exit_code = 0;
}

const Register reg{"report", [](CLI::App& app, int& exit_code) {
                     auto path = std::make_shared<std::string>();
                     auto format = std::make_shared<std::string>("html");
                     auto out = std::make_shared<std::string>();
                     auto flags = std::make_shared<AnalysisFlags>();
                     auto force = std::make_shared<bool>(false);
                     auto* c = app.add_subcommand("report", "Write the analysis as a report (json, md, html; pdf/png via moetune-gui)");
                     c->add_option("run", *path, "run file (.moetune)")->required();
                     c->add_option("--format", *format, "report format (pdf and png plots: moetune-gui)")
                         ->check(CLI::IsMember({"json", "md", "html", "pdf", "png"}))
                         ->default_str("html");
                     c->add_option("-o,--output", *out, "output file (png: a directory; - for stdout: json, md, html)")->required();
                     flags->add(c);
                     c->add_flag("--force", *force, "overwrite an existing output file");
                     c->callback([path, format, out, flags, force, &exit_code] {
                       run_report(*path, *format, *out, *flags, *force, exit_code);
                     });
                   }};

}  // namespace
}  // namespace moetune::cli
