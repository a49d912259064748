// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/trace_import.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>
#include <QtConcurrent/QtConcurrentRun>
#include <algorithm>
#include <atomic>
#include <memory>

#include "moetune/import/import.h"
#include "moetune/trace/db.h"

namespace moetune::ui {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const char* suf) {
  const std::string x(suf);
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

// A SQLite file is an nsys export when it has nsys's string table or CUPTI tables;
// anything else SQLite is taken for a moetune run (the loader says if it is not).
bool is_nsys_sqlite(const fs::path& p) {
  auto db = Db::open(p, Db::Mode::ReadOnly);
  if (!db) return false;
  return (*db)->has_table("StringIds") || (*db)->has_table("CUPTI_ACTIVITY_KIND_KERNEL");
}

bool is_trace_file(const fs::path& p) {
  const std::string name = p.filename().string();
  if (ends_with(name, ".moetune") || name.find(".moetune.tmp") != std::string::npos) return false;
  switch (import::detect_format(p)) {
    case import::Format::Kineto: return true;
    case import::Format::Nsys: return is_nsys_sqlite(p);
    case import::Format::NcclTests: case import::Format::Topo: return true;
    case import::Format::Unknown: return false;
  }
  return false;
}

fs::file_time_type mtime(const fs::path& p) {
  std::error_code ec;
  auto t = fs::last_write_time(p, ec);
  return ec ? fs::file_time_type::min() : t;
}

// A folder we may write into: writable, and not marked read-only for everyone (no write
// bit at all), which a process running as root could otherwise write into anyway.
bool dir_writable(const fs::path& dir) {
  const QFileInfo fi(QString::fromStdString(dir.string()));
  const auto any_write = QFileDevice::WriteOwner | QFileDevice::WriteGroup | QFileDevice::WriteOther;
  return fi.isDir() && fi.isWritable() && (fi.permissions() & any_write);
}

}  // namespace

OpenKind classify_open_path(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return OpenKind::RawTrace;
  if (!fs::is_regular_file(path, ec)) return OpenKind::Missing;
  const std::string name = path.filename().string();
  if (ends_with(name, ".moetune")) return OpenKind::Run;
  if (ends_with(name, ".nsys-rep") || ends_with(name, ".qdrep")) return OpenKind::NsysReport;
  switch (import::detect_format(path)) {
    case import::Format::Kineto: return OpenKind::RawTrace;
    case import::Format::Nsys: return is_nsys_sqlite(path) ? OpenKind::RawTrace : OpenKind::Run;
    default: return OpenKind::Run;  // the loader reports what is wrong with it
  }
}

ImportPlan plan_import(const fs::path& in, const QString& cache_dir) {
  ImportPlan plan;
  std::error_code ec;
  fs::path path = fs::absolute(in, ec);
  if (ec) path = in;
  while (path.has_parent_path() && path.filename().empty()) path = path.parent_path();  // "dir/" -> "dir"
  if (fs::is_directory(path, ec)) {
    for (const auto& e : fs::directory_iterator(path, ec))
      if (e.is_regular_file(ec) && is_trace_file(e.path())) plan.inputs.push_back(e.path());
    std::sort(plan.inputs.begin(), plan.inputs.end());
    if (plan.inputs.empty()) {
      plan.error = QString::fromStdString(path.string()) +
                   QStringLiteral(": no trace files in this folder (Kineto JSON(.gz), nsys .sqlite, nccl-tests, topo)");
      return plan;
    }
  } else {
    plan.inputs.push_back(path);
  }
  const std::string cache_name = path.filename().string() + ".moetune";
  if (cache_dir.isEmpty() && dir_writable(path.parent_path())) {
    plan.cache = path.parent_path() / cache_name;
  } else {
    const QString base = !cache_dir.isEmpty() ? cache_dir
                         : QStandardPaths::writableLocation(QStandardPaths::CacheLocation) + QStringLiteral("/imports");
    QDir().mkpath(base);
    const QByteArray h = QCryptographicHash::hash(QByteArray::fromStdString(path.string()), QCryptographicHash::Sha1)
                             .toHex()
                             .left(12);
    plan.cache = fs::path(base.toStdString()) / (h.toStdString() + "-" + cache_name);
  }
  if (fs::is_regular_file(plan.cache, ec)) {
    const auto t = mtime(plan.cache);
    plan.reuse = std::all_of(plan.inputs.begin(), plan.inputs.end(), [&](const fs::path& p) { return mtime(p) < t; });
  }
  return plan;
}

TraceImporter::TraceImporter(QObject* parent) : QObject(parent) {
  connect(&watcher_, &QFutureWatcher<void>::finished, this, [this] { busy_ = false; });
}

TraceImporter::~TraceImporter() { watcher_.waitForFinished(); }

void TraceImporter::start(const QString& qpath) {
  watcher_.waitForFinished();
  const std::uint64_t job = ++job_;
  plan_ = plan_import(fs::path(qpath.toStdString()), cache_dir_);
  busy_ = true;
  auto deliver = [this, job](auto fn) {
    QMetaObject::invokeMethod(this, [this, job, fn] { if (job == job_) fn(); }, Qt::QueuedConnection);
  };
  const ImportPlan plan = plan_;
  watcher_.setFuture(QtConcurrent::run([this, plan, deliver] {
    if (!plan.error.isEmpty()) {
      deliver([this, m = plan.error] { emit failed(m); });
      return;
    }
    const QString cache = QString::fromStdString(plan.cache.string());
    if (plan.reuse) {
      deliver([this, cache] { emit done(cache, true); });
      return;
    }
    WriterOptions wo;
    wo.force = true;  // the cache is ours to replace (it is older than an input)
    auto w = TraceWriter::create(plan.cache, wo);
    if (!w) {
      deliver([this, m = QString::fromStdString(w.error().message)] { emit failed(m); });
      return;
    }
    import::ImportOptions opts;
    // Progress over all files: file i of n, bytes done within it.
    auto file_index = std::make_shared<std::atomic<int>>(0);
    const int n = int(plan.inputs.size());
    opts.progress = [this, deliver, file_index, n, last = -1](std::uint64_t done, std::uint64_t total) mutable {
      const double in_file = total ? double(done) / double(total) : 0.0;
      const int pm = int(1000.0 * (std::min(file_index->load(), n - 1) + in_file) / n);
      if (pm == last) return;
      last = pm;
      if (in_file >= 1.0) ++*file_index;
      deliver([this, pm, n] { emit progress(pm, tr("Importing %1 trace file(s)…").arg(n)); });
    };
    auto r = import::import_files(plan.inputs, **w, opts);
    if (!r) {
      deliver([this, m = QString::fromStdString(r.error().message)] { emit failed(m); });
      return;  // the writer's destructor removes its temporary: no half cache
    }
    if (auto f = (*w)->finish(); !f) {
      deliver([this, m = QString::fromStdString(f.error().message)] { emit failed(m); });
      return;
    }
    deliver([this, cache] { emit done(cache, false); });
  }));
}

}  // namespace moetune::ui
