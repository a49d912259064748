// SPDX-License-Identifier: Apache-2.0
// ReplayController: plays the run step by step. A 30 Hz timer sweeps the shared
// cursor through the current step at `speed` steps per second; crossing a step end
// moves to the next step. Every panel follows through ZoomState (cursor, step,
// view). step_forward/back and set_index work while paused; tick() is public so
// tests can advance time deterministically.
#pragma once
#include <QObject>
#include <QTimer>
#include <vector>

#include "moetune/ui/plot_builders.h"

namespace moetune::ui {

class ZoomState;

class ReplayController : public QObject {
  Q_OBJECT
 public:
  ReplayController(ZoomState* zoom, QObject* parent = nullptr);
  void set_steps(std::vector<StepSpan> steps);
  const std::vector<StepSpan>& steps() const { return steps_; }
  int index() const { return index_; }
  bool playing() const { return timer_.isActive(); }
  double speed() const { return speed_; }
  void set_follow_view(bool f) { follow_ = f; }

 public slots:
  void play();
  void pause();
  void toggle() { playing() ? pause() : play(); }
  void step_forward();
  void step_back();
  void set_index(int i);
  void set_speed(double steps_per_s) { speed_ = steps_per_s > 0 ? steps_per_s : 1.0; }
  void tick(double seconds = 1.0 / 30);

 signals:
  void indexChanged(int index);
  void playingChanged(bool playing);

 private:
  ZoomState* zoom_;
  std::vector<StepSpan> steps_;
  int index_ = -1;
  double speed_ = 1.0;
  bool follow_ = true;
  QTimer timer_;
};

}  // namespace moetune::ui
