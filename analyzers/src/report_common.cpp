// SPDX-License-Identifier: Apache-2.0
// Shared pieces of the reports: severity parsing, headline numbers, file output.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include "moetune/analyzers/report.h"

namespace moetune::analyzers {

std::optional<FindingSeverity> parse_severity(const std::string& s) {
  for (auto v : {FindingSeverity::Low, FindingSeverity::Medium, FindingSeverity::High, FindingSeverity::Critical})
    if (s == to_string(v)) return v;
  return std::nullopt;
}

StepRatios step_ratios(const AnalysisResult& r) {
  StepRatios s;
  if (auto it = r.metrics.find("per_step"); it != r.metrics.end() && it->is_array())
    for (const auto& row : *it) {
      const int rank = row.value("rank", -1);
      const auto step = row.value("step", std::int64_t{-1});
      s.ranks.insert(rank);
      s.ratio[step][rank] = row.value("comm_ratio", 0.0);
      if (row.value("warmup", false)) s.warmup.insert(step);
    }
  return s;
}

std::map<std::int64_t, std::map<int, double>> StepRatios::plotted() const {
  if (ratio.size() < warmup.size() + 2) return ratio;
  std::map<std::int64_t, std::map<int, double>> m;
  for (const auto& [step, row] : ratio)
    if (!warmup.count(step)) m.emplace(step, row);
  return m;
}

std::string step_list(const std::set<std::int64_t>& steps) {
  if (steps.empty()) return {};
  const bool contiguous = *steps.rbegin() - *steps.begin() + 1 == static_cast<std::int64_t>(steps.size());
  if (contiguous && steps.size() > 2) return std::to_string(*steps.begin()) + "-" + std::to_string(*steps.rbegin());
  std::string o;
  for (auto s : steps) o += (o.empty() ? "" : ", ") + std::to_string(s);
  return o;
}

std::vector<BucketShares> bucket_shares(const AnalysisResult& r) {
  std::vector<BucketShares> out;
  auto it = r.metrics.find("per_rank");
  if (it == r.metrics.end() || !it->is_array()) return out;
  for (const auto& row : *it) {
    const double step = row.value("step_time_ms", 0.0);
    if (!row.contains("buckets") || step <= 0) continue;
    BucketShares b;
    b.rank = row.value("rank", -1);
    b.step_ms = step;
    for (int i = 0; i < 10; ++i) b.pct[i] = 100 * row["buckets"].value(kBucketKeys[i], 0.0) / step;
    out.push_back(b);
  }
  return out;
}

ReportSummary summarize(const AnalysisResult& r) {
  ReportSummary s;
  if (auto it = r.metrics.find("per_rank"); it != r.metrics.end() && it->is_array() && !it->empty()) {
    s.have_metrics = true;
    s.ranks = it->size();
    for (const auto& row : *it) {
      s.step_time_ms += row.value("step_time_ms", 0.0);
      s.comm_ratio += row.value("comm_ratio", 0.0);
      s.exposed_comm_ms += row.value("exposed_comm_ms", 0.0);
      s.overlap_pct += row.value("overlap_pct", 0.0);
      s.idle_ms += row.value("idle_ms", 0.0);
    }
    auto n = static_cast<double>(s.ranks);
    s.step_time_ms /= n, s.comm_ratio /= n, s.exposed_comm_ms /= n, s.overlap_pct /= n, s.idle_ms /= n;
  }
  for (const auto& f : r.findings) {
    ++s.by_severity[static_cast<int>(f.severity)];
    s.top_gain_pct = std::max(s.top_gain_pct, f.estimated_gain_pct);
  }
  return s;
}

Expected<void> write_text_file(const std::filesystem::path& path, const std::string& text) {
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
    if (!o) return Error{path.string() + ": cannot write: " + std::strerror(errno)};
    o.write(text.data(), static_cast<std::streamsize>(text.size()));
    o.close();
    if (!o) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      return Error{path.string() + ": write failed"};
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return Error{path.string() + ": cannot write: " + ec.message()};
  }
  return {};
}

}  // namespace moetune::analyzers
