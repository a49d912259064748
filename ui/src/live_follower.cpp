// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/live_follower.h"

#ifdef MOETUNE_UI_HAS_LIVE
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QtConcurrent/QtConcurrentRun>

#include "moetune/live/merge.h"
#include "moetune/trace/snapshot.h"
#include "moetune/trace/writer.h"
#include "moetune/ui/run_loader.h"

namespace moetune::ui {

LiveFollower::LiveFollower(QObject* parent) : QObject(parent) {
  connect(&timer_, &QTimer::timeout, this, [this] { poll(); });
}

LiveFollower::~LiveFollower() {
  timer_.stop();
  watcher_.waitForFinished();
}

void LiveFollower::start(const QString& parts_dir, int interval_ms) {
  stop();
  dir_ = parts_dir;
  last_sig_.clear();
  ++job_;
  timer_.start(interval_ms);
  poll();
}

void LiveFollower::stop() {
  timer_.stop();
  watcher_.waitForFinished();
}

QString LiveFollower::signature() const {
  QString sig;
  const QDir d(dir_);
  for (const QFileInfo& f : d.entryInfoList(QDir::Files, QDir::Name)) {
    if (!f.fileName().contains(QLatin1String(".moetune"))) continue;  // parts and their -wal
    sig += f.fileName() + QLatin1Char(':') + QString::number(f.size()) + QLatin1Char(':') +
           QString::number(f.lastModified().toMSecsSinceEpoch()) + QLatin1Char(';');
  }
  return sig;
}

bool LiveFollower::poll() {
  if (dir_.isEmpty() || watcher_.isRunning() || !scratch_.isValid()) return false;
  const QString sig = signature();
  if (sig.isEmpty()) {
    emit waiting(tr("%1: no part files yet").arg(dir_));
    return false;
  }
  if (sig == last_sig_) return false;
  last_sig_ = sig;
  const std::uint64_t job = job_;
  const std::filesystem::path dir = dir_.toStdString(), scratch = scratch_.path().toStdString();
  watcher_.setFuture(QtConcurrent::run([this, job, dir, scratch] {
    auto r = snapshot(dir, scratch);
    if (!r) {
      QMetaObject::invokeMethod(this, [this, job, m = QString::fromStdString(r.error().message)] {
        if (job == job_) { last_sig_.clear(); emit failed(m); }
      }, Qt::QueuedConnection);
      return;
    }
    std::shared_ptr<const LoadedRun> run = std::make_shared<LoadedRun>(std::move(*r));
    QMetaObject::invokeMethod(this, [this, job, run] {
      if (job != job_) return;
      ++delivered_;
      emit updated(run);
    }, Qt::QueuedConnection);
  }));
  return true;
}

Expected<LoadedRun> LiveFollower::snapshot(const std::filesystem::path& parts_dir, const std::filesystem::path& scratch) {
  const auto parts = live::find_parts(parts_dir);
  if (parts.empty()) return Error{parts_dir.string() + ": no part files yet"};
  std::vector<std::filesystem::path> copies;
  std::string skipped;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto to = scratch / ("part-" + std::to_string(i) + ".moetune");
    if (auto c = snapshot_store(parts[i], to); !c) { skipped = c.error().message; continue; }
    copies.push_back(to);
  }
  if (copies.empty()) return Error{skipped};
  const auto merged = scratch / "live.moetune";
  WriterOptions o;
  o.force = true;
  auto w = TraceWriter::create(merged, o);
  if (!w) return w.error();
  auto rep = live::merge_parts(copies, **w);
  if (!rep) return Error{parts_dir.string() + ": " + rep.error().message};
  (*w)->set_meta("live_parts_dir", parts_dir.string());
  if (auto f = (*w)->finish(); !f) return f.error();
  auto sum = RunLoader::read_summary(merged);
  if (!sum) return sum.error();
  return RunLoader::read_full(*sum);
}

QString LiveFollower::parts_dir_of(long pid) {
  QFile f(QStringLiteral("/proc/%1/environ").arg(pid));
  if (!f.open(QIODevice::ReadOnly)) return {};
  for (const QByteArray& kv : f.readAll().split('\0')) {
    if (!kv.startsWith("MOETUNE_OUTPUT=")) continue;
    const QString pattern = QString::fromLocal8Bit(kv.mid(int(sizeof("MOETUNE_OUTPUT=")) - 1));
    return QFileInfo(pattern).absolutePath();  // RUN.parts/r%r-%h-%p -> RUN.parts
  }
  return {};
}

}  // namespace moetune::ui
#endif
