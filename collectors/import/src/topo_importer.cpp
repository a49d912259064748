// SPDX-License-Identifier: Apache-2.0
// `nvidia-smi topo -m` text -> topology rows (GPU-GPU and GPU-NIC pairs with their link
// code and, for NVLink, a bandwidth ceiling). Handles TAB- and space-separated output,
// NIC columns named NICn (with a "NIC Legend") or directly (mlx5_0, old format),
// "CPU Affinity" alone (old) or with "NUMA Affinity"/"GPU NUMA ID", empty TAB fields,
// labels or prompts before the matrix, a missing Legend, and `nvidia-smi nvlink --status`
// / `GPU n: NAME (UUID: ...)` lines after it.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "moetune/import/import.h"
#include "moetune/import/text_formats.h"
#include "moetune/trace/link_rates.h"

namespace moetune::import {

std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string t;
  while (in >> t) out.push_back(t);
  return out;
}

Expected<std::string> read_text_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{file.string() + ": cannot open"};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

std::string trim(const std::string& s) {
  auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

bool is_link_code(const std::string& t) {
  if (t == "X" || t == "PIX" || t == "PXB" || t == "PHB" || t == "NODE" || t == "SYS" || t == "SOC" || t == "NET")
    return true;
  return t.size() > 2 && t.rfind("NV", 0) == 0 &&
         std::all_of(t.begin() + 2, t.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

bool is_gpu_label(const std::string& s) {
  return s.size() > 3 && s.rfind("GPU", 0) == 0 &&
         std::all_of(s.begin() + 3, s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

int TopoMatrix::gpus() const {
  return static_cast<int>(std::count_if(labels.begin(), labels.end(), is_gpu_label));
}
int TopoMatrix::nics() const { return static_cast<int>(labels.size()) - gpus(); }
bool TopoMatrix::is_gpu(std::size_t i) const { return i < labels.size() && is_gpu_label(labels[i]); }

// Per-link rates come from moetune/trace/link_rates.h (one source of truth with the analyzers and synth).
std::optional<double> nvlink_gbps_per_link(const std::string& gpu_name, int nlinks) {
  std::string n = lower(gpu_name);
  for (const char* k : {"h100", "h200", "h800", "h20", "gh200"})
    if (n.find(k) != std::string::npos) return links::kNvlink4PerLinkGbps;
  for (const char* k : {"a100", "a800"})
    if (n.find(k) != std::string::npos) return links::kNvlink3PerLinkGbps;
  if (n.find("v100") != std::string::npos) return links::kNvlink2PerLinkGbps;
  if (n.find("p100") != std::string::npos) return links::kNvlink1PerLinkGbps;
  if (n.empty() && nlinks == 18) return links::kNvlink4PerLinkGbps;  // only Hopper has 18 links
  if (n.empty() && nlinks == 12) return links::kNvlink3PerLinkGbps;  // A100-class (SXM4 or bridged PCIe pairs)
  return std::nullopt;
}

std::optional<double> pcie_gbps(int gen, int width) { return links::pcie_raw_gbps(gen, width); }

Expected<TopoMatrix> parse_topo(const std::string& text) {
  TopoMatrix m;
  std::istringstream in(text);
  std::string line;
  bool in_nic_legend = false, header = false;
  bool has_numa = false, has_gpu_numa = false;
  int cur_gpu = -1;
  std::map<std::string, std::vector<std::string>> rows;  // label -> link codes
  std::string short_row;  // a row with fewer columns than labels: only the paste's last row may be cut
  std::size_t short_have = 0;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("#!", 0) == 0) continue;  // our provenance header
    auto tok = split_ws(line);
    if (tok.empty()) continue;
    if (!header) {
      if (tok[0] == "GPU0" && (tok.size() == 1 || !is_link_code(tok[1]))) {
        header = true;
        m.tabs = line.find('\t') != std::string::npos;
        for (const auto& t : tok) {
          if (t == "CPU" || t == "NUMA" || (t == "GPU" && !m.labels.empty())) break;
          m.labels.push_back(t);
        }
        has_numa = line.find("NUMA Affinity") != std::string::npos;
        has_gpu_numa = line.find("GPU NUMA ID") != std::string::npos;
      }
      continue;
    }
    if (tok[0] == "Legend:") {
      m.legend = true;
      continue;
    }
    if (tok[0] == "NIC" && tok.size() > 1 && tok[1] == "Legend:") {
      in_nic_legend = true;
      continue;
    }
    if (in_nic_legend && tok.size() == 2 && tok[0].back() == ':') {
      m.nic_names[tok[0].substr(0, tok[0].size() - 1)] = tok[1];
      continue;
    }
    // "GPU 0: NVIDIA H200 (UUID: GPU-...)"
    if (tok[0] == "GPU" && tok.size() >= 3 && tok[1].back() == ':') {
      try {
        cur_gpu = std::stoi(tok[1]);
      } catch (...) {
        cur_gpu = -1;
        continue;
      }
      std::string rest = trim(line.substr(line.find(':') + 1));
      auto uu = rest.find(" (UUID");
      m.gpu_names[cur_gpu] = rest.substr(0, uu);
      continue;
    }
    // "Link 3: 26.562 GB/s" (nvidia-smi nvlink --status)
    if (tok[0] == "Link" && tok.size() >= 4 && tok[3] == "GB/s" && cur_gpu >= 0) {
      try {
        double v = std::stod(tok[2]);
        m.link_gbps[cur_gpu] = std::max(m.link_gbps[cur_gpu], v);
      } catch (...) {
      }
      continue;
    }
    auto lab = std::find(m.labels.begin(), m.labels.end(), tok[0]);
    if (lab == m.labels.end() || tok.size() < 2 || !is_link_code(tok[1])) continue;
    std::vector<std::string> fields;
    if (m.tabs && line.find('\t') != std::string::npos) {
      std::istringstream ls(line);
      std::string f;
      while (std::getline(ls, f, '\t')) fields.push_back(trim(f));
      fields.erase(fields.begin(), std::find(fields.begin(), fields.end(), tok[0]));
    } else {
      fields = tok;
    }
    const std::size_t n = m.labels.size();
    if (!short_row.empty())
      return Error{"row " + short_row + " has " + std::to_string(short_have) +
                   " link columns, expected " + std::to_string(n)};
    std::size_t have = fields.empty() ? 0 : std::min(fields.size() - 1, n);
    while (have > 0 && fields[have].empty()) --have;  // trailing empty TAB fields of a cut line
    std::vector<std::string> links(fields.begin() + 1, fields.begin() + 1 + static_cast<long>(have));
    for (const auto& c : links)
      if (!is_link_code(c)) return Error{"row " + tok[0] + ": \"" + c + "\" is not a topo link code"};
    if (have < n) {  // the paste ends inside this row (checked when another row follows)
      short_row = tok[0];
      short_have = have;
      m.cut_rows.push_back(tok[0]);
      links.resize(n);
    }
    std::vector<std::string> rest;
    for (std::size_t k = n + 1; k < fields.size(); ++k)
      if (!fields[k].empty()) rest.push_back(fields[k]);
    if (!rest.empty()) m.cpu_affinity[tok[0]] = rest[0];
    if (has_numa && rest.size() > 1) m.numa_affinity[tok[0]] = rest[1];
    if (has_gpu_numa && rest.size() > 2) m.gpu_numa_id[tok[0]] = rest[2];
    rows[tok[0]] = std::move(links);
  }
  if (!header) return Error{"no `nvidia-smi topo -m` matrix found (no header line starting with GPU0)"};
  if (m.gpus() == 0) return Error{"topo matrix has no GPU columns"};
  if (rows.empty()) return Error{"topo matrix has a header but no rows"};
  const std::size_t n = m.labels.size();
  m.links.assign(n, std::vector<std::string>(n));
  for (std::size_t i = 0; i < n; ++i) {
    auto it = rows.find(m.labels[i]);
    if (it == rows.end()) {
      // A paste cut short: keep the rows it has; this GPU's links are known from the
      // columns of the rows present (the pairs no row covers stay unknown).
      if (m.is_gpu(i)) m.missing_rows.push_back(m.labels[i]);
      continue;  // a NIC row missing from a paste: its links are in the GPU rows
    }
    m.links[i] = it->second;
  }
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j)
      if (m.links[i][j].empty()) m.links[i][j] = m.links[j][i];
  return m;
}

Expected<void> import_topo(const std::filesystem::path& file, TraceWriter& w, ImportContext& ctx) {
  auto text = read_text_file(file);
  if (!text) return text.error();
  auto m = parse_topo(*text);
  if (!m) return Error{file.string() + ": " + m.error().message};
  const std::string src = file.filename().string();
  auto name_of = [&](std::size_t i) {
    auto it = m->nic_names.find(m->labels[i]);
    return it == m->nic_names.end() ? m->labels[i] : it->second;
  };
  auto gpu_index = [&](std::size_t i) { return std::stoi(m->labels[i].substr(3)); };
  std::string basis;
  for (std::size_t i = 0; i < m->labels.size(); ++i)
    for (std::size_t j = i + 1; j < m->labels.size(); ++j) {
      if (!m->is_gpu(i) && !m->is_gpu(j)) continue;  // NIC-NIC pairs are not needed
      if (m->links[i][j].empty()) continue;  // neither row is in a paste cut short
      TopologyRow r;
      r.a = name_of(i);
      r.b = name_of(j);
      r.link = m->links[i][j] == "SOC" ? "SYS" : m->links[i][j];
      r.source = src;
      if (r.link.rfind("NV", 0) == 0 && m->is_gpu(i) && m->is_gpu(j)) {
        int nl = std::stoi(r.link.substr(2));
        int g = gpu_index(i);
        std::optional<double> per;
        if (m->link_gbps.count(g)) {
          per = m->link_gbps.at(g);
          basis = "per-link GB/s from the nvlink status lines in the file";
        } else {
          std::string gname = m->gpu_names.count(g) ? m->gpu_names.at(g) : std::string();
          per = nvlink_gbps_per_link(gname, nl);
          if (per && basis.empty())
            basis = gname.empty() ? "per-link GB/s assumed from the link count (NV18 Hopper, NV12 A100-class)"
                                  : "per-link GB/s from the GPU generation (" + gname + ")";
        }
        if (per) r.bandwidth_gbps = *per * nl;
      }
      w.add(r);
    }
  if (!m->missing_rows.empty() || !m->cut_rows.empty()) {
    std::string what;
    for (const auto& r : m->missing_rows) what += (what.empty() ? "" : ", ") + r;
    std::string cut;
    for (const auto& r : m->cut_rows) cut += (cut.empty() ? "" : ", ") + r;
    w.add(StatRow{"topo_matrix_cut_short", Severity::DataLoss,
                  static_cast<std::int64_t>(m->missing_rows.size() + m->cut_rows.size()), std::nullopt,
                  src + ": the topo -m paste is cut short" + (what.empty() ? "" : " (no row for " + what + ")") +
                      (cut.empty() ? "" : " (row " + cut + " ends early)") +
                      "; kept the rows it has, pairs no row covers are unknown"});
  }
  for (const auto& [lab, v] : m->cpu_affinity) w.set_meta("topo.cpu_affinity." + lab, v);
  for (const auto& [lab, v] : m->numa_affinity) w.set_meta("topo.numa_affinity." + lab, v);
  for (const auto& [g, v] : m->gpu_names) w.set_meta("topo.gpu_name.GPU" + std::to_string(g), v);
  if (!basis.empty()) w.set_meta("topo.nvlink_bandwidth_basis", basis);
  w.set_meta("topo.gpus", std::to_string(m->gpus()));
  w.set_meta("topo.nics", std::to_string(m->nics()));
  ctx.report(text->size(), text->size());
  return {};
}

}  // namespace moetune::import
