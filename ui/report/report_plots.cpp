// SPDX-License-Identifier: Apache-2.0
// QCustomPlot drawings of the report model (analyzers/report_model.h): the GUI panels
// and the PDF report (moetune-gui --report) draw the same series the HTML report draws
// as SVG.
#include "moetune/ui/qcp.h"  // first: see qcp.h

#include <algorithm>
#include <map>
#include <set>

#include "moetune/analyzers/report_model.h"
#include "moetune/ui/plot_builders.h"

namespace moetune::ui {

namespace {

QColor rank_color(int i) { return QColor::fromHsv((i * 47) % 360, 200, 200); }

QString qs(const std::string& s) { return QString::fromStdString(s); }

void reset(QCustomPlot* p) {
  p->clearGraphs();
  p->clearPlottables();
  p->clearItems();
  if (p->legend) p->legend->setVisible(false);
  p->xAxis->setScaleType(QCPAxis::stLinear);
  p->xAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  p->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
}

void note(QCustomPlot* p, const QString& text) {
  auto* t = new QCPItemText(p);
  t->position->setType(QCPItemPosition::ptAxisRectRatio);
  t->position->setCoords(0.5, 0.5);
  t->setText(text);
  t->setColor(Qt::darkGray);
}

// Steps are integers: ticks at multiples of 1, 2, 5, ... steps.
void integer_step_axis(QCustomPlot* p) {
  QSharedPointer<QCPAxisTickerFixed> t(new QCPAxisTickerFixed);
  t->setTickStep(1.0);
  t->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
  p->xAxis->setTicker(t);
}

}  // namespace

std::vector<StepSpan> step_spans(const analyzers::RunData& run) {
  std::map<std::int64_t, StepSpan> m;
  for (const auto& s : run.steps) {
    auto [it, fresh] = m.try_emplace(s.step, StepSpan{s.step, s.start_ns, s.end_ns});
    if (!fresh) {
      it->second.t0 = std::min(it->second.t0, s.start_ns);
      it->second.t1 = std::max(it->second.t1, s.end_ns);
    }
  }
  std::vector<StepSpan> out;
  for (auto& [k, v] : m) out.push_back(v);
  return out;
}

QString build_step_time_plot(QCustomPlot* p, const analyzers::RunData& run) {
  reset(p);
  p->xAxis->setLabel(QStringLiteral("step"));
  integer_step_axis(p);
  p->yAxis->setLabel(QStringLiteral("step time (ms)"));
  std::map<std::int64_t, std::pair<QVector<double>, QVector<double>>> by_rank;
  for (const auto& s : run.steps) {
    auto& [x, y] = by_rank[s.rank.value];
    x.push_back(double(s.step));
    y.push_back(double(s.end_ns - s.start_ns) / 1e6);
  }
  if (by_rank.empty()) {
    note(p, QStringLiteral("no steps in this run (NVTX moe step ranges or ProfilerStep#)"));
    p->replot();
    return QStringLiteral("no steps");
  }
  int i = 0;
  for (auto& [rank, xy] : by_rank) {
    auto* g = p->addGraph();
    g->setName(QStringLiteral("rank ") + QString::number(rank));
    g->setPen(QPen(rank_color(i++), 1.5));
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 4));
    g->setData(xy.first, xy.second, true);
  }
  // A compact legend: small font, eight ranks a row.
  QFont lf = p->font();
  lf.setPointSizeF(std::max(6.0, lf.pointSizeF() - 2));
  p->legend->setFont(lf);
  p->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  p->legend->setRowSpacing(0);
  p->legend->setColumnSpacing(4);
  p->legend->setWrap(8);
  p->legend->setVisible(by_rank.size() <= 16);
  // Above the axis rect, not over the lines (once per plot: reset() keeps it there).
  if (p->legend->layout() == p->axisRect()->insetLayout()) {
    p->axisRect()->insetLayout()->take(p->legend);
    p->plotLayout()->insertRow(0);
    p->plotLayout()->addElement(0, 0, p->legend);
    p->plotLayout()->setRowStretchFactor(0, 0.001);
    p->legend->setMargins(QMargins(2, 0, 2, 0));
  }
  p->rescaleAxes();
  p->yAxis->setRangeLower(0);
  p->replot();
  return {};
}

QString build_comm_ratio_plot(QCustomPlot* p, const analyzers::AnalysisResult& r) {
  reset(p);
  p->xAxis->setLabel(QStringLiteral("step"));
  integer_step_axis(p);
  p->yAxis->setLabel(QStringLiteral("comm ratio (solid)"));
  p->yAxis2->setLabel(QStringLiteral("exposed comm ms (dashed)"));
  if (r.per_step.empty()) {
    note(p, QStringLiteral("no per-step comm metrics from the analyzers"));
    p->replot();
    return QStringLiteral("no per_step metrics");
  }
  std::map<std::int64_t, std::array<QVector<double>, 3>> by_rank;
  for (const auto& e : r.per_step) {
    auto& v = by_rank[e.rank];
    v[0].push_back(double(e.step));
    v[1].push_back(e.comm_ratio);
    v[2].push_back(e.exposed_comm_ms);
  }
  int i = 0;
  for (auto& [rank, v] : by_rank) {
    auto* g = p->addGraph();
    g->setName(QStringLiteral("rank ") + QString::number(rank) + QStringLiteral(" ratio"));
    g->setPen(QPen(rank_color(i), 1.5));
    g->setData(v[0], v[1], true);
    auto* g2 = p->addGraph(p->xAxis, p->yAxis2);
    g2->setName(QStringLiteral("rank ") + QString::number(rank) + QStringLiteral(" exposed"));
    g2->setPen(QPen(rank_color(i++), 1, Qt::DashLine));
    g2->setData(v[0], v[2], true);
  }
  p->yAxis2->setVisible(true);
  p->rescaleAxes();
  // The step axis explicitly: rescaleAxes() left it at its default 0..1 in the window
  // (seen in the GUI screenshots) while the report rendered it right.
  double lo = 1e300, hi = -1e300, ex = 0;
  for (const auto& [rank, v] : by_rank)
    for (int k = 0; k < v[0].size(); ++k) { lo = std::min(lo, v[0][k]); hi = std::max(hi, v[0][k]); ex = std::max(ex, v[2][k]); }
  if (lo <= hi) p->xAxis->setRange(lo - 0.5, hi + 0.5);
  p->yAxis2->setRange(0, std::max(1.0, ex * 1.05));
  p->yAxis->setRange(0, std::max(1.0, p->yAxis->range().upper));
  p->replot();
  return {};
}

QString build_busbw_plot(QCustomPlot* p, const analyzers::AnalysisResult& r) {
  reset(p);
  p->xAxis->setLabel(QStringLiteral("message size (bytes)"));
  p->yAxis->setLabel(QStringLiteral("bus bandwidth (GB/s)"));
  p->xAxis->setScaleType(QCPAxis::stLogarithmic);
  p->xAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  const analyzers::BusBw bw = analyzers::busbw_series(r);  // the bandwidth analysis' values
  if (bw.by_func.empty()) {
    note(p, QStringLiteral("no collective with bytes, communicator size (>= 2) and duration measured by the analysis"));
    p->replot();
    return QStringLiteral("no bus bandwidth");
  }
  int i = 0;
  double ymax = 0;
  for (const auto& s : bw.by_func) {
    QVector<double> x(s.x.begin(), s.x.end()), y(s.y.begin(), s.y.end());
    for (double v : s.y) ymax = std::max(ymax, v);
    auto* g = p->addGraph();
    g->setName(qs(s.name) + QStringLiteral(" (median)"));
    g->setPen(QPen(rank_color(i++), 1.5));
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 6));
    g->setData(x, y, true);
  }
  const double ceiling = bw.ceiling_gbps;
  p->legend->setVisible(true);
  p->rescaleAxes();
  if (ceiling > 0) {
    auto* l = new QCPItemStraightLine(p);
    l->point1->setCoords(1, ceiling);
    l->point2->setCoords(2, ceiling);
    l->setPen(QPen(Qt::red, 1.5, Qt::DashLine));
    auto* t = new QCPItemText(p);
    t->position->setCoords(p->xAxis->range().lower * 1.5, ceiling);
    t->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
    t->setText(qs(bw.ceiling_label()));
    t->setColor(Qt::red);
    ymax = std::max(ymax, ceiling);
  }
  p->xAxis->scaleRange(1.3, p->xAxis->range().center());
  p->yAxis->setRange(0, ymax * 1.15);
  p->replot();
  return ceiling > 0 ? QString() : QStringLiteral("no link ceiling (no collective crosses a link of known bandwidth)");
}

std::vector<int> expert_layers(const analyzers::RunData& run) { return analyzers::expert_layers(run); }

QString build_expert_heatmap(QCustomPlot* p, const analyzers::RunData& run, const analyzers::AnalysisResult* result,
                             int layer) {
  reset(p);
  p->xAxis->setLabel(QStringLiteral("step"));
  p->yAxis->setLabel(QStringLiteral("expert (layer ") + QString::number(layer) + QStringLiteral(")"));
  const analyzers::ExpertHeat heat = analyzers::expert_heat(run, result, layer);  // the report model's cells
  const auto& cells = heat.tokens;
  const std::int64_t smin = heat.step_min, smax = heat.step_max;
  const int emax = heat.experts - 1;
  if (cells.empty()) {
    note(p, QStringLiteral("no expert routing data in this run"));
    p->replot();
    return QStringLiteral("no routing");
  }
  const int nx = int(std::min<std::int64_t>(smax - smin + 1, 20000));
  auto* map = new QCPColorMap(p->xAxis, p->yAxis);
  map->data()->setSize(nx, emax + 1);
  map->data()->setRange(QCPRange(double(smin), double(smin + nx - 1)), QCPRange(0, emax));
  for (const auto& [k, v] : cells) {
    if (k.first - smin < nx) map->data()->setCell(int(k.first - smin), k.second, v);
  }
  map->setInterpolate(false);
  // The colour scale is kept across rebuilds (layer changes): only plottables are cleared.
  QCPColorScale* scale = nullptr;
  if (p->plotLayout()->columnCount() > 1) scale = qobject_cast<QCPColorScale*>(p->plotLayout()->element(0, 1));
  if (!scale) {
    scale = new QCPColorScale(p);
    p->plotLayout()->addElement(0, 1, scale);
  }
  scale->setLabel(QStringLiteral("tokens"));
  map->setColorScale(scale);  // before the gradient and range: the scale owns both
  map->setGradient(QCPColorGradient::gpThermal);
  map->rescaleDataRange(true);
  const std::set<int> hot(heat.hot.begin(), heat.hot.end()), cold(heat.cold.begin(), heat.cold.end());
  const bool from_metrics = heat.hot_from_metrics;
  // placement overlay: the ranks each expert lives on, in the tick label
  std::map<int, QStringList> placed;
  for (const auto& pl : run.placement)
    if (pl.layer == layer) placed[pl.expert] << QStringLiteral("r") + QString::number(pl.rank.value);
  auto ticker = QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText);
  const int every = std::max(1, (emax + 1) / 32);
  for (int e = 0; e <= emax; ++e) {
    QString lab = QStringLiteral("e") + QString::number(e);
    if (placed.count(e)) lab += QStringLiteral(" @") + placed[e].join(QLatin1Char(','));
    if (hot.count(e)) lab += QStringLiteral(" HOT");
    if (cold.count(e)) lab += QStringLiteral(" cold");
    if (e % every == 0 || hot.count(e) || cold.count(e)) ticker->addTick(e, lab);
  }
  p->yAxis->setTicker(ticker);
  for (int e : hot) {
    auto* r = new QCPItemRect(p);
    r->topLeft->setCoords(double(smin) - 0.5, e + 0.5);
    r->bottomRight->setCoords(double(smin + nx) - 0.5, e - 0.5);
    r->setPen(QPen(QColor(255, 40, 40), 1.5));
  }
  for (int e : cold) {
    auto* r = new QCPItemRect(p);
    r->topLeft->setCoords(double(smin) - 0.5, e + 0.5);
    r->bottomRight->setCoords(double(smin + nx) - 0.5, e - 0.5);
    r->setPen(QPen(QColor(40, 120, 255), 1.5, Qt::DashLine));
  }
  p->xAxis->setRange(double(smin) - 0.5, double(smin + nx) - 0.5);
  p->yAxis->setRange(-0.5, emax + 0.5);
  p->replot();
  return from_metrics ? QString() : QStringLiteral("no hot/cold marks: the experts analysis lists none for this layer");
}

TopoMatrix topology_matrix(const analyzers::RunData& run) {
  const analyzers::LinkMatrix l = analyzers::link_matrix(run);
  return TopoMatrix{l.names, l.code};
}

void set_plot_marker(QCustomPlot* p, double x) {
  QCPItemStraightLine* line = nullptr;
  for (int i = 0; i < p->itemCount(); ++i) {
    if (p->item(i)->objectName() == QLatin1String("replay-marker")) line = static_cast<QCPItemStraightLine*>(p->item(i));
  }
  if (!line) {
    line = new QCPItemStraightLine(p);
    line->setObjectName(QStringLiteral("replay-marker"));
    line->setPen(QPen(QColor(220, 0, 0), 2));
  }
  line->point1->setCoords(x, 0);
  line->point2->setCoords(x, 1);
  p->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace moetune::ui
