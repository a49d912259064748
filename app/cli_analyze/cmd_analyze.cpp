// SPDX-License-Identifier: Apache-2.0
// moetune analyze RUN [--json] [--fail-on SEVERITY] [--set NAME=VALUE ...]: findings + metrics.
// --list-options prints the analysis thresholds (docs/ANALYZE-OPTIONS.md).
// Text: per-rank table, findings with recommendation and gain, notes. JSON: the
// docs/ANALYZE-JSON.md document. Exit 1 when a finding is at/above --fail-on.
// Sharded (docs/MULTIHOST.md): analyze --map -o S RUN [--ranks L] [--peers F...] writes a
// node's summary; analyze S1 S2 ... reduces summaries to the analysis of all their ranks.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <cstdio>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "analysis_flags.h"
#include "command.h"
#include "moetune/analyzers/model.h"
#include "moetune/analyzers/options.h"
#include "moetune/analyzers/report.h"
#include "moetune/analyzers/summary.h"

namespace moetune::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// "0-3,8,10-11" -> {0,1,2,3,8,10,11}.
std::set<int> parse_ranks(const std::string& s) {
  std::set<int> out;
  std::size_t i = 0;
  auto num = [&](void) {
    std::size_t j = i;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
    if (j == i || j - i > 7) throw InputError("--ranks " + s + ": expected a list like 0-3,8");
    int v = std::stoi(s.substr(i, j - i));
    i = j;
    return v;
  };
  while (i < s.size()) {
    int a = num(), b = a;
    if (i < s.size() && s[i] == '-') ++i, b = num();
    if (b < a || b - a > 1'000'000) throw InputError("--ranks " + s + ": bad range");
    for (int r = a; r <= b; ++r) out.insert(r);
    if (i < s.size() && s[i++] != ',') throw InputError("--ranks " + s + ": expected a list like 0-3,8");
  }
  return out;
}

// --peers values: run or summary files, or directories of them (*.moetune, *.summary, sorted).
std::vector<std::filesystem::path> peer_files(const std::vector<std::string>& args) {
  std::vector<std::filesystem::path> out;
  for (const auto& a : args) {
    std::error_code ec;
    if (std::filesystem::is_directory(a, ec)) {
      std::vector<std::filesystem::path> v;
      for (const auto& e : std::filesystem::directory_iterator(a, ec))
        if (e.is_regular_file() && (e.path().extension() == ".moetune" || e.path().extension() == ".summary"))
          v.push_back(e.path());
      std::sort(v.begin(), v.end());
      out.insert(out.end(), v.begin(), v.end());
    } else {
      if (!std::filesystem::exists(a, ec)) throw InputError(a + ": --peers: no such file or directory");
      out.push_back(a);
    }
  }
  return out;
}

void print_result(const analyzers::RunData& run, const analyzers::AnalysisResult& result, bool json,
                  std::optional<analyzers::FindingSeverity> threshold, int& exit_code) {
  if (json)
    std::printf("%s\n", analyzers::to_json(result).dump(2).c_str());
  else
    std::fputs(analyzers::report_text(run, result).c_str(), stdout);
  exit_code = 0;
  if (threshold)
    for (const auto& f : result.findings)
      if (f.severity >= *threshold) exit_code = 1;
}

struct MapArgs {
  bool map = false, force = false;
  std::string output, ranks;
  std::vector<std::string> peers;
};

void run_analyze(const std::vector<std::string>& paths, bool json, const std::string& fail_on, bool timing,
                 bool list, const MapArgs& ma, const AnalysisFlags& flags, int& exit_code) {
  if (list) {
    std::fputs(analyzers::analyze_options_table().c_str(), stdout);
    exit_code = 0;
    return;
  }
  if (paths.empty()) throw InputError("analyze: a run file is required (or --list-options)");
  std::optional<analyzers::FindingSeverity> threshold;
  if (!fail_on.empty()) {
    threshold = analyzers::parse_severity(fail_on);
    if (!threshold) throw InputError("--fail-on " + fail_on + ": expected low, medium, high or critical");
  }
  const auto opts = flags.options();
  if (!ma.map && (!ma.output.empty() || !ma.ranks.empty() || !ma.peers.empty()))
    throw InputError("-o, --ranks and --peers belong to analyze --map");
  if (ma.map) {  // the map step: one node's run -> summary
    if (paths.size() != 1)
      throw InputError("analyze --map takes one run file (merge a node's parts first: moetune merge PARTS -o NODE.moetune)");
    if (ma.output.empty()) throw InputError("analyze --map needs -o SUMMARY");
    if (json || !fail_on.empty()) throw InputError("analyze --map writes a summary: --json and --fail-on belong to the reduce");
    analyzers::MapOptions mo;
    if (!ma.ranks.empty()) mo.ranks = parse_ranks(ma.ranks);
    mo.peers = peer_files(ma.peers);
    mo.force = ma.force;
    auto run = analyzers::RunData::load(paths[0]);
    if (!run) throw InputError(run.error().message);
    auto rep = analyzers::write_summary(std::move(*run), mo, opts, ma.output);
    if (!rep) throw InputError(rep.error().message);
    std::printf("summary: %s: ranks %zu of %zu, %ju bytes\n", ma.output.c_str(), rep->ranks.size(), rep->job_ranks.size(),
                rep->bytes);
    exit_code = 0;
    return;
  }
  if (paths.size() > 1 || analyzers::is_summary(paths[0])) {  // the reduce step
    analyzers::RunData combined;
    std::vector<std::filesystem::path> files(paths.begin(), paths.end());
    auto result = analyzers::reduce_summaries(files, opts, &combined);
    if (!result) throw InputError(result.error().message);
    print_result(combined, *result, json, threshold, exit_code);
    return;
  }
  const std::string& path = paths[0];
  auto t0 = std::chrono::steady_clock::now();
  auto run = analyzers::RunData::load(path);
  if (!run) throw InputError(run.error().message);
  double t_load = seconds_since(t0);
  auto t1 = std::chrono::steady_clock::now();
  auto result = analyzers::analyze(*run, opts);
  if (timing)
    std::fprintf(stderr, "timing: load %.3f s, analyses %.3f s (%zu kernels, %zu api calls, %zu nccl ops)\n", t_load,
                 seconds_since(t1), run->kernels.size(), run->api_calls.size(), run->nccl_ops.size());
  print_result(*run, result, json, threshold, exit_code);
}

const Register reg{"analyze", [](CLI::App& app, int& exit_code) {
                     auto path = std::make_shared<std::vector<std::string>>();
                     auto ma = std::make_shared<MapArgs>();
                     auto json = std::make_shared<bool>(false);
                     auto fail_on = std::make_shared<std::string>();
                     auto timing = std::make_shared<bool>(false);
                     auto list = std::make_shared<bool>(false);
                     auto flags = std::make_shared<AnalysisFlags>();
                     auto* c = app.add_subcommand("analyze", "Findings, metrics and recommendations for a run");
                     c->add_option("run", *path, "run file (.moetune); or several summaries of analyze --map (the reduce)");
                     c->add_flag("--map", ma->map, "write a summary of this run's ranks (the map step, docs/MULTIHOST.md)");
                     c->add_option("-o,--output", ma->output, "summary file to write (with --map)");
                     c->add_option("--ranks", ma->ranks, "with --map: the ranks to summarise, e.g. 0-7 (default: all in the run)");
                     c->add_option("--peers", ma->peers, "with --map: the other nodes' run files or directories (their "
                                                          "steps and NCCL calls are read)")
                         ->expected(1);
                     c->add_flag("--force", ma->force, "with --map: overwrite the summary");
                     c->add_flag("--json", *json, "the analyze --json document");
                     c->add_option("--fail-on", *fail_on, "exit 1 when a finding has this severity or higher "
                                                          "(low, medium, high, critical)");
                     c->add_flag("--timing", *timing, "print load and analysis times to stderr");
                     flags->add(c);
                     c->add_flag("--list-options", *list, "list the analysis thresholds: name, default, unit, what it judges");
                     c->callback([path, json, fail_on, timing, list, ma, flags, &exit_code] {
                       run_analyze(*path, *json, *fail_on, *timing, *list, *ma, *flags, exit_code);
                     });
                   }};

}  // namespace
}  // namespace moetune::cli
