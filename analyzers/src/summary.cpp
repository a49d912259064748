// SPDX-License-Identifier: Apache-2.0
// Sharded analysis (summary.h): the map writes a node's gathers and small tables; the
// reduce combines the small tables of every node, rebuilds the cross-rank context and runs
// judge_all on the gathers: the same code path as analyze(run).
#include "moetune/analyzers/summary.h"
#include "moetune/analyzers/options.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <unistd.h>

#include "gather.h"
#include "moetune/trace/reader.h"
#include "moetune/trace/writer.h"

namespace moetune::analyzers {
namespace {
using namespace detail;

constexpr const char* kGathersKey = "summary.gathers";

bool summary_key(const std::string& k) { return k == kSummaryVersionKey || k.rfind("summary.", 0) == 0 || k.rfind("store.", 0) == 0; }

std::set<int> ranks_of(const RunData& run) {
  std::set<int> s;
  auto add = [&s](RankId r) { s.insert(static_cast<int>(r.value)); };
  for (const auto& r : run.ranks) add(r.rank);
  for (const auto& k : run.kernels) add(k.rank);
  for (const auto& m : run.memcpys) add(m.rank);
  for (const auto& m : run.memsets) add(m.rank);
  for (const auto& a : run.api_calls) add(a.rank);
  for (const auto& n : run.nvtx) add(n.rank);
  for (const auto& o : run.nccl_ops) add(o.rank);
  for (const auto& s2 : run.steps) add(s2.rank);
  return s;
}

// FNV-1a over what identifies the collective instances (same tables -> same digest).
std::string digest(const std::vector<CollInstance>& insts) {
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  for (const auto& in : insts) {
    mix(in.comm), mix(in.func), mix(std::to_string(in.order)), mix(std::to_string(in.first_arrival));
    for (const auto& m : in.members) mix(std::to_string(m.rank) + ":" + std::to_string(m.start_ns) + ":" + std::to_string(m.end_ns));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

nlohmann::json context_json(const GatherContext& c) {
  return {{"instances", c.instances.size()},
          {"instances_digest", digest(c.instances)},
          {"first_steady_step", c.steady.first_steady},
          {"steps_total", c.steady.total},
          {"steps_warmup", c.steady.warmup}};
}

std::string fnv(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// The options the gathers depend on: the gap threshold and the user's comm rules (by content).
nlohmann::json options_json(const AnalyzeOptions& o) {
  std::string rules;
  if (o.comm_rules)
    for (const auto& r : o.comm_rules->rules())
      rules += r.scope + '\x1f' + r.pattern + '\x1f' + std::to_string(static_cast<int>(r.how)) + '\x1f' +
               std::to_string(static_cast<int>(r.kind)) + '\x1e';
  // Every threshold (options.h): some are applied in the gathers (host_sync's per-call idle,
  // global_sync's minimum wait, grad_compression's bucket size), so a map and a reduce with
  // different values would not equal one analysis.
  nlohmann::json thresholds = nlohmann::json::object();
  for (const auto& info : analyze_options()) thresholds[std::string(info.name)] = option_value(o, info);
  return {{"idle_gap_ns", o.idle_gap_ns},
          {"comm_rule_count", o.comm_rules ? o.comm_rules->rules().size() : 0},
          {"comm_rules_digest", rules.empty() ? std::string() : fnv(rules)},
          {"thresholds", thresholds}};
}

std::string list(const std::set<int>& s) {
  std::string out;
  for (int r : s) out += (out.empty() ? "" : ",") + std::to_string(r);
  return out;
}

// The other ranks' small tables a gather needs (steps, nccl_ops; NCCL kernels when the run
// has no nccl_ops), appended to `run` for the ranks it does not hold.
Expected<std::set<int>> add_peers(RunData& run, const std::set<int>& held, const std::vector<std::filesystem::path>& peers) {
  std::set<int> seen;
  std::map<std::string, StringId> ids;
  for (std::size_t i = 0; i < run.strings.size(); ++i) ids.emplace(run.strings[i], StringId(static_cast<std::int64_t>(i)));
  for (const auto& p : peers) {
    auto r = TraceReader::open(p, false);  // no integrity pass: it reads the whole file; only small tables are used
    if (!r) return r.error();
    auto& rd = **r;
    std::set<int> mine;
    auto take = [&](RankId rk) {
      int v = static_cast<int>(rk.value);
      if (held.count(v)) return false;
      mine.insert(v);
      return true;
    };
    auto steps = rd.steps();
    if (!steps) return steps.error();
    for (auto& s : *steps)
      if (take(s.rank)) run.steps.push_back(s);
    auto ops = rd.nccl_ops();
    if (!ops) return ops.error();
    for (auto& o : *ops)
      if (take(o.rank)) run.nccl_ops.push_back(std::move(o));
    if (ops->empty()) {
      auto kernels = rd.kernels();
      if (!kernels) return kernels.error();
      for (auto k : *kernels) {
        if (held.count(static_cast<int>(k.rank.value)) || !parse_nccl_kernel(rd.str(k.name))) continue;
        take(k.rank);
        auto [it, fresh] = ids.emplace(rd.str(k.name), StringId(static_cast<std::int64_t>(run.strings.size())));
        if (fresh) run.strings.push_back(rd.str(k.name));
        k.name = it->second;
        run.kernels.push_back(k);
      }
    }
    for (int v : mine)
      if (seen.count(v)) return Error{p.string() + ": rank " + std::to_string(v) + " is also in another --peers file"};
    seen.insert(mine.begin(), mine.end());
  }
  auto by_rank_start = [](const auto& a, const auto& b) { return a.rank != b.rank ? a.rank < b.rank : a.start_ns < b.start_ns; };
  std::stable_sort(run.steps.begin(), run.steps.end(), by_rank_start);
  std::stable_sort(run.nccl_ops.begin(), run.nccl_ops.end(), by_rank_start);
  std::stable_sort(run.kernels.begin(), run.kernels.end(), by_rank_start);
  return seen;
}

std::string topo_key(const TopologyRow& t) {
  return t.host + "|" + t.a + "|" + t.b + "|" + (t.rank_a ? std::to_string(*t.rank_a) : "-") + "|" +
         (t.rank_b ? std::to_string(*t.rank_b) : "-") + "|" + t.link + "|" +
         (t.bandwidth_gbps ? std::to_string(*t.bandwidth_gbps) : "-") + "|" + t.source;
}
std::string bench_key(const BenchResultRow& b) {
  return b.source + "|" + b.func + "|" + std::to_string(b.nranks) + "|" + std::to_string(b.bytes) + "|" +
         std::to_string(b.count) + "|" + b.dtype + "|" + std::to_string(b.time_us) + "|" + std::to_string(b.algbw_gbps) +
         "|" + std::to_string(b.busbw_gbps) + "|" + std::to_string(b.in_place);
}
std::string stat_key(const StatRow& s) {
  return s.name + "|" + std::to_string(static_cast<int>(s.severity)) + "|" + std::to_string(s.value) + "|" +
         (s.rank ? std::to_string(*s.rank) : "-") + "|" + s.description;
}

// Writes the small tables of `runs` (ranks in `keep[i]` of runs[i]) into one store.
Expected<void> write_small_tables(const std::vector<const RunData*>& runs, const std::vector<std::set<int>>& keep,
                                  const std::filesystem::path& out, bool force,
                                  const std::map<std::string, std::string>& extra_meta) {
  WriterOptions wo;
  wo.force = force;
  auto w = TraceWriter::create(out, wo);
  if (!w) return w.error();
  auto& tw = **w;
  std::set<std::string> topo, bench, stats, meta_keys;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const RunData& run = *runs[i];
    auto in = [&](RankId r) { return keep[i].count(static_cast<int>(r.value)) > 0; };
    // Per-rank tables: the kept ranks' rows. Run-wide tables: each row once over all runs.
    auto kept = [&](const auto& rows) {
      for (const auto& row : rows)
        if (in(row.rank)) tw.add(row);
    };
    auto once = [&](const auto& rows, std::set<std::string>& seen, auto key) {
      for (const auto& row : rows)
        if (seen.insert(key(row)).second) tw.add(row);
    };
    for (const auto& [k, v] : run.meta)
      if (!summary_key(k) && meta_keys.insert(k).second) tw.set_meta(k, v);
    kept(run.ranks), kept(run.steps), kept(run.nccl_ops), kept(run.routing), kept(run.placement);
    once(run.topology, topo, topo_key), once(run.bench, bench, bench_key), once(run.stats, stats, stat_key);
    if (run.nccl_ops.empty())  // alignment by NCCL kernel names: only those kernels
      for (auto k : run.kernels)
        if (in(k.rank) && parse_nccl_kernel(run.str(k.name))) {
          k.name = tw.intern(run.str(k.name));
          tw.add(k);
        }
  }
  for (const auto& [k, v] : extra_meta) tw.set_meta(k, v);
  return tw.finish();
}

}  // namespace

Expected<MapReport> write_summary(RunData run, const MapOptions& mo, const AnalyzeOptions& opts,
                                  const std::filesystem::path& out) {
  const std::set<int> held = ranks_of(run);
  if (run.meta.count(kSummaryVersionKey)) return Error{run.path.string() + ": is a summary already, not a run"};
  std::set<int> own = mo.ranks.empty() ? held : mo.ranks;
  for (int r : own)
    if (!held.count(r)) return Error{run.path.string() + ": --ranks: rank " + std::to_string(r) + " is not in the run"};
  if (own.empty()) return Error{run.path.string() + ": the run holds no rank"};
  auto peers = add_peers(run, held, mo.peers);
  if (!peers) return peers.error();
  MapReport rep;
  rep.ranks = own;
  rep.job_ranks = held;
  rep.job_ranks.insert(peers->begin(), peers->end());
  comm::ScopedRules rules(opts.comm_rules.get());
  const Gathered g = Gathered::of(run, opts, &own);
  nlohmann::json gathers = nlohmann::json::array();
  for (const auto& [r, rg] : g.ranks) gathers.push_back(to_json(rg));
  nlohmann::json doc = {{"ranks", own},
                        {"job_ranks", rep.job_ranks},
                        {"any_api_calls", g.any_api_calls},
                        {"context", context_json(g.ctx)},
                        {"options", options_json(opts)},
                        {"gathers", gathers}};
  auto done = write_small_tables({&run}, {own}, out, mo.force,
                                 {{kSummaryVersionKey, std::to_string(kSummaryVersion)}, {kGathersKey, doc.dump()}});
  if (!done) return done.error();
  // Small pages: a summary's tables are mostly near-empty, and each table and index takes at
  // least one page (16 KiB as the writer makes them for event tables).
  if (auto db = Db::open(out, Db::Mode::ReadWrite); db) (void)(*db)->exec("PRAGMA page_size=1024; VACUUM;");
  std::error_code ec;
  rep.bytes = std::filesystem::file_size(out, ec);
  return rep;
}

bool is_summary(const std::filesystem::path& path) {
  auto r = TraceReader::open(path, false);
  if (!r) return false;
  auto meta = (*r)->meta();
  return meta && meta->count(kSummaryVersionKey) > 0;
}

Expected<AnalysisResult> reduce_summaries(const std::vector<std::filesystem::path>& files, const AnalyzeOptions& opts,
                                          RunData* combined_out) {
  struct Part {
    RunData run;
    nlohmann::json doc;
    std::set<int> ranks, job;
  };
  std::vector<Part> parts;
  std::map<int, std::string> owner;
  for (const auto& f : files) {
    auto run = RunData::load(f);
    if (!run) return run.error();
    auto v = run->meta.find(kSummaryVersionKey);
    if (v == run->meta.end())
      return Error{f.string() + ": not a moetune summary (no meta " + kSummaryVersionKey +
                   "): several files are reduced only as summaries of analyze --map; merge runs with moetune merge"};
    if (v->second != std::to_string(kSummaryVersion))
      return Error{f.string() + ": summary version " + v->second + " is not supported (this moetune reads version " +
                   std::to_string(kSummaryVersion) + ")"};
    Part p{std::move(*run), {}, {}, {}};
    try {
      p.doc = nlohmann::json::parse(p.run.meta.at(kGathersKey));
      p.ranks = p.doc.at("ranks").get<std::set<int>>();
      p.job = p.doc.at("job_ranks").get<std::set<int>>();
      for (const auto& gj : p.doc.at("gathers")) (void)gj.at("rank").get<int>();
    } catch (const std::exception& e) {
      return Error{f.string() + ": damaged summary (" + kGathersKey + "): " + e.what()};
    }
    for (int r : p.ranks) {
      auto [it, fresh] = owner.emplace(r, f.string());
      if (!fresh) return Error{f.string() + ": rank " + std::to_string(r) + " is also in " + it->second + " (ranks must not overlap)"};
    }
    if (p.doc.at("options") != options_json(opts))
      return Error{f.string() + ": mapped with other options (" + p.doc.at("options").dump() + ") than this reduce (" +
                   options_json(opts).dump() + "): pass the same --comm-rules and --set to the map and the reduce"};
    parts.push_back(std::move(p));
  }
  if (parts.empty()) return Error{"no summary files"};
  std::set<int> all;
  for (const auto& [r, f] : owner) all.insert(r);
  for (std::size_t i = 0; i < parts.size(); ++i)
    if (parts[i].job != all)
      return Error{files[i].string() + ": mapped with the small tables of ranks " + list(parts[i].job) +
                   " but the summaries hold ranks " + list(all) +
                   ": map every node with --peers naming the same run files, and reduce all the nodes' summaries"};
  std::sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) { return *a.ranks.begin() < *b.ranks.begin(); });
  // The combined small tables, through the store (the row order a merged run reads back with).
  static std::atomic<int> seq{0};
  auto tmp = std::filesystem::temp_directory_path() /
             ("moetune-reduce-" + std::to_string(::getpid()) + "-" + std::to_string(seq++) + ".moetune");
  std::vector<const RunData*> runs;
  std::vector<std::set<int>> keep;
  for (const auto& p : parts) runs.push_back(&p.run), keep.push_back(p.ranks);
  auto written = write_small_tables(runs, keep, tmp, true, {});
  if (!written) return Error{"reduce: cannot write the combined tables to " + tmp.string() + ": " + written.error().message};
  auto combined = RunData::load(tmp);
  std::error_code ec;
  std::filesystem::remove(tmp, ec);
  if (!combined) return combined.error();
  Gathered gd;
  gd.ctx = GatherContext::build(*combined);
  const nlohmann::json ctx = context_json(gd.ctx);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto& p = parts[i];
    if (p.doc.at("context") != ctx)
      return Error{p.run.path.string() + ": its collectives or step set (" + p.doc.at("context").dump() +
                   ") differ from the combined summaries' (" + ctx.dump() + "): summaries of different runs?"};
    try {
      for (const auto& gj : p.doc.at("gathers")) gd.add(rank_gather_from_json(gj));
      gd.any_api_calls |= p.doc.at("any_api_calls").get<bool>();
    } catch (const std::exception& e) {
      return Error{p.run.path.string() + ": damaged summary (" + kGathersKey + "): " + e.what()};
    }
  }
  comm::ScopedRules rules(opts.comm_rules.get());
  AnalysisResult r = judge_all(*combined, gd, opts);
  if (combined_out) *combined_out = std::move(*combined);
  return r;
}

}  // namespace moetune::analyzers
