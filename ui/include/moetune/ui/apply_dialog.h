// SPDX-License-Identifier: Apache-2.0
// ApplyDialog: the tuning profile of one finding (or all of them) shown as a diff of
// settings (env / flags / placement / manual changes, before -> after), saved as a
// moetune-profile JSON, and optionally used to relaunch the run's recorded command
// with `moetune apply PROFILE --record -o AFTER -- sh -c CMD` (QProcess); when that
// run ends, both runs are analysed and the `diff` numbers (analyzers::diff_runs)
// are shown. The profile itself comes from analyzers::build_profile: no GUI logic.
#pragma once
#include <QDialog>
#include <memory>

#include "moetune/analyzers/profile.h"

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

 private:
  void relaunch();
  void compare(const QString& after);
  std::shared_ptr<const LoadedRun> run_;
  std::shared_ptr<const analyzers::AnalysisResult> result_;
  analyzers::Profile profile_;
  QTableWidget* table_;
  QTextBrowser* log_;
  QPushButton* relaunch_;
  QProcess* proc_ = nullptr;
  QString saved_;
};

}  // namespace moetune::ui
