// SPDX-License-Identifier: Apache-2.0
// moetune-gui [RUN.moetune]: no argument opens the bundled demo run.
//   --screenshot OUT.png [--view timeline|findings|time|experts|replay|plots|topology|health] [--range A:B] RUN
//   --bench-render RUN
//   --comm-rules FILE: user communication rules (docs/COMM-RULES.md) for the timeline and analyses
#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <cstdio>

#include "headless.h"
#include "moetune/trace/comm_vocab.h"
#include "moetune/ui/main_window.h"

int main(int argc, char** argv) {
  QElapsedTimer since_start;
  since_start.start();
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("moetune-gui"));
  QApplication::setOrganizationName(QStringLiteral("moetune"));
  QCommandLineParser cli;
  cli.setApplicationDescription(QStringLiteral("moetune: timeline, findings and replay of MoE GPU runs"));
  cli.addHelpOption();
  QCommandLineOption shot(QStringLiteral("screenshot"), QStringLiteral("Save a window image to FILE and exit."),
                          QStringLiteral("FILE"));
  QCommandLineOption view(QStringLiteral("view"), QStringLiteral("View for --screenshot."), QStringLiteral("VIEW"),
                          QStringLiteral("timeline"));
  QCommandLineOption bench(QStringLiteral("bench-render"), QStringLiteral("Time first paint and redraws of RUN."),
                           QStringLiteral("RUN"));
  QCommandLineOption rules(QStringLiteral("comm-rules"),
                           QStringLiteral("Communication rules file (docs/COMM-RULES.md), tried before the built-in rules."),
                           QStringLiteral("FILE"));
  cli.addOption(rules);
  cli.addOption(shot);
  cli.addOption(view);
  cli.addOption(bench);
  QCommandLineOption range(QStringLiteral("range"), QStringLiteral("For --screenshot: show A..B ms from the run start."),
                           QStringLiteral("A:B"));
  cli.addOption(range);
  cli.addPositionalArgument(QStringLiteral("run"), QStringLiteral("Run file (.moetune); default: the demo run"));
  cli.process(app);
  if (cli.isSet(rules)) {
    auto r = moetune::comm::RuleSet::load(cli.value(rules).toStdString());
    if (!r) {
      std::fprintf(stderr, "moetune-gui: %s\n", r.error().message.c_str());
      return 2;
    }
    moetune::comm::set_default_rules(std::make_shared<const moetune::comm::RuleSet>(std::move(*r)));
  }

  moetune::ui::MainWindow w;
  if (cli.isSet(bench)) return gui_bench_render(w, cli.value(bench), since_start.elapsed());
  QString run = cli.positionalArguments().value(0);
  if (run.isEmpty()) run = moetune::ui::default_demo_run();
  if (cli.isSet(shot)) {
    if (run.isEmpty()) {
      std::fprintf(stderr, "moetune-gui: --screenshot needs a RUN\n");
      return 2;
    }
    return gui_screenshot(w, run, cli.value(shot), cli.value(view), cli.value(range));
  }
  w.show();
  if (!run.isEmpty()) w.open(run);
  return app.exec();
}
