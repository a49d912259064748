// SPDX-License-Identifier: Apache-2.0
// Unit tests without a window: time<->pixel math, LOD folding, the findings model
// (QAbstractItemModelTester) and the timeline layout built from a synth run.
#include <QAbstractItemModelTester>
#include <QTemporaryDir>
#include <QtTest>
#include <cstdlib>

#include "fixtures.h"
#include "moetune/ui/findings_model.h"
#include "moetune/ui/time_mapper.h"
#include "moetune/ui/timeline_data.h"

using namespace moetune;
using namespace moetune::ui;

class GuiUnitTest : public QObject {
  Q_OBJECT
 private slots:
  void time_mapper_roundtrip() {
    TimeMapper m;
    m.set_range(1'000'000, 2'000'000);
    m.set_width(1000);
    QCOMPARE(m.x(1'000'000), 0.0);
    QCOMPARE(m.x(1'500'000), 500.0);
    QCOMPARE(m.t(250.0), std::int64_t(1'250'000));
    QCOMPARE(m.ns_per_px(), 1000.0);
  }
  void time_mapper_zoom_keeps_anchor() {
    TimeMapper m;
    m.set_range(0, 1'000'000);
    m.set_width(800);
    const std::int64_t under = m.t(200);
    m.zoom(0.5, 200);
    QCOMPARE(m.t1 - m.t0, std::int64_t(500'000));
    QVERIFY(std::llabs(m.t(200) - under) <= 1);
    m.zoom(1e-9, 100);  // cannot zoom below the minimum span
    QCOMPARE(m.t1 - m.t0, TimeMapper::kMinSpanNs);
  }
  void time_mapper_pan_and_clamp() {
    TimeMapper m;
    m.set_range(0, 1000);
    m.set_width(100);
    m.pan_px(10);  // content moves right: earlier times come in
    QCOMPARE(m.t0, std::int64_t(-100));
    m.clamp_to(0, 5000);
    QCOMPARE(m.t0, std::int64_t(0));
    QCOMPARE(m.t1, std::int64_t(1000));
    m.set_range(0, 10000);
    m.clamp_to(0, 5000);  // wider than the run: the run
    QCOMPARE(m.t1, std::int64_t(5000));
  }

  // A lane of 1 M tiny events (10 ns each, every 100 ns) over 1000 px folds into at
  // most width / fold_px items that together count every event in view.
  void lod_folds_a_million_events() {
    Lane lane;
    const std::size_t n = 1'000'000;
    lane.events.resize(n);
    for (std::size_t i = 0; i < n; ++i) lane.events[i] = {std::int64_t(i) * 100, 10, 0, std::uint32_t(i)};
    lane.max_dur = 10;
    TimeMapper m;
    m.set_range(0, std::int64_t(n) * 100);
    m.set_width(1000);
    std::vector<DrawItem> items;
    QElapsedTimer t;
    t.start();
    TimelineData::fold(lane, m, 3.0, items);
    const auto ns = t.nsecsElapsed();
    QVERIFY2(items.size() <= 10, qPrintable(QString::number(items.size())));  // touching runs merge
    std::size_t counted = 0;
    for (const auto& it : items) counted += it.count;
    QCOMPARE(counted, n);
    QVERIFY2(ns < 50'000'000, "fold of a full view must not walk every event");
    // Zoomed so events are 5 px wide: no folding, one item per event in view.
    m.set_range(0, 20'000);  // 200 events over 1000 px: 100 ns = 5 px
    items.clear();
    TimelineData::fold(lane, m, 3.0, items);
    QCOMPARE(items.size(), std::size_t(200));
    for (const auto& it : items) QCOMPARE(it.count, 1u);
    QCOMPARE(items[3].first, 3u);
    QVERIFY(std::abs(items[3].x0 - 15.0f) < 0.01f);
    // Mid zoom: 1 px spacing, 0.1 px wide events -> folded, every event still counted.
    m.set_range(50'000'000, 50'100'000);
    items.clear();
    TimelineData::fold(lane, m, 3.0, items);
    counted = 0;
    for (const auto& it : items) counted += it.count;
    QVERIFY2(counted >= 1000 && counted <= 1003, qPrintable(QString::number(counted)));
    QVERIFY(items.size() < 50);
  }
  void lod_keeps_wide_events_between_tiny_ones() {
    Lane lane;
    lane.events = {{0, 10, 0, 0}, {20, 10, 0, 1}, {1000, 5000, 1, 2}, {7000, 10, 0, 3}};
    lane.max_dur = 5000;
    TimeMapper m;
    m.set_range(0, 10'000);
    m.set_width(1000);  // 10 ns per px: the wide event is 500 px
    std::vector<DrawItem> items;
    TimelineData::fold(lane, m, 3.0, items);
    bool wide = false;
    for (const auto& it : items) wide = wide || (it.count == 1 && it.first == 2 && it.x1 - it.x0 > 499);
    QVERIFY(wide);
    QCOMPARE(TimelineData::hit(lane, m, 300.0), std::int64_t(2));
    QCOMPARE(TimelineData::hit(lane, m, 900.0), std::int64_t(-1));
  }

  void findings_model_is_a_valid_model() {
    FindingsModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    auto r = std::make_shared<analyzers::AnalysisResult>();
    analyzers::Finding a;
    a.id = "straggler-1";
    a.kind = analyzers::FindingKind::Straggler;
    a.severity = analyzers::FindingSeverity::High;
    a.title = "rank 1 is slow";
    a.ranks = {1};
    a.estimated_gain_pct = 12.5;
    analyzers::Finding b = a;
    b.kind = analyzers::FindingKind::GlobalSync;
    b.severity = analyzers::FindingSeverity::Critical;
    b.ranks = {0, 2};
    r->findings = {a, b};
    model.set_result(r);
    QCOMPARE(model.rowCount(), 2);
    QCOMPARE(model.data(model.index(0, FindingsModel::ColKind)).toString(), QStringLiteral("straggler"));
    QCOMPARE(model.data(model.index(1, FindingsModel::ColSeverity)).toString(), QStringLiteral("critical"));
    QCOMPARE(model.data(model.index(0, FindingsModel::ColGain)).toString(), QStringLiteral("12.5 %"));
    QCOMPARE(model.data(model.index(1, FindingsModel::ColRanks)).toString(), QStringLiteral("0,2"));
    QCOMPARE(model.data(model.index(1, 0), FindingsModel::SortRole).toInt(), int(analyzers::FindingSeverity::Critical));
    model.set_result(std::make_shared<analyzers::AnalysisResult>());
    QCOMPARE(model.rowCount(), 0);
  }

  void timeline_from_synth_run() {
    QTemporaryDir dir;
    const QString path = test::make_synth_run(dir, "t.moetune", 2, 3);
    QVERIFY(!path.isEmpty());
    auto run = analyzers::RunData::load(path.toStdString());
    QVERIFY2(run.ok(), run.ok() ? "" : run.error().message.c_str());
    const TimelineData tl = TimelineData::build(*run);
    QCOMPARE(tl.groups.size(), std::size_t(2));
    std::size_t expect = run->kernels.size() + run->memcpys.size() + run->memsets.size() + run->nvtx.size() +
                         run->nccl_ops.size() + run->steps.size() + run->api_calls.size();
    QCOMPARE(tl.event_count, expect);
    bool comm = false, compute = false;
    for (const auto& l : tl.lanes) {
      QVERIFY(std::is_sorted(l.events.begin(), l.events.end(),
                             [](const LaneEvent& a, const LaneEvent& b) { return a.start < b.start; }));
      comm = comm || l.kind == LaneKind::Comm;
      compute = compute || l.kind == LaneKind::Compute;
      for (const auto& e : l.events) QVERIFY(e.dur <= l.max_dur);
    }
    QVERIFY(comm && compute);
    QVERIFY(tl.t_begin < tl.t_end);
  }
};

QTEST_MAIN(GuiUnitTest)
#include "gui_unit_test.moc"
