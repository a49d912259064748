// SPDX-License-Identifier: Apache-2.0
// moetune import FILE|DIR... -o RUN.moetune [--rank N] [--force]
// A directory stands for the trace files in it (Kineto *.json / *.json.gz, nsys *.sqlite:
// one per rank, e.g. torch.profiler's tensorboard_trace_handler folder), sorted by name.
// An nsys report (.nsys-rep) is refused with the one command that makes it importable.
#include <algorithm>
#include <cstdio>

#include "command.h"
#include "moetune/import/import.h"
#include "moetune/trace/safe_file.h"

namespace moetune::cli {
namespace {

struct ImportArgs {
  std::vector<std::string> files;
  std::string out;
  int rank = -1;
  bool force = false;
};

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// FILE arguments as files: a directory becomes its trace files; .nsys-rep is refused.
std::vector<std::filesystem::path> expand_inputs(const std::vector<std::string>& args) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (const auto& a : args) {
    if (ends_with(a, ".nsys-rep"))
      throw InputError(a + ": an nsys report; make it importable with `nsys export --type sqlite -o " +
                       a.substr(0, a.size() - 9) + ".sqlite " + a + "` and import the .sqlite");
    std::error_code ec;
    if (!fs::is_directory(a, ec)) {
      files.emplace_back(a);
      continue;
    }
    std::vector<fs::path> in_dir;
    for (const auto& e : fs::directory_iterator(a, ec)) {
      const std::string name = e.path().filename().string();
      if (name.empty() || name[0] == '.' || !e.is_regular_file(ec)) continue;
      if (ends_with(name, ".json") || ends_with(name, ".json.gz") || ends_with(name, ".sqlite")) in_dir.push_back(e.path());
    }
    if (ec) throw InputError(a + ": cannot list the directory: " + ec.message());
    if (in_dir.empty()) throw InputError(a + ": no trace files in the directory (*.json, *.json.gz, *.sqlite)");
    std::sort(in_dir.begin(), in_dir.end());
    files.insert(files.end(), in_dir.begin(), in_dir.end());
  }
  return files;
}

void run_import(const ImportArgs& a, int& exit_code) {
  install_temp_cleanup();  // Ctrl-C / SIGTERM removes the temporary output
  const std::vector<std::filesystem::path> files = expand_inputs(a.files);
  WriterOptions wo;
  wo.force = a.force;
  auto w = TraceWriter::create(a.out, wo);
  if (!w) throw InputError(w.error().message);
  import::ImportOptions opts;
  if (a.rank >= 0) opts.rank = a.rank;
  if (stderr_is_tty()) {
    opts.progress = [last = -1](std::uint64_t done, std::uint64_t total) mutable {
      int pct = total ? static_cast<int>(done * 100 / total) : 0;
      if (pct != last) {
        last = pct;
        std::fprintf(stderr, "\rimporting... %3d%%", pct);
        if (pct >= 100) std::fprintf(stderr, "\n");
      }
    };
  }
  auto r = import::import_files(files, **w, opts);
  if (!r) throw InputError(r.error().message);  // the writer's destructor removes the temporary
  auto rows = (*w)->rows_written();
  if (auto f = (*w)->finish(); !f) throw InputError(f.error().message);
  std::printf("imported %zu file(s), %zu rows -> %s\n", files.size(), rows, a.out.c_str());
  exit_code = 0;
}

const Register reg{"import", [](CLI::App& app, int& exit_code) {
                     auto args = std::make_shared<ImportArgs>();
                     auto* c = app.add_subcommand(
                         "import", "Import Kineto JSON(.gz), nsys SQLite exports, nccl-tests output, topo text");
                     c->add_option("files", args->files, "input files or directories of them (one file per rank for Kineto)")->required();
                     c->add_option("-o,--output", args->out, "output run file (.moetune)")->required();
                     c->add_option("--rank", args->rank, "rank for files that do not say which rank they are");
                     c->add_flag("--force", args->force, "overwrite an existing output file");
                     c->callback([args, &exit_code] { run_import(*args, exit_code); });
                   }};

}  // namespace
}  // namespace moetune::cli
