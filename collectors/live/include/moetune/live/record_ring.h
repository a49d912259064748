// SPDX-License-Identifier: Apache-2.0
// RecordRing<T>: a fixed-capacity FIFO of fixed-size records between the threads
// that produce events (the job's threads, NCCL's proxy thread) and the writer thread.
// Capacity is allocated once in the constructor; push() never allocates and never
// blocks for longer than a short critical section; when full it drops the record
// and counts it. Cost: one uncontended mutex pair per push (~20-40 ns).
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <type_traits>
#include <vector>

namespace moetune::live {

template <class T>
class RecordRing {
  static_assert(std::is_trivially_copyable_v<T>, "records are plain data");

 public:
  explicit RecordRing(std::size_t capacity) : buf_(capacity ? capacity : 1) {}

  // False (and counted) when the ring is full.
  bool push(const T& r) {
    std::lock_guard<std::mutex> g(m_);
    if (count_ == buf_.size()) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    buf_[(head_ + count_) % buf_.size()] = r;
    ++count_;
    return true;
  }

  // Moves up to out.size() records into out; returns how many.
  std::size_t pop(std::vector<T>& out) {
    std::lock_guard<std::mutex> g(m_);
    std::size_t n = count_ < out.size() ? count_ : out.size();
    for (std::size_t i = 0; i < n; ++i) out[i] = buf_[(head_ + i) % buf_.size()];
    head_ = (head_ + n) % buf_.size();
    count_ -= n;
    return n;
  }

  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  std::size_t capacity() const { return buf_.size(); }

 private:
  std::mutex m_;
  std::vector<T> buf_;
  std::size_t head_ = 0, count_ = 0;
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace moetune::live
