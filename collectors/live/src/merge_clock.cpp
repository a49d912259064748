// SPDX-License-Identifier: Apache-2.0
#include "moetune/live/merge_clock.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace moetune::live {

std::int64_t ClockMap::apply(std::int64_t t) const {
  // int64 first: ns since the epoch do not fit a double's 53 bits exactly.
  const double d = offset_ns + drift * static_cast<double>(t - anchor_ns);
  return t + static_cast<std::int64_t>(std::llround(d));
}

std::string clock_domain(const std::string& host) { return host.substr(0, host.find(':')); }

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  double m = *mid;
  if (v.size() % 2 == 0) m = (m + *std::max_element(v.begin(), mid)) / 2;
  return m;
}

}  // namespace

LineFit robust_fit(std::vector<std::pair<std::int64_t, double>> pts) {
  LineFit f;
  if (pts.empty()) return f;
  std::sort(pts.begin(), pts.end());
  f.anchor = pts.front().first;
  const std::size_t n = pts.size();
  std::vector<double> x(n), y(n);
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<double>(pts[i].first - f.anchor), y[i] = pts[i].second;
  // Theil-Sen over pairs half the run apart: n/2 slopes, each over a long baseline.
  std::vector<double> slopes;
  for (std::size_t i = 0, h = n / 2; h > 0 && i + h < n; ++i)
    if (x[i + h] > x[i]) slopes.push_back((y[i + h] - y[i]) / (x[i + h] - x[i]));
  f.slope = slopes.empty() ? 0.0 : median(slopes);
  std::vector<double> r(n);
  for (std::size_t i = 0; i < n; ++i) r[i] = y[i] - f.slope * x[i];
  f.offset = median(r);
  for (auto& v : r) v = std::abs(v - f.offset);
  const double mad = median(r);
  const double limit = std::max(5 * 1.4826 * mad, 1000.0);
  // Least squares over the kept points.
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  int m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (r[i] > limit) continue;
    ++m;
    sx += x[i], sy += y[i], sxx += x[i] * x[i], sxy += x[i] * y[i];
  }
  f.used = m;
  f.rejected = static_cast<int>(n) - m;
  if (m >= 2) {
    const double den = m * sxx - sx * sx;
    // A slope needs points spread in time; 1 ms^2 x m^2 keeps two close points from defining one.
    if (den > 1e12 * m * m && !slopes.empty()) {
      f.slope = (m * sxy - sx * sy) / den;
      f.offset = (sy - f.slope * sx) / m;
    } else {
      f.slope = 0;
      std::vector<double> kept;
      for (std::size_t i = 0; i < n; ++i)
        if (r[i] <= limit) kept.push_back(y[i]);
      f.offset = median(kept);
    }
  }
  for (std::size_t i = 0; i < n; ++i)
    if (r[i] <= limit) f.max_resid = std::max(f.max_resid, std::abs(y[i] - f.offset - f.slope * x[i]));
  f.ok = m >= 1;
  return f;
}

std::vector<HostClock> estimate_clocks(const std::vector<std::string>& domains, int reference,
                                       const std::vector<CollEnd>& ends) {
  std::vector<HostClock> out(domains.size());
  for (std::size_t d = 0; d < domains.size(); ++d) out[d].domain = domains[d];
  if (reference < 0 || static_cast<std::size_t>(reference) >= domains.size()) return out;
  out[static_cast<std::size_t>(reference)].reference = out[static_cast<std::size_t>(reference)].aligned = true;
  // Per instance and domain: the median end over the domain's ranks.
  std::map<std::string, std::vector<std::vector<double>>> by_key;
  for (const auto& e : ends) {
    auto& v = by_key[e.key];
    if (v.empty()) v.resize(domains.size());
    if (e.domain >= 0 && static_cast<std::size_t>(e.domain) < domains.size())
      v[static_cast<std::size_t>(e.domain)].push_back(static_cast<double>(e.end_ns));
  }
  std::vector<std::vector<std::pair<std::int64_t, double>>> pts(domains.size());
  for (auto& [key, per] : by_key) {
    const auto& ref = per[static_cast<std::size_t>(reference)];
    if (ref.empty()) continue;
    const double t_ref = median(ref);
    for (std::size_t d = 0; d < domains.size(); ++d) {
      if (static_cast<int>(d) == reference || per[d].empty()) continue;
      const double t = median(per[d]);
      pts[d].push_back({static_cast<std::int64_t>(std::llround(t)), t_ref - t});
    }
  }
  for (std::size_t d = 0; d < domains.size(); ++d) {
    if (static_cast<int>(d) == reference) continue;
    LineFit f = robust_fit(pts[d]);
    auto& h = out[d];
    h.instances = f.used;
    h.rejected = f.rejected;
    if (!f.ok) continue;
    h.aligned = true;
    h.map.anchor_ns = f.anchor;
    h.map.offset_ns = f.offset;
    h.map.drift = f.slope;
    h.bound_ns = static_cast<std::int64_t>(std::ceil(f.max_resid));
  }
  return out;
}

}  // namespace moetune::live
