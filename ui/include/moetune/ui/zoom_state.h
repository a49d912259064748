// SPDX-License-Identifier: Apache-2.0
// ZoomState: the one shared view state every panel follows (hotspot's
// FilterAndZoomStack): the visible time window, the full run range, the ranks a
// finding highlights, the replay cursor and the current step. Setters emit only on
// change. The window is kept inside the run range (with a 5 % margin).
#pragma once
#include <QObject>
#include <cstdint>
#include <set>

#include "moetune/ui/time_mapper.h"

namespace moetune::ui {

class ZoomState : public QObject {
  Q_OBJECT
 public:
  explicit ZoomState(QObject* parent = nullptr) : QObject(parent) {}

  std::int64_t begin() const { return begin_; }
  std::int64_t end() const { return end_; }
  std::int64_t t0() const { return t0_; }
  std::int64_t t1() const { return t1_; }
  const std::set<int>& highlighted_ranks() const { return ranks_; }
  std::int64_t cursor() const { return cursor_; }  // replay cursor, INT64_MIN when off
  std::int64_t current_step() const { return step_; }  // -1 when none

  void set_run_range(std::int64_t b, std::int64_t e);  // also resets the view to all
  void set_view(std::int64_t t0, std::int64_t t1);
  void reset_view() { set_view(begin_, end_); }
  void zoom(double factor, double anchor_frac);  // anchor as a fraction of the view width
  void pan(double frac);                          // positive: later times come into view
  void set_highlighted_ranks(std::set<int> r);
  void set_cursor(std::int64_t t);
  void set_current_step(std::int64_t step);

 signals:
  void viewChanged();
  void highlightChanged();
  void cursorChanged();
  void stepChanged(qint64 step);

 private:
  std::int64_t begin_ = 0, end_ = 1, t0_ = 0, t1_ = 1;
  std::set<int> ranks_;
  std::int64_t cursor_ = INT64_MIN;
  std::int64_t step_ = -1;
};

}  // namespace moetune::ui
