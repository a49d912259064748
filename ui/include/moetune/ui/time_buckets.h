// SPDX-License-Identifier: Apache-2.0
// Where the time goes: per-rank time buckets of the analysis (AnalysisResult::per_rank,
// analyzers/metrics.h), for the stacked bars beside the timeline's rank headers and in
// the "Time" tab. The analyzers give each rank's buckets as ms per step (summing to the
// step time) and per step (step_buckets); nothing is recomputed here.
// TimeBucketsView draws the stacked bars (QCustomPlot, one row per rank); clicking a
// segment emits bucketClicked(rank, bucket).
#pragma once
#include <QWidget>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "moetune/analyzers/metrics.h"
#include "moetune/ui/timeline_data.h"

class QCustomPlot;
class QLabel;

namespace moetune::ui {

struct BucketInfo {
  const char* key;    // analyze --json key, e.g. "comm_wait_ms"
  const char* label;  // "comm wait"
  unsigned rgb;       // bar colour 0xRRGGBB
};
// The analyzer's buckets, in the order of analyzers::BucketTimes::at().
enum Bucket : int {
  kCompute, kCommTransfer, kCommWait, kMemcpyH2D, kMemcpyD2H, kMemcpyD2D, kMemcpyP2P, kHostGapLong,
  kHostGapShort, kIdle, kBucketCount
};
static_assert(kBucketCount == analyzers::BucketTimes::kCount);
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
  std::optional<std::int64_t> step;  // the step shown; nullopt: mean per step
  bool empty() const { return ranks.empty(); }
};

// Buckets from an AnalysisResult's per_rank; for `step` the per-step buckets when the
// ranks have them (else the per-rank means, step left empty).
TimeBuckets buckets_from_metrics(const std::vector<analyzers::RankMetrics>& per_rank,
                                 std::optional<std::int64_t> step = std::nullopt);

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
