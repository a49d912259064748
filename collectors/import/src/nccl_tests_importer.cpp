// SPDX-License-Identifier: Apache-2.0
// nccl-tests `*_perf` output -> bench_results. Accepts every shape seen in the wild:
// header with "# nThread"/"# Using devices" or only the column table (old pastes),
// "#wrong" or "error" columns, an empty redop column (old alltoall), with or without a
// root column, NCCL_DEBUG=INFO lines interleaved anywhere, and a missing footer.
// A data row is recognised from the right: the last 8 fields are time/algbw/busbw/wrong
// for out-of-place then in-place; the first three are size, count, type.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include "moetune/import/import.h"
#include "moetune/import/text_formats.h"

namespace moetune::import {
namespace {

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

bool to_double(const std::string& s, double& v) {
  try {
    std::size_t used = 0;
    v = std::stod(s, &used);
    return used == s.size() && std::isfinite(v);
  } catch (...) {
    return false;
  }
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Binary / file-name stem -> collective. Order matters: "reduce_scatter" before "reduce".
const std::pair<const char*, const char*> kFuncNames[] = {
    {"all_reduce", "AllReduce"},  {"allreduce", "AllReduce"},        {"all_gather", "AllGather"},
    {"allgather", "AllGather"},   {"reduce_scatter", "ReduceScatter"}, {"reducescatter", "ReduceScatter"},
    {"alltoall", "AllToAll"},     {"all_to_all", "AllToAll"},        {"a2a", "AllToAll"},
    {"sendrecv", "SendRecv"},     {"send_recv", "SendRecv"},         {"broadcast", "Broadcast"},
    {"hypercube", "Hypercube"},   {"gather", "Gather"},              {"scatter", "Scatter"},
    {"reduce", "Reduce"}};

std::string func_from(const std::string& s) {
  std::string l = lower(s);
  for (const auto& [k, v] : kFuncNames)
    if (l.find(k) != std::string::npos) return v;
  return {};
}

int dtype_size(const std::string& t) {
  std::string l = lower(t);
  if (l == "double" || l == "int64" || l == "uint64") return 8;
  if (l == "float" || l == "int32" || l == "uint32" || l == "int") return 4;
  if (l == "half" || l == "bfloat16" || l == "float16") return 2;
  if (l == "int8" || l == "uint8" || l == "char" || l.rfind("f8", 0) == 0 || l.rfind("fp8", 0) == 0) return 1;
  return 0;
}

std::string dtype_name(const std::string& t) {
  static const std::pair<const char*, const char*> names[] = {
      {"float", "Float"},   {"half", "Half"},     {"bfloat16", "BFloat16"}, {"double", "Double"},
      {"int8", "Int8"},     {"uint8", "Uint8"},   {"int32", "Int32"},       {"uint32", "Uint32"},
      {"int64", "Int64"},   {"uint64", "Uint64"}, {"f8e4m3", "Float8e4m3"}, {"f8e5m2", "Float8e5m2"}};
  std::string l = lower(t);
  for (const auto& [k, v] : names)
    if (l == k) return v;
  return t;
}

}  // namespace

double busbw_factor(const std::string& func, int n) {
  if (n <= 0) return 1.0;  // unknown communicator size: report algbw
  double dn = n;
  if (func == "AllReduce") return 2.0 * (dn - 1) / dn;
  if (func == "AllGather" || func == "ReduceScatter" || func == "AllToAll" || func == "Gather" || func == "Scatter")
    return (dn - 1) / dn;
  return 1.0;  // Broadcast, Reduce, SendRecv, Send, Recv
}

Expected<NcclTestsRun> parse_nccl_tests(const std::string& text, const std::string& name) {
  NcclTestsRun run;
  std::istringstream in(text);
  std::string line, bin_func;
  bool footer = false, header_seen = false;
  std::set<std::string> host_set;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("#!", 0) == 0) continue;  // our provenance header
    auto tok = split_ws(line);
    if (tok.empty()) continue;
    if (bin_func.empty() && line.find("_perf") != std::string::npos) {
      for (const auto& t : tok)
        if (t.find("_perf") != std::string::npos) bin_func = func_from(t.substr(0, t.find("_perf")));
    }
    if (tok[0][0] == '#') {
      // "#  Rank  0 Group  0 Pid 6899 on HOST device 0 [0000:04:00] NVIDIA H100 80GB HBM3"
      if (tok.size() >= 9 && tok[1] == "Rank" && tok[5] == "Pid" && tok[7] == "on") {
        std::string host = tok[8];
        if (host_set.insert(host).second) run.hosts.push_back(host);
        std::string gpu;
        auto br = line.find(']');
        if (br != std::string::npos) {
          gpu = line.substr(br + 1);
          gpu.erase(0, gpu.find_first_not_of(" \t"));
        }
        run.gpus.push_back(gpu);
        continue;
      }
      if (line.find("size") != std::string::npos && line.find("count") != std::string::npos) header_seen = true;
      auto avg = line.find("Avg bus bandwidth");
      if (avg != std::string::npos) {
        auto colon = line.find(':', avg);
        double v = 0;
        if (colon != std::string::npos) {
          auto t = split_ws(line.substr(colon + 1));
          if (!t.empty() && to_double(t[0], v)) run.avg_busbw_gbps = v;
        }
        footer = true;
      }
      continue;
    }
    // Data row: size count type [redop] [root] time algbw busbw wrong [time algbw busbw wrong]
    if (!all_digits(tok[0]) || tok.size() < 7 || !all_digits(tok[1])) {
      ++run.noise_lines;
      continue;
    }
    std::size_t n = tok.size();
    bool both = n >= 11;
    std::size_t first = both ? n - 8 : n - 4;  // index of out-of-place time
    double v[8] = {};
    bool ok = true;
    for (std::size_t k = 0; k < (both ? 8u : 4u); ++k) {
      const auto& t = tok[first + k];
      if (k % 4 == 3) {  // #wrong / error: integer, "N/A" or 0e+00
        double w = 0;
        if (t != "N/A" && to_double(t, w) && w != 0) run.wrong += std::lround(std::max(1.0, w));
        continue;
      }
      if (!to_double(t, v[k])) ok = false;
    }
    if (!ok) {
      ++run.noise_lines;
      continue;
    }
    for (int ip = 0; ip < (both ? 2 : 1); ++ip) {
      BenchResultRow r;
      r.bytes = std::stoll(tok[0]);
      r.count = std::stoll(tok[1]);
      r.dtype = dtype_name(tok[2]);
      r.time_us = v[ip * 4 + 0];
      r.algbw_gbps = v[ip * 4 + 1];
      r.busbw_gbps = v[ip * 4 + 2];
      r.in_place = ip == 1;
      run.rows.push_back(r);
    }
  }
  if (run.rows.empty())
    return Error{name + ": no nccl-tests data rows found" +
                 std::string(header_seen ? " (column header present, but no row parsed)" : "")};
  // Collective: binary name in the text, else the file name, else undecidable.
  if (!bin_func.empty()) {
    run.func = bin_func;
    run.func_basis = "binary name";
  } else if (auto f = func_from(std::filesystem::path(name).filename().string()); !f.empty()) {
    run.func = f;
    run.func_basis = "file name";
  } else {
    // The largest row's busbw/algbw tells 2(n-1)/n (AllReduce, > 1) from the rest.
    const auto& big = *std::max_element(run.rows.begin(), run.rows.end(),
                                        [](const auto& a, const auto& b) { return a.bytes < b.bytes; });
    if (big.algbw_gbps > 0 && big.busbw_gbps / big.algbw_gbps > 1.05) {
      run.func = "AllReduce";
      run.func_basis = "columns (busbw/algbw > 1)";
    } else {
      return Error{name + ": cannot tell which collective this nccl-tests output measured (no *_perf binary "
                          "name in the text or the file name)"};
    }
  }
  // Ranks: the device list, else element count x type size (per-peer count in the (n-1)/n
  // family), else the busbw/algbw ratio.
  if (!run.gpus.empty()) {
    run.nranks = static_cast<int>(run.gpus.size());
    run.nranks_basis = "device list";
  } else {
    const auto& big = *std::max_element(run.rows.begin(), run.rows.end(),
                                        [](const auto& a, const auto& b) { return a.bytes < b.bytes; });
    int ts = dtype_size(big.dtype);
    bool per_peer = run.func == "AllToAll" || run.func == "AllGather" || run.func == "ReduceScatter";
    if (per_peer && ts > 0 && big.count > 0 && big.bytes % (big.count * ts) == 0 && big.bytes / (big.count * ts) > 1) {
      run.nranks = static_cast<int>(big.bytes / (big.count * ts));
      run.nranks_basis = "count x type size";
    } else if (big.algbw_gbps > 0) {
      double r = big.busbw_gbps / big.algbw_gbps;
      double n = run.func == "AllReduce" ? 2.0 / (2.0 - r) : (r < 1 ? 1.0 / (1.0 - r) : 0);
      if (std::isfinite(n) && n >= 1.5) {
        run.nranks = static_cast<int>(std::lround(n));
        run.nranks_basis = "busbw/algbw ratio";
      }
    }
  }
  for (auto& r : run.rows) {
    r.func = run.func;
    r.nranks = run.nranks;
  }
  if (!footer) run.avg_busbw_gbps.reset();
  return run;
}

Expected<void> import_nccl_tests(const std::filesystem::path& file, TraceWriter& w, ImportContext& ctx) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{file.string() + ": cannot open"};
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  ctx.report(text.size() / 2, text.size());
  auto run = parse_nccl_tests(text, file.string());
  if (!run) return run.error();
  std::string src = file.filename().string();
  for (auto r : run->rows) {
    r.source = src;
    w.add(r);
  }
  if (run->avg_busbw_gbps) {
    w.set_meta("nccl_tests.avg_busbw_gbps:" + src, std::to_string(*run->avg_busbw_gbps));
  } else {
    w.add(StatRow{"nccl_tests_no_footer", Severity::Info, 1, std::nullopt,
                  src + ": no \"# Avg bus bandwidth\" footer (output truncated?); average bus bandwidth unknown"});
  }
  if (run->wrong > 0)
    w.add(StatRow{"nccl_tests_wrong_results", Severity::Error, run->wrong, std::nullopt,
                  src + ": nccl-tests reported wrong results (#wrong/error column non-zero)"});
  if (run->noise_lines > 0)
    w.add(StatRow{"nccl_tests_log_lines_skipped", Severity::Info, run->noise_lines, std::nullopt,
                  src + ": lines that were not nccl-tests output (e.g. NCCL INFO logs) were skipped"});
  if (run->nranks == 0)
    w.add(StatRow{"nccl_tests_nranks_unknown", Severity::Info, 1, std::nullopt,
                  src + ": number of ranks could not be told"});
  w.set_meta("nccl_tests.func:" + src, run->func + " (from " + run->func_basis + ")");
  if (!run->hosts.empty()) w.set_meta("nccl_tests.hosts:" + src, std::to_string(run->hosts.size()));
  ctx.report(text.size(), text.size());
  return {};
}

}  // namespace moetune::import
