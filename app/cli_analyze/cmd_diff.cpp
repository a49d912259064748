// SPDX-License-Identifier: Apache-2.0
// moetune diff BEFORE.moetune AFTER.moetune [--json] [--set NAME=VALUE ...]: measured
// before/after comparison (both runs analysed with the same thresholds).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <memory>
#include <set>

#include "analysis_flags.h"
#include "command.h"
#include "moetune/analyzers/analyses.h"
#include "moetune/analyzers/diff.h"
#include "moetune/analyzers/profile.h"

namespace moetune::cli {
namespace {

void print_row(const char* name, const nlohmann::json& c, const char* unit, double scale = 1.0) {
  auto fmt = [&](const nlohmann::json& v) {
    char b[64];
    if (v.is_number()) std::snprintf(b, sizeof b, "%.3f%s", v.get<double>() * scale, unit);
    else std::snprintf(b, sizeof b, "n/a");
    return std::string(b);
  };
  std::string ch = c.contains("change_pct") ? std::to_string(c["change_pct"].get<double>()).substr(0, 7) + " %" : "";
  std::printf("  %-22s %16s -> %-16s %s\n", name, fmt(c["before"]).c_str(), fmt(c["after"]).c_str(), ch.c_str());
}

// The finding ids a profile applied: from --profile, else from the after run's meta "profile"
// (written by `moetune apply --record`) when that file still exists.
std::optional<analyzers::Profile> applied_profile(const std::string& profile_arg, const analyzers::RunData& after) {
  std::string path = profile_arg;
  if (path.empty()) {
    auto it = after.meta.find("profile");
    if (it == after.meta.end() || !std::filesystem::exists(it->second)) return std::nullopt;
    path = it->second;
  }
  auto p = analyzers::read_profile(path);
  if (!p) throw InputError(p.error().message);
  return *p;
}

void print_predictions(const nlohmann::json& pm) {
  std::printf("predicted vs measured (step-time gain of the applied fixes)\n");
  for (const auto& f : pm["fixes"]) {
    if (f.contains("status")) {
      std::printf("  %-24s %s\n", f["finding"].get<std::string>().c_str(), f["status"].get<std::string>().c_str());
      continue;
    }
    if (f["predicted_gain_pct"].is_number())
      std::printf("  %-24s predicted %6.1f %%  (%s)\n", f["finding"].get<std::string>().c_str(),
                  f["predicted_gain_pct"].get<double>(), f["basis"].get<std::string>().c_str());
    else
      std::printf("  %-24s predicted    n/a    (not sized)\n", f["finding"].get<std::string>().c_str());
  }
  auto num = [](const nlohmann::json& v) { return v.is_number() ? v.get<double>() : std::nan(""); };
  std::printf("  %-24s predicted %6.1f %%  measured %6.1f %%  error %+.1f points\n", "all applied fixes",
              num(pm["predicted_gain_pct"]), num(pm["measured_gain_pct"]), num(pm.value("error_points", nlohmann::json())));
}

void run_diff(const std::string& before, const std::string& after, const std::string& profile, bool json,
              const AnalysisFlags& flags, int& exit_code) {
  const auto opts = flags.options();
  auto a = analyzers::RunData::load(before);
  if (!a) throw InputError(a.error().message);
  auto b = analyzers::RunData::load(after);
  if (!b) throw InputError(b.error().message);
  const auto applied = applied_profile(profile, *b);
  auto ra = analyzers::analyze(*a, opts), rb = analyzers::analyze(*b, opts);
  auto d = analyzers::diff_runs(analyzers::summarize(*a, ra), analyzers::summarize(*b, rb),
                                applied ? &*applied : nullptr);
  d["before"] = before;
  d["after"] = after;
  if (json) {
    std::printf("%s\n", d.dump(2).c_str());
    exit_code = 0;
    return;
  }
  std::printf("before %s\nafter  %s\n", before.c_str(), after.c_str());
  print_row("step time (median)", d["step_time_ms"], " ms");
  std::printf("  %-22s %16d -> %-16d (of %d -> %d steps)\n", "steps used", d["steps_used"]["before"].get<int>(),
              d["steps_used"]["after"].get<int>(), d["steps_total"]["before"].get<int>(),
              d["steps_total"]["after"].get<int>());
  for (const char* side : {"before", "after"})
    std::printf("  warm-up %-6s %s\n", side, d["warmup_rule"][side].get<std::string>().c_str());
  print_row("step time (mean)", d["step_time_mean_ms"], " ms");
  std::set<std::string> rks;
  for (const char* side : {"before", "after"})
    for (const auto& [rk, v] : d["rank_step_time_ms"][side].items()) rks.insert(rk);
  for (const auto& rk : rks) {
    nlohmann::json c{{"before", d["rank_step_time_ms"]["before"].value(rk, nlohmann::json())},
                     {"after", d["rank_step_time_ms"]["after"].value(rk, nlohmann::json())}};
    if (c["before"].is_number() && c["after"].is_number() && c["before"].get<double>() != 0)
      c["change_pct"] = 100.0 * (c["after"].get<double>() - c["before"].get<double>()) / c["before"].get<double>();
    print_row(("  rank " + rk + " (median)").c_str(), c, " ms");
  }
  print_row("exposed comm / step", d["exposed_comm_ms"], " ms");
  print_row("comm ratio", d["comm_ratio"], " %", 100.0);
  print_row("tokens/s", d["tokens_per_s"], "");
  if (d.contains("speedup")) std::printf("  %-22s %.3fx\n", "speedup", d["speedup"].get<double>());
  std::printf("traffic (bytes per rank per step)\n");
  for (const auto& [f, c] : d["traffic_bytes_per_step"].items()) print_row(f.c_str(), c, " B");
  if (!d["local_bytes_per_step"].empty()) {
    std::printf("local (send/recv to the own rank: copies, not network traffic)\n");
    for (const auto& [f, c] : d["local_bytes_per_step"].items()) print_row(f.c_str(), c, " B");
  }
  std::printf("findings\n");
  if (d["findings"].empty()) std::printf("  none in either run\n");
  for (const auto& f : d["findings"])
    std::printf("  %-12s %-24s %s\n", f["status"].get<std::string>().c_str(), f["id"].get<std::string>().c_str(),
                f["title"].get<std::string>().c_str());
  if (d.contains("predicted_vs_measured")) print_predictions(d["predicted_vs_measured"]);
  exit_code = 0;
}

const Register reg{"diff", [](CLI::App& app, int& exit_code) {
                     auto before = std::make_shared<std::string>(), after = std::make_shared<std::string>();
                     auto json = std::make_shared<bool>(false);
                     auto profile = std::make_shared<std::string>();
                     auto flags = std::make_shared<AnalysisFlags>();
                     auto* c = app.add_subcommand("diff", "Compare two runs: step time, comm, tokens/s, traffic, findings");
                     c->add_option("before", *before, "run before the change")->required();
                     c->add_option("after", *after, "run after the change")->required();
                     c->add_flag("--json", *json, "machine-readable output");
                     c->add_option("--profile", *profile,
                                   "tuning profile that was applied: print each fix's predicted gain next to the "
                                   "measured one (default: the after run's recorded profile, if any)");
                     flags->add(c);
                     c->callback([before, after, profile, json, flags, &exit_code] {
                       run_diff(*before, *after, *profile, *json, *flags, exit_code);
                     });
                   }};

}  // namespace
}  // namespace moetune::cli
