// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/run_loader.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QThread>
#include <QtConcurrent/QtConcurrentRun>

#include "moetune/trace/reader.h"

namespace moetune::ui {

RunLoader::RunLoader(QObject* parent) : QObject(parent) {
  qRegisterMetaType<std::shared_ptr<const RunSummary>>();
  qRegisterMetaType<std::shared_ptr<const LoadedRun>>();
  qRegisterMetaType<std::shared_ptr<const analyzers::AnalysisResult>>();
  connect(&watcher_, &QFutureWatcher<void>::finished, this, [this] {
    busy_ = false;
    emit finished();
  });
}

RunLoader::~RunLoader() {
  cancel();
  watcher_.waitForFinished();
}

Expected<RunSummary> RunLoader::read_summary(const std::filesystem::path& p) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec)) return Error{p.string() + ": no such file"};
  auto rd = TraceReader::open(p);
  if (!rd) return rd.error();
  RunSummary s;
  s.path = p;
  s.format_version = (*rd)->format_version();
  s.counts = (*rd)->counts();
  std::tie(s.t_begin, s.t_end) = (*rd)->time_range();
  s.ranks = (*rd)->ranks();
  s.stats = (*rd)->stats();
  s.meta = (*rd)->meta();
  return s;
}

void RunLoader::cancel() {
  if (cancel_) cancel_->store(true);
}

void RunLoader::load(const QString& qpath) {
  cancel();
  watcher_.waitForFinished();  // stages end quickly once cancelled between them
  cancel_ = std::make_shared<std::atomic<bool>>(false);
  const std::uint64_t job = ++job_;
  busy_ = true;
  auto stop = cancel_;
  const std::filesystem::path path = qpath.toStdString();
  // Delivers on the GUI thread, only if this job is still the current one.
  auto deliver = [this, job](auto fn) {
    QMetaObject::invokeMethod(this, [this, job, fn] { if (job == job_) fn(); }, Qt::QueuedConnection);
  };
  watcher_.setFuture(QtConcurrent::run([this, path, stop, deliver] {
    deliver([this] { emit progress(tr("Reading summary…")); });
    auto sum = read_summary(path);
    if (!sum) {
      deliver([this, m = QString::fromStdString(sum.error().message)] { emit failed(m); });
      return;
    }
    auto s = std::make_shared<const RunSummary>(std::move(*sum));
    deliver([this, s] { emit summaryReady(s); emit progress(tr("Loading events…")); });
    if (stop->load()) return;
    Expected<analyzers::RunData> data = Error{path.string() + ": could not load"};
    try {
      data = analyzers::RunData::load(path);
    } catch (const std::exception& e) {
      data = Error{path.string() + ": " + e.what()};
    }
    if (!data) {
      deliver([this, m = QString::fromStdString(data.error().message)] { emit failed(m); });
      return;
    }
    if (stop->load()) return;
    auto run = std::make_shared<LoadedRun>();
    run->summary = *s;
    run->data = std::move(*data);
    run->timeline = TimelineData::build(run->data);
    std::shared_ptr<const LoadedRun> crun = run;
    deliver([this, crun] { emit runReady(crun); emit progress(tr("Analysing…")); });
    if (stop->load()) return;
    analyzers::AnalysisResult r;
    try {
      r = analyzers::analyze(crun->data);
    } catch (const std::exception& e) {
      r.notes.push_back(std::string("analysis failed: ") + e.what());
    }
    auto res = std::make_shared<const analyzers::AnalysisResult>(std::move(r));
    deliver([this, res] { emit analysisReady(res); emit progress(tr("Ready")); });
  }));
}

bool RunLoader::wait(int timeout_ms) {
  QElapsedTimer t;
  t.start();
  while (busy_ && t.elapsed() < timeout_ms) {
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    if (busy_) QThread::msleep(2);
  }
  // flush the queued deliveries posted just before the worker ended
  QCoreApplication::processEvents();
  return !busy_;
}

}  // namespace moetune::ui
