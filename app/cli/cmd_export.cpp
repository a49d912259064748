// SPDX-License-Identifier: Apache-2.0
// moetune export RUN --format chrome -o F.json[.gz]|- [--rank R] [--flows] [--no-findings] [--force]:
// Chrome trace JSON (Perfetto / chrome://tracing). --rank R writes one rank in Kineto's
// per-rank layout, which `moetune import` reads back. A name ending in .gz is gzip'ed while
// it streams; "-" writes to stdout. The analysis' findings ride along as complete events on
// a "moetune findings" track per rank (their time ranges, or the whole run), unless
// --no-findings. The export itself streams (memory = one rank's events); the analysis that
// finds the findings loads the run once, before the export starts, and is freed first.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "command.h"
#include "moetune/export/chrome_export.h"
#include "moetune/trace/reader.h"
#ifdef MOETUNE_CLI_HAS_ANALYZERS
#include "moetune/analyzers/model.h"
#endif

namespace moetune::cli {
namespace {

struct ExportArgs {
  std::string run, format = "chrome", out;
  std::optional<std::int64_t> rank;
  bool force = false, flows = false, no_findings = false;
};

// The findings of RUN as annotations: one per (rank, time range) of each finding; a
// finding without time ranges spans the whole run on each of its ranks.
std::vector<exporters::ChromeAnnotation> finding_annotations(const std::string& run, std::int64_t t0, std::int64_t t1) {
  std::vector<exporters::ChromeAnnotation> out;
#ifdef MOETUNE_CLI_HAS_ANALYZERS
  auto data = analyzers::RunData::load(run);
  if (!data) throw InputError(data.error().message);
  const auto result = analyzers::analyze(*data);
  for (const auto& f : result.findings) {
    nlohmann::json args{{"id", f.id},
                        {"kind", analyzers::to_string(f.kind)},
                        {"severity", analyzers::to_string(f.severity)},
                        {"estimated_gain_pct", f.estimated_gain_pct},
                        {"recommendation", f.recommendation.text}};
    std::string members = args.dump();
    members = members.substr(1, members.size() - 2);  // without the braces
    const std::string name = std::string("[") + analyzers::to_string(f.severity) + "] " + f.title;
    std::vector<analyzers::TimeRange> ranges = f.time_ranges;
    if (ranges.empty()) ranges.push_back({t0, t1});
    std::vector<int> ranks = f.ranks;
    if (ranks.empty())
      for (const auto& k : data->ranks) ranks.push_back(k.rank.value);
    for (int k : ranks)
      for (const auto& t : ranges) out.push_back({k, t.start_ns, std::max(t.end_ns, t.start_ns), name, members});
  }
#else
  (void)run, (void)t0, (void)t1;
#endif
  return out;
}

void run_export(const ExportArgs& a, int& exit_code) {
  const bool to_stdout = a.out == "-";
  if (!to_stdout && !a.force && std::filesystem::exists(a.out))
    throw InputError(a.out + ": output file exists (use --force to overwrite)");
  auto r = TraceReader::open(a.run);
  if (!r) throw InputError(r.error().message);
  exporters::ChromeExportOptions opts;
  opts.rank = a.rank;
  opts.flows = a.flows;
  if (!a.no_findings) {
    auto range = (*r)->time_range();
    if (!range) throw InputError(range.error().message);
    opts.annotations = finding_annotations(a.run, range->first, range->second);
  }
  auto st = exporters::export_chrome(**r, a.out, opts);
  if (!st) throw InputError(st.error().message);
  std::fprintf(to_stdout ? stderr : stdout,
               "wrote %s: %lld events (%lld kernels, %zu finding annotations) on %lld tracks (%lld extra lanes for "
               "overlapping events), %lld flows, %.1f MB of JSON%s\n",
               to_stdout ? "stdout" : a.out.c_str(), static_cast<long long>(st->events),
               static_cast<long long>(st->kernels), opts.annotations.size(), static_cast<long long>(st->tracks),
               static_cast<long long>(st->extra_lanes), static_cast<long long>(st->flows),
               static_cast<double>(st->bytes) / 1e6,
               !to_stdout && std::filesystem::path(a.out).extension() == ".gz" ? " (gzip'ed)" : "");
  exit_code = 0;
}

const Register reg{"export", [](CLI::App& app, int& exit_code) {
                     auto a = std::make_shared<ExportArgs>();
                     auto* c = app.add_subcommand("export", "Export a run as Chrome trace JSON (Perfetto)");
                     c->add_option("run", a->run, "run file (.moetune)")->required();
                     c->add_option("--format", a->format, "output format")
                         ->check(CLI::IsMember({"chrome"}))
                         ->capture_default_str();
                     c->add_option("-o,--output", a->out, "output file (.json; .json.gz compresses; - for stdout)")
                         ->required();
                     c->add_option("--rank", a->rank, "export only this rank, in Kineto's per-rank layout");
                     c->add_flag("--force", a->force, "overwrite an existing output file");
                     c->add_flag("--flows", a->flows, "add ac2g launch flow arrows (API call -> kernel)");
                     c->add_flag("--no-findings", a->no_findings,
                                 "leave out the findings track (skips the analysis: nothing but streaming)");
                     c->callback([a, &exit_code] { run_export(*a, exit_code); });
                   }};

}  // namespace
}  // namespace moetune::cli
