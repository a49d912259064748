// SPDX-License-Identifier: Apache-2.0
// Parsers for the two plain-text formats people paste into issues: nccl-tests
// `*_perf` output and `nvidia-smi topo -m`. They take the whole text (our `#! `
// header lines are skipped) and return a plain value; import_nccl_tests/import_topo
// turn that into store rows. Exposed so tests can check what was understood.
#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "moetune/trace/result.h"
#include "moetune/trace/rows.h"

namespace moetune::import {

// Whitespace-separated tokens of one line (shared by both text parsers).
std::vector<std::string> split_ws(const std::string& s);
// The whole of a text file (shared by both importers); "FILE: cannot open" when it cannot be read.
Expected<std::string> read_text_file(const std::filesystem::path& file);

// ---- nccl-tests ----------------------------------------------------------------
struct NcclTestsRun {
  std::string func;           // "AllReduce", "AllToAll", ... (from binary name, file name or columns)
  std::string func_basis;     // where func came from: "binary name", "file name", "columns"
  int nranks = 0;             // from the header, else exact count x type size, else 0 (unknown)
  std::string nranks_basis;   // "device list", "header nRanks", "count x type size" ("" when unknown)
  int header_nranks = 0;      // an explicit "nRanks N" header line, 0 when none
  std::vector<std::string> hosts;   // distinct hosts of the device list, in order
  std::vector<std::string> gpus;    // GPU name per rank of the device list
  std::vector<BenchResultRow> rows; // one per size and placement (out-of-place, in-place)
  std::optional<double> avg_busbw_gbps;  // the footer's "Avg bus bandwidth"; empty if no footer
  long wrong = 0;             // sum of #wrong / non-zero error columns (N/A ignored)
  long noise_lines = 0;       // lines that were neither header, data nor footer (NCCL INFO logs, ...)
  long prefixed_lines = 0;    // lines with a launcher tag (srun --label " 0: ", mpirun "[1,0]<stdout>:", "[0]")
  long other_rank_rows = 0;   // data rows printed under another rank's tag than the table's (skipped)
};
// `name` is the file name (a hint for the collective when the text does not say).
Expected<NcclTestsRun> parse_nccl_tests(const std::string& text, const std::string& name);

// Bus bandwidth factor of nccl-tests (busbw = algbw x factor) for a collective on n ranks
// (moetune/trace/comm_vocab.h, comm::busbw_factor).
double busbw_factor(const std::string& func, int nranks);

// ---- nvidia-smi topo -m --------------------------------------------------------
struct TopoMatrix {
  std::vector<std::string> labels;        // column labels as printed: GPU0.., NIC0.. or mlx5_0..
  std::vector<std::vector<std::string>> links;  // [row][col] link code ("X", "NV12", "PIX", ...)
  std::map<std::string, std::string> nic_names;  // NIC Legend: "NIC0" -> "mlx5_0"
  std::map<std::string, std::string> cpu_affinity, numa_affinity, gpu_numa_id;  // per row label
  std::map<int, std::string> gpu_names;   // "GPU 0: NVIDIA H200 (UUID: ...)" lines
  std::map<int, double> link_gbps;        // per-link GB/s from `nvidia-smi nvlink --status` lines (max seen)
  bool tabs = false;                      // TAB-separated (newer nvidia-smi) vs spaces
  bool legend = false;                    // "Legend:" block present
  std::vector<std::string> missing_rows;  // GPU labels with no row (a paste cut short); "" links for pairs no row covers
  std::vector<std::string> cut_rows;      // the row the paste ends in, when it has fewer columns than labels
  int gpus() const;
  int nics() const;
  bool is_gpu(std::size_t i) const;
};
Expected<TopoMatrix> parse_topo(const std::string& text);

// Ceiling (unidirectional GB/s) of one NVLink bundle NV<n> for a GPU; empty when the
// generation cannot be told. Basis: NVLink4 (Hopper: H100/H200/H800/H20) 26.5625 GB/s
// per link per direction as nvidia-smi nvlink --status reports it; NVLink3 (A100/A800)
// 25 GB/s; NVLink2 (V100) 25 GB/s; NVLink1 (P100) 20 GB/s. With no GPU name, NV18 can only
// be Hopper (no other part has 18 links) and NV12 is taken as A100-class NVLink3.
std::optional<double> nvlink_gbps_per_link(const std::string& gpu_name, int links);
// Nominal unidirectional PCIe ceiling, GB/s, for generation `gen` and `width` lanes:
// per-lane 0.25 (gen1) 0.5 (gen2) 0.985 (gen3) 1.969 (gen4) 3.938 (gen5) 7.563 (gen6),
// i.e. gen4 x16 ~ 31.5, gen5 x16 ~ 63. Empty when unknown.
std::optional<double> pcie_gbps(int gen, int width);

}  // namespace moetune::import
