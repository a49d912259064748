// SPDX-License-Identifier: Apache-2.0
// Parsers of the `moe` NVTX message texts (see moe_text.h). Numbers are parsed
// with std::from_chars; anything unexpected (extra words, negative counts, missing
// fields) rejects the whole text so that a typo never becomes a wrong number.
#include "moetune/trace/moe_text.h"

#include <charconv>

namespace moetune {
namespace {

// Parses a non-negative integer that spans all of s.
template <class T>
std::optional<T> whole_number(std::string_view s) {
  T v{};
  if (s.empty() || s[0] == '-' || s[0] == '+') return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Splits "key=value" words separated by single or repeated spaces.
std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<std::string_view> value_of(std::string_view word, std::string_view key) {
  if (word.size() <= key.size() + 1 || word.substr(0, key.size()) != key || word[key.size()] != '=')
    return std::nullopt;
  return word.substr(key.size() + 1);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

}  // namespace

std::optional<MoeStep> parse_moe_step(std::string_view text) {
  auto w = words(text);
  if (w.size() < 2 || w.size() > 3 || w[0] != "step") return std::nullopt;
  auto n = whole_number<std::int64_t>(w[1]);
  if (!n) return std::nullopt;
  MoeStep s{*n, std::nullopt};
  if (w.size() == 3) {
    auto v = value_of(w[2], "tokens");
    if (!v) return std::nullopt;
    s.tokens = whole_number<std::int64_t>(*v);
    if (!s.tokens) return std::nullopt;
  }
  return s;
}

std::optional<TorchNvtxText> split_torch_nvtx(std::string_view text) {
  std::size_t comma = text.find(", ");
  if (comma == 0 || comma == std::string_view::npos) return std::nullopt;
  TorchNvtxText t{text.substr(0, comma), {}};
  std::string_view rest = text.substr(comma + 2);
  while (!rest.empty()) {
    std::size_t next = rest.find(", ");
    std::string_view part = rest.substr(0, next);
    std::size_t eq = part.find(" = ");
    if (eq == 0 || eq == std::string_view::npos) return std::nullopt;
    std::string_view value = part.substr(eq + 3);
    bool neg = !value.empty() && value[0] == '-';
    auto v = whole_number<std::int64_t>(neg ? value.substr(1) : value);
    if (!v) return std::nullopt;
    t.fields.emplace_back(part.substr(0, eq), neg ? -*v : *v);
    rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 2);
  }
  return t;
}

std::optional<MoeStep> parse_profiler_step(std::string_view text) {
  constexpr std::string_view kPrefix = "ProfilerStep#";
  if (text.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  auto n = whole_number<std::int64_t>(text.substr(kPrefix.size()));
  if (!n) return std::nullopt;
  return MoeStep{*n, std::nullopt};
}

std::optional<MoeRoute> parse_moe_route(std::string_view text) {
  auto w = words(text);
  if ((w.size() != 3 && w.size() != 4) || w[0] != "moe.route") return std::nullopt;
  auto layer = value_of(w[1], "layer");
  auto tokens = value_of(w.back(), "tokens");
  if (!layer || !tokens) return std::nullopt;
  MoeRoute r;
  if (w.size() == 4) {  // optional step=S between layer and tokens
    auto sv = value_of(w[2], "step");
    auto s = sv ? whole_number<std::int64_t>(*sv) : std::nullopt;
    if (!s) return std::nullopt;
    r.step = *s;
  }
  auto l = whole_number<int>(*layer);
  if (!l) return std::nullopt;
  r.layer = *l;
  for (auto t : split(*tokens, ',')) {
    auto v = whole_number<std::int64_t>(t);
    if (!v) return std::nullopt;
    r.tokens.push_back(*v);
  }
  return r;
}

std::optional<MoePlacement> parse_moe_placement(std::string_view text) {
  auto w = words(text);
  if (w.size() != 3 || w[0] != "moe.placement") return std::nullopt;
  auto layer = value_of(w[1], "layer");
  auto map = value_of(w[2], "map");
  if (!layer || !map) return std::nullopt;
  MoePlacement p;
  auto l = whole_number<int>(*layer);
  if (!l) return std::nullopt;
  p.layer = *l;
  for (auto item : split(*map, ',')) {
    auto colon = item.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto e = whole_number<int>(item.substr(0, colon));
    if (!e || p.map.count(*e)) return std::nullopt;
    std::vector<int> ranks;
    for (auto r : split(item.substr(colon + 1), '|')) {
      auto v = whole_number<int>(r);
      if (!v) return std::nullopt;
      ranks.push_back(*v);
    }
    p.map[*e] = std::move(ranks);
  }
  return p;
}

}  // namespace moetune
