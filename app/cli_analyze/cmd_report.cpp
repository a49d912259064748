// SPDX-License-Identifier: Apache-2.0
// moetune report RUN --format json|md|html|pdf -o FILE [--force].
// json and md always; html without Qt is a self-contained page built by the
// analyzers library; with the Qt report library (MOETUNE_HAS_QT_REPORT) html and
// pdf carry QCustomPlot plots. pdf without Qt: exit 2.
#include <algorithm>
#include <cstdio>
#include <fstream>

#include "command.h"
#include "moetune/analyzers/model.h"
#include "moetune/analyzers/report.h"
#include "moetune/trace/safe_file.h"
#ifdef MOETUNE_HAS_QT_REPORT
#include "moetune/ui/report_qt.h"
#endif

namespace moetune::cli {
namespace {

#ifdef MOETUNE_HAS_QT_REPORT
// True when the file at `p` ends with `tail` within its last 64 bytes: a PDF or HTML
// renderer that hit a full disk leaves a file without its trailer.
bool ends_with_tail(const std::filesystem::path& p, const std::string& tail) {
  std::ifstream in(p, std::ios::binary | std::ios::ate);
  if (!in) return false;
  const auto size = static_cast<std::streamoff>(in.tellg());
  const std::streamoff n = std::min<std::streamoff>(size, 64);
  std::string last(static_cast<std::size_t>(n), '\0');
  in.seekg(size - n);
  in.read(last.data(), n);
  return in && last.find(tail) != std::string::npos;
}
#endif

void run_report(const std::string& path, const std::string& format, const std::string& out, bool force,
                int& exit_code) {
  if (format != "json" && format != "md" && format != "html" && format != "pdf")
    throw InputError("--format " + format + ": expected json, md, html or pdf");
#ifndef MOETUNE_HAS_QT_REPORT
  if (format == "pdf") throw InputError(out + ": pdf needs the Qt build (moetune built with the Qt report library)");
#endif
  if (auto c = check_output(out, force); !c) throw InputError(c.error().message);
  auto run = analyzers::RunData::load(path);
  if (!run) throw InputError(run.error().message);
  auto result = analyzers::analyze(*run);
#ifdef MOETUNE_HAS_QT_REPORT
  if (format == "html" || format == "pdf") {
    // Rendered into a temporary next to OUT, checked complete, then put in place.
    auto tmp = TempFile::create(out);
    if (!tmp) throw InputError(tmp.error().message);
    auto r = ui::render_report_qt(*run, result, format, tmp->path());
    if (!r) {  // name the output, not the temporary
      std::string msg = r.error().message;
      for (auto at = msg.find(tmp->path().string()); at != std::string::npos; at = msg.find(tmp->path().string()))
        msg.replace(at, tmp->path().string().size(), out);
      throw InputError(msg);
    }
    if (!ends_with_tail(tmp->path(), format == "pdf" ? "%%EOF" : "</html>"))
      throw InputError(out + ": write failed (the " + format + " file is incomplete; disk full?)");
    if (auto c = tmp->commit(force); !c) throw InputError(c.error().message);
    std::fprintf(stderr, "wrote %s (%s, %zu findings)\n", out.c_str(), format.c_str(), result.findings.size());
    exit_code = 0;
    return;
  }
#endif
  std::string text = format == "json" ? analyzers::to_json(result).dump(2) + "\n"
                     : format == "md" ? analyzers::report_markdown(*run, result)
                                      : analyzers::report_html(*run, result);
  auto w = write_file_safely(out, text, force);
  if (!w) throw InputError(w.error().message);
  std::fprintf(stderr, "wrote %s (%s, %zu findings)\n", out.c_str(), format.c_str(), result.findings.size());
  exit_code = 0;
}

const Register reg{"report", [](CLI::App& app, int& exit_code) {
                     auto path = std::make_shared<std::string>();
                     auto format = std::make_shared<std::string>("html");
                     auto out = std::make_shared<std::string>();
                     auto force = std::make_shared<bool>(false);
                     auto* c = app.add_subcommand("report", "Write the analysis as a report (json, md, html, pdf)");
                     c->add_option("run", *path, "run file (.moetune)")->required();
                     c->add_option("--format", *format, "json, md, html or pdf (default html)");
                     c->add_option("-o,--output", *out, "output file")->required();
                     c->add_flag("--force", *force, "overwrite an existing output file");
                     c->callback([path, format, out, force, &exit_code] {
                       run_report(*path, *format, *out, *force, exit_code);
                     });
                   }};

}  // namespace
}  // namespace moetune::cli
