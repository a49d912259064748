// SPDX-License-Identifier: Apache-2.0
#include "moetune/ui/timeline_data.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "moetune/analyzers/model.h"
#include "moetune/trace/comm_vocab.h"

namespace moetune::ui {

const char* to_string(LaneKind k) {
  switch (k) {
    case LaneKind::Compute: return "compute";
    case LaneKind::Comm: return "comm";
    case LaneKind::Memcpy: return "memcpy";
    case LaneKind::Nvtx: return "nvtx";
    case LaneKind::NcclOp: return "nccl";
    case LaneKind::Step: return "steps";
    case LaneKind::Api: return "api";
  }
  return "?";
}

namespace {

constexpr int kMaxNvtxDepth = 4;

// The one communication vocabulary (moetune/trace/comm_vocab.h), with moetune-gui --comm-rules.
bool is_comm_kernel(const std::string& name) { return comm::classify_kernel(name) != comm::Kind::None; }

// "thread 2919752 (pt_main_thread)" (Kineto's form) -> "pt_main_thread".
std::string clean_thread_name(const std::string& n) {
  const auto open = n.rfind('(');
  if (n.starts_with("thread ") && open != std::string::npos && n.back() == ')' && open + 2 < n.size())
    return n.substr(open + 1, n.size() - open - 2);
  return n;
}

// An id shown as is when it looks like one people know (an OS thread id, a stream
// number), else the lane's ordinal on its rank: never a negative or raw huge number.
std::string id_text(std::int64_t id, int ordinal, std::int64_t max_plain) {
  return id >= 0 && id <= max_plain ? std::to_string(id) : "#" + std::to_string(ordinal + 1);
}

std::string lane_label(const analyzers::RunData& run, const Lane& l, int ordinal) {
  switch (l.kind) {
    case LaneKind::Compute: return "stream " + id_text(l.stream, ordinal, 1'000'000);
    case LaneKind::Comm: return "comm kernels";
    case LaneKind::Memcpy: return "memcpy / memset";
    case LaneKind::NcclOp: return "NCCL ops";
    case LaneKind::Step: return "steps";
    case LaneKind::Nvtx: {
      const std::int64_t dom = l.stream / kMaxNvtxDepth, depth = l.stream % kMaxNvtxDepth;
      std::string name = dom > 0 && std::size_t(dom) < run.strings.size() ? run.strings[std::size_t(dom)] : "";
      if (name.empty() || name == "default") name = "NVTX";
      return depth == 0 ? name : name + " \u00b7 " + std::to_string(depth + 1);
    }
    case LaneKind::Api: {
      const std::string name = thread_name(run, l.rank, l.stream);
      if (!name.empty()) return "api \u00b7 " + name;
      return "api thread " + id_text(l.stream, ordinal, 4'194'304);  // Linux pid_max limit
    }
  }
  return to_string(l.kind);
}

// Collects lanes per rank in a fixed order while events stream in.
class Builder {
 public:
  explicit Builder(TimelineData& d) : d_(d) {}

  std::uint32_t intern(const std::string& s) {
    auto it = extra_.find(s);
    if (it != extra_.end()) return it->second;
    auto id = static_cast<std::uint32_t>(d_.names.size());
    d_.names.push_back(s);
    extra_.emplace(s, id);
    return id;
  }
  Lane& lane(int rank, LaneKind kind, std::int64_t sub, EventSource src) {
    auto key = std::make_tuple(rank, int(kind), sub);
    auto it = index_.find(key);
    if (it != index_.end()) return lanes_[it->second];
    index_.emplace(key, lanes_.size());
    Lane& l = lanes_.emplace_back();
    l.rank = rank;
    l.kind = kind;
    l.stream = sub;
    l.source = src;
    return l;
  }
  void add(Lane& l, std::int64_t start, std::int64_t dur, std::uint32_t name, std::size_t ref) {
    dur = std::max<std::int64_t>(dur, 0);
    l.events.push_back({start, dur, name, static_cast<std::uint32_t>(ref)});
    l.max_dur = std::max(l.max_dur, dur);
  }
  // Orders lanes by (rank, kind, sub), sorts events, fills groups.
  void finish(const analyzers::RunData& run) {
    std::map<int, std::string> rank_label;
    for (const auto& r : run.ranks) {
      std::string lab = "rank " + std::to_string(r.rank.value);
      if (!r.host.empty()) lab += " · " + r.host;
      if (!r.gpu_name.empty()) lab += " · " + r.gpu_name;
      rank_label[int(r.rank.value)] = lab;
    }
    std::map<std::pair<int, int>, int> ordinal;  // lanes of one kind on one rank so far
    std::vector<std::pair<std::tuple<int, int, std::int64_t>, std::size_t>> order(index_.begin(), index_.end());
    std::sort(order.begin(), order.end());
    d_.t_begin = INT64_MAX;
    d_.t_end = INT64_MIN;
    for (auto& [key, idx] : order) {
      Lane& l = lanes_[idx];
      if (!std::is_sorted(l.events.begin(), l.events.end(),
                          [](const LaneEvent& a, const LaneEvent& b) { return a.start < b.start; })) {
        // keep sources aligned with events when they differ per event
        std::vector<std::size_t> perm(l.events.size());
        for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = i;
        std::stable_sort(perm.begin(), perm.end(),
                         [&](std::size_t a, std::size_t b) { return l.events[a].start < l.events[b].start; });
        std::vector<LaneEvent> ev(perm.size());
        std::vector<EventSource> src(l.sources.empty() ? 0 : perm.size());
        for (std::size_t i = 0; i < perm.size(); ++i) {
          ev[i] = l.events[perm[i]];
          if (!src.empty()) src[i] = l.sources[perm[i]];
        }
        l.events.swap(ev);
        l.sources.swap(src);
      }
      if (!l.events.empty()) {
        d_.t_begin = std::min(d_.t_begin, l.events.front().start);
        for (const auto& e : l.events) d_.t_end = std::max(d_.t_end, e.end());
      }
      d_.event_count += l.events.size();
      l.label = lane_label(run, l, ordinal[{l.rank, int(l.kind)}]++);
      if (d_.groups.empty() || d_.groups.back().rank != l.rank) {
        LaneGroup g;
        g.rank = l.rank;
        auto lab = rank_label.find(l.rank);
        g.label = lab != rank_label.end() ? lab->second : "rank " + std::to_string(l.rank);
        d_.groups.push_back(std::move(g));
      }
      d_.groups.back().lanes.push_back(static_cast<int>(d_.lanes.size()));
      d_.lanes.push_back(std::move(l));
    }
    if (d_.t_begin > d_.t_end) { d_.t_begin = 0; d_.t_end = 1; }
    if (d_.t_end <= d_.t_begin) d_.t_end = d_.t_begin + 1;
  }

 private:
  TimelineData& d_;
  std::unordered_map<std::string, std::uint32_t> extra_;
  std::map<std::tuple<int, int, std::int64_t>, std::size_t> index_;
  std::vector<Lane> lanes_;
};

}  // namespace

std::string thread_name(const analyzers::RunData& run, int rank, std::int64_t tid) {
  auto it = run.meta.find("thread_name." + std::to_string(rank) + "." + std::to_string(tid));
  return it == run.meta.end() ? std::string() : clean_thread_name(it->second);
}

const char* fold_noun(LaneKind k) {
  switch (k) {
    case LaneKind::Compute: case LaneKind::Comm: return "kernels";
    case LaneKind::Memcpy: return "copies";
    case LaneKind::Nvtx: return "ranges";
    case LaneKind::NcclOp: return "ops";
    case LaneKind::Step: return "steps";
    case LaneKind::Api: return "calls";
  }
  return "events";
}

TimelineData TimelineData::build(const analyzers::RunData& run) {
  TimelineData d;
  d.names = run.strings;
  Builder b(d);
  // Comm-ness is decided once per kernel name, not once per kernel.
  std::vector<std::int8_t> comm_name(run.strings.size(), -1);
  for (std::size_t i = 0; i < run.kernels.size(); ++i) {
    const auto& k = run.kernels[i];
    const auto nid = static_cast<std::size_t>(std::max<std::int64_t>(k.name.value, 0));
    bool comm = false;
    if (nid < comm_name.size()) {
      if (comm_name[nid] < 0) comm_name[nid] = is_comm_kernel(run.strings[nid]) ? 1 : 0;
      comm = comm_name[nid] == 1;
    }
    Lane& l = comm ? b.lane(int(k.rank.value), LaneKind::Comm, 0, EventSource::Kernel)
                   : b.lane(int(k.rank.value), LaneKind::Compute, k.stream.value, EventSource::Kernel);
    b.add(l, k.start_ns, k.dur_ns, static_cast<std::uint32_t>(nid), i);
  }
  for (std::size_t i = 0; i < run.memcpys.size(); ++i) {
    const auto& m = run.memcpys[i];
    static const char* kinds[] = {"Memcpy", "Memcpy HtoD", "Memcpy DtoH", "Memcpy DtoD", "Memcpy PtoP"};
    int ki = m.kind == CopyKind::HtoD ? 1 : m.kind == CopyKind::DtoH ? 2 : m.kind == CopyKind::DtoD ? 3
           : m.kind == CopyKind::PtoP ? 4 : 0;
    Lane& l = b.lane(int(m.rank.value), LaneKind::Memcpy, 0, EventSource::Memcpy);
    b.add(l, m.start_ns, m.dur_ns, b.intern(kinds[ki]), i);
  }
  for (std::size_t i = 0; i < run.memsets.size(); ++i) {
    const auto& m = run.memsets[i];
    Lane& l = b.lane(int(m.rank.value), LaneKind::Memcpy, 0, EventSource::Memcpy);
    if (l.sources.empty()) l.sources.assign(l.events.size(), EventSource::Memcpy);
    b.add(l, m.start_ns, m.dur_ns, b.intern("Memset"), i);
    l.sources.push_back(EventSource::Memset);
  }
  // NVTX: depth by a stack of open range ends, per rank (input is sorted by rank, start).
  {
    int cur_rank = INT32_MIN;
    std::map<std::int64_t, std::vector<std::int64_t>> open_by_domain;
    std::vector<std::size_t> order(run.nvtx.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t c) {
      const auto& x = run.nvtx[a];
      const auto& y = run.nvtx[c];
      return std::tie(x.rank.value, x.start_ns) < std::tie(y.rank.value, y.start_ns);
    });
    for (std::size_t i : order) {
      const auto& n = run.nvtx[i];
      if (int(n.rank.value) != cur_rank) { cur_rank = int(n.rank.value); open_by_domain.clear(); }
      // One lane set per domain (labelled with its name), depth by the domain's own stack.
      const std::int64_t dom = std::max<std::int64_t>(n.domain.value, 0);
      auto& open = open_by_domain[dom];
      while (!open.empty() && open.back() <= n.start_ns) open.pop_back();
      const int depth = std::min<int>(int(open.size()), kMaxNvtxDepth - 1);
      open.push_back(n.end_ns());
      Lane& l = b.lane(cur_rank, LaneKind::Nvtx, dom * kMaxNvtxDepth + depth, EventSource::Nvtx);
      b.add(l, n.start_ns, n.dur_ns, static_cast<std::uint32_t>(std::max<std::int64_t>(n.name.value, 0)), i);
    }
  }
  for (std::size_t i = 0; i < run.nccl_ops.size(); ++i) {
    const auto& o = run.nccl_ops[i];
    Lane& l = b.lane(int(o.rank.value), LaneKind::NcclOp, 0, EventSource::NcclOp);
    b.add(l, o.start_ns, o.end_ns - o.start_ns, b.intern(o.func), i);
  }
  for (std::size_t i = 0; i < run.steps.size(); ++i) {
    const auto& s = run.steps[i];
    Lane& l = b.lane(int(s.rank.value), LaneKind::Step, 0, EventSource::Step);
    b.add(l, s.start_ns, s.end_ns - s.start_ns, b.intern("step " + std::to_string(s.step)), i);
  }
  for (std::size_t i = 0; i < run.api_calls.size(); ++i) {
    const auto& a = run.api_calls[i];
    Lane& l = b.lane(int(a.rank.value), LaneKind::Api, a.tid, EventSource::Api);
    b.add(l, a.start_ns, a.dur_ns, static_cast<std::uint32_t>(std::max<std::int64_t>(a.name.value, 0)), i);
  }
  b.finish(run);
  return d;
}

std::size_t TimelineData::first_visible(const Lane& lane, std::int64_t t0) {
  const std::int64_t lo = t0 - lane.max_dur;
  auto it = std::lower_bound(lane.events.begin(), lane.events.end(), lo,
                             [](const LaneEvent& e, std::int64_t t) { return e.start < t; });
  return static_cast<std::size_t>(it - lane.events.begin());
}

void TimelineData::fold(const Lane& lane, const TimeMapper& m, double fold_px, std::vector<DrawItem>& out) {
  const auto& ev = lane.events;
  const std::size_t n = ev.size();
  std::size_t i = first_visible(lane, m.t0);
  while (i < n && ev[i].start < m.t1) {
    const LaneEvent& e = ev[i];
    if (e.end() <= m.t0) { ++i; continue; }
    const double x0 = std::max(m.x(e.start), -1.0);
    const double x1 = std::min(m.x(e.end()), m.width + 1.0);
    if (x1 - x0 >= fold_px) {
      out.push_back({float(x0), float(x1), 1, std::uint32_t(i)});
      ++i;
      continue;
    }
    // Narrow: take every event that starts before x0 + fold_px in one jump.
    const std::int64_t limit = m.t(x0 + fold_px);
    auto it = std::lower_bound(ev.begin() + std::ptrdiff_t(i) + 1, ev.end(), limit,
                               [](const LaneEvent& a, std::int64_t t) { return a.start < t; });
    const std::size_t j = static_cast<std::size_t>(it - ev.begin());
    const double last_end = std::min(m.x(ev[j - 1].end()), m.width + 1.0);
    DrawItem d{float(x0), float(std::max(x0 + 1.0, std::max(x1, last_end))), std::uint32_t(j - i), std::uint32_t(i)};
    // Merge into the previous folded item when the gap is under fold_px too, so a dense
    // run is one item (gaps that small cannot be seen between sub-fold_px events).
    if (!out.empty() && out.back().count > 1 && d.x0 <= out.back().x1 + float(fold_px)) {
      out.back().x1 = std::max(out.back().x1, d.x1);
      out.back().count += d.count;
    } else {
      out.push_back(d);
    }
    i = j;
  }
}

std::int64_t TimelineData::hit(const Lane& lane, const TimeMapper& m, double x, double slack_px) {
  const std::int64_t ta = m.t(x - slack_px), tb = m.t(x + slack_px);
  std::int64_t best = -1;
  std::int64_t best_dur = INT64_MAX;
  const auto& ev = lane.events;
  for (std::size_t i = first_visible(lane, ta); i < ev.size() && ev[i].start <= tb; ++i) {
    if (ev[i].end() < ta) continue;
    // Prefer the shortest event under the cursor (the innermost one).
    if (ev[i].dur < best_dur) { best = std::int64_t(i); best_dur = ev[i].dur; }
  }
  return best;
}

}  // namespace moetune::ui
