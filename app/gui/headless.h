// SPDX-License-Identifier: Apache-2.0
// Headless hooks of moetune-gui for tests, docs and benchmarks.
#pragma once
#include <QString>

namespace moetune::ui {
class MainWindow;
}

// Loads `run` (a run or a raw trace), shows `view` (and, with range "A:B", the time
// A..B ms from the run start), saves the window image to `out`. Exit code (0, or 2 on bad input).
int gui_screenshot(moetune::ui::MainWindow& w, const QString& run, const QString& out, const QString& view,
                   const QString& range = {});
// Loads `run`, prints first-paint time and redraw times over a scripted zoom/pan sequence.
int gui_bench_render(moetune::ui::MainWindow& w, const QString& run, qint64 started_ms_ago);
