// SPDX-License-Identifier: Apache-2.0
#include "moetune/export/chrome_export.h"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <unistd.h>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace moetune::exporters {
namespace {

// Buffered output with the few JSON primitives the exporter needs; to a FILE or, for
// .gz, through zlib (one 1 MiB buffer either way: memory does not grow with the run).
class Out {
 public:
  explicit Out(std::FILE* f, gzFile gz = nullptr) : f_(f), gz_(gz) { buf_.reserve(1 << 20); }
  ~Out() { flush(); }
  void raw(std::string_view s) {
    buf_.append(s);
    if (buf_.size() > (1 << 20)) flush();
  }
  void num(std::int64_t v) {
    char b[24];
    auto [p, ec] = std::to_chars(b, b + sizeof b, v);
    (void)ec;
    buf_.append(b, p);
  }
  // ns as microseconds with three decimals, exact
  void us(std::int64_t ns) {
    if (ns < 0) buf_ += '-', ns = -ns;
    num(ns / 1000);
    char d[4] = {'.', static_cast<char>('0' + ns / 100 % 10), static_cast<char>('0' + ns / 10 % 10),
                 static_cast<char>('0' + ns % 10)};
    buf_.append(d, 4);
  }
  void str(std::string_view s) {
    buf_ += '"';
    for (char c : s) {
      auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        buf_ += '\\';
        buf_ += c;
      } else if (u < 0x20) {
        char e[8];
        std::snprintf(e, sizeof e, "\\u%04x", u);
        buf_ += e;
      } else {
        buf_ += c;
      }
    }
    buf_ += '"';
  }
  void flush() {
    if (!buf_.empty()) {
      const bool ok = gz_ ? gzwrite(gz_, buf_.data(), static_cast<unsigned>(buf_.size())) == static_cast<int>(buf_.size())
                          : std::fwrite(buf_.data(), 1, buf_.size(), f_) == buf_.size();
      if (!ok) failed_ = true;
    }
    written_ += static_cast<std::int64_t>(buf_.size());
    buf_.clear();
  }
  bool failed() const { return failed_; }
  std::int64_t written() const { return written_; }

 private:
  std::FILE* f_;
  gzFile gz_;
  std::string buf_;
  bool failed_ = false;
  std::int64_t written_ = 0;
};

enum class Kind : std::uint8_t { Kernel, Memcpy, Memset, Api, Nvtx, Nccl, Step, Finding };

struct Ev {
  std::int64_t start, dur;
  Kind kind;
  std::uint32_t index;  // into the rank's vector of that kind
};

// One track group: events that belong on one timeline row before lane splitting.
struct Group {
  std::string name;
  std::int64_t tid = 0;
  std::vector<Ev> events;
};

// Assigns each event (sorted by start, longer first) the first lane where it nests.
std::vector<int> assign_lanes(const std::vector<Ev>& evs, int& lanes_out) {
  std::vector<std::vector<std::int64_t>> open;  // per lane: stack of end times
  std::vector<int> lane(evs.size());
  for (std::size_t i = 0; i < evs.size(); ++i) {
    const std::int64_t s = evs[i].start, e = evs[i].start + evs[i].dur;
    std::size_t k = 0;
    for (;; ++k) {
      if (k == open.size()) open.emplace_back();
      auto& st = open[k];
      while (!st.empty() && st.back() <= s) st.pop_back();
      if (st.empty() || e <= st.back()) {
        st.push_back(e);
        break;
      }
    }
    lane[i] = static_cast<int>(k);
  }
  lanes_out = static_cast<int>(open.size());
  return lane;
}

const char* copy_kind(CopyKind k) {
  switch (k) {
    case CopyKind::HtoD: return "HtoD";
    case CopyKind::DtoH: return "DtoH";
    case CopyKind::DtoD: return "DtoD";
    case CopyKind::PtoP: return "PtoP";
    default: return "unknown";
  }
}

void dim3(Out& o, const char* key, std::int64_t packed) {
  const std::int64_t m = (1 << 21) - 1;
  o.raw(",\"");
  o.raw(key);
  o.raw("\":[");
  o.num(packed & m);
  o.raw(",");
  o.num((packed >> 21) & m);
  o.raw(",");
  o.num((packed >> 42) & m);
  o.raw("]");
}

}  // namespace

namespace {

const char* kineto_collective(const std::string& func) {
  if (func == "AllToAll") return "all_to_allv";
  if (func == "AllReduce") return "allreduce";
  if (func == "AllGather") return "_allgather_base";
  if (func == "ReduceScatter") return "_reduce_scatter_base";
  if (func == "Broadcast") return "broadcast";
  if (func == "Reduce") return "reduce";
  if (func == "Send") return "send";
  if (func == "Recv") return "recv";
  return nullptr;
}

// Writes one rank's tracks. `first` tracks the comma between array elements.
class RankWriter {
 public:
  RankWriter(TraceReader& r, Out& o, ChromeExportStats& st, bool& first, std::int64_t base, std::int64_t& next_tid)
      : r_(r), o_(o), st_(st), first_(first), base_(base), next_tid_(next_tid) {}

  // Fails (writing nothing) when a table of the rank cannot be read.
  Expected<void> write(const RankRow& rank, std::int64_t pid, bool flows, const std::vector<ChromeAnnotation>& ann) {
    ann_ = &ann;
    RankId id = rank.rank;
    pid_ = pid;
    device_ = rank.device;
    std::string error;
    auto take = [&error](auto&& rows, auto& into) {
      if (!rows) error = error.empty() ? rows.error().message : error;
      else into = std::move(*rows);
    };
    take(r_.kernels(id), kernels_);
    take(r_.memcpys(id), memcpys_);
    take(r_.memsets(id), memsets_);
    take(r_.api_calls(id), apis_);
    take(r_.nvtx(id), nvtx_);
    take(r_.nccl_ops(id), nccl_);
    take(r_.steps(id), steps_);
    if (!error.empty()) return Error{error};
    for (std::size_t i = 0; i < nccl_.size(); ++i)
      if (nccl_[i].kernel_id) op_of_kernel_[*nccl_[i].kernel_id] = i;

    meta("process_name", -1, "rank " + std::to_string(id.value) + " (" + rank.host + ", pid " +
                                 std::to_string(rank.pid) + ", " + rank.gpu_name + ")");
    meta("process_sort_index", -1, "", id.value);
    for (std::size_t i = 0; i < kernels_.size(); ++i)
      add(stream_group(kernels_[i].stream.value), kernels_[i].start_ns, kernels_[i].dur_ns, Kind::Kernel, i);
    for (std::size_t i = 0; i < memcpys_.size(); ++i)
      add(stream_group(memcpys_[i].stream.value), memcpys_[i].start_ns, memcpys_[i].dur_ns, Kind::Memcpy, i);
    for (std::size_t i = 0; i < memsets_.size(); ++i)
      add(stream_group(memsets_[i].stream.value), memsets_[i].start_ns, memsets_[i].dur_ns, Kind::Memset, i);
    for (std::size_t i = 0; i < apis_.size(); ++i)
      add(thread_group(apis_[i].tid), apis_[i].start_ns, apis_[i].dur_ns, Kind::Api, i);
    for (std::size_t i = 0; i < nvtx_.size(); ++i)
      add(nvtx_[i].tid == 0 ? named_group("gpu annotations") : thread_group(nvtx_[i].tid), nvtx_[i].start_ns,
          nvtx_[i].dur_ns, Kind::Nvtx, i);
    for (std::size_t i = 0; i < nccl_.size(); ++i)
      if (!nccl_[i].kernel_id) add(named_group("nccl ops"), nccl_[i].start_ns, nccl_[i].dur_ns(), Kind::Nccl, i);
    for (std::size_t i = 0; i < steps_.size(); ++i)
      add(named_group("steps"), steps_[i].start_ns, steps_[i].end_ns - steps_[i].start_ns, Kind::Step, i);
    for (std::size_t i = 0; i < ann.size(); ++i)
      if (ann[i].rank == id.value)
        add(named_group("moetune findings"), ann[i].start_ns, ann[i].end_ns - ann[i].start_ns, Kind::Finding, i);
    kernel_tid_.assign(kernels_.size(), 0);
    api_tid_.assign(apis_.size(), 0);
    for (auto& [key, g] : groups_) emit(g);
    if (flows) write_flows(id.value);
    return {};
  }

 private:
  Group& stream_group(std::int64_t s) {
    auto& g = groups_[{0, s}];
    if (g.name.empty()) g.name = "stream " + std::to_string(s), g.tid = s;
    return g;
  }
  Group& thread_group(std::int64_t t) {
    auto& g = groups_[{1, t}];
    if (g.name.empty()) {
      g.name = "thread " + std::to_string(t);
      // a host thread id equal to a stream id would merge two tracks: give it a fresh tid
      g.tid = groups_.count({0, t}) ? next_tid_++ : t;
    }
    return g;
  }
  Group& named_group(const std::string& name) {
    auto& g = groups_[{2, static_cast<std::int64_t>(std::hash<std::string>{}(name) & 0xffff)}];
    if (g.name.empty()) g.name = name, g.tid = next_tid_++;
    return g;
  }
  void add(Group& g, std::int64_t start, std::int64_t dur, Kind k, std::size_t i) {
    g.events.push_back({start, std::max<std::int64_t>(dur, 0), k, static_cast<std::uint32_t>(i)});
  }

  void comma() {
    if (!first_) o_.raw(",\n");
    first_ = false;
  }
  void meta(const char* what, std::int64_t tid, const std::string& name, std::int64_t sort = -1) {
    comma();
    o_.raw("{\"ph\":\"M\",\"name\":\"");
    o_.raw(what);
    o_.raw("\",\"pid\":");
    o_.num(pid_);
    if (tid >= 0) o_.raw(",\"tid\":"), o_.num(tid);
    o_.raw(",\"args\":{");
    if (sort >= 0) o_.raw("\"sort_index\":"), o_.num(sort);
    else o_.raw("\"name\":"), o_.str(name);
    o_.raw("}}");
  }

  // ac2g flows: launch API call -> kernel with the same correlation id (ids unique per run).
  void write_flows(std::int64_t rank) {
    std::unordered_map<std::int64_t, std::size_t> api_of;
    for (std::size_t i = 0; i < apis_.size(); ++i)
      if (apis_[i].correlation > 0) api_of.emplace(apis_[i].correlation, i);
    for (std::size_t i = 0; i < kernels_.size(); ++i) {
      auto it = api_of.find(kernels_[i].correlation);
      if (kernels_[i].correlation <= 0 || it == api_of.end()) continue;
      const std::int64_t id = (rank << 40) | kernels_[i].correlation;
      flow('s', id, api_tid_[it->second], apis_[it->second].start_ns);
      flow('f', id, kernel_tid_[i], kernels_[i].start_ns);
      ++st_.flows;
    }
  }
  void flow(char ph, std::int64_t id, std::int64_t tid, std::int64_t ts) {
    comma();
    o_.raw(ph == 's' ? "{\"ph\":\"s\"" : "{\"ph\":\"f\",\"bp\":\"e\"");
    o_.raw(",\"cat\":\"ac2g\",\"name\":\"ac2g\",\"id\":");
    o_.num(id);
    o_.raw(",\"pid\":");
    o_.num(pid_);
    o_.raw(",\"tid\":");
    o_.num(tid);
    o_.raw(",\"ts\":");
    o_.us(ts - base_);
    o_.raw("}");
  }

  void emit(Group& g) {
    std::sort(g.events.begin(), g.events.end(), [](const Ev& a, const Ev& b) {
      return a.start != b.start ? a.start < b.start : a.dur > b.dur;
    });
    int lanes = 0;
    auto lane = assign_lanes(g.events, lanes);
    std::vector<std::int64_t> tids(lanes);
    for (int k = 0; k < lanes; ++k) {
      tids[k] = k == 0 ? g.tid : next_tid_++;
      meta("thread_name", tids[k], k == 0 ? g.name : g.name + " (lane " + std::to_string(k + 1) + ")");
      meta("thread_sort_index", tids[k], "", sort_++);
    }
    st_.tracks += lanes;
    st_.extra_lanes += lanes - 1;
    for (std::size_t i = 0; i < g.events.size(); ++i) {
      const Ev& e = g.events[i];
      if (e.kind == Kind::Kernel) kernel_tid_[e.index] = tids[lane[i]];
      if (e.kind == Kind::Api) api_tid_[e.index] = tids[lane[i]];
      event(e, tids[lane[i]]);
    }
  }

  void head(const char* cat, std::string_view name, std::int64_t tid, std::int64_t start, std::int64_t dur) {
    comma();
    o_.raw("{\"ph\":\"X\",\"cat\":\"");
    o_.raw(cat);
    o_.raw("\",\"name\":");
    o_.str(name);
    o_.raw(",\"pid\":");
    o_.num(pid_);
    o_.raw(",\"tid\":");
    o_.num(tid);
    o_.raw(",\"ts\":");
    o_.us(start - base_);
    o_.raw(",\"dur\":");
    o_.us(dur);
    o_.raw(",\"args\":{");
    ++st_.events;
  }
  void kv(const char* k, std::int64_t v, bool lead = true) {
    if (lead) o_.raw(",");
    o_.raw("\"");
    o_.raw(k);
    o_.raw("\":");
    o_.num(v);
  }
  void ks(const char* k, std::string_view v) {
    o_.raw(",\"");
    o_.raw(k);
    o_.raw("\":");
    o_.str(v);
  }

  void event(const Ev& e, std::int64_t tid) {
    switch (e.kind) {
      case Kind::Kernel: {
        const auto& k = kernels_[e.index];
        head("kernel", r_.str(k.name), tid, k.start_ns, k.dur_ns);
        kv("device", device_, false), kv("stream", k.stream.value), kv("correlation", k.correlation);
        kv("kernel_id", k.id);
        if (k.grid) dim3(o_, "grid", k.grid);
        if (k.block) dim3(o_, "block", k.block);
        if (auto it = op_of_kernel_.find(k.id); it != op_of_kernel_.end()) nccl_args(nccl_[it->second]);
        ++st_.kernels;
        break;
      }
      case Kind::Memcpy: {
        const auto& m = memcpys_[e.index];
        head("gpu_memcpy", std::string("Memcpy ") + copy_kind(m.kind), tid, m.start_ns, m.dur_ns);
        kv("device", device_, false), kv("stream", m.stream.value), kv("correlation", m.correlation);
        kv("bytes", m.bytes);
        break;
      }
      case Kind::Memset: {
        const auto& m = memsets_[e.index];
        head("gpu_memset", "Memset (Device)", tid, m.start_ns, m.dur_ns);
        kv("device", device_, false), kv("stream", m.stream.value), kv("correlation", m.correlation);
        kv("bytes", m.bytes);
        break;
      }
      case Kind::Api: {
        const auto& a = apis_[e.index];
        head(a.kind == ApiKind::Driver ? "cuda_driver" : a.kind == ApiKind::Sync ? "cuda_sync" : "cuda_runtime",
             r_.str(a.name), tid, a.start_ns, a.dur_ns);
        kv("correlation", a.correlation, false);
        break;
      }
      case Kind::Nvtx: {
        const auto& n = nvtx_[e.index];
        head(n.tid == 0 ? "gpu_user_annotation" : "user_annotation", r_.str(n.name), tid, n.start_ns, n.dur_ns);
        o_.raw("\"domain\":");
        o_.str(r_.str(n.domain));
        if (n.payload) ks("payload", *n.payload);
        break;
      }
      case Kind::Nccl: {
        const auto& n = nccl_[e.index];
        head("nccl", n.func, tid, n.start_ns, n.dur_ns());
        o_.raw("\"func\":");
        o_.str(n.func);
        nccl_args(n);
        break;
      }
      case Kind::Step: {
        const auto& s = steps_[e.index];
        head("user_annotation", "ProfilerStep#" + std::to_string(s.step), tid, s.start_ns, s.end_ns - s.start_ns);
        kv("step", s.step, false);
        if (s.tokens) kv("tokens", *s.tokens);
        break;
      }
      case Kind::Finding: {
        const auto& a = (*ann_)[e.index];
        head("moetune_finding", a.name, tid, a.start_ns, a.end_ns - a.start_ns);
        o_.raw(a.args);
        break;
      }
    }
    o_.raw("}}");
  }

  void nccl_args(const NcclOpRow& n) {
    if (const char* c = kineto_collective(n.func)) ks("Collective name", c);
    else ks("Collective name", n.func);
    kv("In msg nelems", n.count);
    kv("Out msg nelems", n.count);
    if (n.dtype) ks("dtype", *n.dtype);
    if (n.nranks > 0) kv("Group size", n.nranks);
    if (n.in_splits) ks("In split size", *n.in_splits);
    if (n.out_splits) ks("Out split size", *n.out_splits);
    if (n.pg_name) ks("Process Group Name", *n.pg_name);
    if (n.pg_ranks) ks("Process Group Ranks", *n.pg_ranks);
    if (n.comm_hash) ks("comm_hash", *n.comm_hash);
    kv("seq", n.seq);
    if (n.algo) ks("algo", *n.algo);
    if (n.proto) ks("proto", *n.proto);
    kv("channels", n.channels);
    kv("payload_bytes", n.bytes);
    if (n.peer >= 0) kv("peer", n.peer);
    if (n.root >= 0) kv("root", n.root);
  }

  TraceReader& r_;
  Out& o_;
  ChromeExportStats& st_;
  bool& first_;
  std::int64_t base_, pid_ = 0, device_ = -1, sort_ = 0;
  std::int64_t& next_tid_;
  const std::vector<ChromeAnnotation>* ann_ = nullptr;
  std::vector<KernelRow> kernels_;
  std::vector<MemcpyRow> memcpys_;
  std::vector<MemsetRow> memsets_;
  std::vector<ApiCallRow> apis_;
  std::vector<NvtxRow> nvtx_;
  std::vector<NcclOpRow> nccl_;
  std::vector<StepRow> steps_;
  std::unordered_map<std::int64_t, std::size_t> op_of_kernel_;
  std::vector<std::int64_t> kernel_tid_, api_tid_;  // track each event landed on
  std::map<std::pair<int, std::int64_t>, Group> groups_;
};

}  // namespace

Expected<ChromeExportStats> export_chrome(TraceReader& r, const std::filesystem::path& out,
                                          const ChromeExportOptions& opts) {
  auto all_ranks = r.ranks();
  if (!all_ranks) return all_ranks.error();
  auto range = r.time_range();
  if (!range) return range.error();
  std::vector<RankRow> ranks = *all_ranks;
  if (opts.rank) {
    auto it = std::find_if(ranks.begin(), ranks.end(), [&](const RankRow& k) { return k.rank.value == *opts.rank; });
    if (it == ranks.end()) return Error{r.path().string() + ": no rank " + std::to_string(*opts.rank) + " in the run"};
    ranks = {*it};
  }
  const bool to_stdout = out == "-";
  const std::string ext = out.extension().string();
  const bool gz = !to_stdout && (ext == ".gz" || ext == ".GZ");
  auto tmp = out;
  tmp += ".tmp";
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(to_stdout ? stdout : std::fopen(tmp.c_str(), "wb"),
                                                   to_stdout ? +[](std::FILE*) { return 0; } : &std::fclose);
  if (!f) return Error{out.string() + ": cannot write the output file"};
  gzFile gzf = nullptr;
  if (gz) {
    gzf = gzdopen(dup(fileno(f.get())), "wb6");
    if (!gzf) return Error{out.string() + ": cannot start gzip compression"};
    gzbuffer(gzf, 1 << 18);
  }
  const std::int64_t t0 = range->first;
  ChromeExportStats st;
  {
    Out o(f.get(), gzf);
    o.raw("{\"schemaVersion\":1,\"displayTimeUnit\":\"ns\",\"baseTimeNanoseconds\":");
    o.num(t0);
    if (opts.rank) {
      const auto& k = ranks.front();
      o.raw(",\n\"distributedInfo\":{\"backend\":\"nccl\",\"rank\":");
      o.num(k.rank.value);
      o.raw(",\"world_size\":");
      o.num(static_cast<std::int64_t>(all_ranks->size()));
      o.raw("},\n\"deviceProperties\":[{\"id\":");
      o.num(std::max(k.device, 0));
      o.raw(",\"name\":");
      o.str(k.gpu_name);
      o.raw(",\"totalGlobalMem\":");
      o.num(k.memory_bytes);
      o.raw(",\"numSms\":");
      o.num(k.sm_count);
      auto dot = k.compute_cap.find('.');
      if (dot != std::string::npos) {
        o.raw(",\"computeMajor\":");
        o.raw(k.compute_cap.substr(0, dot));
        o.raw(",\"computeMinor\":");
        o.raw(k.compute_cap.substr(dot + 1));
      }
      o.raw("}]");
    }
    o.raw(",\n\"traceEvents\":[\n");
    bool first = true;
    std::int64_t next_tid = 1'000'000'000;
    std::string read_error;
    for (const auto& k : ranks) {
      RankWriter w(r, o, st, first, t0, next_tid);
      if (auto e = w.write(k, opts.rank ? k.pid : k.rank.value, opts.flows, opts.annotations); !e) {
        read_error = e.error().message;
        break;
      }
    }
    if (!read_error.empty()) {
      if (gzf) gzclose(gzf);
      f.reset();
      std::error_code ec;
      if (!to_stdout) std::filesystem::remove(tmp, ec);  // never leave a partial file behind
      return Error{read_error};
    }
    o.raw("\n]}\n");
    o.flush();
    st.bytes = o.written();  // uncompressed JSON bytes
    bool failed = o.failed();
    if (gzf && gzclose(gzf) != Z_OK) failed = true;
    if (to_stdout) return failed || std::fflush(stdout) != 0 ? Expected<ChromeExportStats>(Error{"stdout: write failed"})
                                                           : Expected<ChromeExportStats>(st);
    if (failed) {
      f.reset();
      std::error_code ec;
      std::filesystem::remove(tmp, ec);  // never leave a partial file behind
      return Error{out.string() + ": write failed (disk full?)"};
    }
  }
  std::error_code ec;
  if (std::fclose(f.release()) != 0) {
    std::filesystem::remove(tmp, ec);
    return Error{out.string() + ": write failed"};
  }
  std::filesystem::rename(tmp, out, ec);
  if (ec) return Error{out.string() + ": cannot rename the output into place: " + ec.message()};
  return st;
}

}  // namespace moetune::exporters
