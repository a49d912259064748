// SPDX-License-Identifier: Apache-2.0
// Evidence for people: a finding's evidence JSON as labelled rows with units, numbers
// at a sensible precision and rank lists collapsed to ranges ("0-3, 5"). Pure C++ (no
// Qt): the GUI shows the rows as a table, the CLI text report prints them.
// Units come from the key suffix the analyzers use: _ms, _ns, _pct, _gbps, _bytes
// (or "bytes"), _fraction; keys naming ranks ("rank", "ranks", "*_rank", "*_ranks")
// format rank lists. Nested objects of scalars become one row per field under the
// parent's label; long lists and lists of objects are summarised (the raw JSON has them).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace moetune::analyzers {

struct EvidenceRow {
  std::string label;  // "Mean transfer"
  std::string value;  // "1.23 ms"
};

// 4 significant digits, no exponent between 1e-4 and 1e15, integers (and values of
// 10000 or more) without decimals, thousands grouped with ",": 562494.349496 -> "562,494".
std::string format_number(double v);
// Durations from ns / ms: "850 ns", "12.5 µs", "1.234 ms", "2.5 s".
std::string format_duration_ns(double ns);
// Binary units: "512 B", "1.5 KiB", "12.0 MiB", "1.25 GiB".
std::string format_bytes(double bytes);
// Sorted, de-duplicated, runs collapsed: {0,1,2,3,5,7,8} -> "0-3, 5, 7-8". More than
// max_items items: the first ones and "… (N ranks)".
std::string format_rank_list(std::vector<long long> ranks, std::size_t max_items = 12);
// "mean_transfer_ms" -> "Mean transfer" (unit suffix dropped, underscores to spaces).
std::string evidence_label(std::string_view key);
// One value formatted by its key (see the file comment).
std::string format_evidence_value(std::string_view key, const nlohmann::json& v);
// The rows of an evidence object (a non-object gives one row "Value").
std::vector<EvidenceRow> evidence_rows(const nlohmann::json& evidence);
// The rows as text lines "<indent>label: value" (the CLI's one call).
std::string evidence_text(const nlohmann::json& evidence, std::string_view indent = "    ");

}  // namespace moetune::analyzers
