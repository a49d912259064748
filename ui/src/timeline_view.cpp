// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/timeline_view.h"

#include <QImage>
#include <QKeyEvent>
#include <QPainter>
#include <QScrollBar>
#include <QToolTip>
#include <QWheelEvent>
#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "moetune/analyzers/evidence_format.h"
#include "moetune/analyzers/model.h"
#include "moetune/ui/run_loader.h"
#include "moetune/ui/zoom_state.h"

namespace moetune::ui {

namespace {

QColor lane_color(LaneKind k) {
  switch (k) {
    case LaneKind::Compute: return QColor(70, 130, 200);
    case LaneKind::Comm: return QColor(214, 96, 77);
    case LaneKind::Memcpy: return QColor(90, 170, 90);
    case LaneKind::Nvtx: return QColor(150, 110, 190);
    case LaneKind::NcclOp: return QColor(230, 150, 50);
    case LaneKind::Step: return QColor(120, 120, 120);
    case LaneKind::Api: return QColor(0, 150, 136);
  }
  return Qt::gray;
}

// Stable color per name: lane hue varied by a hash of the name id.
QColor event_color(LaneKind k, std::uint32_t name) {
  QColor c = lane_color(k);
  const std::uint32_t h = name * 2654435761u;
  return c.lighter(85 + int(h % 40));
}

// A "nice" tick step (1, 2, 5 x 10^n ns) giving at least min_px between ticks.
std::int64_t tick_step(double ns_per_px, double min_px) {
  const double raw = ns_per_px * min_px;
  double p = std::pow(10.0, std::floor(std::log10(std::max(raw, 1.0))));
  for (double f : {1.0, 2.0, 5.0, 10.0}) {
    if (p * f >= raw) return std::max<std::int64_t>(1, std::int64_t(p * f));
  }
  return std::int64_t(p * 10);
}

// "200 ms", "1.2 s": format_duration without the trailing zeros a round tick has.
QString tick_label(std::int64_t ns) {
  QString s = format_duration(ns);
  const qsizetype sp = s.indexOf(QLatin1Char(' '));
  const qsizetype dot = s.indexOf(QLatin1Char('.'));
  if (dot < 0 || sp < dot) return s;
  qsizetype end = sp;
  while (end > dot + 1 && s[end - 1] == QLatin1Char('0')) --end;
  if (end == dot + 1) --end;  // no decimals left: drop the point
  return s.left(end) + s.mid(sp);
}

}  // namespace

TimelineView::TimelineView(ZoomState* zoom, QWidget* parent)
    : QWidget(parent), zoom_(zoom), vscroll_(new QScrollBar(Qt::Vertical, this)) {
  setMouseTracking(true);
  setFocusPolicy(Qt::StrongFocus);
  setMinimumSize(400, 200);
  setAttribute(Qt::WA_OpaquePaintEvent);
  connect(zoom_, &ZoomState::viewChanged, this, qOverload<>(&QWidget::update));
  connect(zoom_, &ZoomState::highlightChanged, this, [this] { expand_for_highlight(); update(); });
  connect(zoom_, &ZoomState::cursorChanged, this, qOverload<>(&QWidget::update));
  connect(vscroll_, &QScrollBar::valueChanged, this, [this] { relayout(); update(); });
}

void TimelineView::set_run(std::shared_ptr<const LoadedRun> run) {
  run_ = std::move(run);
  selected_ = hovered_ = {};
  search_from_ = INT64_MIN;
  const std::filesystem::path path = run_ ? run_->summary.path : std::filesystem::path();
  const bool same_run = !run_path_.empty() && path == run_path_;  // the full run after its preview
  run_path_ = path;
  nodes_ = {};
  heat_ = {};
  if (run_) {
    nodes_ = RankNodes::build(run_->data, run_->timeline);
    node_mode_ = nodes_.rank_count() >= kNodeModeMinRanks;
    const bool whole = !run_->partial;
    heat_ = RankHeat::from_timeline(run_->timeline, whole ? run_->timeline.t_begin : run_->window_t0,
                                    whole ? run_->timeline.t_end : run_->window_t1);
    if (analysis_ && same_run) heat_.set_metrics(analysis_->metrics);
  } else {
    node_mode_ = false;
  }
  if (!same_run) {
    analysis_.reset();
    expanded_.clear();
    auto_expanded_.clear();
  }
  relayout();
  update();
}

void TimelineView::set_analysis(std::shared_ptr<const analyzers::AnalysisResult> r) {
  analysis_ = std::move(r);
  if (run_) {
    const bool whole = !run_->partial;
    heat_ = RankHeat::from_timeline(run_->timeline, whole ? run_->timeline.t_begin : run_->window_t0,
                                    whole ? run_->timeline.t_end : run_->window_t1);
    if (analysis_) heat_.set_metrics(analysis_->metrics);
  }
  update();
}

void TimelineView::set_node_expanded(int node, bool expanded, int only_rank) {
  if (node < 0 || std::size_t(node) >= nodes_.nodes.size()) return;
  auto_expanded_.erase(node);
  if (expanded) {
    expanded_.insert(node);
    for (int r : nodes_.nodes[std::size_t(node)].ranks) {
      if (only_rank < 0 || r == only_rank) collapsed_.erase(r);
      else collapsed_.insert(r);
    }
  } else {
    expanded_.erase(node);
  }
  relayout();
  update();
}

int TimelineView::node_row_y(int node) const {
  for (const auto& r : rows_)
    if (r.node == node) return kRulerHeight - vscroll_->value() + r.y;
  return -1;
}

bool TimelineView::lane_shown(int lane) const {
  return std::any_of(rows_.begin(), rows_.end(), [lane](const Row& r) { return r.lane == lane; });
}

bool TimelineView::rank_header_shown(int rank) const {
  if (!run_) return false;
  for (const auto& r : rows_)
    if (r.group >= 0 && r.lane < 0 && run_->timeline.groups[std::size_t(r.group)].rank == rank) return true;
  return false;
}

int TimelineView::scroll_y() const { return vscroll_->value(); }

void TimelineView::scroll_to_rank(int rank) {
  const int node = nodes_.node_of_rank(rank);
  for (const auto& r : rows_) {
    const bool hit = (r.group >= 0 && r.lane < 0 && run_->timeline.groups[std::size_t(r.group)].rank == rank) ||
                     (r.group < 0 && r.node == node && !r.node_header);
    if (hit) { vscroll_->setValue(std::max(0, r.y - kHeaderHeight)); return; }
  }
}

// A finding's ranks: open the nodes that hold them (if few), with those ranks' lanes.
void TimelineView::expand_for_highlight() {
  if (!node_mode_ || !run_) return;
  const auto& hl = zoom_->highlighted_ranks();
  for (int n : auto_expanded_) expanded_.erase(n);
  auto_expanded_.clear();
  std::set<int> want;
  for (int r : hl)
    if (int n = nodes_.node_of_rank(r); n >= 0) want.insert(n);
  if (!want.empty() && int(want.size()) <= kAutoExpandNodes) {
    for (int n : want) {
      if (expanded_.count(n)) continue;  // the user opened it: leave it as it is
      expanded_.insert(n);
      auto_expanded_.insert(n);
      for (int r : nodes_.nodes[std::size_t(n)].ranks) {
        if (hl.count(r)) collapsed_.erase(r);
        else collapsed_.insert(r);
      }
    }
  }
  relayout();
  if (!hl.empty()) scroll_to_rank(*hl.begin());
}

int TimelineView::heat_rank_at(QPoint pt) const {
  if (!run_ || !node_mode_ || pt.x() < kLabelWidth) return -1;
  const Row* r = row_at(pt.y());
  if (!r || r->node < 0 || r->node_header) return -1;
  const int dy = pt.y() - (kRulerHeight - vscroll_->value() + r->y) - 2;
  const auto& ranks = nodes_.nodes[std::size_t(r->node)].ranks;
  if (dy < 0 || dy / kHeatRankPx >= int(ranks.size())) return -1;
  return ranks[std::size_t(dy / kHeatRankPx)];
}

void TimelineView::set_collapsed(int rank, bool c) {
  if (c) collapsed_.insert(rank); else collapsed_.erase(rank);
  relayout();
  update();
}

void TimelineView::set_buckets(std::shared_ptr<const TimeBuckets> b) {
  buckets_ = std::move(b);
  bucket_scale_ms_ = 0;
  bucket_of_rank_.clear();
  if (buckets_) {
    for (std::size_t i = 0; i < buckets_->ranks.size(); ++i) {
      const auto& r = buckets_->ranks[i];
      bucket_scale_ms_ = std::max(bucket_scale_ms_, r.step_ms);
      if (r.rank < 0 || r.rank > 1'000'000) continue;
      if (bucket_of_rank_.size() <= std::size_t(r.rank)) bucket_of_rank_.resize(std::size_t(r.rank) + 1, -1);
      bucket_of_rank_[std::size_t(r.rank)] = int(i);
    }
  }
  update();
}

void TimelineView::set_bucket_selection(int rank, int bucket) {
  sel_rank_ = rank;
  sel_bucket_ = rank < 0 ? -1 : bucket;
  sel_kinds_ = 0;
  if (rank >= 0)
    for (LaneKind k : bucket_lane_kinds(bucket)) sel_kinds_ |= 1u << unsigned(k);
  update();
}

const RankBuckets* TimelineView::buckets_of(int rank) const {
  if (!buckets_ || rank < 0 || std::size_t(rank) >= bucket_of_rank_.size() || bucket_of_rank_[std::size_t(rank)] < 0)
    return nullptr;
  return &buckets_->ranks[std::size_t(bucket_of_rank_[std::size_t(rank)])];
}

QRect TimelineView::bucket_bar_rect(int row_y) const {
  const int right = width() - vscroll_->width();
  const int x0 = std::max(kLabelWidth + 200, right - kBucketBarWidth - 84);
  return QRect(x0, kRulerHeight - vscroll_->value() + row_y + 4, std::max(0, right - 84 - x0), kHeaderHeight - 8);
}

std::pair<int, int> TimelineView::bucket_at(QPoint pt) const {
  if (!run_ || bucket_scale_ms_ <= 0) return {-1, -1};
  const Row* r = row_at(pt.y());
  if (!r || r->lane >= 0 || r->group < 0) return {-1, -1};
  const int rank = run_->timeline.groups[std::size_t(r->group)].rank;
  const RankBuckets* rb = buckets_of(rank);
  const QRect bar = bucket_bar_rect(r->y);
  if (!rb || bar.width() <= 0 || pt.x() < bar.left() || pt.x() > bar.right()) return {-1, -1};
  double x = bar.left();
  for (int b : bucket_display_order()) {
    const double w = rb->ms[std::size_t(b)] / bucket_scale_ms_ * bar.width();
    if (w > 0 && pt.x() >= x && pt.x() < x + w) return {rank, b};
    x += w;
  }
  return {-1, -1};
}

TimeMapper TimelineView::mapper() const {
  TimeMapper m;
  m.set_range(zoom_->t0(), zoom_->t1());
  m.set_width(double(width() - kLabelWidth - vscroll_->width()));
  return m;
}

void TimelineView::relayout() {
  rows_.clear();
  int y = 0;
  if (run_) {
    const auto& tl = run_->timeline;
    auto add_group = [&](std::size_t g) {
      rows_.push_back({y, kHeaderHeight, int(g), -1});
      y += kHeaderHeight;
      if (collapsed_.count(tl.groups[g].rank)) return;
      for (int l : tl.groups[g].lanes) {
        rows_.push_back({y, kLaneHeight, int(g), l});
        y += kLaneHeight;
      }
    };
    if (!node_mode_) {
      for (std::size_t g = 0; g < tl.groups.size(); ++g) add_group(g);
    } else {
      std::map<int, std::size_t> group_of;  // rank -> lane group
      for (std::size_t g = 0; g < tl.groups.size(); ++g) group_of[tl.groups[g].rank] = g;
      for (std::size_t n = 0; n < nodes_.nodes.size(); ++n) {
        const auto& node = nodes_.nodes[n];
        if (!expanded_.count(int(n))) {
          const int h = std::max(kHeaderHeight, int(node.ranks.size()) * kHeatRankPx + 4);
          rows_.push_back({y, h, -1, -1, int(n), false});
          y += h;
          continue;
        }
        rows_.push_back({y, kHeaderHeight, -1, -1, int(n), true});
        y += kHeaderHeight;
        for (int rank : node.ranks)
          if (auto it = group_of.find(rank); it != group_of.end()) add_group(it->second);
      }
    }
  }
  content_height_ = y;
  const int view_h = height() - kRulerHeight;
  vscroll_->setRange(0, std::max(0, content_height_ - view_h));
  vscroll_->setPageStep(std::max(1, view_h));
}

void TimelineView::resizeEvent(QResizeEvent*) {
  vscroll_->setGeometry(width() - vscroll_->sizeHint().width(), kRulerHeight, vscroll_->sizeHint().width(),
                        height() - kRulerHeight);
  relayout();
}

const TimelineView::Row* TimelineView::row_at(int y) const {
  const int cy = y - kRulerHeight + vscroll_->value();
  // rows are laid out top to bottom: the last row starting at or above cy
  auto it = std::upper_bound(rows_.begin(), rows_.end(), cy, [](int v, const Row& r) { return v < r.y; });
  if (it == rows_.begin()) return nullptr;
  --it;
  return cy < it->y + it->h ? &*it : nullptr;
}

void TimelineView::paint_ruler(QPainter& p, const TimeMapper& m) {
  p.fillRect(QRect(0, 0, width(), kRulerHeight), palette().color(QPalette::Button));
  p.setPen(palette().color(QPalette::ButtonText));
  const std::int64_t step = tick_step(m.ns_per_px(), 90);
  const std::int64_t base = run_ ? run_->timeline.t_begin : 0;
  std::int64_t first = m.t0 - base;
  first = (first / step) * step;
  for (std::int64_t t = first; base + t < m.t1; t += step) {
    const double x = m.x(base + t);
    if (x < 0) continue;
    const int px = kLabelWidth + int(x);
    p.drawLine(px, kRulerHeight - 6, px, kRulerHeight);
    p.drawText(px + 3, kRulerHeight - 8, tick_label(t));
  }
}

void TimelineView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  // Colours follow the palette (light or dark system theme); event hues stay the same.
  const QPalette& pal = palette();
  const bool dark = pal.color(QPalette::Base).lightness() < 128;
  p.fillRect(rect(), pal.color(QPalette::Base));
  // rank headers: the base colour tinted towards the highlight, readable in either theme
  const QColor base = pal.color(QPalette::Base), hi = pal.color(QPalette::Highlight);
  const QColor header_bg = QColor::fromRgbF(0.82f * base.redF() + 0.18f * hi.redF(), 0.82f * base.greenF() + 0.18f * hi.greenF(),
                                            0.82f * base.blueF() + 0.18f * hi.blueF());
  const TimeMapper m = mapper();
  last_items_ = last_folded_ = 0;
  if (!run_) {
    p.setPen(pal.color(QPalette::PlaceholderText));
    p.drawText(rect(), Qt::AlignCenter, tr("No run loaded: File › Open, or drop a .moetune file here"));
    return;
  }
  const auto& tl = run_->timeline;
  const auto& hl = zoom_->highlighted_ranks();
  const int top = kRulerHeight - vscroll_->value();
  const int right = width() - vscroll_->width();
  QFont small = font();
  small.setPointSizeF(std::max(6.0, small.pointSizeF() - 1.5));
  p.setFont(small);
  const QFontMetrics fm(small);
  // only the rows in view: the first one ending below the ruler, on until the bottom
  auto first = std::upper_bound(rows_.begin(), rows_.end(), kRulerHeight - top,
                                [](int v, const Row& r) { return v < r.y + r.h; });
  for (auto ri = first; ri != rows_.end(); ++ri) {
    const Row& r = *ri;
    const int y = top + r.y;
    if (y > height()) break;
    if (r.group < 0) {
      paint_node_row(p, r, y, m, right);
      continue;
    }
    const LaneGroup& g = tl.groups[std::size_t(r.group)];
    const bool lit = hl.count(g.rank) > 0;
    if (r.lane < 0) {
      p.fillRect(QRect(0, y, right, r.h), lit ? (dark ? QColor(110, 90, 30) : QColor(255, 236, 179)) : header_bg);
      p.setPen(pal.color(QPalette::Text));
      const QString arrow = collapsed_.count(g.rank) ? QStringLiteral("▸ ") : QStringLiteral("▾ ");
      if (node_mode_) {  // the rank's overview strip beside its label, up to its bucket bar
        const int w = int(m.width);
        QImage strip(std::max(1, w), 1, QImage::Format_RGB32);
        strip.fill(pal.color(QPalette::Base));
        heat_line(g.rank, m, w, reinterpret_cast<QRgb*>(strip.scanLine(0)));
        const int end = buckets_of(g.rank) && bucket_scale_ms_ > 0 ? bucket_bar_rect(r.y).left() - 6 : right;
        p.save();
        p.setClipRect(QRect(kLabelWidth, y, std::max(0, end - kLabelWidth), r.h));
        p.drawImage(QRect(kLabelWidth, y + 5, w, r.h - 10), strip);
        p.restore();
        p.drawText(QRect(4, y, kLabelWidth - 8, r.h), Qt::AlignVCenter | Qt::AlignLeft,
                   fm.elidedText(arrow + QString::fromStdString(g.label), Qt::ElideRight, kLabelWidth - 8));
      } else {
        p.drawText(QRect(4, y, right - 8, r.h), Qt::AlignVCenter | Qt::AlignLeft, arrow + QString::fromStdString(g.label));
      }
      // Where the rank's step time goes: one stacked bar, same scale for all ranks.
      if (const RankBuckets* rb = bucket_scale_ms_ > 0 ? buckets_of(g.rank) : nullptr) {
        const QRect bar = bucket_bar_rect(r.y);
        if (bar.width() > 20) {
          double x = bar.left();
          for (int b : bucket_display_order()) {
            const double w = rb->ms[std::size_t(b)] / bucket_scale_ms_ * bar.width();
            if (w <= 0) continue;
            const QRectF seg(x, bar.top(), w, bar.height());
            p.fillRect(seg, QColor::fromRgb(bucket_info(b).rgb));
            if (g.rank == sel_rank_ && b == sel_bucket_) {
              p.setPen(QPen(pal.color(QPalette::Text), 1.5));
              p.drawRect(seg);
            }
            x += w;
          }
          p.setPen(pal.color(QPalette::Text));
          p.drawText(QRect(bar.right() + 6, y, 78, r.h), Qt::AlignVCenter | Qt::AlignLeft,
                     QString::fromStdString(analyzers::format_number(rb->step_ms)) + QStringLiteral(" ms"));
        }
      }
      continue;
    }
    const Lane& lane = tl.lanes[std::size_t(r.lane)];
    if (lit) p.fillRect(QRect(kLabelWidth, y, right - kLabelWidth, r.h), dark ? QColor(70, 60, 30) : QColor(255, 248, 225));
    const bool bucket_lane = sel_kinds_ && g.rank == sel_rank_ && (sel_kinds_ >> unsigned(lane.kind) & 1u);
    if (bucket_lane) {
      QColor c = QColor::fromRgb(bucket_info(sel_bucket_).rgb);
      c.setAlpha(dark ? 90 : 60);
      p.fillRect(QRect(0, y, right, r.h), c);
    }
    p.setPen(pal.color(QPalette::Text));
    p.drawText(QRect(14, y, kLabelWidth - 18, r.h), Qt::AlignVCenter | Qt::AlignLeft, QString::fromStdString(lane.label));
    items_.clear();
    TimelineData::fold(lane, m, kFoldPx, items_);
    last_items_ += items_.size();
    p.setClipRect(QRect(kLabelWidth, std::max(y, kRulerHeight), right - kLabelWidth, r.h));
    for (const DrawItem& it : items_) {
      const QRectF box(kLabelWidth + double(it.x0), y + 2, std::max(1.0, double(it.x1 - it.x0)), r.h - 4);
      if (it.count > 1) {
        last_folded_ += it.count;
        p.fillRect(box, lane_color(lane.kind).darker(140));
        if (box.width() > 24) {  // "335 kernels", or the count alone where that does not fit
          QString t = QString::number(it.count) + QLatin1Char(' ') + QLatin1String(fold_noun(lane.kind));
          if (fm.horizontalAdvance(t) > box.width() - 4) t = QString::number(it.count);
          if (fm.horizontalAdvance(t) <= box.width() - 4) {
            p.setPen(Qt::white);
            p.drawText(box, Qt::AlignCenter, t);
          }
        }
        continue;
      }
      const LaneEvent& e = lane.events[it.first];
      p.fillRect(box, event_color(lane.kind, e.name));
      if (selected_.lane == r.lane && selected_.index == std::int64_t(it.first)) {
        p.setPen(QPen(pal.color(QPalette::Text), 2));
        p.drawRect(box);
      }
      if (box.width() > 30) {
        p.setPen(Qt::white);
        p.drawText(box.adjusted(2, 0, -2, 0), Qt::AlignVCenter | Qt::AlignLeft,
                   fm.elidedText(QString::fromStdString(tl.names[e.name]), Qt::ElideRight, int(box.width()) - 4));
      }
    }
    p.setClipping(false);
    p.setPen(pal.color(QPalette::Midlight));
    p.drawLine(kLabelWidth, y + r.h - 1, right, y + r.h - 1);
  }
  p.setClipping(false);
  p.setPen(pal.color(QPalette::Mid));
  p.drawLine(kLabelWidth - 1, kRulerHeight, kLabelWidth - 1, height());
  paint_ruler(p, m);
  if (node_mode_) paint_heat_legend(p);
  if (zoom_->cursor() != INT64_MIN) {
    const double x = m.x(zoom_->cursor());
    if (x >= 0 && x <= m.width) {
      p.setPen(QPen(QColor(220, 0, 0), 2));
      p.drawLine(QPointF(kLabelWidth + x, 0), QPointF(kLabelWidth + x, height()));
    }
  }
  if (drag_ == Drag::Select) {
    const int a = std::max(kLabelWidth, std::min(press_.x(), last_.x()));
    const int b = std::max(press_.x(), last_.x());
    p.fillRect(QRect(a, kRulerHeight, b - a, height()), QColor(50, 120, 220, 60));
  }
}

EventRef TimelineView::hit(QPoint pt) const {
  if (!run_ || pt.x() < kLabelWidth || pt.y() < kRulerHeight) return {};
  const Row* r = row_at(pt.y());
  if (!r || r->lane < 0) return {};
  const std::int64_t i = TimelineData::hit(run_->timeline.lanes[std::size_t(r->lane)], mapper(),
                                           double(pt.x() - kLabelWidth));
  return {r->lane, i};
}

void TimelineView::wheelEvent(QWheelEvent* e) {
  const double steps = e->angleDelta().y() / 120.0;
  if (e->modifiers() & Qt::ShiftModifier) {
    vscroll_->setValue(vscroll_->value() - int(steps * kLaneHeight * 3));
  } else {
    const TimeMapper m = mapper();
    const double frac = std::clamp((e->position().x() - kLabelWidth) / m.width, 0.0, 1.0);
    zoom_->zoom(std::pow(0.8, steps), frac);
  }
  e->accept();
}

void TimelineView::mousePressEvent(QMouseEvent* e) {
  press_ = last_ = e->pos();
  if (const auto [rank, bucket] = bucket_at(e->pos()); rank >= 0) {
    set_bucket_selection(rank, bucket);
    emit bucketClicked(rank, bucket);
    return;
  }
  if (e->pos().x() < kLabelWidth) {
    const Row* r = row_at(e->pos().y());
    if (r && r->group < 0 && r->node >= 0) {  // node label: expand / collapse the node
      set_node_expanded(r->node, !expanded_.count(r->node));
      return;
    }
    if (r && r->lane < 0 && run_) {
      const int rank = run_->timeline.groups[std::size_t(r->group)].rank;
      set_collapsed(rank, !collapsed_.count(rank));
    }
    return;
  }
  if (e->button() == Qt::RightButton || (e->modifiers() & Qt::ShiftModifier)) drag_ = Drag::Select;
  else if (e->button() == Qt::LeftButton) drag_ = Drag::Pan;
}

void TimelineView::mouseMoveEvent(QMouseEvent* e) {
  if (drag_ == Drag::Pan) {
    const TimeMapper m = mapper();
    const double dx = e->pos().x() - last_.x();
    zoom_->set_view(zoom_->t0() - std::int64_t(dx * m.ns_per_px()), zoom_->t1() - std::int64_t(dx * m.ns_per_px()));
    vscroll_->setValue(vscroll_->value() - (e->pos().y() - last_.y()));
    last_ = e->pos();
    return;
  }
  if (drag_ == Drag::Select) {
    last_ = e->pos();
    update();
    return;
  }
  if (const auto [rank, b] = bucket_at(e->pos()); rank >= 0) {
    const RankBuckets* rb = buckets_of(rank);
    const double v = rb->ms[std::size_t(b)];
    QToolTip::showText(e->globalPosition().toPoint(),
                       tr("rank %1 · %2: %3 ms per step (%4 %)")
                           .arg(rank)
                           .arg(QLatin1String(bucket_info(b).label))
                           .arg(QString::fromStdString(analyzers::format_number(v)))
                           .arg(rb->step_ms > 0 ? QString::number(100 * v / rb->step_ms, 'f', 1) : QStringLiteral("?")),
                       this);
    return;
  }
  if (const QString t = heat_tooltip(e->pos()); !t.isEmpty()) {
    QToolTip::showText(e->globalPosition().toPoint(), t, this);
    return;
  }
  const EventRef h = hit(e->pos());
  if (h.lane != hovered_.lane || h.index != hovered_.index) {
    hovered_ = h;
    emit eventHovered(h);
    if (h.valid() && run_) QToolTip::showText(e->globalPosition().toPoint(), event_tooltip(*run_, h), this);
    else QToolTip::hideText();
  }
}

void TimelineView::mouseReleaseEvent(QMouseEvent* e) {
  if (drag_ == Drag::None && bucket_at(press_).first >= 0) return;  // a bucket click, handled on press
  const bool moved = (e->pos() - press_).manhattanLength() > 3;
  if (drag_ == Drag::Select && moved) {
    const TimeMapper m = mapper();
    const double a = std::min(press_.x(), e->pos().x()) - kLabelWidth;
    const double b = std::max(press_.x(), e->pos().x()) - kLabelWidth;
    zoom_->set_view(m.t(a), m.t(b));
  } else if (!moved && e->button() == Qt::LeftButton && heat_rank_at(e->pos()) >= 0) {
    // a rank's strip in the overview: open its node with that rank's lanes
    const int rank = heat_rank_at(e->pos());
    set_node_expanded(nodes_.node_of_rank(rank), true, rank);
    scroll_to_rank(rank);
  } else if (!moved && e->button() == Qt::LeftButton && e->pos().x() >= kLabelWidth) {
    selected_ = hit(e->pos());
    emit eventSelected(selected_);
  }
  drag_ = Drag::None;
  update();
}

void TimelineView::leaveEvent(QEvent*) { QToolTip::hideText(); }

void TimelineView::keyPressEvent(QKeyEvent* e) {
  switch (e->key()) {
    case Qt::Key_Plus: case Qt::Key_Equal: case Qt::Key_W: zoom_->zoom(0.7, 0.5); break;
    case Qt::Key_Minus: case Qt::Key_S: zoom_->zoom(1 / 0.7, 0.5); break;
    case Qt::Key_Left: case Qt::Key_A: zoom_->pan(-0.15); break;
    case Qt::Key_Right: case Qt::Key_D: zoom_->pan(0.15); break;
    case Qt::Key_Up: vscroll_->setValue(vscroll_->value() - kLaneHeight * 3); break;
    case Qt::Key_Down: vscroll_->setValue(vscroll_->value() + kLaneHeight * 3); break;
    case Qt::Key_Home: case Qt::Key_0: zoom_->reset_view(); break;
    default: QWidget::keyPressEvent(e); return;
  }
  e->accept();
}

bool TimelineView::find_next(const QString& text) {
  if (!run_ || text.isEmpty()) return false;
  const auto& tl = run_->timeline;
  std::vector<bool> match(tl.names.size());
  bool any = false;
  for (std::size_t i = 0; i < tl.names.size(); ++i) {
    match[i] = QString::fromStdString(tl.names[i]).contains(text, Qt::CaseInsensitive);
    any = any || match[i];
  }
  if (!any) return false;
  const std::int64_t from = search_from_ == INT64_MIN ? zoom_->t0() - 1 : search_from_;
  EventRef best;
  std::int64_t best_t = INT64_MAX;
  for (std::size_t l = 0; l < tl.lanes.size(); ++l) {
    const auto& ev = tl.lanes[l].events;
    auto it = std::upper_bound(ev.begin(), ev.end(), from, [](std::int64_t t, const LaneEvent& e) { return t < e.start; });
    for (; it != ev.end() && it->start < best_t; ++it) {
      if (match[it->name]) { best = {int(l), it - ev.begin()}; best_t = it->start; break; }
    }
  }
  if (!best.valid()) { search_from_ = INT64_MIN; return false; }  // wrap on the next call
  search_from_ = best_t;
  selected_ = best;
  if (node_mode_ && !lane_shown(best.lane)) {  // open the lane's node and rank first
    const int rank = tl.lanes[std::size_t(best.lane)].rank;
    const int node = nodes_.node_of_rank(rank);
    if (node >= 0 && !expanded_.count(node)) set_node_expanded(node, true, rank);
    set_collapsed(rank, false);
  }
  const LaneEvent& e = tl.lanes[std::size_t(best.lane)].events[std::size_t(best.index)];
  const std::int64_t pad = std::max<std::int64_t>(e.dur * 2, 2000);
  zoom_->set_view(e.start - pad, e.end() + pad);
  // scroll so the lane is visible
  for (const auto& r : rows_) {
    if (r.lane == best.lane) { vscroll_->setValue(r.y - kLaneHeight * 2); break; }
  }
  emit eventSelected(selected_);
  update();
  return true;
}

// ---- node mode: the ranks x time overview -------------------------------------------

void TimelineView::paint_node_row(QPainter& p, const Row& r, int y, const TimeMapper& m, int right) {
  const QPalette& pal = palette();
  const bool dark = pal.color(QPalette::Base).lightness() < 128;
  const NodeGroup& node = nodes_.nodes[std::size_t(r.node)];
  const auto& hl = zoom_->highlighted_ranks();
  const bool lit = std::any_of(node.ranks.begin(), node.ranks.end(), [&hl](int k) { return hl.count(k) > 0; });
  const QColor base = pal.color(QPalette::Base), hi = pal.color(QPalette::Highlight);
  const float f = r.node_header ? 0.30f : 0.12f;
  const QColor bg = lit ? (dark ? QColor(110, 90, 30) : QColor(255, 236, 179))
                        : QColor::fromRgbF((1 - f) * base.redF() + f * hi.redF(), (1 - f) * base.greenF() + f * hi.greenF(),
                                           (1 - f) * base.blueF() + f * hi.blueF());
  const int n = int(node.ranks.size());
  if (r.node_header) {
    p.fillRect(QRect(0, y, right, r.h), bg);
    p.setPen(pal.color(QPalette::Text));
    p.drawText(QRect(4, y, right - 8, r.h), Qt::AlignVCenter | Qt::AlignLeft,
               QStringLiteral("\u25be ") + QString::fromStdString(node.label) +
                   tr(" \u00b7 %n GPU(s) \u00b7 click to collapse into the overview", nullptr, n));
    return;
  }
  p.fillRect(QRect(0, y, kLabelWidth - 1, r.h), bg);
  p.setPen(pal.color(QPalette::Text));
  p.drawText(QRect(4, y, kLabelWidth - 14, r.h), Qt::AlignVCenter | Qt::AlignLeft,
             QStringLiteral("\u25b8 ") + QString::fromStdString(node.label));
  // kHeatRankPx - 1 pixel rows per rank and a gap row, one pixel per timeline pixel.
  const int w = std::max(1, int(m.width));
  QImage img(w, n * kHeatRankPx, QImage::Format_RGB32);
  img.fill(base);
  for (int i = 0; i < n; ++i) {
    auto* line = reinterpret_cast<QRgb*>(img.scanLine(i * kHeatRankPx));
    heat_line(node.ranks[std::size_t(i)], m, w, line);
    for (int k = 1; k < kHeatRankPx - 1; ++k)
      std::copy(line, line + w, reinterpret_cast<QRgb*>(img.scanLine(i * kHeatRankPx + k)));
  }
  p.drawImage(QPoint(kLabelWidth, y + 2), img);
  // the finding's ranks: an amber tick at the label edge
  for (int i = 0; i < n; ++i)
    if (hl.count(node.ranks[std::size_t(i)]))
      p.fillRect(QRect(kLabelWidth - 10, y + 2 + i * kHeatRankPx - 1, 8, kHeatRankPx + 2), QColor(230, 150, 0));
  p.setPen(pal.color(QPalette::Midlight));
  p.drawLine(0, y + r.h - 1, right, y + r.h - 1);
}

// One rank's heat over the view, into `line` (w pixels; pixels without data keep their
// colour): step cells (a 1-pixel gap at each step's start where the cell is wide enough to
// show it) or comm kernel share per kHeatBinPx bin.
void TimelineView::heat_line(int rank, const TimeMapper& m, int w, QRgb* line) const {
  static const std::array<QRgb, 256> lut = [] {
    std::array<QRgb, 256> l{};
    for (int i = 0; i < 256; ++i) l[std::size_t(i)] = heat_color(i / 255.0).rgb();
    return l;
  }();
  auto put = [&](int x, double v) { line[x] = lut[std::size_t(std::clamp(int(v * 255 + 0.5), 0, 255))]; };
  const double top = heat_.scale_max();
  if (heat_.from_analysis()) {
    std::vector<float> row(static_cast<std::size_t>(w), -1.0f);  // max over the cells in a pixel
    for (const StepCell& c : heat_.steps_of(rank)) {
      if (c.t1 <= m.t0 || c.t0 >= m.t1) continue;
      const double xa = m.x(c.t0), xb = m.x(c.t1);
      const bool wide = xb - xa > 6;  // wide cells leave a pixel at their start: the step boundary
      const int a = std::clamp(int(std::floor(xa)) + (wide ? 1 : 0), 0, w - 1);
      const int b = std::clamp(int(wide ? std::floor(xb) : std::ceil(xb)), a + 1, w);
      const auto v = float(c.share() / top);
      for (int x = a; x < b; ++x) row[std::size_t(x)] = std::max(row[std::size_t(x)], v);
    }
    for (int x = 0; x < w; ++x)
      if (row[std::size_t(x)] >= 0) put(x, row[std::size_t(x)]);
    return;
  }
  for (int bx = 0; bx < w; bx += kHeatBinPx) {
    const double v = heat_.busy_share(rank, m.t(bx), m.t(bx + kHeatBinPx));
    if (v < 0) continue;
    for (int x = bx; x < std::min(w, bx + kHeatBinPx); ++x) put(x, v / top);
  }
}

void TimelineView::paint_heat_legend(QPainter& p) {
  const QRect bar(6, 6, 44, kRulerHeight - 12);
  for (int x = 0; x < bar.width(); ++x)
    p.fillRect(QRect(bar.left() + x, bar.top(), 1, bar.height()), heat_color(double(x) / (bar.width() - 1)));
  p.setPen(palette().color(QPalette::ButtonText));
  p.drawRect(bar.adjusted(0, 0, -1, -1));
  const QString what = heat_.from_analysis()
                           ? tr("0-%1 % comm wait/step").arg(QString::number(100 * heat_.scale_max(), 'f', 0))
                           : tr("0-100 % comm kernels");
  p.drawText(QRect(bar.right() + 5, 0, kLabelWidth - bar.right() - 7, kRulerHeight), Qt::AlignVCenter | Qt::AlignLeft,
             what);
}

QString TimelineView::heat_tooltip(QPoint pt) const {
  const int rank = heat_rank_at(pt);
  if (rank < 0) return {};
  const TimeMapper m = mapper();
  const double x = pt.x() - kLabelWidth;
  const QString who = tr("rank %1 (%2)").arg(rank).arg(QString::fromStdString(
                          nodes_.nodes[std::size_t(nodes_.node_of_rank(rank))].label));
  if (heat_.from_analysis()) {
    const std::int64_t t = m.t(x);
    for (const StepCell& c : heat_.steps_of(rank))
      if (t >= c.t0 && t < c.t1)
        return who + tr(" \u00b7 step %1: comm wait %2 ms of %3 ms (%4 %)\nclick: open this rank's lanes")
                         .arg(c.step)
                         .arg(QString::fromStdString(analyzers::format_number(c.wait_ms)))
                         .arg(QString::fromStdString(analyzers::format_number(c.step_ms)))
                         .arg(QString::number(100 * c.share(), 'f', 1));
    return who + tr(": no step here\nclick: open this rank's lanes");
  }
  const double bx = std::floor(x / kHeatBinPx) * kHeatBinPx;
  const double v = heat_.busy_share(rank, m.t(bx), m.t(bx + kHeatBinPx));
  if (v < 0) return who + tr(": no events loaded here\nclick: open this rank's lanes");
  return who + tr(": comm kernels %1 % of this bin (comm wait per step follows the analysis)\nclick: open this rank's lanes")
                   .arg(QString::number(100 * v, 'f', 1));
}

}  // namespace moetune::ui
