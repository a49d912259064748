// SPDX-License-Identifier: Apache-2.0
// ComparisonView: the before/after comparison of a relaunch. Two runs side by side,
// each with its own timeline (own ZoomState) under a header with its file name, its
// step time and step count; below, the `moetune diff` numbers (analyzers::compare_runs
// over analyzers::summarize of both runs: step time, exposed comm, comm ratio, tokens/s,
// speedup, traffic per collective, findings gone / still there / new) as a table.
// diff() is the same comparison as the `moetune diff --json` document (for the log).
// Immutable once built; loading and analysing the runs happens elsewhere (load()).
#pragma once
#include <QWidget>
#include <memory>
#include <nlohmann/json.hpp>

#include "moetune/analyzers/model.h"
#include "moetune/trace/result.h"

class QLabel;
class QTableWidget;

namespace moetune::ui {

struct LoadedRun;
class TimelineView;
class ZoomState;

class ComparisonView : public QWidget {
  Q_OBJECT
 public:
  struct Side {
    std::shared_ptr<const LoadedRun> run;
    std::shared_ptr<const analyzers::AnalysisResult> result;
  };
  ComparisonView(Side before, Side after, QWidget* parent = nullptr);

  const nlohmann::json& diff() const { return diff_; }
  QString header_text(int side) const;  // 0 before, 1 after
  QTableWidget* table() const { return table_; }
  TimelineView* timeline(int side) const { return side == 0 ? tl_[0] : tl_[1]; }
  // Loads, lays out and analyses a run (call off the GUI thread).
  static Expected<Side> load(const std::filesystem::path& path);

 private:
  Side side_[2];
  nlohmann::json diff_;
  QLabel* head_[2] = {nullptr, nullptr};
  TimelineView* tl_[2] = {nullptr, nullptr};
  ZoomState* zoom_[2] = {nullptr, nullptr};
  QTableWidget* table_;
};

}  // namespace moetune::ui
