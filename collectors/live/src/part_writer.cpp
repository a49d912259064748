// SPDX-License-Identifier: Apache-2.0
#include "moetune/live/part_writer.h"

#include <chrono>

namespace moetune::live {

Expected<std::unique_ptr<PartWriter>> PartWriter::open(const std::filesystem::path& path, Drain drain,
                                                       Drain at_stop, int period_ms) {
  WriterOptions o;
  o.force = true;
  o.atomic = false;
  o.batch_rows = 1 << 30;  // commit only from the flush cadence
  auto w = TraceWriter::create(path, o);
  if (!w) return w.error();
  std::unique_ptr<PartWriter> p(new PartWriter());
  p->w_ = std::move(*w);
  p->drain_ = std::move(drain);
  p->at_stop_ = std::move(at_stop);
  p->period_ms_ = period_ms > 0 ? period_ms : 100;
  if (auto r = p->w_->flush(); !r) return r.error();
  p->t_ = std::thread([raw = p.get()] { raw->loop(); });
  return p;
}

PartWriter::~PartWriter() { (void)stop(); }

void PartWriter::with_writer(const Drain& fn) {
  std::lock_guard<std::mutex> g(m_);
  if (w_ && error_.empty()) fn(*w_);
}

void PartWriter::kick() {
  {
    std::lock_guard<std::mutex> g(m_);
    kicked_ = true;
  }
  cv_.notify_one();
}

void PartWriter::loop() {
  using clock = std::chrono::steady_clock;
  auto last_flush = clock::now();
  std::unique_lock<std::mutex> lk(m_);
  while (!stopping_) {
    cv_.wait_for(lk, std::chrono::milliseconds(period_ms_), [this] { return stopping_ || kicked_; });
    bool kicked = kicked_;
    kicked_ = false;
    if (stopping_ || !error_.empty()) continue;
    drain_(*w_);
    if (kicked || clock::now() - last_flush >= std::chrono::milliseconds(900)) {
      if (auto r = w_->flush(); !r) error_ = r.error().message;
      // Move committed pages into the main file, so a reader that ignores the WAL of
      // a killed process (read-only, immutable) still sees everything flushed.
      (void)w_->db().exec("PRAGMA wal_checkpoint(PASSIVE)");
      ++flushes_;
      last_flush = clock::now();
    }
  }
}

Expected<void> PartWriter::stop() {
  {
    std::lock_guard<std::mutex> g(m_);
    if (stopped_) return error_.empty() ? Expected<void>{} : Expected<void>{Error{error_}};
    stopping_ = true;
  }
  cv_.notify_one();
  if (t_.joinable()) t_.join();
  std::lock_guard<std::mutex> g(m_);
  stopped_ = true;
  if (error_.empty() && w_) {
    drain_(*w_);
    if (at_stop_) at_stop_(*w_);
    if (auto r = w_->finish(); !r) error_ = r.error().message;
  }
  w_.reset();
  if (!error_.empty()) return Error{error_};
  return {};
}

}  // namespace moetune::live
