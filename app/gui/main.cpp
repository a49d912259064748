// SPDX-License-Identifier: Apache-2.0
// moetune-gui [RUN.moetune]: no argument opens the bundled demo run.
//   --screenshot OUT.png [--view timeline|findings|time|experts|replay|plots|topology|health] [--range A:B] RUN
//   --bench-render RUN
//   --comm-rules FILE: user communication rules (docs/COMM-RULES.md) for the timeline and analyses
//   --report RUN --format pdf|html|png -o OUT   (the Qt front end of the report, headless)
// --help and --version are answered before any window system is touched (no display
// needed); --report runs on the offscreen platform unless QT_QPA_PLATFORM says otherwise.
#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <algorithm>

#include "headless.h"
#include "moetune/trace/comm_vocab.h"
#include "moetune/trace/safe_file.h"
#include "moetune/analyzers/model.h"
#include "moetune/ui/main_window.h"
#include "moetune/ui/report_qt.h"
#include "moetune/version.h"

namespace {

struct Options {
  QCommandLineOption shot{QStringLiteral("screenshot"), QStringLiteral("Save a window image to FILE and exit."),
                          QStringLiteral("FILE")};
  QCommandLineOption view{QStringLiteral("view"), QStringLiteral("View for --screenshot."), QStringLiteral("VIEW"),
                          QStringLiteral("timeline")};
  QCommandLineOption bench{QStringLiteral("bench-render"), QStringLiteral("Time first paint and redraws of RUN."),
                           QStringLiteral("RUN")};
  QCommandLineOption report{QStringLiteral("report"),
                            QStringLiteral("Write the report of RUN (with --format and -o) and exit; no window."),
                            QStringLiteral("RUN")};
  QCommandLineOption format{QStringLiteral("format"),
                            QStringLiteral("Report format: pdf, html (PNG plots inline) or png (a directory of plots)."),
                            QStringLiteral("FORMAT"), QStringLiteral("pdf")};
  QCommandLineOption output{{QStringLiteral("o"), QStringLiteral("output")}, QStringLiteral("Report output file."),
                            QStringLiteral("FILE")};
  QCommandLineOption rules{QStringLiteral("comm-rules"),
                           QStringLiteral("Communication rules file (docs/COMM-RULES.md), tried before the built-in rules."),
                           QStringLiteral("FILE")};
  QCommandLineOption range{QStringLiteral("range"), QStringLiteral("For --screenshot: show A..B ms from the run start."),
                           QStringLiteral("A:B")};

  void add_to(QCommandLineParser& cli) {
    cli.setApplicationDescription(QStringLiteral("moetune: timeline, findings and replay of MoE GPU runs"));
    cli.addHelpOption();
    cli.addVersionOption();
    for (const auto* o : {&shot, &view, &bench, &report, &format, &output, &rules, &range}) cli.addOption(*o);
    cli.addPositionalArgument(QStringLiteral("run"), QStringLiteral("Run file (.moetune); default: the demo run"));
  }
};

bool has_arg(int argc, char** argv, std::initializer_list<const char*> names) {
  for (int i = 1; i < argc; ++i)
    for (const char* n : names)
      if (std::strcmp(argv[i], n) == 0) return true;
  return false;
}

// True when the file at `p` ends with `tail` within its last 64 bytes.
bool ends_with(const std::filesystem::path& p, const std::string& tail) {
  std::ifstream in(p, std::ios::binary | std::ios::ate);
  if (!in) return false;
  const auto size = static_cast<std::streamoff>(in.tellg());
  const std::streamoff n = std::min<std::streamoff>(size, 64);
  std::string last(static_cast<std::size_t>(n), '\0');
  in.seekg(size - n);
  in.read(last.data(), n);
  return in && last.find(tail) != std::string::npos;
}

int write_report(const QCommandLineParser& cli, const Options& o) {
  const std::string run = cli.value(o.report).toStdString(), format = cli.value(o.format).toStdString(),
                    out = cli.value(o.output).toStdString();
  if (out.empty()) {
    std::fprintf(stderr, "moetune-gui: --report needs -o FILE\n");
    return 2;
  }
  if (format != "pdf" && format != "html" && format != "png") {
    std::fprintf(stderr, "moetune-gui: --format %s: expected pdf, html or png\n", format.c_str());
    return 2;
  }
  auto data = moetune::analyzers::RunData::load(run);
  if (!data) {
    std::fprintf(stderr, "moetune-gui: %s\n", data.error().message.c_str());
    return 2;
  }
  const auto result = moetune::analyzers::analyze(*data);
  // Rendering makes its own QApplication on the offscreen platform (report_qt.h); its
  // "XDG_RUNTIME_DIR not set" chatter on a headless node is not the user's problem.
  qInstallMessageHandler([](QtMsgType type, const QMessageLogContext&, const QString& msg) {
    if (type != QtDebugMsg && type != QtInfoMsg && !msg.contains(QLatin1String("XDG_RUNTIME_DIR")))
      std::fprintf(stderr, "moetune-gui: %s\n", qPrintable(msg));
  });
  auto fail = [](const std::string& m) {
    std::fprintf(stderr, "moetune-gui: %s\n", m.c_str());
    return 2;
  };
  if (format == "png") {  // a directory of plots
    if (auto r = moetune::ui::render_report_qt(*data, result, format, out); !r) return fail(r.error().message);
  } else {
    // Rendered into a temporary next to OUT (trace/safe_file.h), checked complete (a
    // renderer that hit a full disk leaves no trailer), then put in place; OUT is replaced
    // (`moetune report` has refused it already unless --force).
    auto tmp = moetune::TempFile::create(out);
    if (!tmp) return fail(tmp.error().message);
    if (auto r = moetune::ui::render_report_qt(*data, result, format, tmp->path()); !r) return fail(r.error().message);
    if (!ends_with(tmp->path(), format == "pdf" ? "%%EOF" : "</html>"))
      return fail(out + ": write failed (the " + format + " file is incomplete; disk full?)");
    if (auto c = tmp->commit(true); !c) return fail(c.error().message);
  }
  std::fprintf(stderr, "wrote %s (%s, %zu findings)\n", out.c_str(), format.c_str(), result.findings.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  QElapsedTimer since_start;
  since_start.start();
  Options opts;
  if (has_arg(argc, argv, {"-h", "--help", "--help-all", "-?", "-v", "--version"})) {
    // Answered by a QCoreApplication: no platform plugin, no display.
    QCoreApplication core(argc, argv);
    QCoreApplication::setApplicationName(QStringLiteral("moetune-gui"));
    QCoreApplication::setApplicationVersion(QStringLiteral(MOETUNE_VERSION));
    QCommandLineParser cli;
    opts.add_to(cli);
    cli.process(core);  // prints help / version and exits
    return 0;
  }
  if (has_arg(argc, argv, {"--report"})) {
    // No window: arguments, run and analysis first (bad input is one line, exit 2), then
    // the plots on the offscreen platform unless QT_QPA_PLATFORM says otherwise.
    if (std::getenv("QT_QPA_PLATFORM") == nullptr) ::setenv("QT_QPA_PLATFORM", "offscreen", 1);
    QStringList args;
    for (int i = 0; i < argc; ++i) args << QString::fromLocal8Bit(argv[i]);
    QCommandLineParser cli;
    opts.add_to(cli);
    if (!cli.parse(args)) {
      std::fprintf(stderr, "moetune-gui: %s\n", qPrintable(cli.errorText()));
      return 2;
    }
    return write_report(cli, opts);
  }
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("moetune-gui"));
  QApplication::setApplicationVersion(QStringLiteral(MOETUNE_VERSION));
  QApplication::setOrganizationName(QStringLiteral("moetune"));
  QCommandLineParser cli;
  opts.add_to(cli);
  cli.process(app);
  if (cli.isSet(opts.rules)) {
    auto r = moetune::comm::RuleSet::load(cli.value(opts.rules).toStdString());
    if (!r) {
      std::fprintf(stderr, "moetune-gui: %s\n", r.error().message.c_str());
      return 2;
    }
    moetune::comm::set_default_rules(std::make_shared<const moetune::comm::RuleSet>(std::move(*r)));
  }

  moetune::ui::MainWindow w;
  if (cli.isSet(opts.bench)) return gui_bench_render(w, cli.value(opts.bench), since_start.elapsed());
  QString run = cli.positionalArguments().value(0);
  if (run.isEmpty()) run = moetune::ui::default_demo_run();
  if (cli.isSet(opts.shot)) {
    if (run.isEmpty()) {
      std::fprintf(stderr, "moetune-gui: --screenshot needs a RUN\n");
      return 2;
    }
    return gui_screenshot(w, run, cli.value(opts.shot), cli.value(opts.view), cli.value(opts.range));
  }
  w.show();
  if (!run.isEmpty()) w.open(run);
  return app.exec();
}
