// SPDX-License-Identifier: Apache-2.0
// TimeMapper: the time <-> pixel math of the timeline, a plain value with no Qt.
// Maps the visible time window [t0, t1) (ns) onto [0, width) pixels. Invariant:
// t1 > t0 and width > 0 (the setters clamp). Zoom keeps the time under an anchor
// pixel fixed; pan moves by pixels. All views share one of these through ZoomState.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace moetune::ui {

struct TimeMapper {
  std::int64_t t0 = 0, t1 = 1;
  double width = 1;

  static constexpr std::int64_t kMinSpanNs = 100;  // deepest zoom: 100 ns over the view

  double span() const { return double(t1 - t0); }
  double ns_per_px() const { return span() / width; }
  double x(std::int64_t t) const { return double(t - t0) * width / span(); }
  std::int64_t t(double px) const { return t0 + std::int64_t(std::llround(px * span() / width)); }

  void set_range(std::int64_t a, std::int64_t b) {
    if (b < a) std::swap(a, b);
    if (b - a < kMinSpanNs) {
      std::int64_t mid = a + (b - a) / 2;
      a = mid - kMinSpanNs / 2;
      b = a + kMinSpanNs;
    }
    t0 = a;
    t1 = b;
  }
  void set_width(double w) { width = std::max(1.0, w); }

  // factor < 1 zooms in; the time under anchor_px stays under it.
  void zoom(double factor, double anchor_px) {
    const std::int64_t anchor = t(anchor_px);
    const double frac = std::clamp(anchor_px / width, 0.0, 1.0);
    const double new_span = std::max(double(kMinSpanNs), span() * factor);
    const std::int64_t a = anchor - std::int64_t(std::llround(new_span * frac));
    set_range(a, a + std::int64_t(std::llround(new_span)));
  }
  // Positive dx moves the content right (earlier times come into view).
  void pan_px(double dx) {
    const std::int64_t dt = std::int64_t(std::llround(dx * ns_per_px()));
    t0 -= dt;
    t1 -= dt;
  }
  // Keeps the window inside [lo, hi] where possible (span preserved if it fits).
  void clamp_to(std::int64_t lo, std::int64_t hi) {
    const std::int64_t s = t1 - t0;
    if (s >= hi - lo) { set_range(lo, std::max(hi, lo + kMinSpanNs)); return; }
    if (t0 < lo) { t0 = lo; t1 = lo + s; }
    if (t1 > hi) { t1 = hi; t0 = hi - s; }
  }
};

}  // namespace moetune::ui
