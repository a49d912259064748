// SPDX-License-Identifier: Apache-2.0
#include "moetune/live/rank_env.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>

namespace moetune::live {

namespace {
bool parse_nonneg(const char* s, long& out) {
  if (!s || !*s) return false;
  errno = 0;
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < 0 || v > 1'000'000) return false;
  out = v;
  return true;
}
}  // namespace

int rank_from_env() {
  for (const char* n : {"RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID", "PMI_RANK"}) {
    long v = 0;
    if (parse_nonneg(std::getenv(n), v)) return static_cast<int>(v);
  }
  return -1;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return {};
  std::string h(buf);
  if (auto dot = h.find('.'); dot != std::string::npos) h.resize(dot);
  return h;
}

std::string node_name() {
  std::string h = host_name();
  // NCCL treats ranks with different NCCL_HOSTID as different nodes (emulated nodes on
  // one machine); the analyzers see nodes through ranks.host, so record it there too.
  if (const char* id = std::getenv("NCCL_HOSTID"); id && *id) h += std::string(":") + id;
  return h;
}

std::string expand_pattern(std::string_view pattern, int rank, long pid, std::string_view host) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c != '%' || i + 1 == pattern.size()) {
      out += c;
      continue;
    }
    char k = pattern[++i];
    if (k == 'r') out += rank >= 0 ? std::to_string(rank) : std::string("x");
    else if (k == 'p') out += std::to_string(pid);
    else if (k == 'h') out += host.empty() ? std::string("host") : std::string(host);
    else if (k == '%') out += '%';
    else {
      out += '%';
      out += k;
    }
  }
  return out;
}

long env_long(const char* name, long fallback) {
  const char* s = std::getenv(name);
  if (!s || !*s) return fallback;
  errno = 0;
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (errno != 0 || *end != '\0') return fallback;
  return v;
}

long long now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

}  // namespace moetune::live
