// SPDX-License-Identifier: Apache-2.0
// Streamed loading on the offscreen platform: a run bigger than the preview budget is
// painted first from a window read with range queries (the same events the full load
// has in that window), then replaced by the whole run keeping the view; the live view
// follows part files that a TraceWriter extends between polls, as collectors do.
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include "fixtures.h"
#include "moetune/ui/live_follower.h"
#include "moetune/ui/main_window.h"
#include "moetune/ui/run_loader.h"
#include "moetune/ui/timeline_view.h"
#include "moetune/ui/zoom_state.h"
#ifdef MOETUNE_UI_HAS_LIVE
#include "moetune/trace/writer.h"
#endif

using namespace moetune;
using namespace moetune::ui;

namespace {

// Events of `d` (kernels, API calls, NVTX, NCCL ops, memcpys, memsets) overlapping [t0, t1).
std::size_t overlapping(const analyzers::RunData& d, std::int64_t t0, std::int64_t t1) {
  std::size_t n = 0;
  auto in = [&](std::int64_t s, std::int64_t e) { return s < t1 && e > t0; };
  for (const auto& k : d.kernels) n += in(k.start_ns, k.start_ns + k.dur_ns);
  for (const auto& a : d.api_calls) n += in(a.start_ns, a.start_ns + a.dur_ns);
  for (const auto& v : d.nvtx) n += in(v.start_ns, v.start_ns + v.dur_ns);
  for (const auto& o : d.nccl_ops) n += in(o.start_ns, o.end_ns);
  for (const auto& m : d.memcpys) n += in(m.start_ns, m.start_ns + m.dur_ns);
  for (const auto& m : d.memsets) n += in(m.start_ns, m.start_ns + m.dur_ns);
  return n;
}

}  // namespace

class GuiStreamTest : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;

 private slots:
  void big_run_paints_a_preview_window_first() {
    // 3x the preview budget, so the preview is about a third of the run.
    const QString path = test::make_synth_run(dir_, "big.moetune", 2, 12, {}, 3 * RunLoader::kPreviewEvents);
    QVERIFY(!path.isEmpty());
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    std::vector<std::shared_ptr<const LoadedRun>> delivered;
    std::vector<std::pair<std::int64_t, std::int64_t>> view_at;
    std::vector<int> stages;
    connect(w.loader(), &RunLoader::runReady, &w, [&](std::shared_ptr<const LoadedRun> r) {
      delivered.push_back(r);
      view_at.emplace_back(w.zoom()->t0(), w.zoom()->t1());
      w.timeline()->repaint();
      if (r->partial) QVERIFY(w.timeline()->last_item_count() > 0);  // the preview is painted
    });
    connect(w.loader(), &RunLoader::stageChanged, &w, [&](int done, int total) { stages.push_back(done * 10 + total); });
    w.open(path);
    QVERIFY(w.loader()->wait(120000));
    QVERIFY2(w.last_error().isEmpty(), qPrintable(w.last_error()));
    QCOMPARE(delivered.size(), std::size_t(2));
    const auto& pre = *delivered[0];
    const auto& full = *delivered[1];
    QVERIFY(pre.partial);
    QVERIFY(!full.partial);
    QCOMPARE(stages, (std::vector<int>{14, 24, 34, 44}));
    // The window starts at the run's start and is a fraction of it.
    QCOMPARE(pre.window_t0, pre.summary.t_begin);
    QVERIFY(pre.window_t1 < pre.summary.t_end);
    QCOMPARE(view_at[0], std::make_pair(pre.window_t0, pre.window_t1));
    // The preview holds exactly the full run's events that overlap its window (plus all steps).
    const std::size_t want = overlapping(full.data, pre.window_t0, pre.window_t1);
    QCOMPARE(overlapping(pre.data, pre.window_t0, pre.window_t1), want);
    QCOMPARE(pre.timeline.event_count, want + pre.data.steps.size());
    QCOMPARE(pre.data.steps.size(), full.data.steps.size());
    QVERIFY(pre.timeline.event_count < full.timeline.event_count / 2);
    QVERIFY(pre.timeline.event_count > 0);
    // The full run replaced it and kept the view; the analysis followed.
    QCOMPARE(w.run(), delivered[1]);
    QCOMPARE(view_at[1], view_at[0]);
    QVERIFY(w.result());
  }

  void small_run_has_no_preview() {
    const QString path = test::make_synth_run(dir_, "small.moetune", 2, 4);
    QVERIFY(!path.isEmpty());
    MainWindow w;
    int partial = 0, full = 0;
    connect(w.loader(), &RunLoader::runReady, &w, [&](std::shared_ptr<const LoadedRun> r) { (r->partial ? partial : full)++; });
    w.open(path);
    QVERIFY(w.loader()->wait(120000));
    QCOMPARE(partial, 0);
    QCOMPARE(full, 1);
  }

  void cancel_keeps_what_was_shown() {
    const QString path = dir_.filePath(QStringLiteral("big.moetune"));
    QVERIFY(QFileInfo::exists(path));
    MainWindow w;
    bool cancelled = false;
    connect(w.loader(), &RunLoader::runReady, &w, [&](std::shared_ptr<const LoadedRun> r) {
      if (r->partial && !cancelled) { w.loader()->cancel(); cancelled = true; }
    });
    w.open(path);
    QVERIFY(w.loader()->wait(120000));
    QVERIFY(cancelled);
    QVERIFY(w.run());
    QVERIFY(w.run()->partial);  // the preview stays; the full load stopped
    QVERIFY(!w.result());
  }

#ifdef MOETUNE_UI_HAS_LIVE
  void live_view_grows_with_the_part_files() {
    const QString parts = dir_.filePath(QStringLiteral("run.moetune.parts"));
    QVERIFY(QDir().mkpath(parts));
    WriterOptions o;
    o.atomic = false;  // as PartWriter: the file is readable while it is written
    auto wr = TraceWriter::create(QString(parts + QStringLiteral("/r0-host-4242.cupti.moetune")).toStdString(), o);
    QVERIFY2(wr.ok(), wr.ok() ? "" : wr.error().message.c_str());
    TraceWriter& tw = **wr;
    RankRow rr;
    rr.rank = RankId(0);
    rr.host = "host";
    rr.pid = 4242;
    tw.add(rr);
    const StringId name = tw.intern("gemm_kernel");
    std::int64_t t = 1'000'000'000;
    auto write = [&](int n) {
      for (int i = 0; i < n; ++i) {
        KernelRow k;
        k.rank = RankId(0);
        k.stream = StreamId(7);
        k.start_ns = t;
        k.dur_ns = 5000;
        k.name = name;
        tw.add(k);
        t += 8000;
      }
      auto f = tw.flush();
      QVERIFY2(f.ok(), f.ok() ? "" : f.error().message.c_str());
    };
    write(100);
    MainWindow w;
    w.resize(1200, 800);
    w.show();
    w.follow_live(parts, 150);
    QVERIFY(w.live());
    QTRY_VERIFY_WITH_TIMEOUT(w.run() && w.run()->timeline.event_count == 100, 20000);
    const int polls = w.live()->polls_delivered();
    const std::int64_t end1 = w.zoom()->end();
    write(250);  // the collector flushes more: the next timer poll shows it
    QTRY_VERIFY_WITH_TIMEOUT(w.run()->timeline.event_count == 350, 20000);
    QVERIFY(w.live()->polls_delivered() > polls);
    QVERIFY(w.zoom()->end() > end1);                   // the run range grew
    QCOMPARE(w.zoom()->t1(), w.zoom()->end());         // a whole-run view follows the end
    w.timeline()->repaint();
    QVERIFY(w.timeline()->last_item_count() > 0);
    // Unchanged files: polls skip the work.
    const int polls2 = w.live()->polls_delivered();
    QTest::qWait(600);
    QCOMPARE(w.live()->polls_delivered(), polls2);
    w.stop_live();
    QVERIFY(!w.live()->active());
    QCOMPARE(w.run()->timeline.event_count, std::size_t(350));  // the last view stays
  }

  void parts_dir_of_an_armed_process() {
    const QString parts = dir_.filePath(QStringLiteral("armed.moetune.parts"));
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("MOETUNE_OUTPUT"), parts + QStringLiteral("/r%r-%h-%p"));
    p.setProcessEnvironment(env);
    p.start(QStringLiteral("sleep"), {QStringLiteral("30")});
    QVERIFY(p.waitForStarted());
    QCOMPARE(LiveFollower::parts_dir_of(long(p.processId())), parts);
    if (qEnvironmentVariableIsEmpty("MOETUNE_OUTPUT"))  // a process without it has no parts folder
      QCOMPARE(LiveFollower::parts_dir_of(long(QCoreApplication::applicationPid())), QString());
    p.kill();
    p.waitForFinished();
  }
#endif
};

QTEST_MAIN(GuiStreamTest)
#include "gui_stream_test.moc"
