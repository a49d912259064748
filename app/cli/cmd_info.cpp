// SPDX-License-Identifier: Apache-2.0
// moetune info RUN [--json]: ranks, devices, counts per table, time range, trace health.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "command.h"
#include "moetune/trace/reader.h"

namespace moetune::cli {
namespace {

// The value of a reader query, or the one-line error "FILE: table T: what" (exit 2).
template <class T>
T need(Expected<T>&& e) {
  if (!e) throw InputError(e.error().message);
  return std::move(*e);
}

void run_info(const std::string& path, bool json, bool check, int& exit_code) {
  auto r = TraceReader::open(path);
  if (!r) throw InputError(r.error().message);
  auto& rd = **r;
  if (check)
    if (auto c = rd.check_integrity(true); !c) throw InputError(c.error().message);
  auto ranks = need(rd.ranks());
  auto counts = need(rd.counts());
  auto [t0, t1] = need(rd.time_range());
  auto stats = need(rd.stats());
  auto meta = need(rd.meta());
  const auto count_tables = table_names(kCounted);
  if (json) {
    nlohmann::json j;
    j["format_version"] = rd.format_version();
    j["file"] = path;
    j["meta"] = meta;
    auto& jr = j["ranks"] = nlohmann::json::array();
    for (const auto& k : ranks)
      jr.push_back({{"rank", k.rank.value},
                    {"host", k.host},
                    {"pid", k.pid},
                    {"device", k.device},
                    {"gpu_name", k.gpu_name},
                    {"source", k.source}});
    auto& jc = j["counts"] = nlohmann::json::object();
    for (auto t : count_tables) jc[std::string(t)] = counts.get(std::string(t));
    j["time_range_ns"] = {t0, t1};
    auto& js = j["stats"] = nlohmann::json::array();
    for (const auto& s : stats) {
      nlohmann::json e{{"name", s.name}, {"severity", to_string(s.severity)}, {"value", s.value},
                       {"description", s.description}};
      if (s.rank) e["rank"] = *s.rank;
      js.push_back(e);
    }
    std::printf("%s\n", j.dump(2).c_str());
    exit_code = 0;
    return;
  }
  std::printf("run        %s (format %d%s)\n", path.c_str(), rd.format_version(),
              meta.count("synthetic") && meta["synthetic"] == "1" ? ", SYNTHETIC" : "");
  if (meta.count("source")) std::printf("source     %s\n", meta["source"].c_str());
  double dur_ms = static_cast<double>(t1 - t0) / 1e6;
  std::printf("time       %lld .. %lld ns (%.3f ms)\n", static_cast<long long>(t0), static_cast<long long>(t1),
              dur_ms);
  std::printf("ranks      %zu\n", ranks.size());
  for (const auto& k : ranks)
    std::printf("  rank %-4lld host %-16s pid %-8lld device %-2d %s\n", static_cast<long long>(k.rank.value),
                k.host.c_str(), static_cast<long long>(k.pid), k.device, k.gpu_name.c_str());
  std::printf("counts\n");
  for (auto t : count_tables)
    std::printf("  %-17s %lld\n", std::string(t).c_str(), static_cast<long long>(counts.get(std::string(t))));
  std::printf("trace health%s\n", stats.empty() ? ": no issues recorded" : "");
  for (const auto& s : stats)
    std::printf("  [%s] %s = %lld%s%s\n", to_string(s.severity), s.name.c_str(), static_cast<long long>(s.value),
                s.description.empty() ? "" : ": ", s.description.c_str());
  exit_code = 0;
}

const Register reg{"info", [](CLI::App& app, int& exit_code) {
                     auto path = std::make_shared<std::string>();
                     auto json = std::make_shared<bool>(false);
                     auto* c = app.add_subcommand("info", "Ranks, devices, event counts, time range, trace health");
                     c->add_option("run", *path, "run file (.moetune)")->required();
                     auto check = std::make_shared<bool>(false);
                     c->add_flag("--json", *json, "machine-readable output");
                     c->add_flag("--check", *check,
                                 "run PRAGMA quick_check and the row-count check whatever the file size "
                                 "(open() runs them only up to 256 MiB)");
                     c->callback([path, json, check, &exit_code] { run_info(*path, *json, *check, exit_code); });
                   }};

}  // namespace
}  // namespace moetune::cli
