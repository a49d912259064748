// SPDX-License-Identifier: Apache-2.0
// ApplyDialog: the tuning profile of one finding (or all of them) shown as a diff of
// settings (env / flags / placement / manual changes, before -> after), saved as a
// moetune-profile JSON, and optionally used to relaunch the run's recorded command
// with `moetune apply PROFILE --record -o AFTER -- sh -c CMD` (QProcess; CMD is the
// run's meta 'command', as `moetune record` stored it); when that run ends, the after
// run is loaded and analysed off the GUI thread and a ComparisonView opens: both runs
// side by side with the `diff` numbers (analyzers::diff_runs). The profile itself
// comes from analyzers::build_profile: no GUI logic.
#pragma once
#include <QDialog>
#include <QFutureWatcher>
#include <QPointer>
#include <memory>

#include "moetune/analyzers/profile.h"
#include "moetune/ui/comparison_view.h"

class QTableWidget;
class QTextBrowser;
class QPushButton;
class QProcess;

namespace moetune::ui {

struct LoadedRun;

class ApplyDialog : public QDialog {
  Q_OBJECT
 public:
  // finding < 0: every finding.
  ApplyDialog(std::shared_ptr<const LoadedRun> run, std::shared_ptr<const analyzers::AnalysisResult> result,
              int finding, QWidget* parent = nullptr);
  const analyzers::Profile& profile() const { return profile_; }
  int diff_rows() const;
  // Writes the profile; false with the reason in `error` on failure.
  bool save(const QString& path, QString* error = nullptr);
  QString recorded_command() const;
  // The moetune CLI used for the relaunch: $MOETUNE_CLI, else beside this executable, else on PATH.
  QString cli() const { return cli_; }
  void set_cli(const QString& path);
  QString after_path() const;  // where the relaunch records: RUN-after.moetune beside RUN
  ComparisonView* comparison() const { return comparison_; }
  QString log_text() const;

 public slots:
  void relaunch();

 signals:
  void comparisonOpened(moetune::ui::ComparisonView* view);
  void relaunchFailed(const QString& why);

 private:
  void compare(const QString& after);
  std::shared_ptr<const LoadedRun> run_;
  std::shared_ptr<const analyzers::AnalysisResult> result_;
  analyzers::Profile profile_;
  QTableWidget* table_;
  QTextBrowser* log_;
  QPushButton* relaunch_;
  QProcess* proc_ = nullptr;
  QString saved_, cli_;
  QFutureWatcher<void> loading_;
  QPointer<ComparisonView> comparison_;
};

}  // namespace moetune::ui
