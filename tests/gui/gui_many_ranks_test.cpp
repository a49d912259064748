// SPDX-License-Identifier: Apache-2.0
// The timeline at many ranks (node mode, rank_overview.h), offscreen, on a SYNTHETIC
// 64-rank run (synth, topology nvlink:32,net:32: two hosts of 32 GPUs, cut into nodes
// of 8; straggler on rank 37): the overview starts collapsed with a heatmap row per
// node, the heatmap's colours are the analysis' comm wait per step, clicking a node
// label shows its lanes, clicking a rank's strip shows that rank's lanes, selecting a
// finding expands the node(s) of its ranks and zooms to its time range; a 4-rank run
// keeps the plain lanes. RankHeat's comm share is checked against a direct sum.
#include <QElapsedTimer>
#include <QImage>
#include <QTemporaryDir>
#include <QtTest>
#include <cstdio>
#include <ctime>

#include "fixtures.h"
#include "moetune/synth/synth.h"
#include "moetune/ui/findings_model.h"
#include "moetune/ui/main_window.h"
#include "moetune/ui/rank_overview.h"
#include "moetune/ui/run_loader.h"
#include "moetune/ui/timeline_view.h"
#include "moetune/ui/zoom_state.h"

using namespace moetune;
using namespace moetune::ui;

class GuiManyRanksTest : public QObject {
  Q_OBJECT
  QTemporaryDir dir_;
  QString run64_, run4_;

  // Shows w at 1400x900 with the run at p loaded; false when the load failed.
  static bool show_loaded(MainWindow& w, const QString& p) {
    w.resize(1400, 900);
    w.show();
    w.set_quiet_errors(true);
    w.open(p);
    return w.loader()->wait(240000) && w.last_error().isEmpty();
  }
  // The run at p read as the GUI reads it: its summary, then the whole run.
  static Expected<LoadedRun> read_run(const QString& p) {
    auto s = RunLoader::read_summary(p.toStdString());
    if (!s) return s.error();
    return RunLoader::read_full(*s);
  }
  // The lanes of `rank` in the run's timeline.
  static std::vector<int> lanes_of(const MainWindow& w, int rank) {
    for (const auto& g : w.run()->timeline.groups)
      if (g.rank == rank) return g.lanes;
    return {};
  }
  static int shown_lanes(const MainWindow& w) {
    int n = 0;
    for (std::size_t l = 0; l < w.run()->timeline.lanes.size(); ++l) n += w.timeline()->lane_shown(int(l));
    return n;
  }

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    synth::Options o;
    o.ranks = 64;
    o.steps = 4;
    o.experts = 64;
    o.kernels_per_step = 24;
    o.topology = "nvlink:32,net:32";
    o.inject = "straggler:37";
    run64_ = dir_.filePath(QStringLiteral("r64.moetune"));
    auto r = synth::generate_file(run64_.toStdString(), o, true);
    QVERIFY2(r, r ? "" : r.error().message.c_str());
    run4_ = test::make_synth_run(dir_, "r4.moetune", 4, 4, "straggler:2");
    QVERIFY(!run4_.isEmpty());
  }

  void nodes_split_hosts_into_eights() {
    auto run = read_run(run64_);
    QVERIFY(run);
    const RankNodes n = RankNodes::build(run->data, run->timeline);
    QCOMPARE(n.nodes.size(), std::size_t(8));
    QCOMPARE(n.rank_count(), 64);
    QCOMPARE(n.nodes[0].host, std::string("node0"));
    QCOMPARE(n.nodes[4].host, std::string("node1"));
    QCOMPARE(n.nodes[4].ranks.front(), 32);
    QCOMPARE(n.nodes[4].label, std::string("node1/0 \u00b7 ranks 32-39"));
    QCOMPARE(n.node_of_rank(37), 4);
    QCOMPARE(n.node_of_rank(999), -1);
    // a small host stays one node, unsplit
    auto r4 = read_run(run4_);
    QVERIFY(r4);
    const RankNodes n4 = RankNodes::build(r4->data, r4->timeline);
    QCOMPARE(n4.nodes.size(), std::size_t(1));
    QCOMPARE(n4.nodes[0].ranks.size(), std::size_t(4));
  }

  void busy_share_matches_a_direct_sum() {
    auto run = read_run(run64_);
    QVERIFY(run);
    const auto& tl = run->timeline;
    const RankHeat h = RankHeat::from_timeline(tl, tl.t_begin, tl.t_end);
    QVERIFY(!h.from_analysis());
    const Lane* comm = nullptr;
    for (const auto& l : tl.lanes)
      if (l.rank == 5 && l.kind == LaneKind::Comm) comm = &l;
    QVERIFY(comm && comm->events.size() > 4);
    // Windows around and between the comm kernels: the share is the covered time
    // (overlaps merged: the synth's comm kernels on one rank do not overlap) over the width.
    const std::int64_t span = tl.t_end - tl.t_begin;
    int nonzero = 0;
    for (int k = 0; k < 50; ++k) {
      const std::int64_t a = tl.t_begin + span * k / 50, b = a + span / 37;
      std::int64_t cover = 0;
      for (const auto& e : comm->events) cover += std::max<std::int64_t>(0, std::min(b, e.end()) - std::max(a, e.start));
      const double want = double(cover) / double(std::min(b, tl.t_end) - a);
      const double got = h.busy_share(5, a, b);
      QVERIFY2(std::abs(got - std::min(want, 1.0)) < 1e-9, qPrintable(QStringLiteral("window %1: %2 vs %3").arg(k).arg(got).arg(want)));
      nonzero += got > 0;
    }
    QVERIFY(nonzero > 10);
    QCOMPARE(h.busy_share(5, tl.t_end + 10, tl.t_end + 1000), -1.0);  // nothing loaded there
    QCOMPARE(h.busy_share(99999, tl.t_begin, tl.t_end), -1.0);        // no such rank
  }

  void overview_starts_collapsed_with_the_analysis_heat() {
    MainWindow w;
    QVERIFY(show_loaded(w, run64_));
    QVERIFY(w.result());
    TimelineView* tv = w.timeline();
    QVERIFY(tv->node_mode());
    QCOMPARE(tv->nodes().nodes.size(), std::size_t(8));
    QCOMPARE(shown_lanes(w), 0);  // every node collapsed: no lanes, no rank headers
    QVERIFY(!tv->rank_header_shown(0));
    QVERIFY(tv->node_row_y(0) >= TimelineView::kRulerHeight);
    QVERIFY(tv->node_row_y(1) > tv->node_row_y(0));
    // The heat is the analysis' comm wait per step, cell for cell.
    const RankHeat& h = tv->heat();
    QVERIFY(h.from_analysis());
    const auto& pr = w.result()->metrics.at("per_rank");
    int checked = 0;
    for (const auto& r : pr) {
      const auto& cells = h.steps_of(r.at("rank").get<int>());
      const auto& sb = r.at("step_buckets");
      QCOMPARE(cells.size(), sb.size());
      for (std::size_t i = 0; i < cells.size(); ++i, ++checked) {
        QCOMPARE(cells[i].wait_ms, sb[i].at("comm_wait_ms").get<double>());
        QCOMPARE(cells[i].t0, sb[i].at("start_ns").get<std::int64_t>());
      }
    }
    QCOMPARE(checked, 64 * 4);
    // The straggler does not wait; the ranks that wait for it do.
    QVERIFY(h.steps_of(37)[1].share() < h.steps_of(36)[1].share());
    // The painted pixel of rank 36, step 1 has that cell's colour.
    w.zoom()->reset_view();
    const QImage img = tv->grab().toImage();
    const StepCell c = h.steps_of(36)[1];
    const TimeMapper m = tv->mapper();
    const int x = TimelineView::kLabelWidth + int(m.x((c.t0 + c.t1) / 2));
    const int node = tv->nodes().node_of_rank(36);
    const int y = tv->node_row_y(node) + 2 + 4 * TimelineView::kHeatRankPx;  // rank 36 = 5th of 32-39
    const QColor want = heat_color(c.share() / h.scale_max()), got = img.pixelColor(x, y);
    QVERIFY2(std::abs(want.red() - got.red()) <= 3 && std::abs(want.green() - got.green()) <= 3 &&
                 std::abs(want.blue() - got.blue()) <= 3,
             qPrintable(QStringLiteral("pixel %1,%2 is %3, want %4").arg(x).arg(y).arg(got.name(), want.name())));
    // and the straggler's row is lighter (less wait)
    const QColor s37 = img.pixelColor(x, y + TimelineView::kHeatRankPx);
    QVERIFY(s37.lightness() > got.lightness());
  }

  void clicking_a_node_shows_its_lanes() {
    MainWindow w;
    QVERIFY(show_loaded(w, run64_));
    TimelineView* tv = w.timeline();
    const int node = 2;  // ranks 16-23
    QTest::mouseClick(tv, Qt::LeftButton, {}, QPoint(30, tv->node_row_y(node) + 6));
    QVERIFY(tv->node_expanded(node));
    for (int r = 16; r < 24; ++r) {
      QVERIFY(tv->rank_header_shown(r));
      for (int l : lanes_of(w, r)) QVERIFY(tv->lane_shown(l));
    }
    for (int l : lanes_of(w, 24)) QVERIFY(!tv->lane_shown(l));  // the next node stays collapsed
    int want = 0;
    for (int r = 16; r < 24; ++r) want += int(lanes_of(w, r).size());
    QCOMPARE(shown_lanes(w), want);
    tv->repaint();
    QVERIFY(tv->last_item_count() > 0);  // the lanes paint events
    // its header collapses it again
    QTest::mouseClick(tv, Qt::LeftButton, {}, QPoint(30, tv->node_row_y(node) + 6));
    QVERIFY(!tv->node_expanded(node));
    QCOMPARE(shown_lanes(w), 0);
  }

  void clicking_a_rank_strip_shows_that_ranks_lanes() {
    MainWindow w;
    QVERIFY(show_loaded(w, run64_));
    TimelineView* tv = w.timeline();
    const int node = 1;  // ranks 8-15; rank 11 is the 4th strip
    const QPoint at(TimelineView::kLabelWidth + 300, tv->node_row_y(node) + 2 + 3 * TimelineView::kHeatRankPx);
    QCOMPARE(tv->heat_rank_at(at), 11);
    QTest::mouseClick(tv, Qt::LeftButton, {}, at);
    QVERIFY(tv->node_expanded(node));
    for (int l : lanes_of(w, 11)) QVERIFY(tv->lane_shown(l));
    QCOMPARE(shown_lanes(w), int(lanes_of(w, 11).size()));
    QVERIFY(tv->rank_header_shown(10));  // the node's other ranks: headers only
    for (int l : lanes_of(w, 10)) QVERIFY(!tv->lane_shown(l));
  }

  void selecting_a_finding_expands_its_nodes_and_zooms() {
    MainWindow w;
    QVERIFY(show_loaded(w, run64_));
    TimelineView* tv = w.timeline();
    const std::int64_t b = w.run()->timeline.t_begin, span = w.run()->timeline.t_end - b;
    auto res = std::make_shared<analyzers::AnalysisResult>();
    analyzers::Finding f;
    f.title = "test: one rank";
    f.kind = analyzers::FindingKind::Straggler;
    f.ranks = {53};
    f.time_ranges = {{b + span / 2, b + span / 2 + span / 40}};
    analyzers::Finding g = f;
    g.title = "test: two nodes";
    g.ranks = {3, 37};
    g.time_ranges.clear();
    analyzers::Finding all = f;
    all.title = "test: every rank";
    all.ranks.clear();
    for (int r = 0; r < 64; ++r) all.ranks.push_back(r);
    res->findings = {f, g, all};
    w.findings()->set_result(res);

    w.select_finding(0);
    const int n53 = tv->nodes().node_of_rank(53);
    QVERIFY(tv->node_expanded(n53));
    for (int l : lanes_of(w, 53)) QVERIFY(tv->lane_shown(l));
    QCOMPARE(shown_lanes(w), int(lanes_of(w, 53).size()));
    QVERIFY(tv->scroll_y() > 0);  // scrolled down to node 6
    QVERIFY(w.zoom()->t0() <= b + span / 2 && w.zoom()->t1() >= b + span / 2 + span / 40);
    QVERIFY(w.zoom()->t1() - w.zoom()->t0() < span / 10);

    w.select_finding(1);  // two nodes open, the first finding's node closes again
    QVERIFY(!tv->node_expanded(n53));
    QVERIFY(tv->node_expanded(0) && tv->node_expanded(4));
    QCOMPARE(shown_lanes(w), int(lanes_of(w, 3).size() + lanes_of(w, 37).size()));

    w.select_finding(2);  // all eight nodes: too many to open, they stay an overview (highlighted)
    for (int n = 0; n < 8; ++n) QVERIFY(!tv->node_expanded(n));
    QCOMPARE(w.zoom()->highlighted_ranks().size(), std::size_t(64));

    // a node the user opened stays open when a finding's highlight moves on
    tv->set_node_expanded(7, true);
    w.select_finding(0);
    w.select_finding(2);
    QVERIFY(tv->node_expanded(7));
    QVERIFY(!tv->node_expanded(n53));
  }

  void search_opens_the_node_of_the_match() {
    MainWindow w;
    QVERIFY(show_loaded(w, run64_));
    TimelineView* tv = w.timeline();
    QVERIFY(tv->find_next(QStringLiteral("step")));
    QVERIFY(tv->selected().valid());
    QVERIFY(tv->lane_shown(tv->selected().lane));
  }

  void few_ranks_keep_the_plain_lanes() {
    MainWindow w;
    QVERIFY(show_loaded(w, run4_));
    TimelineView* tv = w.timeline();
    QVERIFY(!tv->node_mode());
    QCOMPARE(shown_lanes(w), int(w.run()->timeline.lanes.size()));
    for (int r = 0; r < 4; ++r) QVERIFY(tv->rank_header_shown(r));
    QCOMPARE(tv->node_row_y(0), -1);
  }

  // Measurement, not a check (skipped unless MOETUNE_GUI_BENCH_RUN names a run): the
  // first paint's stages on this thread, wall and thread CPU time (CPU time holds up on a
  // loaded machine): summary, preview window read, layout, then the timeline painted.
  void bench_first_paint() {
    const QByteArray path = qgetenv("MOETUNE_GUI_BENCH_RUN");
    if (path.isEmpty()) QSKIP("set MOETUNE_GUI_BENCH_RUN=RUN to measure");
    auto cpu_ms = [] {
      timespec ts{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
    };
    QElapsedTimer wall;
    wall.start();
    const double c0 = cpu_ms();
    auto s = RunLoader::read_summary(path.toStdString());
    QVERIFY(s);
    const double c_sum = cpu_ms(), w_sum = double(wall.nsecsElapsed()) / 1e6;
    const auto [t0, t1] = RunLoader::preview_window(*s);
    auto win = RunLoader::read_window(*s, t0, t1);
    QVERIFY(win);
    const double c_win = cpu_ms(), w_win = double(wall.nsecsElapsed()) / 1e6, layout_ms = win->layout_ms;
    ZoomState zoom;
    zoom.set_run_range(s->t_begin, s->t_end);
    zoom.set_view(t0, t1);
    TimelineView tv(&zoom);
    tv.resize(1580, 620);
    tv.show();
    tv.set_run(std::make_shared<const LoadedRun>(std::move(*win)));
    tv.repaint();
    const double c_paint = cpu_ms(), w_paint = double(wall.nsecsElapsed()) / 1e6;
    QVERIFY(tv.node_mode() == (s->ranks.size() >= std::size_t(kNodeModeMinRanks)));
    std::printf("first paint of %s (%zu ranks, %zu nodes): wall %.0f ms, thread CPU %.0f ms\n"
                "  summary %.0f / %.0f ms, preview read + layout %.0f / %.0f ms (layout %.0f ms), set_run + paint %.0f / %.0f ms\n",
                path.constData(), s->ranks.size(), tv.nodes().nodes.size(), w_paint, c_paint - c0, w_sum, c_sum - c0,
                w_win - w_sum, c_win - c_sum, layout_ms, w_paint - w_win, c_paint - c_win);
  }
};

QTEST_MAIN(GuiManyRanksTest)
#include "gui_many_ranks_test.moc"
