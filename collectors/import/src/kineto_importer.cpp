// SPDX-License-Identifier: Apache-2.0
// Kineto / torch.profiler Chrome-trace importer: load (gzip) -> parse (kineto_parse.cpp)
// -> map each event to store rows here, in RowBatches (kineto_batch.h) that
// kineto_pipeline.cpp hands to the writer.
#include <deque>
#include <limits>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "gpu_row.h"
#include "kineto_batch.h"
#include "kineto_event.h"
#include "moetune/trace/moe_text.h"

namespace moetune::import {
namespace kineto {
namespace {

constexpr std::int64_t kMaxDurNs = 24LL * 3600 * 1'000'000'000;  // longer than a day: not a real event

// A GPU activity or API call that had no args.correlation; resolved through the
// ac2g flow events (which may come later in the file) at the end.
struct Pending {
  enum Kind { Kernel, Memcpy, Memset, Api } kind;
  std::int64_t pid, tid, ts_raw;
  KernelRow k;
  MemcpyRow m;
  MemsetRow s;
  ApiCallRow a;
  std::optional<NcclOpRow> nccl;
};

struct Flow {
  std::int64_t pid, tid, ts_raw, id;
  bool start;  // 's' (CPU side) or 'f' (GPU side)
};

// Rows per batch sent to the writer (bulk-table rows; the batch's memory is ~100 B a row).
constexpr std::size_t kBatchEvents = 16384;

// Maps Events to rows of one rank, sent to the sink in RowBatches. Counts everything it
// skips or clamps; the counts become `stats` rows in finish(). Interns strings into a
// file-local table keyed by views into the parse buffers (no allocation per event).
class Mapper {
 public:
  Mapper(const std::filesystem::path& file, std::optional<int> rank_option, const BatchSink& sink)
      : file_(file), rank_option_(rank_option), sink_(sink) {}

  // Progress of the parse, carried by the next batch.
  void progress(std::uint64_t done, std::uint64_t total) { done_ = done, total_ = total; }
  bool stopped() const { return stopped_; }

  Expected<void> start(const TraceMeta& meta) {
    meta_ = meta;
    std::optional<std::int64_t> rank = meta.rank;
    std::string how = "distributedInfo.rank";
    if (!rank) {
      if (auto r = rank_from_file_name(file_)) rank = *r, how = "file name";
    }
    if (!rank && rank_option_) rank = *rank_option_, how = "--rank";
    if (!rank)
      return Error{file_.string() +
                   ": no rank in the trace (distributedInfo.rank) or the file name (rank-N, workerN); pass --rank N"};
    if (*rank < 0 || *rank > std::numeric_limits<int>::max())
      return Error{file_.string() + ": rank " + std::to_string(*rank) + " from " + how + " is out of range"};
    rank_ = RankId(*rank);
    cur_.claim_rank = static_cast<int>(*rank);
    base_ = meta.base_time_ns.value_or(0);
    return {};
  }

  // False once the sink stopped taking rows.
  bool event(const Event& e) {
    if (stopped_) return false;
    event_rows(e);
    if (cur_.events >= kBatchEvents) send();
    return !stopped_;
  }

  void event_rows(const Event& e) {
    if (e.ph == "X") return complete(e);
    if ((e.ph == "s" || e.ph == "f") && (e.cat == "ac2g" || e.cat == "async_cpu_to_gpu")) {
      if (e.has_id && e.has_ts) flows_.push_back({e.pid, e.tid, e.ts_ns, e.id, e.ph == "s"});
      return;
    }
    if (e.ph == "M") {  // thread names (for lane labels); sort order and stream names: nothing to store
      if (e.name == "thread_name" && !e.arg_name.empty() && !e.arg_name.starts_with("stream "))
        thread_names_[e.tid] = std::string(e.arg_name);
      return;
    }
    ++ignored_;
  }

  void finish() {
    resolve_pending();
    for (std::size_t i = 0; i < nccl_.size(); ++i) {
      auto it = launch_.find(nccl_corr_[i]);
      if (nccl_corr_[i] != 0 && it != launch_.end()) nccl_[i].enqueue_ns = it->second.second;
      attach_param_comms(nccl_[i], nccl_corr_[i]);
      cur_.nccl.push_back(std::move(nccl_[i]));
    }
    RankRow r;
    r.rank = rank_;
    r.pid = host_pid_;
    r.device = device_ ? static_cast<int>(*device_) : -1;
    r.source = "kineto:" + file_.filename().string();
    const DeviceProps* props = nullptr;
    for (const auto& d : meta_.devices)
      if (device_ && d.id == *device_) props = &d;
    if (!props && meta_.devices.size() == 1) props = &meta_.devices[0];
    if (props) {
      r.gpu_name = props->name;
      r.sm_count = props->sm_count;
      r.memory_bytes = props->memory_bytes;
      if (props->cc_major >= 0 && props->cc_minor >= 0)
        r.compute_cap = std::to_string(props->cc_major) + "." + std::to_string(props->cc_minor);
    }
    cur_.ranks.push_back(std::move(r));
    for (const auto& [tid, name] : thread_names_)  // read by the GUI's lane labels
      cur_.meta.emplace_back("thread_name." + std::to_string(rank_.value) + "." + std::to_string(tid), name);
    write_moe_rows();
    stat("relative_timestamps", Severity::Info, meta_.base_time_ns ? 0 : 1,
         "no baseTimeNanoseconds in the trace: ts taken as microseconds on the trace's own clock");
    stat("kineto_events_ignored", Severity::Info, ignored_,
         "events of categories or phases moetune does not store (python_function, Trace, fwdbwd flows, ...)");
    stat("kineto_missing_duration", Severity::Info, missing_dur_, "complete events without dur: stored with 0 ns");
    stat("negative_duration_clamped", Severity::Error, negative_dur_, "negative dur set to 0 ns");
    stat("absurd_duration_clamped", Severity::Error, absurd_dur_, "dur longer than a day set to 0 ns");
    stat("kineto_events_skipped", Severity::Error, skipped_,
         "host-side events without a usable ts/name (or not a JSON object) were skipped");
    stat("kineto_gpu_events_skipped", Severity::DataLoss, gpu_skipped_,
         "GPU kernels/memcpys/memsets without a usable ts were skipped");
    stat("nccl_unknown_dtype", Severity::Info, unknown_dtype_, "NCCL ops whose dtype size is unknown: bytes 0");
    stat("nccl_metadata_from_param_comms", Severity::Info, rpc_attached_,
         "NCCL kernels without metadata args that took it from the enclosing record_param_comms op");
    stat("kineto_uncorrelated", Severity::Info, uncorrelated_,
         "GPU activities / API calls with neither args.correlation nor an ac2g flow: correlation 0");
    send();
  }

 private:
  // File-local id of s (kineto_batch.h); the key views the file's own copy of the text.
  StringId intern(std::string_view s) {
    auto it = strings_.find(s);
    if (it != strings_.end()) return it->second;
    StringId id(static_cast<std::int64_t>(strings_.size()));
    const std::string& kept = texts_.emplace_back(s);
    strings_.emplace(kept, id);
    cur_.strings.push_back(kept);
    return id;
  }

  void send() {
    if (stopped_ || cur_.empty()) return;
    cur_.bytes_done = done_;
    cur_.bytes_total = total_;
    if (!sink_(std::move(cur_))) stopped_ = true;
    cur_ = RowBatch();
  }

  void add(const KernelRow& k) {
    cur_.kernels.push_back(k);
    ++cur_.events;
    ++kernels_;
  }
  void add(const MemcpyRow& m) { cur_.memcpys.push_back(m), ++cur_.events; }
  void add(const MemsetRow& m) { cur_.memsets.push_back(m), ++cur_.events; }
  void add(const ApiCallRow& a) { cur_.api_calls.push_back(a), ++cur_.events; }
  void add(NvtxRow&& n) { cur_.nvtx.push_back(std::move(n)), ++cur_.events; }

  void stat(const char* name, Severity sev, std::int64_t n, const char* what) {
    if (n > 0) cur_.stats.push_back(StatRow{name, sev, n, rank_.value, what});
  }

  void complete(const Event& e) {
    const bool gpu = e.cat == "kernel" || e.cat == "gpu_memcpy" || e.cat == "gpu_memset";
    const bool api = e.cat == "cuda_runtime" || e.cat == "cuda_driver" || e.cat == "cuda_sync";
    const bool annot = e.cat == "user_annotation" || e.cat == "gpu_user_annotation" || e.cat == "cpu_op";
    if (!gpu && !api && !annot) {
      ++ignored_;
      return;
    }
    std::int64_t start = 0;
    if (!e.has_ts || e.name.empty() || __builtin_add_overflow(base_, e.ts_ns, &start)) {
      ++(gpu ? gpu_skipped_ : skipped_);
      return;
    }
    std::int64_t dur = e.dur_ns;
    if (!e.has_dur) ++missing_dur_, dur = 0;
    else if (dur < 0) ++negative_dur_, dur = 0;
    else if (dur > kMaxDurNs) ++absurd_dur_, dur = 0;
    if (start > std::numeric_limits<std::int64_t>::max() - dur) dur = 0, ++absurd_dur_;

    if (!gpu && e.pid_is_int && host_pid_ == 0 && e.cat != "gpu_user_annotation") host_pid_ = e.pid;
    if (gpu) {
      if (!device_) {
        if (e.device) device_ = e.device;
        else if (e.pid_is_int) device_ = e.pid;  // Kineto puts GPU events in pid = device
      }
      StreamId stream(e.stream.value_or(e.tid));
      std::int64_t corr = e.correlation.value_or(0);
      if (e.cat == "kernel") {
        auto k = gpu_row<KernelRow>(rank_, stream, start, dur, corr);
        k.name = intern(e.name);
        k.grid = e.grid;
        k.block = e.block;
        std::optional<NcclOpRow> op;
        if (!e.coll_name.empty() || is_nccl_kernel(e.name)) op = nccl_op(e, k);
        if (!e.correlation) return pend({Pending::Kernel, e.pid, e.tid, e.ts_ns, k, {}, {}, {}, op});
        add(k);
        last_corr_ = k.correlation;
        if (op) add_nccl(*op);
      } else if (e.cat == "gpu_memcpy") {
        auto m = gpu_row<MemcpyRow>(rank_, stream, start, dur, corr);
        m.bytes = e.bytes.value_or(0);
        m.kind = copy_kind_from_name(e.name);
        if (!e.correlation) return pend({Pending::Memcpy, e.pid, e.tid, e.ts_ns, {}, m, {}, {}, {}});
        add(m);
      } else {
        auto s = gpu_row<MemsetRow>(rank_, stream, start, dur, corr);
        s.bytes = e.bytes.value_or(0);
        if (!e.correlation) return pend({Pending::Memset, e.pid, e.tid, e.ts_ns, {}, {}, s, {}, {}});
        add(s);
      }
      return;
    }
    if (api) {
      ApiCallRow a;
      a.rank = rank_;
      a.tid = e.tid;
      a.start_ns = start;
      a.dur_ns = dur;
      a.name = intern(e.name);
      a.kind = (e.cat == "cuda_sync" || is_sync_api(e.name)) ? ApiKind::Sync
               : e.cat == "cuda_driver"                      ? ApiKind::Driver
                                                             : ApiKind::Runtime;
      a.correlation = e.correlation.value_or(0);
      if (a.correlation != 0 && e.name.find("Launch") != std::string_view::npos)
        launch_.emplace(a.correlation, std::make_pair(e.tid, start));
      if (!e.correlation && e.cat != "cuda_sync") return pend({Pending::Api, e.pid, e.tid, e.ts_ns, {}, {}, {}, a, {}});
      add(a);
      return;
    }
    if (!e.coll_name.empty() && e.name == "record_param_comms")
      rpc_.push_back({e.tid, start, start + dur, CommMeta::from(e)});
    NvtxRow n;
    n.rank = rank_;
    n.tid = e.cat == "gpu_user_annotation" ? 0 : e.tid;
    n.start_ns = start;
    n.dur_ns = dur;
    n.name = intern(e.name);
    n.domain = intern(e.cat);
    add(std::move(n));
    if (e.cat == "user_annotation") moe_annotation(e.name, start, dur);
    constexpr std::string_view kStep = "ProfilerStep#";
    if (e.cat != "gpu_user_annotation" && e.name.substr(0, kStep.size()) == kStep) {
      std::string_view num = e.name.substr(kStep.size());
      std::int64_t step = 0;
      bool ok = !num.empty() && num.size() <= 18;
      for (char c : num) {  // at most 18 digits: fits int64 (fuzz_kineto: non-digits kept multiplying)
        if (c < '0' || c > '9') { ok = false; break; }
        step = step * 10 + (c - '0');
      }
      if (ok) {
        auto [it, fresh] = steps_.try_emplace(step, start, start + dur);
        if (!fresh) {
          it->second.first = std::min(it->second.first, start);
          it->second.second = std::max(it->second.second, start + dur);
        }
      }
    }
  }

  // The `moe` conventions (docs/CONVENTIONS-NVTX.md) as torch.profiler records them:
  // record_function ranges in user_annotation, optionally prefixed "moe:" (torch.cuda.nvtx
  // has no domains). Steps with tokens replace ProfilerStep#N steps when present.
  void moe_annotation(std::string_view text, std::int64_t start, std::int64_t dur) {
    if (text.substr(0, 4) == "moe:") text.remove_prefix(4);
    if (auto st = parse_moe_step(text)) {
      moe_steps_[st->step] = {start, start + dur, st->tokens};
    } else if (auto ro = parse_moe_route(text)) {
      routes_.push_back({start, ro->layer, std::move(ro->tokens), ro->step});
    } else if (auto pl = parse_moe_placement(text)) {
      RowBatch::Placement p{pl->layer, {}};
      for (const auto& [expert, ranks] : pl->map)
        for (std::size_t i = 0; i < ranks.size(); ++i)
          p.rows.push_back(ExpertPlacementRow{pl->layer, expert, RankId(ranks[i]), static_cast<int>(i)});
      cur_.placements.push_back(std::move(p));
    }
  }

  void write_moe_rows() {
    if (moe_steps_.empty()) {
      for (const auto& [step, span] : steps_)
        cur_.steps.push_back(StepRow{rank_, step, span.first, span.second, std::nullopt});
    } else {
      for (const auto& [step, m] : moe_steps_) cur_.steps.push_back(StepRow{rank_, step, m.start, m.end, m.tokens});
    }
    // A route belongs to the step range that encloses it, else the last step started before it.
    std::int64_t unplaced = 0;
    for (const auto& r : routes_) {
      std::optional<std::int64_t> step = r.step;  // a step=S in the text wins
      for (const auto& [n, m] : moe_steps_) {
        if (r.step) break;
        if (m.start <= r.time) step = n;
        if (m.start <= r.time && r.time < m.end) break;
      }
      if (!step) {
        ++unplaced;
        continue;
      }
      for (std::size_t e = 0; e < r.tokens.size(); ++e)
        cur_.routing.push_back(ExpertRoutingRow{*step, r.layer, rank_, static_cast<int>(e), r.tokens[e], r.time});
    }
    if (unplaced) stat("moe_routes_without_step", Severity::Error, unplaced, "moe.route marks outside any step range");
  }

  NcclOpRow nccl_op(const Event& e, const KernelRow& k) {
    NcclOpRow op;
    op.rank = rank_;
    auto parsed = parse_nccl_kernel_name(e.name);
    op.func = parsed.func.empty() ? "Unknown" : parsed.func;
    if (!parsed.algo.empty()) op.algo = parsed.algo;
    if (!parsed.proto.empty()) op.proto = parsed.proto;
    op.start_ns = k.start_ns;
    op.end_ns = k.start_ns + k.dur_ns;
    op.stream = k.stream.value;
    if (!e.coll_name.empty()) apply(op, CommMeta::from(e));
    return op;
  }

  // PyTorch's collective metadata, as on comm kernels and record_param_comms ops.
  struct CommMeta {
    std::string coll, dtype, pg_name, pg_ranks, in_split, out_split;
    std::optional<std::int64_t> in_nelems, group_size, seq;
    static CommMeta from(const Event& e) {
      return {std::string(e.coll_name), std::string(e.dtype),    std::string(e.pg_name), std::string(e.pg_ranks),
              std::string(e.in_split),  std::string(e.out_split), e.in_nelems,           e.group_size,
              e.seq};
    }
  };

  void apply(NcclOpRow& op, const CommMeta& m) {
    op.func = normalise_collective(m.coll);
    op.count = m.in_nelems.value_or(0);
    if (!m.dtype.empty()) op.dtype = m.dtype;
    int size = m.dtype.empty() ? 0 : dtype_size(m.dtype);
    if (!m.dtype.empty() && size == 0) ++unknown_dtype_;
    std::int64_t elems = m.in_nelems.value_or(0);
    if (elems <= 0) elems = split_sum(m.in_split);
    if (__builtin_mul_overflow(elems, static_cast<std::int64_t>(size), &op.bytes) || op.bytes < 0) op.bytes = 0;
    if (m.group_size && *m.group_size > 0 && *m.group_size < std::numeric_limits<int>::max())
      op.nranks = static_cast<int>(*m.group_size);
    if (!m.pg_name.empty()) op.pg_name = op.comm_hash = m.pg_name;
    // PyTorch's per-process-group "Seq", for collectives only (point-to-point ops may count
    // on their own): the key that aligns a collective across ranks.
    if (m.seq && *m.seq >= 0 && !m.pg_name.empty() && op.func != "Send" && op.func != "Recv" && op.func != "SendRecv")
      op.seq = *m.seq;
    if (!m.pg_ranks.empty()) op.pg_ranks = m.pg_ranks;
    if (is_list(m.in_split)) op.in_splits = m.in_split;
    if (is_list(m.out_split)) op.out_splits = m.out_split;
  }

  // Comm kernels without metadata get it from the record_param_comms op that
  // encloses their launch call on the same thread (older PyTorch put it only there).
  void attach_param_comms(NcclOpRow& op, std::int64_t corr) {
    if (op.dtype || rpc_.empty() || corr == 0) return;
    auto l = launch_.find(corr);
    if (l == launch_.end()) return;
    const auto& [tid, at] = l->second;
    const Rpc* best = nullptr;
    for (const auto& r : rpc_)  // few (one per collective call): a scan is fine
      if (r.tid == tid && r.start <= at && at <= r.end && (!best || r.start > best->start)) best = &r;
    if (best) {
      apply(op, best->meta);
      ++rpc_attached_;
    }
  }

  // A non-empty "[a, b, ...]" list.
  static bool is_list(std::string_view s) {
    return s.size() > 2 && s.front() == '[' && s.find_first_not_of("[] \t") != std::string_view::npos;
  }
  static std::int64_t split_sum(std::string_view s) {
    std::int64_t sum = 0, cur = 0;
    bool in = false;
    for (char c : s) {
      if (c >= '0' && c <= '9') {
        if (__builtin_mul_overflow(cur, 10, &cur) || __builtin_add_overflow(cur, c - '0', &cur)) return 0;
        in = true;
      } else if (in) {
        if (__builtin_add_overflow(sum, cur, &sum)) return 0;
        cur = 0, in = false;
      }
    }
    if (in && __builtin_add_overflow(sum, cur, &sum)) return 0;
    return sum;
  }

  // NCCL ops wait for the end of the file: their enqueue time is the start of the
  // launch call with the same correlation id, which may come later in the file.
  void add_nccl(NcclOpRow op) {
    op.kernel_id = kernels_;  // the kernel just added: apply_batch adds the writer's base
    nccl_.push_back(std::move(op));
    nccl_corr_.push_back(last_corr_);
  }

  void pend(Pending p) { pending_.push_back(std::move(p)); }

  void resolve_pending() {
    if (pending_.empty()) return;
    std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t, bool>, std::int64_t> by_site;
    for (const auto& f : flows_) by_site.emplace(std::make_tuple(f.pid, f.tid, f.ts_raw, f.start), f.id);
    for (auto& p : pending_) {
      auto it = by_site.find({p.pid, p.tid, p.ts_raw, p.kind == Pending::Api});
      std::int64_t corr = it == by_site.end() ? 0 : it->second;
      if (!corr) ++uncorrelated_;
      switch (p.kind) {
        case Pending::Kernel:
          p.k.correlation = corr;
          add(p.k);
          last_corr_ = corr;
          if (p.nccl) add_nccl(*p.nccl);
          break;
        case Pending::Memcpy: p.m.correlation = corr; add(p.m); break;
        case Pending::Memset: p.s.correlation = corr; add(p.s); break;
        case Pending::Api: p.a.correlation = corr; add(p.a); break;
      }
    }
  }

  std::filesystem::path file_;
  std::optional<int> rank_option_;
  const BatchSink& sink_;
  RowBatch cur_;
  std::uint64_t done_ = 0, total_ = 0;
  bool stopped_ = false;
  std::int64_t kernels_ = 0;    // kernels sent so far (NCCL ops' kernel ordinal)
  std::deque<std::string> texts_;  // the interned texts (stable addresses: keys of strings_)
  TraceMeta meta_;
  RankId rank_;
  std::int64_t base_ = 0, host_pid_ = 0;
  std::optional<std::int64_t> device_;
  std::map<std::int64_t, std::string> thread_names_;  // tid -> thread_name metadata
  std::unordered_map<std::string_view, StringId> strings_;
  std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> steps_;
  struct MoeStepSpan {
    std::int64_t start = 0, end = 0;
    std::optional<std::int64_t> tokens;
  };
  struct MoeRouteMark {
    std::int64_t time = 0;
    int layer = 0;
    std::vector<std::int64_t> tokens;
    std::optional<std::int64_t> step;  // step=S of the mark text
  };
  std::map<std::int64_t, MoeStepSpan> moe_steps_;
  std::vector<MoeRouteMark> routes_;
  std::vector<Flow> flows_;
  std::vector<Pending> pending_;
  std::vector<NcclOpRow> nccl_;
  std::vector<std::int64_t> nccl_corr_;
  // Launch calls: correlation -> (tid, start ns).
  std::unordered_map<std::int64_t, std::pair<std::int64_t, std::int64_t>> launch_;
  struct Rpc {
    std::int64_t tid, start, end;
    CommMeta meta;
  };
  std::vector<Rpc> rpc_;  // record_param_comms ops that carry metadata
  std::int64_t rpc_attached_ = 0;
  std::int64_t last_corr_ = 0;
  std::int64_t ignored_ = 0, missing_dur_ = 0, negative_dur_ = 0, absurd_dur_ = 0, skipped_ = 0, gpu_skipped_ = 0,
               unknown_dtype_ = 0, uncorrelated_ = 0;
};

}  // namespace

Expected<void> map_file(const std::filesystem::path& file, std::optional<int> rank_option, const BatchSink& sink,
                        ParseScratch& scratch) {
  struct Trim {  // whatever way this returns, big buffers are not kept
    ParseScratch& s;
    ~Trim() { s.trim(); }
  } trim{scratch};
  auto json = load_json(file, scratch);
  if (!json) return json.error();
  Mapper mapper(file, rank_option, sink);
  auto r = parse_trace(
      file, json->view(), scratch.parser, [&](const TraceMeta& m) { return mapper.start(m); },
      [&](const Event& e) { return mapper.event(e); },
      [&](std::uint64_t done, std::uint64_t total) { mapper.progress(done, total); });
  if (!r) return r;
  if (!mapper.stopped()) mapper.finish();
  return {};
}

}  // namespace kineto
}  // namespace moetune::import
