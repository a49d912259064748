// SPDX-License-Identifier: Apache-2.0
// Where the time goes: per-rank time buckets read from the analysis metrics, for the
// stacked bars beside the timeline's rank headers and in the "Time" tab.
//
// The analyzers give metrics.per_rank[].buckets with the keys of kBuckets (ms per step,
// summing to step_time_ms) and may give metrics.per_rank[].step_buckets (one object per
// step with the same keys plus "step"). Metrics without buckets (older analyzers) fall
// back to what per_rank has: compute_ms, exposed_wait_ms as "comm wait", the rest of
// exposed_comm_ms as "comm exposed" (transfer not split further), idle_ms and the rest of
// step_time_ms as "other".
// TimeBucketsView draws the stacked bars (QCustomPlot, one row per rank); clicking a
// segment emits bucketClicked(rank, bucket).
#pragma once
#include <QWidget>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "moetune/ui/timeline_data.h"

class QCustomPlot;
class QLabel;

namespace moetune::ui {

struct BucketInfo {
  const char* key;    // metrics key, e.g. "comm_wait_ms"
  const char* label;  // "comm wait"
  unsigned rgb;       // bar colour 0xRRGGBB
};
// The analyzer buckets in display order, then the two fallback-only ones.
enum Bucket : int {
  kCompute, kCommTransfer, kCommWait, kMemcpyH2D, kMemcpyD2H, kMemcpyD2D, kMemcpyP2P, kHostGapLong,
  kHostGapShort, kIdle, kCommExposed, kOther, kBucketCount
};
const BucketInfo& bucket_info(int b);
// The order segments are stacked in (left to right): work, communication, copies, host
// gaps, then time without work.
const std::array<int, kBucketCount>& bucket_display_order();
// The timeline lanes whose spans make up bucket b (empty for idle / other).
std::vector<LaneKind> bucket_lane_kinds(int b);

struct RankBuckets {
  int rank = 0;
  std::array<double, kBucketCount> ms{};  // ms per step
  double step_ms = 0;                      // step_time_ms (sum of the buckets)
};

struct TimeBuckets {
  std::vector<RankBuckets> ranks;
  bool from_analyzer = false;  // false: the fallback from compute/comm/idle metrics
  std::optional<std::int64_t> step;  // the step shown; nullopt: mean per step
  bool empty() const { return ranks.empty(); }
};

// Buckets from an AnalysisResult's metrics; for `step` the per-step buckets when the
// metrics have them (else the per-rank means, step left empty).
TimeBuckets buckets_from_metrics(const nlohmann::json& metrics, std::optional<std::int64_t> step = std::nullopt);

class TimeBucketsView : public QWidget {
  Q_OBJECT
 public:
  explicit TimeBucketsView(QWidget* parent = nullptr);
  void set_buckets(std::shared_ptr<const TimeBuckets> b);
  QCustomPlot* plot() const { return plot_; }
  const TimeBuckets* buckets() const { return b_.get(); }
  // The (rank, bucket) under a plot pixel, or {-1, -1} (tests click through this).
  std::pair<int, int> bucket_at(QPointF px) const;

 signals:
  void bucketClicked(int rank, int bucket);

 protected:
  void changeEvent(QEvent* e) override;

 private:
  void rebuild();
  QCustomPlot* plot_;
  QLabel* note_;
  std::shared_ptr<const TimeBuckets> b_;
};

// Follows the palette (dark mode): background, axes, grid, legend and text colours.
void apply_plot_palette(QCustomPlot* plot, const QPalette& pal);
// Applies the plot's palette now and again whenever it changes (an event filter).
void follow_palette(QCustomPlot* plot);

}  // namespace moetune::ui
