// SPDX-License-Identifier: Apache-2.0
// Kineto rows from parser threads to the writer: BatchApplier (the writer's side of a
// file), import_one (sequential) and Prefetch (parallel), see kineto_pipeline.h.
#include "kineto_pipeline.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace moetune::import {
namespace kineto {

BatchApplier::BatchApplier(const std::filesystem::path& file, TraceWriter& w, ImportContext& ctx)
    : file_(file), w_(w), ctx_(ctx), kernel_base_(w.last_kernel_id()) {}

void BatchApplier::apply(RowBatch& b) {
  if (b.claim_rank) {
    auto r = ctx_.claim_rank(*b.claim_rank, file_);
    if (!r) error_ = r.error();
  }
  if (error_) return;  // the file's rows are dropped; the import fails with error_
  for (const auto& s : b.strings) ids_.push_back(w_.intern(s));
  auto id = [this](StringId s) { return ids_[static_cast<std::size_t>(s.value)]; };
  for (auto& k : b.kernels) k.name = id(k.name);
  w_.add_kernels(b.kernels);
  for (const auto& m : b.memcpys) w_.add(m);
  for (const auto& m : b.memsets) w_.add(m);
  for (auto& a : b.api_calls) a.name = id(a.name);
  w_.add_api_calls(b.api_calls);
  for (auto& n : b.nvtx) n.name = id(n.name), n.domain = id(n.domain);
  w_.add_nvtx(b.nvtx);
  for (auto& op : b.nccl) {
    if (op.kernel_id) *op.kernel_id += kernel_base_;
    w_.add(op);
  }
  for (const auto& r : b.ranks) w_.add(r);
  for (const auto& p : b.placements)
    if (ctx_.claim_placement_layer(p.layer))
      for (const auto& row : p.rows) w_.add(row);
  for (const auto& s : b.steps) w_.add(s);
  for (const auto& r : b.routing) w_.add(r);
  for (const auto& s : b.stats) w_.add(s);
  for (const auto& [k, v] : b.meta) w_.set_meta(k, v);
}

Expected<void> import_one(const std::filesystem::path& file, TraceWriter& w, ImportContext& ctx) {
  BatchApplier ap(file, w, ctx);
  ParseScratch scratch;
  // After a failed claim the file is still parsed to the end: a JSON error is reported
  // before a rank error, as ever.
  auto r = map_file(file, ctx.options().rank, [&](RowBatch&& b) {
    ap.apply(b);
    if (b.bytes_total) ctx.report(b.bytes_done, b.bytes_total);
    return true;
  }, scratch);
  if (!r) return r;
  if (ap.error()) return *ap.error();
  return {};
}

namespace {

// Memory a parse of FILE holds: the text (inflated size from a gzip trailer) and
// simdjson's structural index, about as large again.
std::uint64_t parse_cost(const std::filesystem::path& file) {
  std::error_code ec;
  std::uint64_t size = std::filesystem::file_size(file, ec);
  if (ec) return 0;
  std::ifstream in(file, std::ios::binary);
  unsigned char head[2] = {0, 0};
  in.read(reinterpret_cast<char*>(head), 2);
  if (in.gcount() == 2 && head[0] == 0x1f && head[1] == 0x8b && size >= 18) {
    std::uint32_t isize = 0;
    in.seekg(static_cast<std::streamoff>(size - 4));
    in.read(reinterpret_cast<char*>(&isize), 4);  // mod 2^32; little-endian hosts
    size = std::max<std::uint64_t>(isize, size * 4);
  }
  return size * 2;
}

unsigned worker_count(const ImportOptions& opts, std::size_t files) {
  unsigned n = opts.threads;
  if (n == 0) {
    if (const char* env = std::getenv("MOETUNE_IMPORT_THREADS"); env && *env)
      n = static_cast<unsigned>(std::strtoul(env, nullptr, 10));
    if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  }
  if (n <= 1) return 0;  // one core: everything on the caller's thread
  // Even one file gains from one worker: it parses while the caller's thread writes.
  return static_cast<unsigned>(std::min<std::size_t>(n, files));
}

}  // namespace

Prefetch::Prefetch(const std::vector<std::filesystem::path>& files, const ImportOptions& opts)
    : rank_option_(opts.rank) {
  for (const auto& f : files) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(f, ec) || std::filesystem::file_size(f, ec) == 0 || ec) continue;
    if (detect_format(f) != Format::Kineto) continue;
    auto s = std::make_unique<Slot>();
    s->file = f;
    s->cost = parse_cost(f);
    slots_.push_back(std::move(s));
  }
  unsigned n = worker_count(opts, slots_.size());
  for (unsigned i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
}

Prefetch::~Prefetch() {
  {
    std::lock_guard l(mu_);
    cancel_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void Prefetch::work() {
  ParseScratch scratch;  // this thread's buffers, reused for each of its files
  for (;;) {
    Slot* s = nullptr;
    {
      std::unique_lock l(mu_);
      cv_.wait(l, [&] {
        return cancel_ || next_ >= slots_.size() || inflight_ == 0 || inflight_ + slots_[next_]->cost <= kParseBudget;
      });
      if (cancel_ || next_ >= slots_.size()) return;
      s = slots_[next_++].get();
      inflight_ += s->cost;
    }
    auto r = map_file(s->file, rank_option_, [&](RowBatch&& b) {
      std::unique_lock l(mu_);
      cv_.wait(l, [&] { return cancel_ || s->queue.size() < kQueueDepth; });
      if (cancel_) return false;
      s->queue.push_back(std::move(b));
      cv_.notify_all();
      return true;
    }, scratch);
    {
      std::lock_guard l(mu_);
      s->result = std::move(r);
      s->done = true;
      inflight_ -= s->cost;
    }
    cv_.notify_all();
  }
}

Expected<void> Prefetch::import(const std::filesystem::path& file, TraceWriter& w, ImportContext& ctx) {
  if (workers_.empty() || consumed_ >= slots_.size() || slots_[consumed_]->file != file)
    return import_one(file, w, ctx);
  Slot& s = *slots_[consumed_++];
  BatchApplier ap(file, w, ctx);
  for (;;) {
    RowBatch b;
    {
      std::unique_lock l(mu_);
      cv_.wait(l, [&] { return !s.queue.empty() || s.done; });
      if (s.queue.empty()) break;  // done and drained
      b = std::move(s.queue.front());
      s.queue.pop_front();
    }
    cv_.notify_all();
    ap.apply(b);
    if (b.bytes_total) ctx.report(b.bytes_done, b.bytes_total);
  }
  std::lock_guard l(mu_);
  if (!s.result) return s.result;
  if (ap.error()) return *ap.error();
  return {};
}

}  // namespace kineto

Expected<void> import_kineto(const std::filesystem::path& file, TraceWriter& w, ImportContext& ctx) {
  return kineto::import_one(file, w, ctx);
}

}  // namespace moetune::import
