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
    {"exposed_comm_ms", "comm exposed", 0xd6604d},
    {"", "other", 0x8d8d8d},
};

double num(const nlohmann::json& o, const char* k) {
  auto it = o.find(k);
  return it != o.end() && it->is_number() ? it->get<double>() : 0.0;
}

// The analyzer's bucket keys of one object (buckets or one step_buckets entry).
bool read_buckets(const nlohmann::json& o, RankBuckets& rb) {
  if (!o.is_object()) return false;
  bool any = false;
  for (int b = kCompute; b <= kIdle; ++b) {
    auto it = o.find(kInfo[b].key);
    if (it != o.end() && it->is_number()) { rb.ms[std::size_t(b)] = std::max(0.0, it->get<double>()); any = true; }
  }
  rb.step_ms = 0;
  for (double v : rb.ms) rb.step_ms += v;
  return any;
}
}  // namespace

const BucketInfo& bucket_info(int b) { return kInfo[std::clamp(b, 0, kBucketCount - 1)]; }

const std::array<int, kBucketCount>& bucket_display_order() {
  static const std::array<int, kBucketCount> order = {kCompute,     kCommTransfer, kCommExposed, kCommWait,
                                                      kMemcpyH2D,   kMemcpyD2H,    kMemcpyD2D,   kMemcpyP2P,
                                                      kHostGapLong, kHostGapShort, kIdle,        kOther};
  return order;
}

std::vector<LaneKind> bucket_lane_kinds(int b) {
  switch (b) {
    case kCompute: return {LaneKind::Compute};
    case kCommTransfer: case kCommWait: case kCommExposed: return {LaneKind::Comm, LaneKind::NcclOp};
    case kMemcpyH2D: case kMemcpyD2H: case kMemcpyD2D: case kMemcpyP2P: return {LaneKind::Memcpy};
    case kHostGapLong: case kHostGapShort: return {LaneKind::Api};
    default: return {};
  }
}

TimeBuckets buckets_from_metrics(const nlohmann::json& metrics, std::optional<std::int64_t> step) {
  TimeBuckets out;
  auto pr = metrics.find("per_rank");
  if (pr == metrics.end() || !pr->is_array()) return out;
  bool all_analyzer = true, step_found = false;
  for (const auto& row : *pr) {
    if (!row.is_object()) continue;
    RankBuckets rb;
    rb.rank = row.value("rank", int(out.ranks.size()));
    bool got = false;
    if (step) {
      auto sb = row.find("step_buckets");
      if (sb != row.end() && sb->is_array())
        for (const auto& s : *sb)
          if (s.is_object() && s.value("step", std::int64_t(-1)) == *step) { got = read_buckets(s, rb); step_found = got || step_found; break; }
    }
    if (!got) got = read_buckets(row.value("buckets", nlohmann::json::object()), rb);
    if (!got) {  // fallback: the per-rank metrics that exist without buckets
      all_analyzer = false;
      rb.ms = {};
      rb.ms[kCompute] = std::max(0.0, num(row, "compute_ms"));
      // exposed comm includes waiting for other ranks; exposed_wait_ms (when known) is that wait
      const double wait = std::max(0.0, num(row, "exposed_wait_ms"));
      rb.ms[kCommWait] = wait;
      rb.ms[kCommExposed] = std::max(0.0, num(row, "exposed_comm_ms") - wait);
      rb.ms[kIdle] = std::max(0.0, num(row, "idle_ms"));
      const double step_ms = num(row, "step_time_ms");
      const double sum = rb.ms[kCompute] + rb.ms[kCommWait] + rb.ms[kCommExposed] + rb.ms[kIdle];
      rb.ms[kOther] = std::max(0.0, step_ms - sum);
      rb.step_ms = std::max(step_ms, sum);
    }
    out.ranks.push_back(rb);
  }
  out.from_analyzer = all_analyzer && !out.ranks.empty();
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
  QString what = b_->step ? tr("Step %1").arg(*b_->step) : tr("Mean per step");
  if (!b_->from_analyzer)
    what += tr(" · from the compute / exposed comm / wait / idle metrics (this analysis has no transfer, memcpy or "
               "host-gap buckets)");
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
