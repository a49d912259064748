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

void EventTable::emit(Slot* op) {
  if (op->waiting) {
    (op->wprev ? op->wprev->wnext : wait_head_) = op->wnext;
    (op->wnext ? op->wnext->wprev : wait_tail_) = op->wprev;
    op->waiting = false;
  }
  ops.fetch_add(1, std::memory_order_relaxed);
  (void)ring.push(op->op);  // full ring: counted as dropped by the ring
  release(op);
}

void EventTable::try_finish(Slot* op) {
  if (op->host_stopped && op->open_children == 0 && op->op.stopped_channels >= op->op.expected_channels) {
    emit(op);
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
      emit(s);
    }
    s = next;
  }
}

void EventTable::finish_kernel_ch(Slot* ch, std::int64_t stale_slack_ns) {
  Slot* parent = ch->parent;
  const std::uint64_t start = ch->op.gpu_start, stop = ch->op.gpu_stop;
  release(ch);
  if (!parent) return;
  --parent->open_children;
  auto& po = parent->op;
  ++po.stopped_channels;
  bool stale = start == 0 || (stop != 0 && stop < start);
  if (!stale && calibrated()) {
    const std::int64_t start_rt = static_cast<std::int64_t>(start) + offset();
    stale = start_rt < po.host_start - stale_slack_ns;
  }
  if (stale) {
    ++po.stale_channels;
    stale_channels.fetch_add(1, std::memory_order_relaxed);
  } else {
    if (!po.gpu_start || start < po.gpu_start) po.gpu_start = start;
    if (stop > po.gpu_stop) po.gpu_stop = stop;
    ++po.kernel_channels;
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
