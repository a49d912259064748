// SPDX-License-Identifier: Apache-2.0
// moetune report RUN --format json|md|html|pdf -o FILE.
// json and md always; html without Qt is a self-contained page built by the
// analyzers library; with the Qt report library (MOETUNE_HAS_QT_REPORT) html and
// pdf carry QCustomPlot plots. pdf without Qt: exit 2.
#include <cstdio>
#include <fstream>

#include "command.h"
#include "moetune/analyzers/model.h"
#include "moetune/analyzers/report.h"
#ifdef MOETUNE_HAS_QT_REPORT
#include "moetune/ui/report_qt.h"
#endif

namespace moetune::cli {
namespace {

void run_report(const std::string& path, const std::string& format, const std::string& out, const std::string& rules,
                int& exit_code) {
  if (format != "json" && format != "md" && format != "html" && format != "pdf")
    throw InputError("--format " + format + ": expected json, md, html or pdf");
#ifndef MOETUNE_HAS_QT_REPORT
  if (format == "pdf") throw InputError(out + ": pdf needs the Qt build (moetune built with the Qt report library)");
#endif
  analyzers::AnalyzeOptions opts;
  opts.comm_rules = load_comm_rules(rules);
  auto run = analyzers::RunData::load(path);
  if (!run) throw InputError(run.error().message);
  auto result = analyzers::analyze(*run, opts);
#ifdef MOETUNE_HAS_QT_REPORT
  if (format == "html" || format == "pdf") {
    auto r = ui::render_report_qt(*run, result, format, out);
    if (!r) throw InputError(r.error().message);
    std::fprintf(stderr, "wrote %s (%s, %zu findings)\n", out.c_str(), format.c_str(), result.findings.size());
    exit_code = 0;
    return;
  }
#endif
  std::string text = format == "json" ? analyzers::to_json(result).dump(2) + "\n"
                     : format == "md" ? analyzers::report_markdown(*run, result)
                                      : analyzers::report_html(*run, result);
  auto w = analyzers::write_text_file(out, text);
  if (!w) throw InputError(w.error().message);
  std::fprintf(stderr, "wrote %s (%s, %zu findings)\n", out.c_str(), format.c_str(), result.findings.size());
  exit_code = 0;
}

const Register reg{"report", [](CLI::App& app, int& exit_code) {
                     auto path = std::make_shared<std::string>();
                     auto format = std::make_shared<std::string>("html");
                     auto out = std::make_shared<std::string>();
                     auto rules = std::make_shared<std::string>();
                     auto* c = app.add_subcommand("report", "Write the analysis as a report (json, md, html, pdf)");
                     c->add_option("run", *path, "run file (.moetune)")->required();
                     c->add_option("--format", *format, "json, md, html or pdf (default html)");
                     c->add_option("-o,--output", *out, "output file")->required();
                     c->add_option("--comm-rules", *rules, kCommRulesHelp);
                     c->callback([path, format, out, rules, &exit_code] {
                       run_report(*path, *format, *out, *rules, exit_code);
                     });
                   }};

}  // namespace
}  // namespace moetune::cli
