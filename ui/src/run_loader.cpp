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
  std::string error;  // the first table that could not be read ("FILE: table T: what")
  auto take = [&error](auto&& got, auto& into) {
    if (got) into = std::move(*got);
    else if (error.empty()) error = got.error().message;
  };
  take((*rd)->counts(), s.counts);
  std::pair<std::int64_t, std::int64_t> range;
  take((*rd)->time_range(), range);
  std::tie(s.t_begin, s.t_end) = range;
  take((*rd)->ranks(), s.ranks);
  take((*rd)->stats(), s.stats);
  take((*rd)->meta(), s.meta);
  if (!error.empty()) return Error{error};
  return s;
}

std::int64_t RunLoader::event_count(const RunSummary& s) {
  std::int64_t n = 0;
  for (auto t : table_names(kEvents)) n += s.counts.get(std::string(t));
  return n;
}

std::pair<std::int64_t, std::int64_t> RunLoader::preview_window(const RunSummary& s, std::int64_t budget) {
  const std::int64_t n = event_count(s);
  if (n <= budget || s.t_end <= s.t_begin) return {s.t_begin, s.t_end};
  const double share = double(budget) / double(n);
  const auto span = static_cast<std::int64_t>(double(s.t_end - s.t_begin) * share);
  return {s.t_begin, s.t_begin + std::max<std::int64_t>(span, 1000)};
}

namespace {
double ms_since(const QElapsedTimer& t) { return double(t.nsecsElapsed()) / 1e6; }

// Appends a query's rows; a failed query leaves its message in `error` (the first one kept).
template <class V>
void append(V& into, Expected<V>&& more, std::string& error) {
  if (!more) {
    if (error.empty()) error = more.error().message;
  } else if (into.empty()) {
    into = std::move(*more);
  } else {
    into.insert(into.end(), std::make_move_iterator(more->begin()), std::make_move_iterator(more->end()));
  }
}
}  // namespace

Expected<LoadedRun> RunLoader::read_window(const RunSummary& s, std::int64_t t0, std::int64_t t1) {
  QElapsedTimer t;
  t.start();
  auto rd = TraceReader::open(s.path);
  if (!rd) return rd.error();
  TraceReader& r = **rd;
  LoadedRun run;
  run.summary = s;
  run.partial = true;
  run.window_t0 = t0;
  run.window_t1 = t1;
  analyzers::RunData& d = run.data;
  d.path = s.path;
  d.meta = s.meta;
  d.ranks = s.ranks;
  d.stats = s.stats;
  d.strings = r.strings();
  // One range query per rank and table: each walks the (rank, start_ns) index.
  std::vector<RankId> ranks;
  for (const auto& rr : s.ranks) ranks.push_back(rr.rank);
  if (ranks.empty()) ranks.push_back(RankId());
  std::string error;
  for (RankId k : ranks) {
    append(d.kernels, r.kernels(k, t0, t1), error);
    append(d.memcpys, r.memcpys(k, t0, t1), error);
    append(d.memsets, r.memsets(k, t0, t1), error);
    append(d.api_calls, r.api_calls(k, t0, t1), error);
    append(d.nvtx, r.nvtx(k, t0, t1), error);
    append(d.nccl_ops, r.nccl_ops(k, t0, t1), error);
  }
  append(d.steps, r.steps(), error);  // few rows; the replay needs all of them
  // No expert_routing / topology here: only the full run's panels read them, and at 1024
  // ranks they are 5.2 M and 0.5 M rows (most of an 8.6 s preview before).
  append(d.placement, r.expert_placement(), error);
  if (!error.empty()) return Error{error};
  run.read_ms = ms_since(t);
  t.restart();
  run.timeline = TimelineData::build(d);
  run.layout_ms = ms_since(t);
  return run;
}

Expected<LoadedRun> RunLoader::read_full(const RunSummary& s) {
  QElapsedTimer t;
  t.start();
  Expected<analyzers::RunData> data = Error{s.path.string() + ": could not load"};
  try {
    data = analyzers::RunData::load(s.path);
  } catch (const std::exception& e) {
    data = Error{s.path.string() + ": " + e.what()};
  }
  if (!data) return data.error();
  LoadedRun run;
  run.summary = s;
  run.data = std::move(*data);
  run.window_t0 = s.t_begin;
  run.window_t1 = s.t_end;
  run.read_ms = ms_since(t);
  t.restart();
  run.timeline = TimelineData::build(run.data);
  run.layout_ms = ms_since(t);
  return run;
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
    const auto [w0, w1] = preview_window(*s);
    const bool preview = w0 != s->t_begin || w1 != s->t_end;
    const int total = preview ? 4 : 3;
    int done = 0;
    deliver([this, s, total, d = ++done] {
      emit summaryReady(s);
      emit stageChanged(d, total);
    });
    if (stop->load()) return;
    if (preview) {
      deliver([this] { emit progress(tr("Reading the first window…")); });
      auto win = read_window(*s, w0, w1);
      if (!win) {
        deliver([this, m = QString::fromStdString(win.error().message)] { emit failed(m); });
        return;
      }
      std::shared_ptr<const LoadedRun> crun = std::make_shared<LoadedRun>(std::move(*win));
      deliver([this, crun, total, d = ++done] {
        emit runReady(crun);
        emit stageChanged(d, total);
      });
      if (stop->load()) return;
    }
    deliver([this, preview] { emit progress(preview ? tr("Loading the rest of the run…") : tr("Loading events…")); });
    auto full = read_full(*s);
    if (!full) {
      deliver([this, m = QString::fromStdString(full.error().message)] { emit failed(m); });
      return;
    }
    if (stop->load()) return;
    std::shared_ptr<const LoadedRun> crun = std::make_shared<LoadedRun>(std::move(*full));
    deliver([this, crun, total, d = ++done] {
      emit runReady(crun);
      emit stageChanged(d, total);
      emit progress(tr("Analysing…"));
    });
    if (stop->load()) return;
    analyzers::AnalysisResult r;
    try {
      r = analyzers::analyze(crun->data);
    } catch (const std::exception& e) {
      r.notes.push_back(std::string("analysis failed: ") + e.what());
    }
    auto res = std::make_shared<const analyzers::AnalysisResult>(std::move(r));
    deliver([this, res, total, d = ++done] {
      emit analysisReady(res);
      emit stageChanged(d, total);
      emit progress(tr("Ready"));
    });
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
