// SPDX-License-Identifier: Apache-2.0
#include "record_support.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "command.h"
#include "moetune/import/import.h"
#include "moetune/live/merge.h"

namespace moetune::cli {

namespace fs = std::filesystem;

CollectorLibs find_collector_libs() {
  CollectorLibs l;
  std::vector<fs::path> dirs;
  if (const char* d = std::getenv("MOETUNE_LIB_DIR"); d && *d) dirs.emplace_back(d);
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    auto bin = exe.parent_path();
    dirs.push_back(bin);
    dirs.push_back(bin / "../collectors/cupti");
    dirs.push_back(bin / "../collectors/nccl");
    dirs.push_back(bin / "../lib/moetune");
    dirs.push_back(bin / "../lib");
  }
  for (const auto& d : dirs) {
    if (l.cupti.empty() && fs::exists(d / "libmoetune_cupti.so", ec)) l.cupti = fs::canonical(d / "libmoetune_cupti.so", ec);
    if (l.nccl.empty() && fs::exists(d / "libmoetune_nccl.so", ec)) l.nccl = fs::canonical(d / "libmoetune_nccl.so", ec);
  }
  return l;
}

bool collector_loads(const fs::path& lib, std::string& why) {
  ::dlerror();
  void* h = ::dlopen(lib.c_str(), RTLD_LAZY | RTLD_LOCAL);
  if (!h) {
    const char* e = ::dlerror();
    why = e ? e : "dlopen failed";
    return false;
  }
  ::dlclose(h);
  return true;
}

std::string capture_topo_text() {
  FILE* f = ::popen("nvidia-smi topo -m 2>/dev/null", "r");
  if (!f) return {};
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  int rc = ::pclose(f);
  if (rc != 0) return {};
  // nvidia-smi underlines the header with ANSI escapes even into a pipe
  // ("\x1b[4mGPU0 ...\x1b[0m"): strip CSI sequences so the text parses.
  std::string clean;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\x1b' && i + 1 < out.size() && out[i + 1] == '[') {
      i += 2;
      while (i < out.size() && !(out[i] >= '@' && out[i] <= '~')) ++i;
      continue;
    }
    clean += out[i];
  }
  return clean;
}

void write_merged(const std::vector<fs::path>& parts, const fs::path& topo_txt, const fs::path& out, bool force,
                  const std::string& command, int exit_status, bool align_clocks) {
  WriterOptions o;
  o.force = force;
  auto w = TraceWriter::create(out, o);
  if (!w) throw InputError(w.error().message);
  live::MergeOptions mo;
  mo.align_clocks = align_clocks;
  auto rep = live::merge_parts(parts, **w, mo);
  if (!rep) throw InputError(out.string() + ": " + rep.error().message);
  for (const auto& line : rep->warnings) std::fprintf(stderr, "moetune: warning: %s\n", line.c_str());
  std::error_code ec;
  if (!topo_txt.empty() && fs::exists(topo_txt, ec)) {
    // The raw text is kept (meta 'nvidia_smi_topo'); the topo importer turns it into rows.
    std::ifstream in(topo_txt);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    (*w)->set_meta("nvidia_smi_topo", text);
    import::ImportContext ctx{import::ImportOptions{}};
    if (auto r = import::import_topo(topo_txt, **w, ctx); !r)
      (*w)->add(StatRow{"topology_unparsed", Severity::Info, 1, std::nullopt,
                        "nvidia-smi topo -m text kept in meta 'nvidia_smi_topo' only (" + r.error().message + ")"});
  }
  if (!command.empty()) (*w)->set_meta("command", command);
  if (const char* prof = std::getenv("MOETUNE_PROFILE"); prof && *prof) (*w)->set_meta("profile", prof);
  if (exit_status >= 0) (*w)->set_meta("exit_status", std::to_string(exit_status));
  if (auto r = (*w)->finish(); !r) throw InputError(r.error().message);
  std::fprintf(stderr, "moetune: wrote %s (%d ranks, %d parts, %lld rows)\n", out.c_str(), rep->ranks,
               rep->parts_read, static_cast<long long>(rep->rows));
  for (const auto& c : rep->clocks) {
    if (c.reference) std::fprintf(stderr, "moetune: clock of host %s: reference\n", c.domain.c_str());
    else if (!c.aligned) std::fprintf(stderr, "moetune: clock of host %s: not aligned (no shared collective)\n", c.domain.c_str());
    else
      std::fprintf(stderr, "moetune: clock of host %s: offset %+.0f ns, drift %+.3f ppm, bound +-%lld ns (%d instances, %d outliers)\n",
                   c.domain.c_str(), c.map.offset_ns, c.map.drift * 1e6, static_cast<long long>(c.bound_ns), c.instances,
                   c.rejected);
  }
}

}  // namespace moetune::cli
