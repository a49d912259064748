// SPDX-License-Identifier: Apache-2.0
// TimelineView: the lane timeline. Follows the shared ZoomState; draws for pixels:
// per visible lane, TimelineData::fold() produces a flat list of DrawItems which are
// then painted (so a frame costs O(width x lanes x log n), not O(events)). Wheel zooms
// at the cursor (shift+wheel scrolls lanes), left drag pans, right drag or shift+left
// drag selects a time range to zoom to, keys: +/- or W/S zoom, arrows or A/D pan,
// Home resets. Rank headers collapse their lane group on click; each header carries a
// stacked bar of the rank's time buckets (set_buckets, same scale for every rank):
// clicking a segment emits bucketClicked and highlights the lanes of that bucket.
#pragma once
#include <QWidget>
#include <memory>
#include <set>
#include <vector>

#include "moetune/ui/event_text.h"
#include "moetune/ui/timeline_data.h"
#include "moetune/ui/time_buckets.h"

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
  // Time buckets per rank for the header bars (null: none drawn).
  void set_buckets(std::shared_ptr<const TimeBuckets> b);
  // Highlights the lanes of `bucket` on `rank` (bucket_lane_kinds); rank < 0 clears.
  void set_bucket_selection(int rank, int bucket);
  std::pair<int, int> bucket_selection() const { return {sel_rank_, sel_bucket_}; }
  // The header bar's (rank, bucket) under widget point p, or {-1, -1}.
  std::pair<int, int> bucket_at(QPoint p) const;
  static constexpr int kBucketBarWidth = 220;

  // Stats of the last paint (tests, bench).
  std::size_t last_item_count() const { return last_items_; }
  std::size_t last_folded_events() const { return last_folded_; }
  EventRef selected() const { return selected_; }
  TimeMapper mapper() const;

 signals:
  void eventSelected(moetune::ui::EventRef ref);
  void eventHovered(moetune::ui::EventRef ref);
  void bucketClicked(int rank, int bucket);

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
  QRect bucket_bar_rect(int row_y) const;  // in widget coordinates, for a header row at content y
  const RankBuckets* buckets_of(int rank) const;

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
  std::shared_ptr<const TimeBuckets> buckets_;
  double bucket_scale_ms_ = 0;  // longest rank step: the full bar width
  std::vector<int> bucket_of_rank_;  // rank -> index in buckets_->ranks (-1 none): O(1) per header
  int sel_rank_ = -1, sel_bucket_ = -1;
  std::uint32_t sel_kinds_ = 0;  // bit per LaneKind of the selected bucket
};

}  // namespace moetune::ui
