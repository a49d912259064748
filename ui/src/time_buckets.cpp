// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/qcp.h"  // first: see qcp.h
#include "moetune/ui/time_buckets.h"

#include <QEvent>
#include <QLabel>
#include <QVBoxLayout>
#include <algorithm>

namespace moetune::ui {

namespace {
constexpr BucketInfo kInfo[kBucketCount] = {
    {"compute_ms", "compute", 0x4682c8},
    {"comm_transfer_ms", "comm transfer", 0xd6604d},
    {"comm_wait_ms", "comm wait", 0xf4a582},
    {"memcpy_h2d_ms", "memcpy H2D", 0x1b7837},
    {"memcpy_d2h_ms", "memcpy D2H", 0x5aae61},
    {"memcpy_d2d_ms", "memcpy D2D", 0xa6dba0},
    {"memcpy_p2p_ms", "memcpy P2P", 0x00897b},
    {"host_gap_long_ms", "host gap (long)", 0x8c6bb1},
    {"host_gap_short_ms", "host gap (short)", 0xbcaad8},
    {"idle_ms", "idle", 0xbdbdbd},
};
}  // namespace

const BucketInfo& bucket_info(int b) { return kInfo[std::clamp(b, 0, kBucketCount - 1)]; }

const std::array<int, kBucketCount>& bucket_display_order() {
  static const std::array<int, kBucketCount> order = {kCompute,   kCommTransfer, kCommWait,    kMemcpyH2D,    kMemcpyD2H,
                                                      kMemcpyD2D, kMemcpyP2P,    kHostGapLong, kHostGapShort, kIdle};
  return order;
}

std::vector<LaneKind> bucket_lane_kinds(int b) {
  switch (b) {
    case kCompute: return {LaneKind::Compute};
    case kCommTransfer: case kCommWait: return {LaneKind::Comm, LaneKind::NcclOp};
    case kMemcpyH2D: case kMemcpyD2H: case kMemcpyD2D: case kMemcpyP2P: return {LaneKind::Memcpy};
    case kHostGapLong: case kHostGapShort: return {LaneKind::Api};
    default: return {};
  }
}

TimeBuckets buckets_from_metrics(const std::vector<analyzers::RankMetrics>& per_rank, std::optional<std::int64_t> step) {
  TimeBuckets out;
  bool step_found = false;
  for (const auto& row : per_rank) {
    RankBuckets rb;
    rb.rank = row.rank;
    const analyzers::BucketTimes* b = &row.buckets;
    if (step)
      for (const auto& s : row.step_buckets)
        if (s.step == *step) {
          b = &s.buckets, step_found = true;
          break;
        }
    for (int i = 0; i < kBucketCount; ++i) rb.step_ms += rb.ms[std::size_t(i)] = std::max(0.0, b->at(i));
    out.ranks.push_back(rb);
  }
  if (step_found) out.step = step;
  std::sort(out.ranks.begin(), out.ranks.end(), [](const auto& a, const auto& b) { return a.rank < b.rank; });
  return out;
}

void apply_plot_palette(QCustomPlot* p, const QPalette& pal) {
  const QColor fg = pal.color(QPalette::Text), bg = pal.color(QPalette::Base);
  QColor grid = pal.color(QPalette::Mid);
  grid.setAlpha(90);
  p->setBackground(bg);
  auto style = [&](QCPAxis* a) {
    a->setBasePen(QPen(fg));
    a->setTickPen(QPen(fg));
    a->setSubTickPen(QPen(fg));
    a->setTickLabelColor(fg);
    a->setLabelColor(fg);
    a->grid()->setPen(QPen(grid, 0, Qt::DotLine));
  };
  for (QCPAxisRect* r : p->axisRects())
    for (QCPAxis* a : r->axes()) style(a);
  for (QCPLayoutElement* e : p->plotLayout()->elements(true)) {
    if (auto* cs = qobject_cast<QCPColorScale*>(e)) style(cs->axis());
    if (auto* t = qobject_cast<QCPTextElement*>(e)) t->setTextColor(fg);
  }
  if (p->legend) {
    p->legend->setBrush(QBrush(bg));
    p->legend->setTextColor(fg);
    p->legend->setBorderPen(QPen(pal.color(QPalette::Mid)));
  }
}

namespace {
class PaletteFollower : public QObject {
 public:
  using QObject::QObject;
  bool eventFilter(QObject* o, QEvent* e) override {
    if (e->type() == QEvent::PaletteChange) {
      auto* p = static_cast<QCustomPlot*>(o);
      apply_plot_palette(p, p->palette());
      p->replot(QCustomPlot::rpQueuedReplot);
    }
    return false;
  }
};
}  // namespace

void follow_palette(QCustomPlot* plot) {
  apply_plot_palette(plot, plot->palette());
  plot->installEventFilter(new PaletteFollower(plot));
}

TimeBucketsView::TimeBucketsView(QWidget* parent) : QWidget(parent), plot_(new QCustomPlot(this)), note_(new QLabel(this)) {
  auto* v = new QVBoxLayout(this);
  v->addWidget(note_);
  v->addWidget(plot_, 1);
  note_->setWordWrap(true);
  plot_->setMinimumHeight(160);
  // the legend in a row under the bars, so it never covers them
  plot_->legend->setVisible(true);
  plot_->axisRect()->insetLayout()->take(plot_->legend);
  plot_->plotLayout()->addElement(1, 0, plot_->legend);
  plot_->plotLayout()->setRowStretchFactor(1, 0.001);
  plot_->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
  plot_->legend->setWrap(6);
  connect(plot_, &QCustomPlot::mousePress, this, [this](QMouseEvent* e) {
    const auto [rank, bucket] = bucket_at(e->position());
    if (rank >= 0) emit bucketClicked(rank, bucket);
  });
  apply_plot_palette(plot_, palette());
  rebuild();
}

void TimeBucketsView::changeEvent(QEvent* e) {
  if (e->type() == QEvent::PaletteChange) {
    apply_plot_palette(plot_, palette());
    plot_->replot();
  }
  QWidget::changeEvent(e);
}

void TimeBucketsView::set_buckets(std::shared_ptr<const TimeBuckets> b) {
  b_ = std::move(b);
  rebuild();
}

void TimeBucketsView::rebuild() {
  plot_->clearPlottables();
  if (!b_ || b_->empty()) {
    note_->setText(tr("No time buckets: the analysis has no per-rank metrics (no steps or no GPU work)."));
    plot_->replot();
    return;
  }
  const QString what = b_->step ? tr("Step %1").arg(*b_->step) : tr("Mean per step");
  note_->setText(what + tr(" · click a segment to highlight its lanes in the timeline"));
  QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
  const int n = int(b_->ranks.size());
  double max_ms = 0;
  for (int i = 0; i < n; ++i) {
    ticker->addTick(i, tr("rank %1").arg(b_->ranks[std::size_t(i)].rank));
    max_ms = std::max(max_ms, b_->ranks[std::size_t(i)].step_ms);
  }
  QCPBars* below = nullptr;
  for (int b : bucket_display_order()) {
    QVector<double> keys, vals;
    bool any = false;
    for (int i = 0; i < n; ++i) {
      keys << i;
      vals << b_->ranks[std::size_t(i)].ms[std::size_t(b)];
      any = any || vals.back() > 0;
    }
    if (!any) continue;
    auto* bars = new QCPBars(plot_->yAxis, plot_->xAxis);
    bars->setName(QLatin1String(kInfo[b].label));
    bars->setProperty("bucket", b);
    const QColor c = QColor::fromRgb(kInfo[b].rgb);
    bars->setBrush(c);
    bars->setPen(QPen(c.darker(130)));
    bars->setWidth(0.7);
    bars->setData(keys, vals, true);
    if (below) bars->moveAbove(below);
    below = bars;
  }
  plot_->yAxis->setTicker(ticker);
  plot_->yAxis->setRange(-0.6, n - 0.4);
  plot_->yAxis->setRangeReversed(true);
  plot_->xAxis->setLabel(tr("ms per step"));
  plot_->xAxis->setRange(0, std::max(max_ms * 1.02, 1e-3));
  apply_plot_palette(plot_, palette());
  plot_->replot();
}

std::pair<int, int> TimeBucketsView::bucket_at(QPointF px) const {
  if (!b_ || b_->empty()) return {-1, -1};
  const double key = plot_->yAxis->pixelToCoord(px.y());
  const int i = int(std::lround(key));
  if (i < 0 || i >= int(b_->ranks.size()) || std::abs(key - i) > 0.35) return {-1, -1};
  const double v = plot_->xAxis->pixelToCoord(px.x());
  const RankBuckets& rb = b_->ranks[std::size_t(i)];
  double acc = 0;
  for (int b : bucket_display_order()) {
    const double w = rb.ms[std::size_t(b)];
    if (w <= 0) continue;
    if (v >= acc && v < acc + w) return {rb.rank, b};
    acc += w;
  }
  return {-1, -1};
}

}  // namespace moetune::ui
