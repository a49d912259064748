// SPDX-License-Identifier: Apache-2.0
// OverviewStrip: the whole run in one strip. A busy histogram (events per pixel
// column, counted with two binary searches per lane and column, so O(lanes x width x
// log n) once per resize or run) with the visible window drawn over it; click or drag
// moves the window there, the wheel zooms it.
#pragma once
#include <QWidget>
#include <memory>
#include <vector>

namespace moetune::ui {

struct LoadedRun;
class ZoomState;

class OverviewStrip : public QWidget {
  Q_OBJECT
 public:
  OverviewStrip(ZoomState* zoom, QWidget* parent = nullptr);
  void set_run(std::shared_ptr<const LoadedRun> run);
  QSize sizeHint() const override { return {800, 44}; }

 protected:
  void paintEvent(QPaintEvent*) override;
  void resizeEvent(QResizeEvent*) override;
  void mousePressEvent(QMouseEvent*) override;
  void mouseMoveEvent(QMouseEvent*) override;
  void wheelEvent(QWheelEvent*) override;

 private:
  void recount();
  void center_at(double x);
  ZoomState* zoom_;
  std::shared_ptr<const LoadedRun> run_;
  std::vector<double> bins_;  // busy fraction per pixel column (0..1)
  double max_bin_ = 1;
};

}  // namespace moetune::ui
