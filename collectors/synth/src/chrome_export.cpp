// SPDX-License-Identifier: Apache-2.0
#include "moetune/synth/chrome_export.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace moetune::synth {
namespace {

// Buffered output with the few JSON primitives the exporter needs.
class Out {
 public:
  explicit Out(std::FILE* f) : f_(f) { buf_.reserve(1 << 20); }
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
    if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size()) failed_ = true;
    written_ += static_cast<std::int64_t>(buf_.size());
    buf_.clear();
  }
  bool failed() const { return failed_; }
  std::int64_t written() const { return written_; }

 private:
  std::FILE* f_;
  std::string buf_;
  bool failed_ = false;
  std::int64_t written_ = 0;
};

enum class Kind : std::uint8_t { Kernel, Memcpy, Memset, Api, Nvtx, Nccl, Step };

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
