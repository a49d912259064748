// SPDX-License-Identifier: Apache-2.0
// TimelineView: the lane timeline. Follows the shared ZoomState; draws for pixels:
// per visible lane, TimelineData::fold() produces a flat list of DrawItems which are
// then painted (so a frame costs O(width x lanes x log n), not O(events)). Wheel zooms
// at the cursor (shift+wheel scrolls lanes), left drag pans, right drag or shift+left
// drag selects a time range to zoom to, keys: +/- or W/S zoom, arrows or A/D pan,
// Home resets. Rank headers collapse their lane group on click.
#pragma once
#include <QWidget>
#include <memory>
#include <set>
#include <vector>

#include "moetune/ui/event_text.h"
#include "moetune/ui/timeline_data.h"

class QScrollBar;

namespace moetune::ui {

struct LoadedRun;
class ZoomState;

class TimelineView : public QWidget {
  Q_OBJECT
 public:
  static constexpr int kLabelWidth = 190;
  static constexpr int kRulerHeight = 22;
  static constexpr int kLaneHeight = 18;
  static constexpr int kHeaderHeight = 20;
  static constexpr double kFoldPx = 3.0;

  TimelineView(ZoomState* zoom, QWidget* parent = nullptr);
  void set_run(std::shared_ptr<const LoadedRun> run);
  // Names matching `text` (substring, case-insensitive); finds the next event after
  // the last match (or the view start) across lanes, selects it and zooms to it.
  bool find_next(const QString& text);
  void set_collapsed(int rank, bool collapsed);

  // Stats of the last paint (tests, bench).
  std::size_t last_item_count() const { return last_items_; }
  std::size_t last_folded_events() const { return last_folded_; }
  EventRef selected() const { return selected_; }
  TimeMapper mapper() const;

 signals:
  void eventSelected(moetune::ui::EventRef ref);
  void eventHovered(moetune::ui::EventRef ref);

 protected:
  void paintEvent(QPaintEvent*) override;
  void resizeEvent(QResizeEvent*) override;
  void wheelEvent(QWheelEvent*) override;
  void mousePressEvent(QMouseEvent*) override;
  void mouseMoveEvent(QMouseEvent*) override;
  void mouseReleaseEvent(QMouseEvent*) override;
  void keyPressEvent(QKeyEvent*) override;
  void leaveEvent(QEvent*) override;

 private:
  struct Row {
    int y = 0, h = 0;
    int group = -1;  // header row when lane < 0
    int lane = -1;
  };
  void relayout();
  const Row* row_at(int y) const;
  EventRef hit(QPoint p) const;
  void paint_ruler(class QPainter& p, const TimeMapper& m);

  ZoomState* zoom_;
  std::shared_ptr<const LoadedRun> run_;
  std::set<int> collapsed_;
  std::vector<Row> rows_;
  int content_height_ = 0;
  QScrollBar* vscroll_;
  std::vector<DrawItem> items_;  // reused per lane
  std::size_t last_items_ = 0, last_folded_ = 0;
  EventRef selected_, hovered_;
  // mouse interaction
  enum class Drag { None, Pan, Select } drag_ = Drag::None;
  QPoint press_, last_;
  std::int64_t search_from_ = INT64_MIN;
};

}  // namespace moetune::ui
