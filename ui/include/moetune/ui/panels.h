// SPDX-License-Identifier: Apache-2.0
// The plot panels under the timeline. Each is rebuilt when a run or an analysis
// arrives and moves a marker to the current step when ZoomState's step changes
// (replay). PlotsPanel: step time, comm ratio / exposed comm, bus bandwidth vs size.
// ExpertsPanel: the experts x steps heatmap per layer. TopologyPanel: link-code
// matrix. HealthPanel: trace health (stats) and the run summary.
#pragma once
#include <QWidget>
#include <memory>

#include "moetune/analyzers/model.h"

class QCustomPlot;
class QComboBox;
class QLabel;
class QTableWidget;

namespace moetune::ui {

struct LoadedRun;
struct RunSummary;
class ZoomState;

class PlotsPanel : public QWidget {
  Q_OBJECT
 public:
  PlotsPanel(ZoomState* zoom, QWidget* parent = nullptr);
  void set_run(std::shared_ptr<const LoadedRun> run);
  void set_result(std::shared_ptr<const analyzers::AnalysisResult> r);
  QCustomPlot* step_plot() const { return step_; }

 private:
  void on_step(qint64 step);
  ZoomState* zoom_;
  QCustomPlot *step_, *ratio_, *busbw_;
  QLabel* notes_;
  std::shared_ptr<const LoadedRun> run_;
};

class ExpertsPanel : public QWidget {
  Q_OBJECT
 public:
  ExpertsPanel(ZoomState* zoom, QWidget* parent = nullptr);
  void set_run(std::shared_ptr<const LoadedRun> run);
  void set_result(std::shared_ptr<const analyzers::AnalysisResult> r);

 private:
  void rebuild();
  ZoomState* zoom_;
  QComboBox* layer_;
  QCustomPlot* map_;
  QLabel* note_;
  std::shared_ptr<const LoadedRun> run_;
  std::shared_ptr<const analyzers::AnalysisResult> result_;
};

class TopologyPanel : public QWidget {
  Q_OBJECT
 public:
  explicit TopologyPanel(QWidget* parent = nullptr);
  void set_run(std::shared_ptr<const LoadedRun> run);

 private:
  QTableWidget* table_;
  QLabel* note_;
};

class HealthPanel : public QWidget {
  Q_OBJECT
 public:
  explicit HealthPanel(QWidget* parent = nullptr);
  void set_summary(const RunSummary& s);
  void set_result(std::shared_ptr<const analyzers::AnalysisResult> r);

 private:
  QLabel* summary_;
  QTableWidget* stats_;
  QLabel* notes_;
};

}  // namespace moetune::ui
