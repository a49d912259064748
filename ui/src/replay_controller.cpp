// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/replay_controller.h"

#include <algorithm>

#include "moetune/ui/zoom_state.h"

namespace moetune::ui {

ReplayController::ReplayController(ZoomState* zoom, QObject* parent) : QObject(parent), zoom_(zoom) {
  timer_.setInterval(33);
  connect(&timer_, &QTimer::timeout, this, [this] { tick(); });
}

void ReplayController::set_steps(std::vector<StepSpan> steps) {
  pause();
  steps_ = std::move(steps);
  index_ = -1;
  zoom_->set_cursor(INT64_MIN);
  zoom_->set_current_step(-1);
  emit indexChanged(index_);
}

void ReplayController::play() {
  if (steps_.empty()) return;
  if (index_ < 0 || index_ >= int(steps_.size()) - 1) {
    if (index_ >= int(steps_.size()) - 1 && zoom_->cursor() >= steps_.back().t1) set_index(0);
    else if (index_ < 0) set_index(0);
  }
  timer_.start();
  emit playingChanged(true);
}

void ReplayController::pause() {
  if (!timer_.isActive()) return;
  timer_.stop();
  emit playingChanged(false);
}

void ReplayController::set_index(int i) {
  if (steps_.empty()) return;
  i = std::clamp(i, 0, int(steps_.size()) - 1);
  const StepSpan& s = steps_[std::size_t(i)];
  const bool changed = i != index_;
  index_ = i;
  zoom_->set_current_step(s.step);
  zoom_->set_cursor(s.t0);
  if (follow_) {
    const std::int64_t pad = (s.t1 - s.t0) / 10;
    zoom_->set_view(s.t0 - pad, s.t1 + pad);
  }
  if (changed) emit indexChanged(index_);
}

void ReplayController::step_forward() { set_index(index_ + 1); }
void ReplayController::step_back() { set_index(std::max(0, index_ - 1)); }

void ReplayController::tick(double seconds) {
  if (steps_.empty()) return;
  if (index_ < 0) { set_index(0); return; }
  const StepSpan& s = steps_[std::size_t(index_)];
  const double span = double(std::max<std::int64_t>(1, s.t1 - s.t0));
  const std::int64_t next = zoom_->cursor() + std::int64_t(span * speed_ * seconds);
  if (next < s.t1) { zoom_->set_cursor(next); return; }
  if (index_ + 1 < int(steps_.size())) { set_index(index_ + 1); return; }
  zoom_->set_cursor(s.t1);
  pause();
}

}  // namespace moetune::ui
