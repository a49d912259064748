// SPDX-License-Identifier: Apache-2.0
// Who holds CUPTI's activity buffer callbacks: us, or another client that came later.
//
// CUPTI keeps ONE pair of activity buffer callbacks per process. When torch.profiler
// (Kineto) or nsys calls cuptiActivityRegisterCallbacks after our injection, CUPTI
// silently switches to theirs: our buffers still held by CUPTI complete into their
// callbacks (Kineto logs "bufferCompleted called with unknown buffer"), new requests
// go to them, and any flush we or CUPTI's own flush thread start delivers into their
// callbacks, also after their state has been torn down at exit. There is no CUPTI
// call that tells who is registered, so this tracker infers it from what CUPTI does
// with OUR buffers. Plain C++ (no CUPTI), so it is unit-tested on the CPU.
//
// Evidence:
//  - a completion or a request reaching our callbacks: we were registered then;
//  - a probe: the writer thread calls cuptiActivityFlushAll(FORCED) (blocking; it
//    returns every buffer holding records). A buffer we handed out before the flush
//    whose first record word was written (canary: zeroed when handed out, the
//    `kind` of the first record is never 0) and that did not come back to us went
//    to someone else. Two such probes in a row (one may race a record being written
//    during the flush) mark the ownership lost. Lost is final.
//  - nothing: idle. A probe with no callback since the previous one and none of our
//    buffers held by CUPTI finds nothing of ours to flush, so flushing is skipped:
//    this also keeps us from ever flushing when the other client took over at a
//    moment CUPTI held none of our buffers (then no evidence can exist).
// Threads: CUPTI's callbacks (any thread) and the writer thread; one mutex, no
// allocation after init (the buffer set is fixed, at most a few thousand entries).
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

namespace moetune::cupti {

class OwnershipTracker {
 public:
  enum class Verdict { Owner, Idle, Suspect, Lost };

  // Registers the fixed set of pool buffers (init only, before CUPTI sees any).
  void add_buffer(std::uint8_t* p) {
    std::lock_guard<std::mutex> g(m_);
    slots_.push_back({p, false, 0});
    std::sort(slots_.begin(), slots_.end(), [](const Slot& a, const Slot& b) { return a.p < b.p; });
  }

  // CUPTI took buffer `p` (null: request denied, still a call to us). Zeroes the
  // canary word so a later probe can tell whether CUPTI wrote records into it.
  void on_requested(std::uint8_t* p, long long now_ns) {
    std::lock_guard<std::mutex> g(m_);
    ++callbacks_;
    last_callback_ns_ = now_ns;
    if (!p) return;
    if (Slot* s = find(p)) {
      std::memset(s->p, 0, kCanaryBytes);
      s->outstanding = true;
      s->handed_at = ++handouts_;
    }
  }

  // CUPTI completed buffer `p` into our callback. False: not one of ours, or not
  // outstanding (another client's buffer, or a duplicate): the caller must not
  // touch or keep it.
  bool on_completed(const std::uint8_t* p, long long now_ns) {
    std::lock_guard<std::mutex> g(m_);
    ++callbacks_;
    last_callback_ns_ = now_ns;
    Slot* s = find(p);
    if (!s || !s->outstanding) {
      ++foreign_;
      return false;
    }
    s->outstanding = false;
    ++completions_;
    return true;
  }

  // Whether a flush (periodic, attach stop, exit) may run now: not lost, and CUPTI
  // either called us since the last probe or holds one of our buffers.
  bool may_flush() const {
    std::lock_guard<std::mutex> g(m_);
    if (lost_) return false;
    if (callbacks_ != callbacks_at_probe_end_) return true;
    return std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.outstanding; });
  }

  struct ProbeStart {
    std::uint64_t completions = 0, handouts = 0;
  };
  // Call right before cuptiActivityFlushAll(FORCED) ...
  ProbeStart begin_probe() const {
    std::lock_guard<std::mutex> g(m_);
    return {completions_, handouts_};
  }
  // ... and right after it returned. `final`: the last probe (at exit), no second
  // chance, so one suspect probe is a loss.
  Verdict end_probe(ProbeStart st, long long now_ns, bool final = false) {
    std::lock_guard<std::mutex> g(m_);
    callbacks_at_probe_end_ = callbacks_;
    if (lost_) return Verdict::Lost;
    if (completions_ != st.completions) {
      suspect_ = 0;
      owner_confirmed_ns_ = now_ns;
      return Verdict::Owner;
    }
    bool kept = false;  // a buffer with records, older than the flush, not returned
    for (const Slot& s : slots_)
      if (s.outstanding && s.handed_at <= st.handouts && canary_written(s.p)) kept = true;
    if (!kept) {
      suspect_ = 0;
      return Verdict::Idle;
    }
    if (++suspect_ < kProbesToLose && !final) return Verdict::Suspect;
    lose();
    return Verdict::Lost;
  }

  // At exit, before deciding on a final flush: a pending suspect probe counts as a
  // loss (there is no later probe to clear it). True if lost (now or before).
  bool settle_at_exit() {
    std::lock_guard<std::mutex> g(m_);
    if (!lost_ && suspect_ > 0) lose();
    return lost_;
  }

  bool lost() const {
    std::lock_guard<std::mutex> g(m_);
    return lost_;
  }
  // Time of the last callback CUPTI made to us before the loss (the other client
  // took the callbacks after it); 0 when never called.
  long long lost_at_ns() const {
    std::lock_guard<std::mutex> g(m_);
    return lost_ns_;
  }
  long long owner_confirmed_ns() const {
    std::lock_guard<std::mutex> g(m_);
    return owner_confirmed_ns_;
  }
  std::uint64_t foreign_completions() const {
    std::lock_guard<std::mutex> g(m_);
    return foreign_;
  }
  std::size_t outstanding() const {
    std::lock_guard<std::mutex> g(m_);
    return static_cast<std::size_t>(std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.outstanding; }));
  }

  static constexpr std::size_t kCanaryBytes = 8;
  static constexpr int kProbesToLose = 2;

 private:
  struct Slot {
    std::uint8_t* p;
    bool outstanding;
    std::uint64_t handed_at;  // handout sequence number of the last request
  };
  void lose() {
    lost_ = true;
    lost_ns_ = last_callback_ns_;
  }
  Slot* find(const std::uint8_t* p) {
    auto it = std::lower_bound(slots_.begin(), slots_.end(), p, [](const Slot& s, const std::uint8_t* q) { return s.p < q; });
    return it != slots_.end() && it->p == p ? &*it : nullptr;
  }
  // The first record's `kind` (uint32 at offset 0). CUPTI may be writing it while we
  // read: an atomic load of the aligned word.
  static bool canary_written(const std::uint8_t* p) {
    std::uint32_t w = __atomic_load_n(reinterpret_cast<const std::uint32_t*>(p), __ATOMIC_RELAXED);
    return w != 0;
  }

  mutable std::mutex m_;
  std::vector<Slot> slots_;
  std::uint64_t callbacks_ = 0, callbacks_at_probe_end_ = 0, completions_ = 0, handouts_ = 0, foreign_ = 0;
  long long last_callback_ns_ = 0, owner_confirmed_ns_ = 0, lost_ns_ = 0;
  int suspect_ = 0;
  bool lost_ = false;
};

}  // namespace moetune::cupti
