// SPDX-License-Identifier: Apache-2.0
#include "nccl_events.h"

#include <cstring>

namespace moetune::nccl {

EventTable::EventTable(std::size_t slots, std::size_t ring_size) : ring(ring_size), slots_(slots ? slots : 1) {
  for (std::size_t i = 0; i < slots_.size(); ++i) slots_[i].next_free = i + 1 < slots_.size() ? i + 2 : 0;
  free_head_ = 1;
}

Slot* EventTable::alloc() {
  if (free_head_ == 0) {
    slots_exhausted.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  Slot* s = &slots_[free_head_ - 1];
  free_head_ = s->next_free;
  std::uint32_t keep = s->next_free;
  *s = Slot{};
  s->next_free = keep;
  return s;
}

void EventTable::release(Slot* s) {
  s->kind = Kind::None;
  s->type = 0;
  s->next_free = free_head_;
  free_head_ = static_cast<std::uint32_t>(s - slots_.data()) + 1;
}

bool EventTable::owns(const void* p) const {
  auto* b = reinterpret_cast<const char*>(slots_.data());
  auto* c = reinterpret_cast<const char*>(p);
  if (c < b || c >= b + slots_.size() * sizeof(Slot)) return false;
  return (c - b) % sizeof(Slot) == 0;
}

void EventTable::unref(Slot* op) {
  if (--op->refs > 0) return;
  ops.fetch_add(1, std::memory_order_relaxed);
  (void)ring.push(op->op);  // full ring: counted as dropped by the ring
  release(op);
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
