// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/zoom_state.h"

#include <algorithm>
#include <utility>

namespace moetune::ui {

void ZoomState::set_run_range(std::int64_t b, std::int64_t e) {
  begin_ = b;
  end_ = std::max(e, b + TimeMapper::kMinSpanNs);
  t0_ = t1_ = 0;  // force the emit below
  set_view(begin_, end_);
}

void ZoomState::set_view(std::int64_t t0, std::int64_t t1) {
  TimeMapper m;
  m.set_range(t0, t1);
  const std::int64_t margin = (end_ - begin_) / 20;
  m.clamp_to(begin_ - margin, end_ + margin);
  if (m.t0 == t0_ && m.t1 == t1_) return;
  t0_ = m.t0;
  t1_ = m.t1;
  emit viewChanged();
}

void ZoomState::zoom(double factor, double anchor_frac) {
  TimeMapper m;
  m.set_range(t0_, t1_);
  m.set_width(1000);
  m.zoom(factor, anchor_frac * 1000);
  set_view(m.t0, m.t1);
}

void ZoomState::pan(double frac) {
  const auto dt = static_cast<std::int64_t>(double(t1_ - t0_) * frac);
  set_view(t0_ + dt, t1_ + dt);
}

void ZoomState::set_highlighted_ranks(std::set<int> r) {
  if (r == ranks_) return;
  ranks_ = std::move(r);
  emit highlightChanged();
}

void ZoomState::set_cursor(std::int64_t t) {
  if (t == cursor_) return;
  cursor_ = t;
  emit cursorChanged();
}

void ZoomState::set_current_step(std::int64_t step) {
  if (step == step_) return;
  step_ = step;
  emit stepChanged(step);
}

}  // namespace moetune::ui
