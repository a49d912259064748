// SPDX-License-Identifier: Apache-2.0
#include "moetune/analyzers/evidence_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <utility>

namespace moetune::analyzers {
namespace {

bool ends_with(std::string_view s, std::string_view suf) {
  return s.size() >= suf.size() && s.substr(s.size() - suf.size()) == suf;
}

std::string group_thousands(const std::string& digits) {
  // digits: optional '-', then integer digits, then optional ".fraction"
  const std::size_t start = !digits.empty() && digits[0] == '-' ? 1 : 0;
  std::size_t end = digits.find('.');
  if (end == std::string::npos) end = digits.size();
  std::string out = digits.substr(0, start);
  for (std::size_t i = start; i < end; ++i) {
    if (i > start && (end - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out + digits.substr(end);
}

std::string strip_zeros(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

bool is_rank_key(std::string_view k) {
  return k == "rank" || k == "ranks" || ends_with(k, "_rank") || ends_with(k, "_ranks");
}

enum class Unit { None, Ms, Ns, Pct, Gbps, Bytes, Fraction };
constexpr std::pair<std::string_view, Unit> kUnitWords[] = {{"ms", Unit::Ms},       {"ns", Unit::Ns},
                                                            {"pct", Unit::Pct},     {"gbps", Unit::Gbps},
                                                            {"bytes", Unit::Bytes}, {"fraction", Unit::Fraction}};

// The unit a key names with a token anywhere in it ("idle_ms_total", "mean_transfer_ms",
// "alltoall_bytes_32bit"), or a word ("achievable_fraction").
Unit unit_of(std::string_view k) {
  std::size_t i = 0;
  while (i <= k.size()) {
    std::size_t j = k.find('_', i);
    if (j == std::string_view::npos) j = k.size();
    const std::string_view w = k.substr(i, j - i);
    for (const auto& [word, unit] : kUnitWords)
      if (w == word) return unit;
    i = j + 1;
  }
  return Unit::None;
}

std::string with_unit(Unit u, double v) {
  switch (u) {
    case Unit::Ms: return format_duration_ns(v * 1e6);
    case Unit::Ns: return std::fabs(v) < 1e12 ? format_duration_ns(v) : format_number(v) + " ns";
    case Unit::Pct: {
      if (std::fabs(v) < 1) return format_number(v) + " %";
      char b[64];
      std::snprintf(b, sizeof b, "%.1f", v);
      return strip_zeros(b) + " %";
    }
    case Unit::Gbps: return format_number(v) + " GB/s";
    case Unit::Bytes: return format_bytes(v);
    case Unit::Fraction: return with_unit(Unit::Pct, 100 * v);
    case Unit::None: break;
  }
  return format_number(v);
}

bool is_scalar(const nlohmann::json& v) { return v.is_primitive(); }

// A scalar; a key without a unit of its own takes the parent's (`inherit`).
std::string scalar_text(std::string_view key, const nlohmann::json& v, Unit inherit = Unit::None) {
  if (v.is_null()) return "n/a";
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) {
    const Unit u = unit_of(key);
    return with_unit(u == Unit::None ? inherit : u, v.get<double>());
  }
  return v.dump();
}

// Numbers in a list: all shown when few, else min / median / max.
std::string number_list(std::string_view key, const nlohmann::json& a) {
  const Unit u = unit_of(key);
  if (a.size() <= 8) {
    std::string s;
    for (const auto& x : a) s += (s.empty() ? "" : ", ") + with_unit(u, x.get<double>());
    return s;
  }
  std::vector<double> v;
  v.reserve(a.size());
  for (const auto& x : a) v.push_back(x.get<double>());
  std::sort(v.begin(), v.end());
  return "min " + with_unit(u, v.front()) + ", median " + with_unit(u, v[v.size() / 2]) + ", max " +
         with_unit(u, v.back()) + " (" + std::to_string(v.size()) + " values)";
}

}  // namespace

std::string format_number(double v) {
  if (std::isnan(v)) return "n/a";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  const double a = std::fabs(v);
  if (a == 0) return "0";
  char b[64];
  if (a >= 1e15 || a < 1e-4) {
    std::snprintf(b, sizeof b, "%.3g", v);
    return b;
  }
  if (a >= 1e4 || v == std::floor(v)) {
    std::snprintf(b, sizeof b, "%.0f", v);
    return group_thousands(b);
  }
  const int decimals = std::clamp(3 - int(std::floor(std::log10(a))), 0, 7);
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return group_thousands(strip_zeros(b));
}

std::string format_duration_ns(double ns) {
  const double a = std::fabs(ns);
  if (a < 1e3) return format_number(ns) + " ns";
  if (a < 1e6) return format_number(ns / 1e3) + " µs";
  if (a < 1e9) return format_number(ns / 1e6) + " ms";
  return format_number(ns / 1e9) + " s";
}

std::string format_bytes(double b) {
  const double a = std::fabs(b);
  char s[64];
  if (a >= 1024.0 * 1024 * 1024 * 1024) std::snprintf(s, sizeof s, "%.2f TiB", b / (1024.0 * 1024 * 1024 * 1024));
  else if (a >= 1024.0 * 1024 * 1024) std::snprintf(s, sizeof s, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  else if (a >= 1024.0 * 1024) std::snprintf(s, sizeof s, "%.1f MiB", b / (1024.0 * 1024));
  else if (a >= 1024.0) std::snprintf(s, sizeof s, "%.1f KiB", b / 1024.0);
  else return format_number(std::round(b)) + " B";
  return s;
}

std::string format_rank_list(std::vector<long long> r, std::size_t max_items) {
  std::sort(r.begin(), r.end());
  r.erase(std::unique(r.begin(), r.end()), r.end());
  if (r.empty()) return "none";
  std::string s;
  std::size_t items = 0;
  for (std::size_t i = 0; i < r.size();) {
    std::size_t j = i;
    while (j + 1 < r.size() && r[j + 1] == r[j] + 1) ++j;
    if (items == max_items) return s + ", … (" + std::to_string(r.size()) + " ranks)";
    s += (s.empty() ? "" : ", ") + std::to_string(r[i]);
    if (j > i) s += "-" + std::to_string(r[j]);
    ++items;
    i = j + 1;
  }
  return s;
}

std::string evidence_label(std::string_view key) {
  static const std::map<std::string, std::string, std::less<>> words = {
      {"gpu", "GPU"},     {"gpus", "GPUs"},      {"nccl", "NCCL"},   {"nvlink", "NVLink"}, {"pcie", "PCIe"},
      {"sxm", "SXM"},     {"moe", "MoE"},        {"eplb", "EPLB"},   {"busbw", "bus bandwidth"},
      {"algbw", "algorithm bandwidth"}, {"alltoall", "all-to-all"}, {"incl", "incl."}, {"id", "ID"},
      {"api", "API"},     {"cpu", "CPU"},        {"nic", "NIC"}};
  std::string out;
  std::size_t i = 0;
  while (i <= key.size()) {
    std::size_t j = key.find('_', i);
    if (j == std::string_view::npos) j = key.size();
    std::string_view w = key.substr(i, j - i);
    // a unit token goes (the value shows it): the last one, or ms/ns anywhere ("idle_ms_total")
    const bool last = j == key.size();
    const bool unit_word = key.size() > w.size() && ((w == "ms" || w == "ns") ||
                                                     (last && (w == "pct" || w == "gbps" || w == "bytes")));
    if (!w.empty() && !unit_word) {
      auto it = words.find(w);
      if (!out.empty()) out += ' ';
      out += it != words.end() ? it->second : std::string(w);
    }
    i = j + 1;
  }
  if (!out.empty() && out[0] >= 'a' && out[0] <= 'z') out[0] = char(out[0] - 'a' + 'A');
  return out;
}

std::string format_evidence_value(std::string_view key, const nlohmann::json& v) {
  if (is_scalar(v)) return scalar_text(key, v);
  if (v.is_array()) {
    if (v.empty()) return "none";
    const bool ints = std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_number_integer(); });
    const bool nums = std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_number(); });
    const bool strs = std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_string(); });
    if (ints && is_rank_key(key)) {
      std::vector<long long> r;
      for (const auto& x : v) r.push_back(x.get<long long>());
      return format_rank_list(std::move(r));
    }
    if (nums) return number_list(key, v);
    if (strs) {
      std::string s;
      std::size_t n = 0;
      for (const auto& x : v) {
        if (n++ == 8) return s + ", … (" + std::to_string(v.size()) + ")";
        s += (s.empty() ? "" : ", ") + x.get<std::string>();
      }
      return s;
    }
    return std::to_string(v.size()) + (v.size() == 1 ? " entry" : " entries") + " (see raw JSON)";
  }
  // object: "k: v, k: v" when its fields are scalars, else a count
  if (v.size() <= 12 && std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_primitive(); })) {
    std::string s;
    const Unit u = unit_of(key);
    for (auto it = v.begin(); it != v.end(); ++it)
      s += (s.empty() ? "" : ", ") + evidence_label(it.key()) + ": " + scalar_text(it.key(), it.value(), u);
    return s.empty() ? "none" : s;
  }
  return std::to_string(v.size()) + " fields (see raw JSON)";
}

std::vector<EvidenceRow> evidence_rows(const nlohmann::json& ev) {
  std::vector<EvidenceRow> rows;
  if (!ev.is_object()) {
    rows.push_back({"Value", format_evidence_value("", ev)});
    return rows;
  }
  for (auto it = ev.begin(); it != ev.end(); ++it) {
    const auto& v = it.value();
    const bool named_fields = v.is_object() && !v.empty() &&
                              std::none_of(v.items().begin(), v.items().end(), [](const auto& kv) {
                                return !kv.key().empty() && (std::isdigit(static_cast<unsigned char>(kv.key()[0])) != 0);
                              });
    if (named_fields && v.size() <= 16) {  // a small record: one row per field
      const std::string parent = evidence_label(it.key());
      const Unit u = unit_of(it.key());
      for (auto f = v.begin(); f != v.end(); ++f)
        rows.push_back({parent + " › " + evidence_label(f.key()),
                        f.value().is_primitive() ? scalar_text(f.key(), f.value(), u)
                                                 : format_evidence_value(f.key(), f.value())});
      continue;
    }
    rows.push_back({evidence_label(it.key()), format_evidence_value(it.key(), v)});
  }
  return rows;
}

std::string evidence_text(const nlohmann::json& evidence, std::string_view indent) {
  const auto rows = evidence_rows(evidence);
  std::size_t w = 0;
  for (const auto& r : rows) w = std::max(w, r.label.size());
  w = std::min<std::size_t>(w, 40);
  std::string out;
  for (const auto& r : rows) {
    out += indent;
    out += r.label + ": ";
    if (r.label.size() < w) out.append(w - r.label.size(), ' ');
    out += r.value + "\n";
  }
  return out;
}

}  // namespace moetune::analyzers
