// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/qcp.h"  // first: see qcp.h
#include "moetune/ui/panels.h"

#include <QComboBox>
#include <QGridLayout>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

#include "moetune/ui/event_text.h"
#include "moetune/ui/plot_builders.h"
#include "moetune/ui/run_loader.h"
#include "moetune/ui/time_buckets.h"
#include "moetune/ui/zoom_state.h"

namespace moetune::ui {

namespace {
QCustomPlot* make_plot(QWidget* parent) {
  auto* p = new QCustomPlot(parent);
  p->setMinimumHeight(160);
  p->setNoAntialiasingOnDrag(true);
  follow_palette(p);  // dark mode: axes, text and background from the palette
  return p;
}
}  // namespace

PlotsPanel::PlotsPanel(ZoomState* zoom, QWidget* parent)
    : QWidget(parent), zoom_(zoom), step_(make_plot(this)), ratio_(make_plot(this)), busbw_(make_plot(this)),
      notes_(new QLabel(this)) {
  auto* g = new QGridLayout(this);
  g->addWidget(step_, 0, 0);
  g->addWidget(ratio_, 0, 1);
  g->addWidget(busbw_, 1, 0, 1, 2);
  g->addWidget(notes_, 2, 0, 1, 2);
  connect(zoom_, &ZoomState::stepChanged, this, &PlotsPanel::on_step);
}

void PlotsPanel::set_run(std::shared_ptr<const LoadedRun> run) {
  run_ = std::move(run);
  QStringList notes;
  const QString a = build_step_time_plot(step_, run_->data);
  if (!a.isEmpty()) notes << a;
  notes_->setText(notes.join(QStringLiteral(" · ")));
  build_comm_ratio_plot(ratio_, analyzers::AnalysisResult{});  // both drawn again when the analysis is in
  build_busbw_plot(busbw_, analyzers::AnalysisResult{});
  for (QCustomPlot* p : {step_, ratio_, busbw_}) apply_plot_palette(p, p->palette());
}

void PlotsPanel::set_result(std::shared_ptr<const analyzers::AnalysisResult> r) {
  QString text = notes_->text();
  for (const QString& n : {build_comm_ratio_plot(ratio_, *r), build_busbw_plot(busbw_, *r)})
    if (!n.isEmpty()) text += (text.isEmpty() ? QString() : QStringLiteral(" · ")) + n;
  notes_->setText(text);
  for (QCustomPlot* p : {ratio_, busbw_}) apply_plot_palette(p, p->palette());
  if (zoom_->current_step() >= 0) on_step(zoom_->current_step());
}

void PlotsPanel::on_step(qint64 step) {
  if (step < 0) return;
  set_plot_marker(step_, double(step));
  set_plot_marker(ratio_, double(step));
}

ExpertsPanel::ExpertsPanel(ZoomState* zoom, QWidget* parent)
    : QWidget(parent), zoom_(zoom), layer_(new QComboBox(this)), map_(make_plot(this)), note_(new QLabel(this)) {
  auto* v = new QVBoxLayout(this);
  auto* top = new QHBoxLayout;
  top->addWidget(new QLabel(tr("Layer"), this));
  top->addWidget(layer_);
  top->addWidget(note_, 1);
  v->addLayout(top);
  v->addWidget(map_, 1);
  connect(layer_, &QComboBox::currentIndexChanged, this, [this] { rebuild(); });
  connect(zoom_, &ZoomState::stepChanged, this, [this](qint64 s) {
    if (s >= 0 && run_ && !run_->data.routing.empty()) set_plot_marker(map_, double(s));
  });
}

void ExpertsPanel::set_run(std::shared_ptr<const LoadedRun> run) {
  run_ = std::move(run);
  const QSignalBlocker block(layer_);
  layer_->clear();
  for (int l : expert_layers(run_->data)) layer_->addItem(QString::number(l), l);
  rebuild();
}

void ExpertsPanel::set_result(std::shared_ptr<const analyzers::AnalysisResult> r) {
  result_ = std::move(r);
  rebuild();
}

void ExpertsPanel::rebuild() {
  if (!run_) return;
  const int layer = layer_->count() ? layer_->currentData().toInt() : 0;
  note_->setText(build_expert_heatmap(map_, run_->data, result_.get(), layer));
  apply_plot_palette(map_, map_->palette());
  if (zoom_->current_step() >= 0 && !run_->data.routing.empty()) set_plot_marker(map_, double(zoom_->current_step()));
}

TopologyPanel::TopologyPanel(QWidget* parent) : QWidget(parent), table_(new QTableWidget(this)), note_(new QLabel(this)) {
  auto* v = new QVBoxLayout(this);
  v->addWidget(note_);
  v->addWidget(table_, 1);
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
}

void TopologyPanel::set_run(std::shared_ptr<const LoadedRun> run) {
  const TopoMatrix m = topology_matrix(run->data);
  const int n = int(m.names.size());
  table_->clear();
  table_->setRowCount(n);
  table_->setColumnCount(n);
  QStringList names;
  for (const auto& s : m.names) names << QString::fromStdString(s);
  table_->setHorizontalHeaderLabels(names);
  table_->setVerticalHeaderLabels(names);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      const QString code = QString::fromStdString(m.code[std::size_t(i)][std::size_t(j)]);
      auto* it = new QTableWidgetItem(code);
      it->setTextAlignment(Qt::AlignCenter);
      QColor c(245, 245, 245);
      if (code.startsWith(QLatin1String("NV"))) c = QColor(165, 214, 167);
      else if (code == QLatin1String("PIX") || code == QLatin1String("PXB")) c = QColor(255, 241, 118);
      else if (code == QLatin1String("PHB") || code == QLatin1String("NODE")) c = QColor(255, 183, 77);
      else if (code == QLatin1String("SYS")) c = QColor(239, 154, 154);
      it->setBackground(c);
      table_->setItem(i, j, it);
    }
  }
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  note_->setText(n ? tr("Link codes as nvidia-smi topo -m: NV# NVLink, PIX/PXB PCIe switch, PHB host bridge, "
                        "NODE same NUMA node, SYS across sockets")
                   : tr("No topology in this run (import nvidia-smi topo -m output to add it)"));
}

HealthPanel::HealthPanel(QWidget* parent)
    : QWidget(parent), summary_(new QLabel(this)), stats_(new QTableWidget(this)), notes_(new QLabel(this)) {
  auto* v = new QVBoxLayout(this);
  summary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  summary_->setWordWrap(true);
  notes_->setWordWrap(true);
  v->addWidget(summary_);
  v->addWidget(stats_, 1);
  v->addWidget(notes_);
  stats_->setColumnCount(5);
  stats_->setHorizontalHeaderLabels({tr("Stat"), tr("Severity"), tr("Value"), tr("Rank"), tr("Description")});
  stats_->horizontalHeader()->setStretchLastSection(true);
  stats_->setEditTriggers(QAbstractItemView::NoEditTriggers);
}

void HealthPanel::set_summary(const RunSummary& s) {
  QString t = QStringLiteral("<b>") + QString::fromStdString(s.path.string()).toHtmlEscaped() +
              QStringLiteral("</b> · format v") + QString::number(s.format_version) + QStringLiteral(" · ") +
              QString::number(s.ranks.size()) + QStringLiteral(" rank(s) · ") + format_duration(s.t_end - s.t_begin) +
              QStringLiteral("<br>");
  QStringList parts;
  for (const auto& [table, n] : s.counts.by_table)
    if (n > 0) parts << QString::fromStdString(table) + QStringLiteral(" ") + QString::number(n);
  t += parts.join(QStringLiteral(" · "));
  summary_->setText(t);
  stats_->setRowCount(int(s.stats.size()));
  for (int i = 0; i < int(s.stats.size()); ++i) {
    const auto& st = s.stats[std::size_t(i)];
    stats_->setItem(i, 0, new QTableWidgetItem(QString::fromStdString(st.name)));
    auto* sev = new QTableWidgetItem(QLatin1String(to_string(st.severity)));
    if (st.severity != Severity::Info) sev->setBackground(st.severity == Severity::DataLoss ? QColor(239, 154, 154) : QColor(255, 224, 130));
    stats_->setItem(i, 1, sev);
    stats_->setItem(i, 2, new QTableWidgetItem(QString::number(st.value)));
    stats_->setItem(i, 3, new QTableWidgetItem(st.rank ? QString::number(*st.rank) : QString()));
    stats_->setItem(i, 4, new QTableWidgetItem(QString::fromStdString(st.description)));
  }
}

void HealthPanel::set_result(std::shared_ptr<const analyzers::AnalysisResult> r) {
  QStringList n;
  for (const auto& s : r->notes) n << QString::fromStdString(s);
  notes_->setText(n.join(QLatin1Char('\n')));
}

}  // namespace moetune::ui
