// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/apply_dialog.h"

#include <QCoreApplication>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QProcess>
#include <QPushButton>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTextBrowser>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include "moetune/analyzers/diff.h"
#include "moetune/ui/comparison_view.h"
#include "moetune/ui/run_loader.h"

namespace moetune::ui {

namespace {
QString qs(const std::string& s) { return QString::fromStdString(s); }

// $MOETUNE_CLI, else the moetune CLI beside this executable (install or build tree), else on PATH.
QString moetune_cli() {
  const QString env = qEnvironmentVariable("MOETUNE_CLI");
  if (!env.isEmpty() && QFileInfo(env).isExecutable()) return env;
  const QString dir = QCoreApplication::applicationDirPath();
  const QStringList candidates = {dir + QStringLiteral("/moetune"), dir + QStringLiteral("/../moetune")};
  for (const QString& c : candidates)
    if (QFileInfo(c).isExecutable()) return QFileInfo(c).canonicalFilePath();
  return QStandardPaths::findExecutable(QStringLiteral("moetune"));
}
}  // namespace

ApplyDialog::ApplyDialog(std::shared_ptr<const LoadedRun> run, std::shared_ptr<const analyzers::AnalysisResult> result,
                         int finding, QWidget* parent)
    : QDialog(parent), run_(std::move(run)), result_(std::move(result)), table_(new QTableWidget(this)),
      log_(new QTextBrowser(this)), relaunch_(new QPushButton(tr("Relaunch with profile"), this)) {
  setWindowTitle(tr("Apply tuning profile"));
  resize(900, 600);
  analyzers::AnalysisResult subset;
  if (finding >= 0 && finding < int(result_->findings.size())) subset.findings = {result_->findings[std::size_t(finding)]};
  else subset = *result_;
  profile_ = analyzers::build_profile(subset, run_->summary.path.string());

  table_->setColumnCount(4);
  table_->setHorizontalHeaderLabels({tr("Kind"), tr("Setting"), tr("Before"), tr("After")});
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  const auto& meta = run_->summary.meta;
  auto add = [this](const QString& kind, const QString& name, const QString& before, const QString& after) {
    const int r = table_->rowCount();
    table_->insertRow(r);
    table_->setItem(r, 0, new QTableWidgetItem(kind));
    table_->setItem(r, 1, new QTableWidgetItem(name));
    auto* b = new QTableWidgetItem(before);
    b->setForeground(QColor(180, 40, 40));
    table_->setItem(r, 2, b);
    auto* a = new QTableWidgetItem(after);
    a->setForeground(QColor(30, 130, 30));
    table_->setItem(r, 3, a);
  };
  for (const auto& [k, v] : profile_.env) {
    auto it = meta.find("env." + k);
    add(QStringLiteral("env"), qs(k), it != meta.end() ? qs(it->second) : tr("(not recorded)"), qs(v));
  }
  for (std::size_t i = 0; i < profile_.flags.size(); ++i) {  // "--name value" pairs, or a bare "--switch"
    const QString name = qs(profile_.flags[i]);
    QString value = name;
    if (i + 1 < profile_.flags.size() && profile_.flags[i + 1].rfind("-", 0) != 0) value = qs(profile_.flags[++i]);
    add(QStringLiteral("flag"), name, tr("(default)"), value);
  }
  if (profile_.placement) add(QStringLiteral("placement"), tr("expert placement"), tr("current"), tr("plan (see profile)"));
  if (!profile_.placement_file.empty()) add(QStringLiteral("placement"), qs(profile_.placement_file), tr("current"), tr("plan file"));
  for (const auto& m : profile_.manual) add(QStringLiteral("code"), qs(m.value("description", m.dump())), QString(), tr("manual change"));
  table_->resizeColumnsToContents();

  auto* save_btn = new QPushButton(tr("Save profile…"), this);
  connect(save_btn, &QPushButton::clicked, this, [this] {
    const QString p = QFileDialog::getSaveFileName(this, tr("Save profile"), QStringLiteral("profile.json"), tr("JSON (*.json)"));
    QString err;
    if (!p.isEmpty() && !this->save(p, &err)) log_->append(err);
  });
  cli_ = moetune_cli();
  relaunch_->setEnabled(!recorded_command().isEmpty() && !cli_.isEmpty());
  relaunch_->setToolTip(recorded_command().isEmpty() ? tr("The run has no recorded command") : recorded_command());
  connect(relaunch_, &QPushButton::clicked, this, &ApplyDialog::relaunch);
  auto* box = new QDialogButtonBox(QDialogButtonBox::Close, this);
  box->addButton(save_btn, QDialogButtonBox::ActionRole);
  box->addButton(relaunch_, QDialogButtonBox::ActionRole);
  connect(box, &QDialogButtonBox::rejected, this, &QDialog::reject);
  auto* v = new QVBoxLayout(this);
  QString head = tr("%1 setting change(s) from %2 finding(s)").arg(diff_rows()).arg(profile_.findings.size());
  for (const auto& s : profile_.skipped) head += QStringLiteral("\n") + tr("skipped: ") + qs(s);
  v->addWidget(new QLabel(head, this));
  v->addWidget(table_, 2);
  v->addWidget(log_, 1);
  v->addWidget(box);
}

int ApplyDialog::diff_rows() const { return table_->rowCount(); }

QString ApplyDialog::recorded_command() const {
  auto it = run_->summary.meta.find("command");
  if (it == run_->summary.meta.end() || it->second.rfind("moetune synth", 0) == 0) return {};
  return qs(it->second);
}

bool ApplyDialog::save(const QString& path, QString* error) {
  auto r = analyzers::write_profile(path.toStdString(), profile_);
  if (!r) {
    if (error) *error = qs(r.error().message);
    return false;
  }
  saved_ = path;
  log_->append(tr("Saved %1").arg(path));
  return true;
}

void ApplyDialog::set_cli(const QString& path) {
  cli_ = path;
  relaunch_->setEnabled(!recorded_command().isEmpty() && !cli_.isEmpty());
}

QString ApplyDialog::log_text() const { return log_->toPlainText(); }

QString ApplyDialog::after_path() const {
  const QFileInfo before(qs(run_->summary.path.string()));
  return before.absolutePath() + QStringLiteral("/") + before.completeBaseName() + QStringLiteral("-after.moetune");
}

void ApplyDialog::relaunch() {
  const QString cmd = recorded_command();
  if (cmd.isEmpty() || cli_.isEmpty()) {
    const QString why = cmd.isEmpty() ? tr("the run has no recorded command") : tr("the moetune CLI was not found");
    log_->append(why);
    emit relaunchFailed(why);
    return;
  }
  if (proc_ && proc_->state() != QProcess::NotRunning) return;
  if (saved_.isEmpty()) {
    const QString p = QDir::temp().filePath(QStringLiteral("moetune-profile-%1.json").arg(QCoreApplication::applicationPid()));
    QString err;
    if (!save(p, &err)) { log_->append(err); emit relaunchFailed(err); return; }
  }
  const QString after = after_path();
  if (!proc_) {
    proc_ = new QProcess(this);
    proc_->setProcessChannelMode(QProcess::MergedChannels);
    connect(proc_, &QProcess::readyRead, this, [this] { log_->append(QString::fromLocal8Bit(proc_->readAll()).trimmed()); });
    connect(proc_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError) {
      if (proc_->state() != QProcess::NotRunning) return;
      log_->append(proc_->errorString());
      relaunch_->setEnabled(true);
      emit relaunchFailed(proc_->errorString());
    });
  }
  disconnect(proc_, &QProcess::finished, this, nullptr);
  connect(proc_, &QProcess::finished, this, [this, after](int code, QProcess::ExitStatus st) {
    log_->append(tr("apply finished with exit code %1").arg(code));
    relaunch_->setEnabled(true);
    if (st == QProcess::NormalExit && QFileInfo::exists(after)) {
      compare(after);  // the job's own exit status is the job's business; the run was recorded
    } else {
      const QString why = tr("%1 was not recorded (exit code %2)").arg(after).arg(code);
      log_->append(why);
      emit relaunchFailed(why);
    }
  });
  relaunch_->setEnabled(false);
  QFile::remove(after);
  const QStringList args = {QStringLiteral("apply"), saved_, QStringLiteral("--record"), QStringLiteral("--force"),
                            QStringLiteral("-o"), after, QStringLiteral("--"), QStringLiteral("sh"),
                            QStringLiteral("-c"), cmd};
  log_->append(cli_ + QLatin1Char(' ') + args.join(QLatin1Char(' ')));
  proc_->start(cli_, args);
}

void ApplyDialog::compare(const QString& after) {
  log_->append(tr("Loading and analysing %1…").arg(after));
  auto out = std::make_shared<Expected<ComparisonView::Side>>(Error{after.toStdString() + ": not loaded"});
  disconnect(&loading_, nullptr, this, nullptr);
  connect(&loading_, &QFutureWatcher<void>::finished, this, [this, out] {
    if (!*out) {
      log_->append(qs(out->error().message));
      emit relaunchFailed(qs(out->error().message));
      return;
    }
    ComparisonView::Side before{run_, result_};
    auto* view = new ComparisonView(before, **out, parentWidget());
    view->setWindowFlag(Qt::Window);
    view->setAttribute(Qt::WA_DeleteOnClose);
    comparison_ = view;
    log_->append(tr("Before → after (moetune diff):"));
    log_->append(qs(view->diff().dump(2)));
    view->show();
    emit comparisonOpened(view);
  });
  const std::filesystem::path p = after.toStdString();
  loading_.setFuture(QtConcurrent::run([out, p] { *out = ComparisonView::load(p); }));
}

}  // namespace moetune::ui
