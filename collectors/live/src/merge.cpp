// SPDX-License-Identifier: Apache-2.0
#include "moetune/live/merge.h"

#include <algorithm>
#include <map>
#include <set>

#include "merge_internal.h"
#include "moetune/trace/reader.h"

namespace moetune::live {

std::vector<std::filesystem::path> find_parts(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.is_regular_file(ec) && e.path().extension() == ".moetune") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

// Brings a part left by a killed process into a self-contained state (checkpoints
// its WAL into the main file). Harmless for finished parts.
void recover(const std::filesystem::path& p) {
  auto db = Db::open(p, Db::Mode::ReadWrite);
  if (db) (void)(*db)->exec("PRAGMA journal_mode=DELETE");
}

void fill(RankRow& into, const RankRow& from) {
  if (into.host.empty()) into.host = from.host;
  if (!into.pid) into.pid = from.pid;
  if (into.device < 0) into.device = from.device;
  if (into.gpu_name.empty()) into.gpu_name = from.gpu_name;
  if (into.gpu_uuid.empty()) into.gpu_uuid = from.gpu_uuid;
  if (into.bus_id.empty()) into.bus_id = from.bus_id;
  if (!into.sm_count) into.sm_count = from.sm_count;
  if (!into.memory_bytes) into.memory_bytes = from.memory_bytes;
  if (into.compute_cap.empty()) into.compute_cap = from.compute_cap;
  if (!into.pcie_gen) into.pcie_gen = from.pcie_gen;
  if (!into.pcie_width) into.pcie_width = from.pcie_width;
  if (into.source.find(from.source) == std::string::npos) into.source += "+" + from.source;
}

}  // namespace

namespace {
// The rows of a part's table; a table that cannot be read leaves its message in `error`
// (the merge then fails with it) and gives no rows.
template <class V>
V rows_or(Expected<V>&& e, std::string& error) {
  if (e) return std::move(*e);
  if (error.empty()) error = e.error().message;
  return V{};
}
}  // namespace

Expected<MergeReport> merge_parts(const std::vector<std::filesystem::path>& parts, TraceWriter& out,
                                  const MergeOptions& opts) {
  MergeReport rep;
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> proc_rank;  // (host,pid) -> rank
  std::set<std::int64_t> taken;
  std::map<std::int64_t, RankRow> rank_rows;
  std::int64_t collisions = 0;
  // Pass 1: open every part, learn each process's rank ((host, pid) -> rank >= 0).
  // A part normally holds one process; a run merged earlier holds several ranks rows.
  struct Part {
    std::filesystem::path path;
    std::unique_ptr<TraceReader> rd;
    std::vector<RankRow> rows;
  };
  std::vector<Part> open_parts;
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> known;
  for (const auto& p : parts) {
    recover(p);
    auto rd = TraceReader::open(p);
    if (!rd) {
      ++rep.parts_skipped;
      rep.warnings.push_back(rd.error().message);
      continue;
    }
    auto read = (*rd)->ranks();
    if (!read) return read.error();
    auto ranks = std::move(*read);
    if (ranks.empty()) {
      ++rep.parts_skipped;
      rep.warnings.push_back(p.string() + ": part names no rank (collector disabled early?)");
      continue;
    }
    for (const auto& row : ranks)
      if (row.rank.value >= 0) {
        auto [it, fresh] = known.emplace(std::make_pair(row.host, row.pid), row.rank.value);
        if (!fresh) it->second = std::min(it->second, row.rank.value);
      }
    open_parts.push_back({p, std::move(*rd), std::move(ranks)});
  }
  // Clock domains (hosts) of every process; one clock map per domain (merge_clock.h).
  std::vector<std::string> domains;
  std::vector<std::map<std::int64_t, int>> part_domain(open_parts.size());  // part rank value -> domain
  int reference = -1;
  {
    std::map<std::string, int> ids;
    std::int64_t lowest = INT64_MAX;
    for (std::size_t i = 0; i < open_parts.size(); ++i)
      for (const auto& row : open_parts[i].rows) {
        auto [it, fresh] = ids.emplace(clock_domain(row.host), static_cast<int>(domains.size()));
        if (fresh) domains.push_back(it->first);
        part_domain[i][row.rank.value] = it->second;
        if (row.rank.value >= 0 && row.rank.value < lowest) lowest = row.rank.value, reference = it->second;
      }
    if (reference < 0 && !domains.empty()) reference = 0;
  }
  auto domain_at = [&](std::size_t part, std::int64_t rank_value) {
    const auto& m = part_domain[part];
    if (m.size() == 1) return m.begin()->second;
    auto it = m.find(rank_value);
    return it != m.end() ? it->second : (m.empty() ? 0 : m.begin()->second);
  };
  if (opts.align_clocks && domains.size() > 1) {
    std::vector<CollEnd> ends;
    for (std::size_t i = 0; i < open_parts.size(); ++i)
      collect_ends(*open_parts[i].rd, [&](std::int64_t rank_value) { return domain_at(i, rank_value); }, ends);
    rep.clocks = estimate_clocks(domains, reference, ends);
  }
  const ClockMap identity;
  auto clock_at = [&](std::size_t part, std::int64_t rank_value) -> const ClockMap& {
    if (rep.clocks.empty()) return identity;
    return rep.clocks[static_cast<std::size_t>(domain_at(part, rank_value))].map;
  };

  // NCCL kernels seen so far per run rank, to link nccl_ops.kernel_id (parts sort
  // "*.cupti.moetune" before "*.nccl.moetune", so a process's kernels come first).
  struct NcclKernel {
    std::int64_t start, end, id, stream;
  };
  std::map<std::int64_t, std::vector<NcclKernel>> nccl_kernels;
  std::int64_t linked = 0;
  std::int64_t unranked_skipped = 0;
  for (std::size_t pi = 0; pi < open_parts.size(); ++pi) {
    auto& part = open_parts[pi];
    auto& r = *part.rd;
    // Resolve each process of the part to its run rank; rows carry the part's rank value.
    std::map<std::int64_t, std::int64_t> remap;  // part rank value -> run rank
    bool skip = false;
    for (const auto& pr : part.rows) {
      auto key = std::make_pair(pr.host, pr.pid);
      auto kn = known.find(key);
      // A process without a rank in a job whose other processes have ranks is a
      // launcher (torchrun's agent, a wrapper script): keep it only if it ran GPU work.
      if (kn == known.end() && !known.empty() && part.rows.size() == 1) {
        auto c = r.counts();
        if (!c) return c.error();
        if (c->get("kernels") == 0 && c->get("nccl_ops") == 0) {
          skip = true;
          break;
        }
      }
      std::int64_t rank;
      if (auto it = proc_rank.find(key); it != proc_rank.end()) {
        rank = it->second;
      } else {
        rank = kn != known.end() ? kn->second : 0;
        if (taken.count(rank)) {
          if (kn != known.end()) ++collisions;
          while (taken.count(rank)) ++rank;
        }
        taken.insert(rank);
        proc_rank[key] = rank;
      }
      remap[pr.rank.value] = rank;
      RankRow rr = pr;
      rr.rank = RankId(rank);
      if (auto it = rank_rows.find(rank); it != rank_rows.end()) fill(it->second, rr);
      else rank_rows[rank] = rr;
    }
    if (skip) {
      ++unranked_skipped;
      continue;
    }
    const std::int64_t first = remap.begin()->second;
    // Single-process parts write rank max(rank, 0) into rows even when the ranks row says -1.
    auto M = [&](RankId v) {
      if (part.rows.size() == 1) return RankId(first);
      auto it = remap.find(v.value);
      return RankId(it != remap.end() ? it->second : first);
    };
    auto S = [&](StringId id) { return out.intern(r.str(id)); };
    // Times onto the run clock: the host's map (identity on the reference host / one host).
    auto C = [&](RankId v) -> const ClockMap& { return clock_at(pi, v.value); };
    auto shift = [](const ClockMap& c, std::int64_t& start, std::int64_t& dur) {
      if (c.identity()) return;
      const std::int64_t s = c.apply(start);
      dur = c.apply(start + dur) - s;
      start = s;
    };
    std::string read_error;
    auto kernels_read = r.for_each_kernel([&](const KernelRow& k) {
      KernelRow o = k;
      shift(C(k.rank), o.start_ns, o.dur_ns);
      o.rank = M(k.rank);
      o.name = S(k.name);
      out.add(o);
      ++rep.rows;
      if (r.str(k.name).find("nccl") != std::string::npos)
        nccl_kernels[o.rank.value].push_back({o.start_ns, o.end_ns(), out.last_kernel_id(), o.stream.value});
    });
    if (!kernels_read) return kernels_read.error();
    for (auto& [rk, ks] : nccl_kernels)
      std::sort(ks.begin(), ks.end(), [](const NcclKernel& a, const NcclKernel& b) { return a.start < b.start; });
    for (auto m : rows_or(r.memcpys(), read_error)) shift(C(m.rank), m.start_ns, m.dur_ns), m.rank = M(m.rank), out.add(m), ++rep.rows;
    for (auto m : rows_or(r.memsets(), read_error)) shift(C(m.rank), m.start_ns, m.dur_ns), m.rank = M(m.rank), out.add(m), ++rep.rows;
    for (auto a : rows_or(r.api_calls(), read_error))
      shift(C(a.rank), a.start_ns, a.dur_ns), a.rank = M(a.rank), a.name = S(a.name), out.add(a), ++rep.rows;
    for (auto n : rows_or(r.nvtx(), read_error))
      shift(C(n.rank), n.start_ns, n.dur_ns), n.rank = M(n.rank), n.name = S(n.name), n.domain = S(n.domain),
          out.add(n), ++rep.rows;
    for (auto n : rows_or(r.nccl_ops(), read_error)) {
      if (const auto& c = C(n.rank); !c.identity()) {
        if (n.enqueue_ns) n.enqueue_ns = c.apply(*n.enqueue_ns);
        n.start_ns = c.apply(n.start_ns);
        n.end_ns = c.apply(n.end_ns);
      }
      n.rank = M(n.rank);
      n.kernel_id.reset();
      // The op's kernel: the NCCL kernel of its rank that contains the op's GPU interval.
      auto& ks = nccl_kernels[n.rank.value];
      auto it = std::upper_bound(ks.begin(), ks.end(), n.start_ns,
                                 [](std::int64_t t, const NcclKernel& k) { return t < k.start; });
      if (it != ks.begin() && std::prev(it)->end >= n.end_ns) {
        n.kernel_id = std::prev(it)->id;
        n.stream = std::prev(it)->stream;
        ++linked;
      }
      (void)out.add(n);
      ++rep.rows;
    }
    for (auto s : rows_or(r.steps(), read_error)) {
      if (const auto& c = C(s.rank); !c.identity()) s.start_ns = c.apply(s.start_ns), s.end_ns = c.apply(s.end_ns);
      s.rank = M(s.rank), out.add(s), ++rep.rows;
    }
    for (auto e : rows_or(r.expert_routing(), read_error)) {
      if (e.time_ns) e.time_ns = C(e.rank).apply(*e.time_ns);
      e.rank = M(e.rank), out.add(e), ++rep.rows;
    }
    for (auto e : rows_or(r.expert_placement(), read_error)) out.add(e), ++rep.rows;
    // A link may name a rank of another part (per-host parts of one job): kept as is.
    auto TM = [&](std::int64_t v) {
      return part.rows.size() > 1 && !remap.count(v) ? v : M(RankId(v)).value;
    };
    for (auto t : rows_or(r.topology(), read_error)) {
      if (t.rank_a) t.rank_a = TM(*t.rank_a);
      if (t.rank_b) t.rank_b = TM(*t.rank_b);
      out.add(t);
      ++rep.rows;
    }
    auto meta = rows_or(r.meta(), read_error);
    for (const char* key : {"nvidia_smi_topo", "exit_status", "command", "profile"})
      if (meta.count(key)) out.set_meta(key, meta[key]);
    for (auto s : rows_or(r.stats(), read_error)) {
      if (s.rank) s.rank = M(RankId(*s.rank)).value;
      out.add(s);
    }
    if (!read_error.empty()) return Error{read_error};
    ++rep.parts_read;
  }
  if (!rep.clocks.empty()) write_clock_stats(rep.clocks, rank_rows, out);
  for (auto& [k, row] : rank_rows) out.add(row);
  rep.ranks = static_cast<int>(rank_rows.size());
  if (collisions)
    out.add(StatRow{"rank_collision_remapped", Severity::Error, collisions, std::nullopt,
                    "processes claimed the same rank; later ones were given the next free rank"});
  out.add(StatRow{"nccl_ops_linked_to_kernels", Severity::Info, linked, std::nullopt,
                  "NCCL ops whose GPU interval lies inside a captured NCCL kernel (kernel_id set)"});
  if (unranked_skipped)
    out.add(StatRow{"unranked_processes_skipped", Severity::Info, unranked_skipped, std::nullopt,
                    "processes with no rank and no GPU work (launchers) were left out"});
  if (rep.parts_skipped)
    out.add(StatRow{"unreadable_parts", Severity::DataLoss, rep.parts_skipped, std::nullopt,
                    "per-process files that could not be read were left out"});
  out.set_meta("source", "moetune record");
  out.set_meta("parts", std::to_string(rep.parts_read));
  if (rep.parts_read == 0) return Error{"no readable per-process files to merge"};
  return rep;
}

}  // namespace moetune::live
