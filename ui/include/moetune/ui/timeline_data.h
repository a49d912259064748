// SPDX-License-Identifier: Apache-2.0
// TimelineData: the events of a run laid out for drawing, built once off the GUI
// thread from RunData and immutable afterwards. One lane group per rank: compute
// streams (non-NCCL kernels, one lane per stream), comm (NCCL kernels), memcpy/memset,
// NVTX (per domain, one lane per nesting depth, max kMaxNvtxDepth), NCCL ops, steps, host
// API calls (one lane per thread). Lanes are labelled with the trace's names: NVTX domain,
// thread name, stream number; an id that is negative or huge becomes an ordinal.
// Each lane holds 24-byte events sorted by start plus its longest duration, so the
// events overlapping [t0, t1) start at or after t0 - max_dur (one binary search).
// fold() is the level-of-detail pass: it walks the visible range and folds every
// run of events narrower than fold_px into one counted DrawItem, jumping over the
// folded run with a binary search; its cost scales with pixels, not with events.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "moetune/ui/time_mapper.h"

namespace moetune::analyzers {
struct RunData;
}

namespace moetune::ui {

enum class LaneKind : std::uint8_t { Compute, Comm, Memcpy, Nvtx, NcclOp, Step, Api };
const char* to_string(LaneKind k);

// What a folded run of a lane's events is called: "kernels", "ranges", "copies", "calls"...
const char* fold_noun(LaneKind k);

// The trace's name of a host thread (nsys ThreadNames, Kineto thread_name metadata,
// stored as meta "thread_name.RANK.TID"); "" when the trace has none.
std::string thread_name(const analyzers::RunData& run, int rank, std::int64_t tid);

// Where an event came from: index into the RunData vector named by `source`.
enum class EventSource : std::uint8_t { Kernel, Memcpy, Memset, Nvtx, NcclOp, Step, Api };

struct LaneEvent {
  std::int64_t start = 0, dur = 0;
  std::uint32_t name = 0;  // index into TimelineData::names
  std::uint32_t ref = 0;   // index into the RunData vector of `Lane::source` / `src`
  std::int64_t end() const { return start + dur; }
};
static_assert(sizeof(LaneEvent) == 24);

struct Lane {
  int rank = 0;
  LaneKind kind = LaneKind::Compute;
  std::string label;
  std::int64_t stream = -1;
  std::int64_t max_dur = 0;
  std::vector<LaneEvent> events;          // sorted by start
  std::vector<EventSource> sources;       // empty: all events come from `source`
  EventSource source = EventSource::Kernel;
  EventSource source_of(std::size_t i) const { return sources.empty() ? source : sources[i]; }
};

struct LaneGroup {
  int rank = 0;
  std::string label;        // "rank 0 · host · GPU"
  std::vector<int> lanes;   // indices into TimelineData::lanes
};

// One thing to paint: a single event (count == 1) or a folded run (count > 1).
struct DrawItem {
  float x0 = 0, x1 = 0;
  std::uint32_t count = 1;
  std::uint32_t first = 0;  // index of the first event in the lane
};

struct TimelineData {
  std::vector<std::string> names;
  std::vector<Lane> lanes;
  std::vector<LaneGroup> groups;
  std::int64_t t_begin = 0, t_end = 1;
  std::size_t event_count = 0;

  static TimelineData build(const analyzers::RunData& run);

  // Index of the first event of `lane` that may overlap [t0, ...).
  static std::size_t first_visible(const Lane& lane, std::int64_t t0);
  // The level-of-detail pass, see the class comment. Appends to `out`.
  static void fold(const Lane& lane, const TimeMapper& m, double fold_px, std::vector<DrawItem>& out);
  // The event of `lane` under pixel x (within slack_px), or -1.
  static std::int64_t hit(const Lane& lane, const TimeMapper& m, double x, double slack_px = 1.5);
};

}  // namespace moetune::ui
