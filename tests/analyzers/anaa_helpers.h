// SPDX-License-Identifier: Apache-2.0
// Helpers for the analyzers part-A tests (overlap, sync, stragglers, report):
// synth runs generated once per test binary into a private temp folder and loaded as
// RunData; an in-memory RunData builder for unit fixtures; the CLI runner.
#pragma once
#include "common/run_command.h"
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "moetune/analyzers/analyses.h"
#include "moetune/synth/synth.h"

namespace anaa {

using namespace moetune;
using namespace moetune::analyzers;

inline const std::filesystem::path& tmpdir() {
  static const std::filesystem::path d = [] {
    auto p = std::filesystem::temp_directory_path() / ("moetune_anaa_" + std::to_string(::getpid()));
    std::filesystem::create_directories(p);
    return p;
  }();
  return d;
}

// Path of a synth run with `inject` (and extra options), generated once.
inline std::filesystem::path synth_file(const std::string& inject, int ranks = 8, int steps = 20) {
  static std::map<std::string, std::filesystem::path> cache;
  auto key = inject + "|" + std::to_string(ranks) + "|" + std::to_string(steps);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  std::string name = inject.empty() ? "clean" : inject;
  for (auto& c : name)
    if (c == ':' || c == ',') c = '_';
  auto path = tmpdir() / (name + "_" + std::to_string(ranks) + "_" + std::to_string(steps) + ".moetune");
  synth::Options o;
  o.ranks = ranks;
  o.steps = steps;
  o.inject = inject;
  auto r = synth::generate_file(path, o, true);
  if (!r) ADD_FAILURE() << "synth " << inject << ": " << r.error().message;
  cache[key] = path;
  return path;
}

inline const RunData& synth_run(const std::string& inject, int ranks = 8, int steps = 20) {
  static std::map<std::string, RunData> cache;
  auto key = inject + "|" + std::to_string(ranks) + "|" + std::to_string(steps);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  auto r = RunData::load(synth_file(inject, ranks, steps));
  if (!r) ADD_FAILURE() << r.error().message;
  return cache[key] = r ? std::move(*r) : RunData{};
}

inline std::vector<const Finding*> of_kind(const AnalysisResult& r, FindingKind k) {
  std::vector<const Finding*> v;
  for (const auto& f : r.findings)
    if (f.kind == k) v.push_back(&f);
  return v;
}

// The one finding of kind `k` in `r`; a test failure and nullptr unless there is exactly one.
inline const Finding* only_of_kind(const AnalysisResult& r, FindingKind k) {
  auto v = of_kind(r, k);
  if (v.size() == 1) return v[0];
  ADD_FAILURE() << v.size() << " findings of kind " << to_string(k) << ", expected 1";
  return nullptr;
}

// One analysis (analyze_comm_overlap, analyze_global_sync, ...) run alone on `run`.
template <class Analysis>
AnalysisResult run_analysis(Analysis analysis, const RunData& run, const AnalyzeOptions& opts = {}) {
  AnalysisResult r;
  analysis(run, opts, r);
  return r;
}

inline bool has_note(const AnalysisResult& r, const std::string& part) {
  for (const auto& n : r.notes)
    if (n.find(part) != std::string::npos) return true;
  return false;
}

// In-memory fixture builder: strings interned by text.
struct Builder {
  RunData d;
  StringId s(const std::string& text) {
    for (std::size_t i = 0; i < d.strings.size(); ++i)
      if (d.strings[i] == text) return StringId(static_cast<std::int64_t>(i));
    d.strings.push_back(text);
    return StringId(static_cast<std::int64_t>(d.strings.size() - 1));
  }
  void rank(int r) {
    RankRow row;
    row.rank = RankId(r);
    d.ranks.push_back(row);
  }
  void kernel(int r, int stream, std::int64_t s0, std::int64_t s1, const std::string& name) {
    KernelRow k;
    k.rank = RankId(r);
    k.stream = StreamId(stream);
    k.start_ns = s0;
    k.dur_ns = s1 - s0;
    k.name = s(name);
    d.kernels.push_back(k);
  }
  void op(int r, const std::string& func, std::int64_t s0, std::int64_t s1, std::int64_t seq, const std::string& algo = "") {
    NcclOpRow o;
    o.rank = RankId(r);
    o.comm_hash = "c0";
    o.seq = seq;
    o.func = func;
    if (!algo.empty()) o.algo = algo;
    o.start_ns = s0;
    o.end_ns = s1;
    d.nccl_ops.push_back(o);
  }
  // A point-to-point op (Send / Recv) of `count` elements with `peer` on communicator "pp".
  void p2p(int r, const std::string& func, int peer, std::int64_t count, std::int64_t s0, std::int64_t s1) {
    NcclOpRow o;
    o.rank = RankId(r);
    o.func = func;
    o.peer = peer;
    o.comm_hash = "pp";
    o.count = count;
    o.start_ns = s0, o.end_ns = s1;
    d.nccl_ops.push_back(o);
  }
  void step(int r, std::int64_t n, std::int64_t s0, std::int64_t s1) {
    d.steps.push_back(StepRow{RankId(r), n, s0, s1, std::nullopt});
  }
  // RunData keeps rows sorted by (rank, start), as the reader returns them.
  RunData done() {
    auto by = [](const auto& a, const auto& b) { return std::tie(a.rank, a.start_ns) < std::tie(b.rank, b.start_ns); };
    std::sort(d.kernels.begin(), d.kernels.end(), by);
    std::sort(d.nccl_ops.begin(), d.nccl_ops.end(), by);
    std::sort(d.memcpys.begin(), d.memcpys.end(), by);
    std::sort(d.api_calls.begin(), d.api_calls.end(), by);
    return d;
  }
};

// The metrics.per_rank row of `rank` (a test failure and an empty object when there is none).
inline const nlohmann::json& rank_row(const AnalysisResult& r, int rank) {
  for (const auto& row : r.metrics.at("per_rank"))
    if (row.at("rank") == rank) return row;
  static const nlohmann::json none;
  ADD_FAILURE() << "no per_rank row for rank " << rank;
  return none;
}

using CmdResult = moetune::test::CommandResult;
inline CmdResult run_cmd(const std::string& cmd) { return moetune::test::run_command(cmd); }

}  // namespace anaa
