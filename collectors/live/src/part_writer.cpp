// SPDX-License-Identifier: Apache-2.0
#include "moetune/live/part_writer.h"

#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <ctime>

namespace moetune::live {

namespace {

// Blocks SIGXFSZ in this thread for the guard's life, so a write past RLIMIT_FSIZE
// fails with EFBIG instead of killing the job; on exit consumes a SIGXFSZ left pending
// (Linux sends it to the writing thread) unless one was pending before.
class XfszGuard {
 public:
  XfszGuard() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGXFSZ);
    ::pthread_sigmask(SIG_BLOCK, &s, &old_);
    sigset_t p;
    sigemptyset(&p);
    pending_before_ = ::sigpending(&p) == 0 && sigismember(&p, SIGXFSZ) == 1;
  }
  ~XfszGuard() {
    if (sigismember(&old_, SIGXFSZ) == 1) return;  // the caller blocks it itself
    if (!pending_before_) {
      sigset_t s;
      sigemptyset(&s);
      sigaddset(&s, SIGXFSZ);
      const timespec zero{0, 0};
      while (::sigtimedwait(&s, nullptr, &zero) == SIGXFSZ) {
      }
    }
    ::pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  XfszGuard(const XfszGuard&) = delete;
  XfszGuard& operator=(const XfszGuard&) = delete;

 private:
  sigset_t old_;
  bool pending_before_ = false;
};

}  // namespace

Expected<std::unique_ptr<PartWriter>> PartWriter::open(const std::filesystem::path& path, Drain drain,
                                                       Drain at_stop, int period_ms, Warn warn) {
  XfszGuard xfsz;
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
  p->warn_ = warn ? std::move(warn) : Warn([](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
  p->period_ms_ = period_ms > 0 ? period_ms : 100;
  if (auto r = p->w_->flush(); !r) return r.error();
  p->t_ = std::thread([raw = p.get()] { raw->loop(); });
  return p;
}

PartWriter::~PartWriter() { (void)stop(); }

std::string PartWriter::error() const {
  std::lock_guard<std::mutex> g(m_);
  return error_;
}

void PartWriter::with_writer(const Drain& fn) {
  XfszGuard xfsz;
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

void PartWriter::fail(const std::string& msg, bool report) {
  if (!error_.empty()) return;
  error_ = msg;
  // TraceWriter's message names the file twice ("F: write failed: F: disk I/O error").
  const std::string twice = ": write failed: " + w_->path().string() + ": ";
  if (auto at = error_.find(twice); at != std::string::npos)
    error_.replace(at, twice.size(), ": write failed: ");
  if (report && warn_) {
    reported_ = true;
    warn_("moetune: warning: " + error_ + "; capture stopped, the file keeps what was committed before");
  }
}

void PartWriter::loop() {
  XfszGuard xfsz;  // for the thread's life: every running-time write happens here
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
      if (auto r = w_->flush(); !r) {
        fail(r.error().message, true);
        continue;
      }
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
    if (stopped_) return error_.empty() || reported_ ? Expected<void>{} : Expected<void>{Error{error_}};
    stopping_ = true;
  }
  cv_.notify_one();
  if (t_.joinable()) t_.join();
  std::lock_guard<std::mutex> g(m_);
  stopped_ = true;
  // Final drain + stats + finish on the caller's thread (the collectors' atexit: the
  // CUDA driver still answers there; on the writer thread the device facts of a short
  // job came out empty on the H200), with SIGXFSZ blocked like the writer thread.
  if (w_) {
    XfszGuard xfsz;
    if (error_.empty()) {
      drain_(*w_);
      if (at_stop_) at_stop_(*w_);
      if (auto r = w_->finish(); !r) fail(r.error().message, false);
    }
    w_.reset();  // closing may checkpoint the WAL: a write too
  }
  if (!error_.empty() && !reported_) return Error{error_};
  return {};
}

}  // namespace moetune::live
