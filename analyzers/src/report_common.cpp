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
  for (const auto& row : r.per_step) {
    s.ranks.insert(row.rank);
    s.ratio[row.step][row.rank] = row.comm_ratio;
    if (row.warmup) s.warmup.insert(row.step);
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
  for (const auto& row : r.per_rank) {
    const double step = row.step_time_ms;
    if (step <= 0) continue;
    BucketShares b;
    b.rank = row.rank;
    b.step_ms = step;
    for (int i = 0; i < BucketTimes::kCount; ++i) b.pct[i] = 100 * row.buckets.at(i) / step;
    out.push_back(b);
  }
  return out;
}

ReportSummary summarize(const AnalysisResult& r) {
  ReportSummary s;
  if (!r.per_rank.empty()) {
    s.have_metrics = true;
    s.ranks = r.per_rank.size();
    for (const auto& row : r.per_rank) {
      s.step_time_ms += row.step_time_ms;
      s.comm_ratio += row.comm_ratio;
      s.exposed_comm_ms += row.exposed_comm_ms;
      s.overlap_pct += row.overlap_pct;
      s.idle_ms += row.idle_ms;
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
