// SPDX-License-Identifier: Apache-2.0
// moetune export RUN --format chrome -o F.json [--rank R] [--flows] [--force]: Chrome trace JSON
// (Perfetto / chrome://tracing). --rank R writes one rank in Kineto's per-rank layout,
// which `moetune import` reads back.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "command.h"
#include "moetune/synth/chrome_export.h"
#include "moetune/trace/reader.h"

namespace moetune::cli {
namespace {

struct ExportArgs {
  std::string run, format = "chrome", out;
  std::optional<std::int64_t> rank;
  bool force = false, flows = false;
};

void run_export(const ExportArgs& a, int& exit_code) {
  if (a.format != "chrome") throw InputError(a.run + ": unknown export format '" + a.format + "' (chrome)");
  if (!a.force && std::filesystem::exists(a.out))
    throw InputError(a.out + ": output file exists (use --force to overwrite)");
  auto r = TraceReader::open(a.run);
  if (!r) throw InputError(r.error().message);
  synth::ChromeExportOptions opts;
  opts.rank = a.rank;
  opts.flows = a.flows;
  auto st = synth::export_chrome(**r, a.out, opts);
  if (!st) throw InputError(st.error().message);
  std::printf("wrote %s: %lld events (%lld kernels) on %lld tracks (%lld extra lanes for overlapping events), "
              "%lld flows, %.1f MB\n",
              a.out.c_str(), static_cast<long long>(st->events), static_cast<long long>(st->kernels),
              static_cast<long long>(st->tracks), static_cast<long long>(st->extra_lanes),
              static_cast<long long>(st->flows),
              static_cast<double>(st->bytes) / 1e6);
  exit_code = 0;
}

const Register reg{"export", [](CLI::App& app, int& exit_code) {
                     auto a = std::make_shared<ExportArgs>();
                     auto* c = app.add_subcommand("export", "Export a run as Chrome trace JSON (Perfetto)");
                     c->add_option("run", a->run, "run file (.moetune)")->required();
                     c->add_option("--format", a->format, "output format: chrome")->capture_default_str();
                     c->add_option("-o,--output", a->out, "output file (.json)")->required();
                     c->add_option("--rank", a->rank, "export only this rank, in Kineto's per-rank layout");
                     c->add_flag("--force", a->force, "overwrite an existing output file");
                     c->add_flag("--flows", a->flows, "add ac2g launch flow arrows (API call -> kernel)");
                     c->callback([a, &exit_code] { run_export(*a, exit_code); });
                   }};

}  // namespace
}  // namespace moetune::cli
