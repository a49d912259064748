// SPDX-License-Identifier: Apache-2.0
// Text for one timeline event: a one-line tooltip and the rich details pane
// (name, duration, bytes, algo/proto, rank, correlated launch). Pure functions over
// LoadedRun; the correlated launch is found by a scan of that rank's API calls
// (only on click, never per frame).
#pragma once
#include <QString>
#include <cstdint>

namespace moetune::ui {

struct LoadedRun;

struct EventRef {
  int lane = -1;
  std::int64_t index = -1;
  bool valid() const { return lane >= 0 && index >= 0; }
};

QString format_duration(std::int64_t ns);
QString format_bytes(std::int64_t bytes);
QString event_tooltip(const LoadedRun& run, EventRef ref);
QString event_details_html(const LoadedRun& run, EventRef ref);

}  // namespace moetune::ui
