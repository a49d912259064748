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
#include "moetune/trace/comm_vocab.h"

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

// What cluster launchers put before every line of a rank's output, removed before parsing:
//   srun --label                 " 0: ", "12: "
//   mpirun --tag-output (Open MPI) "[1,0]<stdout>:" (jobid,rank), optionally a space after
//   MPICH -prepend-rank / Intel MPI -l   "[0] " or "[0]" glued to the first field
// `label` gets the rank the launcher names ("" when the line has no prefix).
std::string strip_launcher_prefix(const std::string& line, std::string& label) {
  label.clear();
  std::size_t i = 0;
  while (i < line.size() && line[i] == ' ') ++i;
  std::size_t j = i;
  while (j < line.size() && std::isdigit(static_cast<unsigned char>(line[j]))) ++j;
  if (j > i && j < line.size() && line[j] == ':' && j - i <= 6) {  // srun --label
    label = line.substr(i, j - i);
    ++j;
    if (j < line.size() && line[j] == ' ') ++j;
    return line.substr(j);
  }
  if (line.empty() || line[0] != '[') return line;
  auto close = line.find(']');
  if (close == std::string::npos || close > 24) return line;
  std::string inside = line.substr(1, close - 1);
  auto comma = inside.find(',');
  std::string rank = comma == std::string::npos ? inside : inside.substr(comma + 1);
  if (!all_digits(rank) || (comma != std::string::npos && !all_digits(inside.substr(0, comma)))) return line;
  std::size_t k = close + 1;
  for (const char* tag : {"<stdout>:", "<stderr>:"})
    if (line.compare(k, std::char_traits<char>::length(tag), tag) == 0) k += std::char_traits<char>::length(tag);
  if (comma != std::string::npos && k == close + 1) return line;  // "[1,0]" without a stream tag: not a tag
  if (k < line.size() && line[k] == ' ') ++k;
  label = rank;
  return line.substr(k);
}

// Explicit rank count in a header line ("# nRanks 64", "nranks: 64"); 0 when none.
int header_nranks(const std::string& line) {
  std::string l;
  for (char c : line) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto p = l.find("nranks");
  if (p == std::string::npos) return 0;
  p += 6;
  while (p < l.size() && (l[p] == ' ' || l[p] == ':' || l[p] == '=' || l[p] == '\t')) ++p;
  std::size_t e = p;
  while (e < l.size() && std::isdigit(static_cast<unsigned char>(l[e]))) ++e;
  if (e == p || e - p > 7) return 0;
  return std::stoi(l.substr(p, e - p));
}

}  // namespace

double busbw_factor(const std::string& func, int n) { return comm::busbw_factor(func, n); }

Expected<NcclTestsRun> parse_nccl_tests(const std::string& text, const std::string& name) {
  NcclTestsRun run;
  std::istringstream in(text);
  std::string raw, bin_func, label, data_label;
  bool footer = false, header_seen = false, data_label_set = false;
  std::set<std::string> host_set;
  while (std::getline(in, raw)) {
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    if (raw.rfind("#!", 0) == 0) continue;  // our provenance header
    const std::string line = strip_launcher_prefix(raw, label);
    if (!label.empty()) ++run.prefixed_lines;
    auto tok = split_ws(line);
    if (tok.empty()) continue;
    if (bin_func.empty() && line.find("_perf") != std::string::npos) {
      for (const auto& t : tok)
        if (t.find("_perf") != std::string::npos) bin_func = comm::func_in_text(t.substr(0, t.find("_perf")));
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
      if (int n = header_nranks(line); n > 0) run.header_nranks = n;
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
    // Launched with a tag per rank, the table comes from one rank (nccl-tests prints on rank 0):
    // rows another rank prints belong to another run and are not mixed in.
    if (!data_label_set) data_label = label, data_label_set = true;
    if (label != data_label) {
      ++run.other_rank_rows;
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
      r.dtype = comm::dtype_name(tok[2]);
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
  } else if (auto f = comm::func_in_text(std::filesystem::path(name).filename().string()); !f.empty()) {
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
  // Ranks: what the output states (the "# Rank" device list or an nRanks line), else the
  // exact relation bytes = count x type size x ranks of the per-peer collectives; otherwise
  // unknown. Never from busbw/algbw: both are rounded to 2 decimals, which turns 64 ranks
  // into 73 or 52 depending on the row.
  if (!run.gpus.empty()) {
    run.nranks = static_cast<int>(run.gpus.size());
    run.nranks_basis = "device list";
  } else if (run.header_nranks > 0) {
    run.nranks = run.header_nranks;
    run.nranks_basis = "header nRanks";
  } else {
    const auto& big = *std::max_element(run.rows.begin(), run.rows.end(),
                                        [](const auto& a, const auto& b) { return a.bytes < b.bytes; });
    int ts = comm::dtype_size(big.dtype);
    bool per_peer = run.func == "AllToAll" || run.func == "AllGather" || run.func == "ReduceScatter";
    if (per_peer && ts > 0 && big.count > 0 && big.bytes % (big.count * ts) == 0 && big.bytes / (big.count * ts) > 1) {
      run.nranks = static_cast<int>(big.bytes / (big.count * ts));
      run.nranks_basis = "count x type size";
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
  auto read = read_text_file(file);
  if (!read) return read.error();
  const std::string& text = *read;
  ctx.report(text.size() / 2, text.size());
  auto run = parse_nccl_tests(text, file.string());
  if (!run) return run.error();
  std::string src = file.filename().string();
  for (auto r : run->rows) {
    r.source = src;
    w.add(r);
  }
  if (run->avg_busbw_gbps) w.set_meta("nccl_tests.avg_busbw_gbps:" + src, std::to_string(*run->avg_busbw_gbps));
  // Trace health: one stat row for each thing the file lacked or that was skipped.
  struct Health {
    const char* name;
    Severity severity;
    std::int64_t count;  // no row when 0
    const char* what;
  };
  const Health health[] = {
      {"nccl_tests_no_footer", Severity::Info, run->avg_busbw_gbps ? 0 : 1,
       "no \"# Avg bus bandwidth\" footer (output truncated?); average bus bandwidth unknown"},
      {"nccl_tests_wrong_results", Severity::Error, run->wrong,
       "nccl-tests reported wrong results (#wrong/error column non-zero)"},
      {"nccl_tests_log_lines_skipped", Severity::Info, run->noise_lines,
       "lines that were not nccl-tests output (e.g. NCCL INFO logs) were skipped"},
      {"nccl_tests_nranks_unknown", Severity::Info, run->nranks == 0 ? 1 : 0,
       "number of ranks unknown (no \"# Rank\" device list or nRanks line in the output)"},
      {"nccl_tests_launcher_prefix", Severity::Info, run->prefixed_lines,
       "lines carried a launcher tag (srun --label / mpirun --tag-output), removed before parsing"},
      {"nccl_tests_other_rank_rows", Severity::Info, run->other_rank_rows,
       "data rows printed by a second rank were skipped (one table per run is read)"},
  };
  for (const auto& h : health)
    if (h.count > 0) w.add(StatRow{h.name, h.severity, h.count, std::nullopt, src + ": " + h.what});
  w.set_meta("nccl_tests.func:" + src, run->func + " (from " + run->func_basis + ")");
  if (!run->hosts.empty()) w.set_meta("nccl_tests.hosts:" + src, std::to_string(run->hosts.size()));
  ctx.report(text.size(), text.size());
  return {};
}

}  // namespace moetune::import
