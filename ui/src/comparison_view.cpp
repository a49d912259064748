// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/comparison_view.h"

#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include "moetune/analyzers/diff.h"
#include "moetune/ui/event_text.h"
#include "moetune/ui/run_loader.h"
#include "moetune/ui/timeline_view.h"
#include "moetune/ui/zoom_state.h"

namespace moetune::ui {

namespace {

QString num(const std::optional<double>& v, double scale, const QString& unit) {
  if (!v) return QStringLiteral("n/a");
  return QString::number(*v * scale, 'f', 3) + unit;
}

QString pct(const analyzers::Change& c) {
  const auto p = c.change_pct();
  if (!p) return {};
  return (*p > 0 ? QStringLiteral("+") : QString()) + QString::number(*p, 'f', 1) + QStringLiteral(" %");
}

QString bytes(const std::optional<double>& v) {
  return v ? format_bytes(std::int64_t(*v)) : QStringLiteral("n/a");
}

}  // namespace

Expected<ComparisonView::Side> ComparisonView::load(const std::filesystem::path& path) {
  auto sum = RunLoader::read_summary(path);
  if (!sum) return sum.error();
  auto run = RunLoader::read_full(*sum);
  if (!run) return run.error();
  Side s;
  auto r = std::make_shared<LoadedRun>(std::move(*run));
  s.result = std::make_shared<const analyzers::AnalysisResult>(analyzers::analyze(r->data));
  s.run = std::move(r);
  return s;
}

ComparisonView::ComparisonView(Side before, Side after, QWidget* parent)
    : QWidget(parent), side_{std::move(before), std::move(after)}, table_(new QTableWidget(this)) {
  setWindowTitle(tr("Before / after — moetune"));
  resize(1500, 900);
  const auto sa = analyzers::summarize(side_[0].run->data, *side_[0].result);
  const auto sb = analyzers::summarize(side_[1].run->data, *side_[1].result);
  const analyzers::RunDiff d = analyzers::compare_runs(sa, sb);
  diff_ = analyzers::diff_runs(sa, sb);  // the same comparison as `moetune diff --json`

  auto* runs = new QSplitter(Qt::Horizontal);
  const analyzers::RunSummary* sums[2] = {&sa, &sb};
  for (int i = 0; i < 2; ++i) {
    auto* box = new QWidget;
    auto* v = new QVBoxLayout(box);
    v->setContentsMargins(2, 2, 2, 2);
    const auto& run = *side_[i].run;
    const auto* s = sums[i];
    QString head = (i == 0 ? tr("Before: ") : tr("After: ")) + QString::fromStdString(run.summary.path.filename().string());
    head += QStringLiteral("\n") + tr("step time %1 ms (median of %2 steady steps) · %3 ranks · %4 events")
                                       .arg(s->step_time_ms ? QString::number(*s->step_time_ms, 'f', 3) : QStringLiteral("n/a"))
                                       .arg(s->steps_used)
                                       .arg(s->ranks)
                                       .arg(run.timeline.event_count);
    head_[i] = new QLabel(head);
    head_[i]->setTextInteractionFlags(Qt::TextSelectableByMouse);
    zoom_[i] = new ZoomState(this);
    tl_[i] = new TimelineView(zoom_[i]);
    zoom_[i]->set_run_range(run.timeline.t_begin, run.timeline.t_end);
    tl_[i]->set_run(side_[i].run);
    v->addWidget(head_[i]);
    v->addWidget(tl_[i], 1);
    runs->addWidget(box);
  }

  table_->setColumnCount(4);
  table_->setHorizontalHeaderLabels({tr("Measure"), tr("Before"), tr("After"), tr("Change")});
  table_->verticalHeader()->hide();
  table_->setEditTriggers(QAbstractItemView::NoEditTriggers);
  auto add = [this](const QString& what, const QString& b, const QString& a, const QString& c) {
    const int r = table_->rowCount();
    table_->insertRow(r);
    table_->setItem(r, 0, new QTableWidgetItem(what));
    table_->setItem(r, 1, new QTableWidgetItem(b));
    table_->setItem(r, 2, new QTableWidgetItem(a));
    table_->setItem(r, 3, new QTableWidgetItem(c));
  };
  auto row = [&](const QString& what, const analyzers::Change& c, double scale, const QString& unit) {
    add(what, num(c.before, scale, unit), num(c.after, scale, unit), pct(c));
  };
  row(tr("step time"), d.step_time_ms, 1, tr(" ms"));
  row(tr("exposed comm / step"), d.exposed_comm_ms, 1, tr(" ms"));
  row(tr("comm ratio"), d.comm_ratio, 100, tr(" %"));
  row(tr("tokens/s"), d.tokens_per_s, 1, QString());
  if (d.speedup) add(tr("speedup"), QString(), QString(), QString::number(*d.speedup, 'f', 3) + QStringLiteral("x"));
  for (const auto& [f, c] : d.traffic_bytes_per_step)
    add(tr("traffic %1 / rank / step").arg(QString::fromStdString(f)), bytes(c.before), bytes(c.after), pct(c));
  for (const auto& f : d.findings)
    add(tr("finding: %1").arg(QString::fromStdString(f.title)), QString(), QString(), QString::fromStdString(f.status));
  table_->resizeColumnsToContents();
  table_->horizontalHeader()->setStretchLastSection(true);

  auto* split = new QSplitter(Qt::Vertical);
  split->addWidget(runs);
  split->addWidget(table_);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  auto* v = new QVBoxLayout(this);
  v->setContentsMargins(4, 4, 4, 4);
  v->addWidget(split);
}

QString ComparisonView::header_text(int side) const { return head_[side == 0 ? 0 : 1]->text(); }

}  // namespace moetune::ui
