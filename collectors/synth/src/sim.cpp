// SPDX-License-Identifier: Apache-2.0
#include "sim.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace moetune::synth {
namespace {
constexpr std::int64_t kLaunchLeadNs = 1'000'000;  // host runs at most ~1 ms ahead of the GPU
constexpr std::int64_t kLaunchLatencyNs = 2'000;   // api end -> earliest kernel start
}  // namespace

Sim::Sim(Times tids, std::uint64_t seed, std::int64_t t0, TraceWriter& w, Summary& sum)
    : n_(static_cast<int>(tids.size())), tid_(std::move(tids)), seed_(seed), rng_(seed * 0x2545F4914F6CDD1DULL + 7), w_(w), sum_(sum) {
  launch_api_ = w.intern("cudaLaunchKernel");
  sync_api_ = w.intern("cudaDeviceSynchronize");
  memcpy_api_ = w.intern("cudaMemcpyAsync");
  moe_domain_ = w.intern("moe");
  host_.assign(n_, t0);
  comp_free_.assign(n_, t0);
  comm_free_.assign(n_, t0);
  corr_.assign(n_, 0);
  open_.resize(n_);
}

std::int64_t Sim::launch(int r, int stream, StringId api) {
  (void)stream;
  host_[r] += launch_overhead_;
  std::int64_t start = std::max(host_[r], comp_free_[r] - kLaunchLeadNs);
  std::int64_t dur = 3000 + static_cast<std::int64_t>(rng_.uniform() * 1000);
  ApiCallRow a;
  a.rank = RankId(r);
  a.start_ns = start;
  a.dur_ns = dur;
  a.name = api;
  a.kind = ApiKind::Runtime;
  a.correlation = ++corr_[r];
  a.tid = tid_[r];
  w_.add(a);
  ++sum_.api_calls;
  host_[r] = start + dur + 500;
  return start + dur;
}

Times Sim::kernel(int stream, StringId name, const Times& dur, const Times* dep, std::int64_t grid,
                  std::int64_t block) {
  Times end(n_);
  for (int r = 0; r < n_; ++r) {
    std::int64_t api_end = launch(r, stream, launch_api_);
    auto& free = stream == kCommStream ? comm_free_[r] : comp_free_[r];
    std::int64_t start = std::max({api_end + kLaunchLatencyNs, free, dep ? (*dep)[r] : 0});
    KernelRow k;
    k.rank = RankId(r);
    k.stream = StreamId(stream);
    k.start_ns = start;
    k.dur_ns = std::max<std::int64_t>(dur[r], 1000);
    k.name = name;
    k.correlation = corr_[r];
    k.grid = grid;
    k.block = block;
    w_.add(k);
    ++sum_.kernels;
    free = end[r] = k.end_ns();
  }
  return end;
}

Times Sim::collective(int stream, StringId name, const CollOp& op, std::int64_t transfer, const Times* dep) {
  Times arrive(n_), enq(n_);
  for (int r = 0; r < n_; ++r) {
    enq[r] = launch(r, stream, launch_api_) - 3000;
    auto& free = stream == kCommStream ? comm_free_[r] : comp_free_[r];
    arrive[r] = std::max({enq[r] + 3000 + kLaunchLatencyNs, free, dep ? (*dep)[r] : 0});
  }
  std::int64_t done = *std::max_element(arrive.begin(), arrive.end()) + transfer;
  std::int64_t seq = 0;
  auto it = std::find_if(comm_seq_.begin(), comm_seq_.end(), [&](const auto& p) { return p.first == op.comm; });
  if (it == comm_seq_.end()) {
    comm_seq_.emplace_back(op.comm, 1);
  } else {
    seq = it->second++;
  }
  Times end(n_);
  char comm_hash[24];  // stable per (seed, communicator), printed like NCCL's commHash
  std::uint64_t h = seed_ ^ 0xcbf29ce484222325ULL;
  for (char ch : op.comm) h = (h ^ static_cast<unsigned char>(ch)) * 0x100000001b3ULL;
  std::snprintf(comm_hash, sizeof comm_hash, "0x%016llx", static_cast<unsigned long long>(h));
  if (!ranks_list_) {  // [0, 1, ..., n-1], one copy shared by every op
    std::vector<std::int64_t> all(static_cast<std::size_t>(n_));
    for (int r = 0; r < n_; ++r) all[static_cast<std::size_t>(r)] = r;
    ranks_list_ = OpList::of(all);
  }
  for (int r = 0; r < n_; ++r) {
    // the last rank to arrive ends the op; others finish within a few us of each other
    end[r] = done + static_cast<std::int64_t>(rng_.uniform() * std::min(2000.0, 0.01 * static_cast<double>(transfer)));
    KernelRow k;
    k.rank = RankId(r);
    k.stream = StreamId(stream);
    k.start_ns = arrive[r];
    k.dur_ns = end[r] - arrive[r];
    k.name = name;
    k.correlation = corr_[r];
    k.grid = pack_dim3(op.channels, 1, 1);
    k.block = pack_dim3(640, 1, 1);
    w_.add(k);
    ++sum_.kernels;
    NcclOpRow o;
    o.rank = RankId(r);
    o.comm_hash = comm_hash;
    o.seq = seq;
    o.func = op.func;
    if (!op.algo.empty()) o.algo = op.algo;
    if (!op.proto.empty()) o.proto = op.proto;
    o.channels = op.channels;
    o.count = op.count[r];
    o.dtype = op.dtype;
    o.bytes = op.bytes[r];
    o.nranks = n_;
    o.enqueue_ns = enq[r];
    o.start_ns = k.start_ns;
    o.end_ns = end[r];
    o.stream = stream;
    o.kernel_id = w_.last_kernel_id();
    if (!op.in_splits.empty()) o.in_splits = op.in_splits[r], o.out_splits = op.out_splits[r];
    o.pg_name = op.comm;
    o.pg_ranks = ranks_list_;
    w_.add(o);
    ++sum_.nccl_ops;
    (stream == kCommStream ? comm_free_[r] : comp_free_[r]) = end[r];
  }
  return end;
}

Times Sim::memcpy(int stream, CopyKind kind, std::int64_t bytes, double gbps) {
  Times end(n_);
  for (int r = 0; r < n_; ++r) {
    std::int64_t api_end = launch(r, stream, memcpy_api_);
    auto& free = stream == kCommStream ? comm_free_[r] : comp_free_[r];
    MemcpyRow m;
    m.rank = RankId(r);
    m.stream = StreamId(stream);
    m.start_ns = std::max(api_end + kLaunchLatencyNs, free);
    m.dur_ns = static_cast<std::int64_t>(static_cast<double>(bytes) / gbps);
    m.bytes = bytes;
    m.kind = kind;
    m.correlation = corr_[r];
    w_.add(m);
    free = end[r] = m.end_ns();
  }
  return end;
}

void Sim::device_sync(int r) {
  std::int64_t start = host_[r];
  std::int64_t until = std::max({start + 2000, comp_free_[r], comm_free_[r]}) + 4000;
  ApiCallRow a;
  a.rank = RankId(r);
  a.tid = tid_[r];
  a.start_ns = start;
  a.dur_ns = until - start;
  a.name = sync_api_;
  a.kind = ApiKind::Runtime;
  a.correlation = ++corr_[r];
  w_.add(a);
  ++sum_.api_calls;
  host_[r] = until + 500;
}

void Sim::range_begin() {
  for (int r = 0; r < n_; ++r) open_[r].push_back(host_[r]);
}

void Sim::range_end(StringId name) {
  for (int r = 0; r < n_; ++r) {
    NvtxRow v;
    v.rank = RankId(r);
    v.tid = tid_[r];
    v.start_ns = open_[r].back();
    open_[r].pop_back();
    v.dur_ns = host_[r] - v.start_ns;
    v.name = name;
    v.domain = moe_domain_;
    w_.add(v);
    ++sum_.nvtx;
  }
}

void Sim::mark(int r, StringId name) {
  NvtxRow v;
  v.rank = RankId(r);
  v.tid = tid_[r];
  v.start_ns = host_[r];
  v.dur_ns = 0;
  v.name = name;
  v.domain = moe_domain_;
  w_.add(v);
  ++sum_.nvtx;
  host_[r] += 300;
}

}  // namespace moetune::synth
