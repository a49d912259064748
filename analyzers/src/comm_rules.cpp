// SPDX-License-Identifier: Apache-2.0
// Analyzer-side helpers of the communication vocabulary (see comm_rules.h); the rule
// table itself is moetune/trace/comm_vocab.h.
#include "moetune/analyzers/comm_rules.h"

#include <cstdint>
#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <optional>
#include <utility>

namespace moetune::analyzers {

OpFamily op_family(std::string_view func) {
  // Canonical names (what the importers store) first: no parsing, no allocation.
  static constexpr std::array<std::pair<std::string_view, OpFamily>, 13> kCanonical{{
      {"AllToAll", OpFamily::AllToAll},     {"Send", OpFamily::Send},        {"Recv", OpFamily::Recv},
      {"SendRecv", OpFamily::SendRecv},     {"AllReduce", OpFamily::Other},  {"AllGather", OpFamily::Other},
      {"ReduceScatter", OpFamily::Other},   {"Broadcast", OpFamily::Other},  {"Reduce", OpFamily::Other},
      {"Gather", OpFamily::Other},          {"Scatter", OpFamily::Other},    {"Barrier", OpFamily::Other},
      {"Hypercube", OpFamily::Other}}};
  auto of = [&](std::string_view f) {
    for (const auto& [name, fam] : kCanonical)
      if (f == name) return std::optional<OpFamily>(fam);
    return std::optional<OpFamily>();
  };
  if (auto f = of(func)) return *f;
  std::string c = comm::func_from_name(func);
  if (c.empty()) c = comm::func_in_text(func);
  return of(c).value_or(OpFamily::Other);
}

bool is_comm_memcpy(const MemcpyRow& m) {
  if (m.kind == CopyKind::PtoP) return true;
  return m.kind == CopyKind::DtoD && m.src_device >= 0 && m.dst_device >= 0 && m.src_device != m.dst_device;
}

bool is_blocking_sync_api(std::string_view name) {
  static constexpr std::array<std::string_view, 12> kSync{
      "cudaDeviceSynchronize", "cudaStreamSynchronize", "cudaEventSynchronize", "cudaMemcpy",
      "cudaMemcpy2D",          "cuCtxSynchronize",      "cuStreamSynchronize",  "cuEventSynchronize",
      "cuMemcpyDtoH",          "cuMemcpyHtoD",          "cuMemcpy",             "cudaThreadSynchronize"};
  // nsys adds a version suffix ("cudaStreamSynchronize_v3020"); Kineto's cuda_sync rows
  // are named "Stream Sync", "Context Sync", "Event Sync".
  auto base = name.substr(0, name.find("_v"));
  for (auto s : kSync)
    if (base == s) return true;
  return name == "Stream Sync" || name == "Context Sync" || name == "Event Sync" || name == "Device Synchronize";
}

CommClassifier::CommClassifier(const std::vector<std::string>& strings, const comm::RuleSet* user) {
  const comm::RuleSet* rules = user ? user : comm::active_rules();
  kinds_.resize(strings.size(), CommKind::None);
  for (std::size_t i = 0; i < strings.size(); ++i) kinds_[i] = comm::classify_kernel(strings[i], rules);
}

std::vector<UnclassifiedComm> unclassified_comm_like(const std::vector<std::string>& strings,
                                                     const std::vector<KernelRow>& kernels, std::size_t top) {
  std::vector<std::int64_t> total(strings.size(), 0), count(strings.size(), 0);
  for (const auto& k : kernels) {
    auto id = static_cast<std::size_t>(k.name.value);
    if (k.name.value < 0 || id >= strings.size()) continue;
    if (__builtin_add_overflow(total[id], k.dur_ns, &total[id])) total[id] = INT64_MAX;  // durations from the file
    ++count[id];
  }
  std::vector<UnclassifiedComm> out;
  const comm::RuleSet* rules = comm::active_rules();
  for (std::size_t i = 0; i < strings.size(); ++i) {
    if (count[i] == 0) continue;
    // Any matching rule settles the name (a user rule of kind "none" included).
    if (comm::match_kernel(strings[i], rules).rule) continue;
    if (!comm::looks_like_comm(strings[i])) continue;
    out.push_back({strings[i], total[i], count[i]});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.total_ns != b.total_ns ? a.total_ns > b.total_ns : a.name < b.name;
  });
  if (out.size() > top) out.resize(top);
  return out;
}

std::string unclassified_comm_line(const std::vector<UnclassifiedComm>& u) {
  if (u.empty()) return "";
  std::string s = "trace health: kernels whose names look like communication but no rule classifies them "
                  "(counted as compute; add a --comm-rules entry, docs/COMM-RULES.md): ";
  for (std::size_t i = 0; i < u.size(); ++i) {
    std::string n = comm::normalised_name(u[i].name);
    if (n.size() > 80) n = n.substr(0, 77) + "...";
    char buf[96];
    std::snprintf(buf, sizeof buf, " %.3f ms in %lld kernels", static_cast<double>(u[i].total_ns) / 1e6,
                  static_cast<long long>(u[i].count));
    s += (i ? "; " : "") + std::string("\"") + n + "\"" + buf;
  }
  return s;
}

}  // namespace moetune::analyzers
