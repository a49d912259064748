// SPDX-License-Identifier: Apache-2.0
// TimelineView: the lane timeline. Follows the shared ZoomState; draws for pixels:
// per visible lane, TimelineData::fold() produces a flat list of DrawItems which are
// then painted (so a frame costs O(width x lanes x log n), not O(events)). Wheel zooms
// at the cursor (shift+wheel scrolls lanes), left drag pans, right drag or shift+left
// drag selects a time range to zoom to, keys: +/- or W/S zoom, arrows or A/D pan,
// Home resets. Rank headers collapse their lane group on click; each header carries a
// stacked bar of the rank's time buckets (set_buckets, same scale for every rank):
// clicking a segment emits bucketClicked and highlights the lanes of that bucket.
//
// Node mode (runs of kNodeModeMinRanks ranks or more, rank_overview.h): the ranks are
// grouped by node and every node starts collapsed into a heatmap row: one strip of
// kHeatRankPx pixels per rank, coloured by the rank's comm wait share per step (after
// the analysis) or comm kernel share per time bin (before it). Clicking a node's label
// expands it to its ranks' headers and lanes (its header collapses it again); clicking a
// rank's strip expands the node with only that rank's lanes open. Highlighted ranks (a
// selected finding) expand their nodes, at most kAutoExpandNodes of them, and scroll there.
#pragma once
#include <QWidget>
#include <filesystem>
#include <memory>
#include <set>
#include <vector>

#include "moetune/ui/event_text.h"
#include "moetune/ui/rank_overview.h"
#include "moetune/ui/timeline_data.h"
#include "moetune/ui/time_buckets.h"

class QScrollBar;

namespace moetune::analyzers {
struct AnalysisResult;
}

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

  // Node mode (see the class comment).
  static constexpr int kHeatRankPx = 3;  // 2 pixel rows of colour and a gap
  static constexpr int kHeatBinPx = 3;
  static constexpr int kAutoExpandNodes = 4;
  // The analysis' metrics for the overview's comm wait per step (null: timeline source).
  void set_analysis(std::shared_ptr<const analyzers::AnalysisResult> r);
  bool node_mode() const { return node_mode_; }
  const RankNodes& nodes() const { return nodes_; }
  const RankHeat& heat() const { return heat_; }
  bool node_expanded(int node) const { return expanded_.count(node) > 0; }
  // Expands (only_rank >= 0: with only that rank's lanes open) or collapses a node.
  void set_node_expanded(int node, bool expanded, int only_rank = -1);
  // Widget y of the node's first row (heatmap or header), -1 when not laid out.
  int node_row_y(int node) const;
  // Whether a lane / a rank's header is laid out (expanded), for tests.
  bool lane_shown(int lane) const;
  bool rank_header_shown(int rank) const;
  int scroll_y() const;
  // The rank under widget point p in a collapsed node's heatmap, or -1.
  int heat_rank_at(QPoint p) const;

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
    int node = -1;   // node rows (node mode): group == -1; a heatmap unless `node_header`
    bool node_header = false;
  };
  void paint_node_row(class QPainter& p, const Row& r, int y, const TimeMapper& m, int right);
  void paint_heat_legend(class QPainter& p);
  void heat_line(int rank, const TimeMapper& m, int w, unsigned int* line) const;
  void expand_for_highlight();
  void scroll_to_rank(int rank);
  QString heat_tooltip(QPoint p) const;
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
  // node mode
  bool node_mode_ = false;
  RankNodes nodes_;
  RankHeat heat_;
  std::shared_ptr<const analyzers::AnalysisResult> analysis_;
  std::set<int> expanded_;       // expanded nodes
  std::set<int> auto_expanded_;  // of those, expanded for a highlight (collapse when it goes)
  std::filesystem::path run_path_;
};

}  // namespace moetune::ui
