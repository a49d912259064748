// SPDX-License-Identifier: Apache-2.0
// synth_store_bench [EVENTS=10000000] [DIR=/tmp]: generates an 8-rank synthetic run of
// EVENTS events, then reports generation time, file size, on-disk bytes per kernel row
// (SQLite dbstat), and the time of what `moetune info` does (open, ranks, counts,
// time range, stats). Prints one "name value unit" line per measurement.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "moetune/synth/synth.h"
#include "moetune/trace/reader.h"

namespace {
double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

int main(int argc, char** argv) {
  using namespace moetune;
  std::int64_t events = argc > 1 ? std::atoll(argv[1]) : 10'000'000;
  std::filesystem::path dir = argc > 2 ? argv[2] : "/tmp";
  auto path = dir / ("synth_bench_" + std::to_string(events) + ".moetune");
  synth::Options o;
  o.events = events;
  o.command = "synth_store_bench";
  auto t0 = std::chrono::steady_clock::now();
  auto sum = synth::generate_file(path, o, true);
  if (!sum) {
    std::fprintf(stderr, "%s\n", sum.error().message.c_str());
    return 2;
  }
  double gen = since(t0);
  auto size = std::filesystem::file_size(path);
  std::printf("events %lld\n", static_cast<long long>(sum->events()));
  std::printf("generate_s %.2f s\n", gen);
  std::printf("generate_rate %.0f events/s\n", static_cast<double>(sum->events()) / gen);
  std::printf("file_size %.1f MB\n", static_cast<double>(size) / 1e6);

  t0 = std::chrono::steady_clock::now();
  auto r = TraceReader::open(path);
  if (!r) return 2;
  auto ranks = (*r)->ranks();
  auto counts = (*r)->counts();
  auto range = (*r)->time_range();
  auto stats = (*r)->stats();
  if (!ranks || !counts || !range || !stats) return 2;
  double info = since(t0);
  std::printf("info_s %.3f s (ranks %zu, kernels %lld, span %.1f ms)\n", info, ranks->size(),
              static_cast<long long>(counts->get("kernels")), static_cast<double>(range->second - range->first) / 1e6);

  auto st = (*r)->db().prepare("SELECT sum(pgsize) FROM dbstat WHERE name = 'kernels'");
  if (st && st->step())
    std::printf("kernel_row_bytes %.1f bytes/row\n",
                static_cast<double>(st->i64(0)) / static_cast<double>(counts->get("kernels")));
  else
    std::printf("kernel_row_bytes unavailable (SQLite built without dbstat)\n");
  if (!std::getenv("KEEP")) std::filesystem::remove(path);
  return 0;
}
