// SPDX-License-Identifier: Apache-2.0
#include "moetune/live/moe_nvtx.h"

#include <algorithm>
#include <charconv>

namespace moetune::live {

namespace {
bool to_i64(std::string_view s, std::int64_t& v) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && p == s.data() + s.size();
}
// Value of "key=" in a space-separated list of fields; empty if absent.
std::optional<std::string_view> field(std::string_view text, std::string_view key) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto sp = text.find(' ', pos);
    auto tok = text.substr(pos, sp == std::string_view::npos ? std::string_view::npos : sp - pos);
    if (tok.size() > key.size() && tok.substr(0, key.size()) == key && tok[key.size()] == '=')
      return tok.substr(key.size() + 1);
    if (sp == std::string_view::npos) break;
    pos = sp + 1;
  }
  return std::nullopt;
}
// The `moe` domain, and the default domain (PyTorch's torch.cuda.nvtx has no domains).
bool decodes(std::string_view domain) { return domain == "moe" || domain.empty() || domain == "default"; }
}  // namespace

std::optional<MoeStep> parse_step(std::string_view text) {
  if (text.substr(0, 5) != "step ") return std::nullopt;
  auto rest = text.substr(5);
  auto sp = rest.find(' ');
  MoeStep s;
  if (!to_i64(rest.substr(0, sp), s.step) || s.step < 0) return std::nullopt;
  if (sp != std::string_view::npos) {
    auto tok = field(rest.substr(sp + 1), "tokens");
    std::int64_t t = 0;
    if (!tok || !to_i64(*tok, t) || t < 0) return std::nullopt;
    s.tokens = t;
  }
  return s;
}

std::optional<MoeRoute> parse_route(std::string_view text) {
  if (text.substr(0, 10) != "moe.route ") return std::nullopt;
  auto rest = text.substr(10);
  auto l = field(rest, "layer");
  auto t = field(rest, "tokens");
  std::int64_t layer = 0;
  if (!l || !t || !to_i64(*l, layer) || layer < 0 || layer > 1'000'000) return std::nullopt;
  MoeRoute r;
  r.layer = static_cast<int>(layer);
  std::string_view list = *t;
  while (!list.empty()) {
    auto c = list.find(',');
    std::int64_t v = 0;
    if (!to_i64(list.substr(0, c), v) || v < 0) return std::nullopt;
    r.tokens.push_back(v);
    if (c == std::string_view::npos) break;
    list.remove_prefix(c + 1);
  }
  if (r.tokens.empty()) return std::nullopt;
  return r;
}

std::optional<MoePlacement> parse_placement(std::string_view text) {
  if (text.substr(0, 14) != "moe.placement ") return std::nullopt;
  auto rest = text.substr(14);
  auto l = field(rest, "layer");
  auto m = field(rest, "map");
  std::int64_t layer = 0;
  if (!l || !m || !to_i64(*l, layer) || layer < 0) return std::nullopt;
  MoePlacement p;
  p.layer = static_cast<int>(layer);
  std::string_view list = *m;
  while (!list.empty()) {
    auto c = list.find(',');
    auto item = list.substr(0, c);
    auto colon = item.find(':');
    std::int64_t e = 0;
    if (colon == std::string_view::npos || !to_i64(item.substr(0, colon), e) || e < 0) return std::nullopt;
    auto ranks = item.substr(colon + 1);
    int replica = 0;
    while (true) {
      auto bar = ranks.find('|');
      std::int64_t r = 0;
      if (!to_i64(ranks.substr(0, bar), r) || r < 0) return std::nullopt;
      p.copies.push_back({static_cast<int>(e), static_cast<int>(r), replica++});
      if (bar == std::string_view::npos) break;
      ranks.remove_prefix(bar + 1);
    }
    if (c == std::string_view::npos) break;
    list.remove_prefix(c + 1);
  }
  if (p.copies.empty()) return std::nullopt;
  return p;
}

void MarkerDecoder::range_start(std::uint64_t id, std::int64_t tid, std::int64_t t, std::string_view name,
                                std::string_view domain, TraceWriter&) {
  Open o{tid, t, std::string(name), std::string(domain), std::nullopt};
  if (decodes(domain)) {
    o.step = parse_step(name);
    if (o.step) {
      step_stack_[tid].push_back(o.step->step);
      last_step_[tid] = o.step->step;
    }
  }
  open_[id] = std::move(o);
}

void MarkerDecoder::range_end(std::uint64_t id, std::int64_t t, TraceWriter& w) {
  auto it = open_.find(id);
  if (it == open_.end()) {
    ++unmatched_;
    return;
  }
  auto& o = it->second;
  NvtxRow n;
  n.rank = rank_;
  n.tid = o.tid;
  n.start_ns = o.start;
  n.dur_ns = std::max<std::int64_t>(0, t - o.start);
  n.name = w.intern(o.name);
  n.domain = w.intern(o.domain.empty() ? std::string_view("default") : std::string_view(o.domain));
  w.add(n);
  if (o.step) {
    w.add(StepRow{rank_, o.step->step, o.start, std::max(o.start, t), o.step->tokens});
    ++steps_;
    auto& st = step_stack_[o.tid];
    if (auto f = std::find(st.rbegin(), st.rend(), o.step->step); f != st.rend()) st.erase(std::next(f).base());
  }
  open_.erase(it);
}

void MarkerDecoder::instant(std::int64_t tid, std::int64_t t, std::string_view name, std::string_view domain,
                            TraceWriter& w) {
  NvtxRow n;
  n.rank = rank_;
  n.tid = tid;
  n.start_ns = t;
  n.dur_ns = 0;
  n.name = w.intern(name);
  n.domain = w.intern(domain.empty() ? std::string_view("default") : domain);
  w.add(n);
  if (!decodes(domain)) return;
  if (name.substr(0, 10) == "moe.route ") {
    auto r = parse_route(name);
    if (!r) {
      ++malformed_;
      return;
    }
    std::int64_t step = -1;
    if (auto s = step_stack_.find(tid); s != step_stack_.end() && !s->second.empty()) step = s->second.back();
    else if (auto l = last_step_.find(tid); l != last_step_.end()) step = l->second;
    for (std::size_t e = 0; e < r->tokens.size(); ++e)
      w.add(ExpertRoutingRow{step, r->layer, rank_, static_cast<int>(e), r->tokens[e], t});
  } else if (name.substr(0, 14) == "moe.placement ") {
    auto p = parse_placement(name);
    if (!p) {
      ++malformed_;
      return;
    }
    for (const auto& c : p->copies) w.add(ExpertPlacementRow{p->layer, c.expert, RankId(c.rank), c.replica});
  }
}

}  // namespace moetune::live
