// SPDX-License-Identifier: Apache-2.0
#include "moetune/live/moe_nvtx.h"

#include <algorithm>

namespace moetune::live {

namespace {
// The `moe` domain, and the default domain (PyTorch's torch.cuda.nvtx cannot name a
// domain: torch_moe prefixes its texts with "moe:", stripped here).
bool decodes(std::string_view domain) { return domain == "moe" || domain.empty() || domain == "default"; }
std::string_view moe_text(std::string_view name) {
  if (name.substr(0, 4) == "moe:") name.remove_prefix(4);
  return name;
}
}  // namespace

void MarkerDecoder::range_start(std::uint64_t id, std::int64_t tid, std::int64_t t, std::string_view name,
                                std::string_view domain, TraceWriter&) {
  Open o{tid, t, std::string(name), std::string(domain), std::nullopt};
  if (decodes(domain)) {
    o.step = parse_moe_step(moe_text(name));
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
  name = moe_text(name);
  if (name.substr(0, 10) == "moe.route ") {
    auto r = parse_moe_route(name);
    if (!r) {
      ++malformed_;
      return;
    }
    std::int64_t step = r->step.value_or(-1);  // a step=S in the text wins over the enclosing range
    if (step >= 0) {
    } else if (auto s = step_stack_.find(tid); s != step_stack_.end() && !s->second.empty()) {
      step = s->second.back();
    } else if (auto l = last_step_.find(tid); l != last_step_.end()) {
      step = l->second;
    }
    for (std::size_t e = 0; e < r->tokens.size(); ++e)
      w.add(ExpertRoutingRow{step, r->layer, rank_, static_cast<int>(e), r->tokens[e], t});
  } else if (name.substr(0, 14) == "moe.placement ") {
    auto p = parse_moe_placement(name);
    if (!p) {
      ++malformed_;
      return;
    }
    for (const auto& [expert, ranks] : p->map)
      for (std::size_t i = 0; i < ranks.size(); ++i)
        w.add(ExpertPlacementRow{p->layer, expert, RankId(ranks[i]), static_cast<int>(i)});
  }
}

}  // namespace moetune::live
