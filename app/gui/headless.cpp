// SPDX-License-Identifier: Apache-2.0
#include "headless.h"

#include <QApplication>
#include <QBuffer>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QTabWidget>
#include <algorithm>
#include <cstdio>
#include <vector>

#include "moetune/ui/main_window.h"
#include "moetune/ui/run_loader.h"
#include "moetune/ui/timeline_view.h"
#include "moetune/ui/zoom_state.h"
#include "moetune/trace/safe_file.h"

using moetune::ui::MainWindow;

namespace {

// Peak resident set (VmHWM) in MiB from /proc/self/status; -1 where unavailable.
double peak_rss_mib() {
  QFile f(QStringLiteral("/proc/self/status"));
  if (!f.open(QIODevice::ReadOnly)) return -1;
  for (const QByteArray& line : f.readAll().split('\n')) {
    if (line.startsWith("VmHWM:")) return line.mid(6).trimmed().split(' ').value(0).toDouble() / 1024.0;
  }
  return -1;
}

bool load(MainWindow& w, const QString& run) {
  w.set_quiet_errors(true);
  w.open(run);
  if (!w.wait_loaded(600000)) {  // a raw trace is imported first
    std::fprintf(stderr, "%s: timed out loading\n", qPrintable(run));
    return false;
  }
  if (!w.last_error().isEmpty()) {
    std::fprintf(stderr, "%s\n", qPrintable(w.last_error()));
    return false;
  }
  return true;
}

}  // namespace

int gui_screenshot(MainWindow& w, const QString& run, const QString& out, const QString& view, const QString& range) {
  w.resize(1600, 1000);
  w.show();
  if (!load(w, run)) return 2;
  if (!w.show_view(view)) {
    std::fprintf(stderr, "moetune-gui: unknown view '%s'\n", qPrintable(view));
    return 2;
  }
  if (!range.isEmpty()) {
    const QStringList ab = range.split(QLatin1Char(':'));
    bool ok_a = false, ok_b = false;
    const double a = ab.value(0).toDouble(&ok_a), b = ab.value(1).toDouble(&ok_b);
    if (ab.size() != 2 || !ok_a || !ok_b || b <= a) {
      std::fprintf(stderr, "moetune-gui: --range wants A:B in ms from the run start, A < B (got '%s')\n", qPrintable(range));
      return 2;
    }
    const std::int64_t t0 = w.zoom()->begin();
    w.zoom()->set_view(t0 + std::int64_t(a * 1e6), t0 + std::int64_t(b * 1e6));
  }
  for (int i = 0; i < 5; ++i) QApplication::processEvents();
  // Encoded in memory, then written by write_file_safely (temporary + rename): a failed
  // save leaves an existing file as it was, a symlink at OUT is replaced, not followed.
  QByteArray bytes;
  QBuffer buf(&bytes);
  buf.open(QIODevice::WriteOnly);
  const QByteArray fmt = QFileInfo(out).suffix().toLower().toLatin1();
  if (!w.grab().save(&buf, fmt.isEmpty() ? "PNG" : fmt.constData())) {
    std::fprintf(stderr, "%s: cannot write (no image format for \"%s\")\n", qPrintable(out), fmt.constData());
    return 2;
  }
  if (auto r = moetune::write_file_safely(out.toStdString(), std::string_view(bytes.constData(), bytes.size()), true);
      !r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 2;
  }
  std::printf("wrote %s\n", qPrintable(out));
  return 0;
}

int gui_bench_render(MainWindow& w, const QString& run, qint64 started_ms_ago) {
  QElapsedTimer t;
  t.start();
  w.resize(1600, 1000);
  w.show();
  QApplication::processEvents();
  auto* tl = w.timeline();
  double summary_ms = -1, first_paint_ms = -1, full_ms = -1;
  std::size_t first_events = 0;
  double preview_read = -1, preview_layout = -1, full_read = -1, full_layout = -1;
  QObject::connect(w.loader(), &moetune::ui::RunLoader::summaryReady, &w, [&] {
    QApplication::processEvents();
    w.repaint();
    summary_ms = double(t.nsecsElapsed()) / 1e6;
  });
  // runReady reaches the window first (connected earlier), so the timeline has the events here.
  QObject::connect(w.loader(), &moetune::ui::RunLoader::runReady, &w,
                   [&](std::shared_ptr<const moetune::ui::LoadedRun> r) {
                     tl->repaint();
                     const double now = double(t.nsecsElapsed()) / 1e6;
                     if (first_paint_ms < 0) { first_paint_ms = now; first_events = r->timeline.event_count; }
                     if (r->partial) { preview_read = r->read_ms; preview_layout = r->layout_ms; }
                     else { full_ms = now; full_read = r->read_ms; full_layout = r->layout_ms; }
                   });
  if (!load(w, run)) return 2;
  const double analysed_ms = double(t.nsecsElapsed()) / 1e6;
  // Scripted sequence: zoom in 40 steps around three anchors, pan, zoom back out.
  auto* z = w.zoom();
  std::vector<double> frames;
  auto frame = [&] {
    QElapsedTimer f;
    f.start();
    tl->repaint();
    frames.push_back(double(f.nsecsElapsed()) / 1e6);
  };
  z->reset_view();
  frame();
  std::size_t max_items = 0;
  for (double anchor : {0.5, 0.2, 0.8}) {
    z->reset_view();
    for (int i = 0; i < 40; ++i) { z->zoom(0.8, anchor); frame(); max_items = std::max(max_items, tl->last_item_count()); }
    for (int i = 0; i < 20; ++i) { z->pan(0.1); frame(); }
    for (int i = 0; i < 40; ++i) { z->zoom(1.25, anchor); frame(); max_items = std::max(max_items, tl->last_item_count()); }
  }
  const double rss_mib = peak_rss_mib();
  std::vector<double> s = frames;
  std::sort(s.begin(), s.end());
  const double med = s[s.size() / 2], p95 = s[std::min(s.size() - 1, s.size() * 95 / 100)];
  std::printf("run: %s\nevents: %zu\nprocess start to window: %lld ms\nsummary paint: %.1f ms\n"
              "first paint (timeline with events): %.1f ms (%zu events%s)\n",
              qPrintable(run), w.run() ? w.run()->timeline.event_count : std::size_t(0),
              static_cast<long long>(started_ms_ago), summary_ms, first_paint_ms, first_events,
              preview_read >= 0 ? ", preview window" : "");
  if (preview_read >= 0)
    std::printf("  preview stages: range queries %.1f ms, layout %.1f ms\n", preview_read, preview_layout);
  std::printf("full timeline painted: %.1f ms (RunData::load %.1f ms, layout %.1f ms)\nanalysis done: %.1f ms\n"
              "redraw over %zu frames: median %.2f ms, p95 %.2f ms, max %.2f ms\nmax draw items per frame: %zu\n"
              "peak RSS (VmHWM, GUI with the run loaded and analysed): %.0f MiB\n",
              full_ms, full_read, full_layout, analysed_ms, s.size(), med, p95, s.back(), max_items, rss_mib);
  return 0;
}
