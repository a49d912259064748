// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/overview_strip.h"

#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

#include "moetune/ui/run_loader.h"
#include "moetune/ui/timeline_view.h"
#include "moetune/ui/zoom_state.h"

namespace moetune::ui {

OverviewStrip::OverviewStrip(ZoomState* zoom, QWidget* parent) : QWidget(parent), zoom_(zoom) {
  setMinimumHeight(36);
  setMaximumHeight(60);
  connect(zoom_, &ZoomState::viewChanged, this, qOverload<>(&QWidget::update));
  connect(zoom_, &ZoomState::cursorChanged, this, qOverload<>(&QWidget::update));
}

void OverviewStrip::set_run(std::shared_ptr<const LoadedRun> run) {
  run_ = std::move(run);
  recount();
  update();
}

void OverviewStrip::resizeEvent(QResizeEvent*) { recount(); }

void OverviewStrip::recount() {
  const int w = std::max(1, width() - TimelineView::kLabelWidth);
  bins_.assign(std::size_t(w), 0.0);
  max_bin_ = 1;
  if (!run_) return;
  const auto& tl = run_->timeline;
  TimeMapper m;
  m.set_range(zoom_->begin(), zoom_->end());
  m.set_width(w);
  for (const auto& lane : tl.lanes) {
    if (lane.kind == LaneKind::Step || lane.kind == LaneKind::Nvtx) continue;
    const auto& ev = lane.events;
    if (ev.size() < std::size_t(w)) {  // sparse lane (many ranks): walk the events, not the columns
      for (const LaneEvent& e : ev) {
        const double x = std::floor(m.x(e.start));
        if (x >= 0 && x < w) bins_[std::size_t(x)] += 1;
      }
      continue;
    }
    std::size_t i = 0;
    for (int x = 0; x < w && i < ev.size(); ++x) {
      const std::int64_t t1 = m.t(x + 1);
      auto it = std::lower_bound(ev.begin() + std::ptrdiff_t(i), ev.end(), t1,
                                 [](const LaneEvent& e, std::int64_t t) { return e.start < t; });
      const auto j = std::size_t(it - ev.begin());
      bins_[std::size_t(x)] += double(j - i);
      i = j;
    }
  }
  for (double b : bins_) max_bin_ = std::max(max_bin_, b);
}

void OverviewStrip::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().color(QPalette::AlternateBase));
  p.setPen(palette().color(QPalette::PlaceholderText));
  p.drawText(QRect(4, 0, TimelineView::kLabelWidth - 8, height()), Qt::AlignVCenter, tr("overview"));
  if (!run_) return;
  const int x0 = TimelineView::kLabelWidth;
  const int h = height() - 4;
  for (std::size_t x = 0; x < bins_.size(); ++x) {
    if (bins_[x] <= 0) continue;
    const int bh = std::max(1, int(h * std::sqrt(bins_[x] / max_bin_)));
    p.fillRect(QRect(x0 + int(x), height() - 2 - bh, 1, bh), QColor(70, 130, 200));
  }
  TimeMapper m;
  m.set_range(zoom_->begin(), zoom_->end());
  m.set_width(double(bins_.size()));
  // The window may reach into the 5 % margin around the run: clamp it to the strip.
  const double a = std::clamp(m.x(zoom_->t0()), 0.0, m.width), b = std::clamp(m.x(zoom_->t1()), 0.0, m.width);
  QRectF win(x0 + a, 1, std::max(2.0, b - a), height() - 2);
  p.fillRect(win, QColor(255, 200, 0, 60));
  p.setPen(QPen(QColor(200, 120, 0), 1.5));
  p.drawRect(win);
  if (zoom_->cursor() != INT64_MIN) {
    p.setPen(QPen(Qt::red, 1.5));
    const double c = x0 + m.x(zoom_->cursor());
    p.drawLine(QPointF(c, 0), QPointF(c, height()));
  }
}

void OverviewStrip::center_at(double px) {
  TimeMapper m;
  m.set_range(zoom_->begin(), zoom_->end());
  m.set_width(double(std::max<std::size_t>(1, bins_.size())));
  const std::int64_t c = m.t(px - TimelineView::kLabelWidth);
  const std::int64_t half = (zoom_->t1() - zoom_->t0()) / 2;
  zoom_->set_view(c - half, c + half);
}

void OverviewStrip::mousePressEvent(QMouseEvent* e) { center_at(e->position().x()); }
void OverviewStrip::mouseMoveEvent(QMouseEvent* e) {
  if (e->buttons() & Qt::LeftButton) center_at(e->position().x());
}
void OverviewStrip::wheelEvent(QWheelEvent* e) {
  zoom_->zoom(std::pow(0.8, e->angleDelta().y() / 120.0), 0.5);
  e->accept();
}

}  // namespace moetune::ui
