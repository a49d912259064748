// SPDX-License-Identifier: Apache-2.0
#include "nccl_events.h"

#include <cstring>

namespace moetune::nccl {

EventTable::EventTable(std::size_t slots, std::size_t ring_size)
    : ring(ring_size), slots_(slots ? slots : 1), free_(slots_.size()) {
  for (std::size_t i = 0; i < free_.size(); ++i) free_[i] = static_cast<std::uint32_t>(i);
  free_count_ = free_.size();
}

Slot* EventTable::alloc() {
  if (free_count_ == 0) {
    slots_exhausted.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  Slot* s = &slots_[free_[free_head_]];
  free_head_ = (free_head_ + 1) % free_.size();
  --free_count_;
  *s = Slot{};
  return s;
}

void EventTable::release(Slot* s) {
  s->kind = Kind::None;
  s->type = 0;
  free_[(free_head_ + free_count_) % free_.size()] = static_cast<std::uint32_t>(s - slots_.data());
  ++free_count_;
}

bool EventTable::owns(const void* p) const {
  auto* b = reinterpret_cast<const char*>(slots_.data());
  auto* c = reinterpret_cast<const char*>(p);
  if (c < b || c >= b + slots_.size() * sizeof(Slot)) return false;
  return (c - b) % sizeof(Slot) == 0;
}

void EventTable::unwait(Slot* op) {
  if (!op->waiting) return;
  (op->wprev ? op->wprev->wnext : wait_head_) = op->wnext;
  (op->wnext ? op->wnext->wprev : wait_tail_) = op->wprev;
  op->waiting = false;
  op->wprev = op->wnext = nullptr;
}

void EventTable::emit(Slot* op) {
  unwait(op);
  ops.fetch_add(1, std::memory_order_relaxed);
  (void)ring.push(op->op);  // full ring: counted as dropped by the ring
  release(op);
}

void EventTable::complete(Slot* op) {
  Slot* g = op->group;
  if (!g) {
    emit(op);
    return;
  }
  unwait(op);
  op->done = true;
  --g->open_children;
  // Members join only before the first of them stops on the host, and an op is never
  // complete before its host stop: a done member means the membership is final.
  if (g->open_children == 0) emit_group(g);
}

void EventTable::emit_group(Slot* g) {
  const std::uint64_t lo = g->op.gpu_start, hi = g->op.gpu_stop;
  for (Slot* m = g->gnext; m;) {
    Slot* next = m->gnext;
    if (lo && hi >= lo) {
      m->op.gpu_start = lo;
      m->op.gpu_stop = hi;
      m->op.group_span = true;
      group_span_ops.fetch_add(1, std::memory_order_relaxed);
    }
    m->group = nullptr;
    m->gnext = nullptr;
    emit(m);
    m = next;
  }
  release(g);
}

bool EventTable::join_group(Slot* op, Comm* comm) {
  Slot* g = comm->group;
  if (!g || g->kind != Kind::Group || g->gid != comm->group_id || g->closed) {
    g = alloc();
    if (!g) return false;
    g->kind = Kind::Group;
    g->gid = ++comm->group_id;
    comm->group = g;
  }
  op->group = g;
  op->gnext = g->gnext;
  g->gnext = op;
  ++g->open_children;
  return true;
}

void EventTable::op_started(Slot* op, Comm* comm, bool self_p2p) {
  op->ord = ++comm->ops_started;
  op->self_p2p = self_p2p;
}

void EventTable::host_stop(Slot* op, std::int64_t now) {
  op->op.host_stop = now;
  op->host_stopped = true;
  if (op->group) op->group->closed = true;
  if (Comm* c = op->comm) {
    if (now > c->last_stop_ns) c->last_stop_ns = now;
    // NCCL starts all task events of a launch, then stops them all: every op of this
    // launch has an ord <= ops_started now, every op of a later launch a larger one.
    if (op->self_p2p && !c->lag_after_ord) c->lag_after_ord = c->ops_started;
  }
}

void EventTable::try_finish(Slot* op) {
  if (op->done) return;
  if (op->host_stopped && op->open_children == 0 && op->op.stopped_channels >= op->op.expected_channels) {
    complete(op);
    return;
  }
  if (op->host_stopped && !op->waiting) {
    op->waiting = true;
    op->wprev = wait_tail_;
    op->wnext = nullptr;
    (wait_tail_ ? wait_tail_->wnext : wait_head_) = op;
    wait_tail_ = op;
  }
}

void EventTable::sweep(std::int64_t now, std::int64_t grace_ns) {
  for (Slot* s = wait_head_; s;) {
    Slot* next = s->wnext;
    if (s->op.host_stop + grace_ns > now) break;  // list is in host-stop order
    if (s->open_children == 0) {
      incomplete.fetch_add(1, std::memory_order_relaxed);
      complete(s);  // may emit a whole group: `next` is never one of its other members
    }
    s = next;
  }
}

void EventTable::finish_kernel_ch(Slot* ch, const KernelWindow& w) {
  Slot* parent = ch->parent;
  const std::uint64_t start = ch->op.gpu_start, stop = ch->op.gpu_stop;
  const std::int64_t seen_start = ch->op.host_start, seen_stop = ch->op.host_stop;
  release(ch);
  if (!parent) return;
  --parent->open_children;
  auto& po = parent->op;
  ++po.stopped_channels;
  bool stale = start == 0 || (stop != 0 && stop < start);
  if (!stale && parent->comm && parent->comm->proxied && parent->comm->lag_after_ord &&
      parent->ord > parent->comm->lag_after_ord) {
    stale = true;  // the host's slot counter lags the kernel's on this comm since a self send/recv
    after_self_channels.fetch_add(1, std::memory_order_relaxed);
  }
  if (!stale && calibrated()) {
    const std::int64_t off = offset();
    const std::int64_t start_rt = static_cast<std::int64_t>(start) + off;
    const std::int64_t stop_rt = static_cast<std::int64_t>(stop) + off;
    std::int64_t lo = po.host_start - w.stale_slack_ns;
    if (parent->floor_ns && parent->floor_ns - w.clock_slack_ns > lo) lo = parent->floor_ns - w.clock_slack_ns;
    stale = start_rt < lo || (seen_start && start_rt > seen_start + w.clock_slack_ns) ||
            (stop && seen_stop && stop_rt > seen_stop + w.clock_slack_ns);
  }
  if (stale) {
    ++po.stale_channels;
    stale_channels.fetch_add(1, std::memory_order_relaxed);
  } else {
    if (!po.gpu_start || start < po.gpu_start) po.gpu_start = start;
    if (stop > po.gpu_stop) po.gpu_stop = stop;
    ++po.kernel_channels;
    if (Slot* g = parent->group) {
      if (!g->op.gpu_start || start < g->op.gpu_start) g->op.gpu_start = start;
      if (stop > g->op.gpu_stop) g->op.gpu_stop = stop;
    }
  }
  try_finish(parent);
}

std::uint32_t expected_kernel_channels(bool kernel_ch_on, bool is_p2p, int nranks, int comm_rank, int peer,
                                       int n_channels) {
  if (!kernel_ch_on || nranks <= 1 || n_channels <= 0) return 0;
  if (is_p2p && peer == comm_rank) return 0;  // self send/recv: no proxy op, no KernelCh
  return static_cast<std::uint32_t>(n_channels);
}

TimeSource time_source(const OpRecord& o, bool calibrated) {
  if (o.gpu_start && o.gpu_stop >= o.gpu_start && calibrated) return TimeSource::Gpu;
  if (o.proxy_start && o.proxy_stop >= o.proxy_start) return TimeSource::Proxy;
  return TimeSource::Host;
}

void EventTable::calibrate(std::int64_t host_ns, std::uint64_t gpu_ns) {
  if (gpu_ns == 0 || measured_.load(std::memory_order_relaxed)) return;
  std::int64_t cand = host_ns - static_cast<std::int64_t>(gpu_ns);
  if (!calibrated_.load(std::memory_order_relaxed) || cand < offset_.load(std::memory_order_relaxed)) {
    offset_.store(cand, std::memory_order_relaxed);
    calibrated_.store(true, std::memory_order_relaxed);
  }
}

void EventTable::set_measured(std::int64_t offset_ns) {
  offset_.store(offset_ns, std::memory_order_relaxed);
  measured_.store(true, std::memory_order_relaxed);
  calibrated_.store(true, std::memory_order_relaxed);
}

int dtype_size(const char* n) {
  if (!n) return 0;
  if (!std::strncmp(n, "nccl", 4)) n += 4;
  struct E {
    const char* name;
    int size;
  };
  static const E table[] = {{"Int8", 1},    {"Char", 1},     {"Uint8", 1},    {"Int32", 4},   {"Int", 4},
                            {"Uint32", 4},  {"Int64", 8},    {"Uint64", 8},   {"Float16", 2}, {"Half", 2},
                            {"Float32", 4}, {"Float", 4},    {"Float64", 8},  {"Double", 8},  {"Bfloat16", 2},
                            {"Float8e4m3", 1}, {"Float8e5m2", 1}};
  for (const auto& e : table)
    if (!std::strcmp(n, e.name)) return e.size;
  return 0;
}

const char* pretty(const char* u) {
  if (!u) return nullptr;
  static const char* const map[][2] = {{"RING", "Ring"},  {"TREE", "Tree"},     {"SIMPLE", "Simple"},
                                       {"COLLNET_DIRECT", "CollNetDirect"},     {"COLLNET_CHAIN", "CollNetChain"},
                                       {"PAT", "PAT"},    {"NVLS", "NVLS"},     {"NVLS_TREE", "NVLSTree"}};
  for (const auto& m : map)
    if (!std::strcmp(u, m[0])) return m[1];
  return u;
}

}  // namespace moetune::nccl
