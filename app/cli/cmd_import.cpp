// SPDX-License-Identifier: Apache-2.0
// moetune import FILE... -o RUN.moetune [--rank N] [--force]
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

void run_import(const ImportArgs& a, int& exit_code) {
  install_temp_cleanup();  // Ctrl-C / SIGTERM removes the temporary output
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
  std::vector<std::filesystem::path> files(a.files.begin(), a.files.end());
  auto r = import::import_files(files, **w, opts);
  if (!r) throw InputError(r.error().message);  // the writer's destructor removes the temporary
  auto rows = (*w)->rows_written();
  if (auto f = (*w)->finish(); !f) throw InputError(f.error().message);
  std::printf("imported %zu file(s), %zu rows -> %s\n", a.files.size(), rows, a.out.c_str());
  exit_code = 0;
}

const Register reg{"import", [](CLI::App& app, int& exit_code) {
                     auto args = std::make_shared<ImportArgs>();
                     auto* c = app.add_subcommand(
                         "import", "Import Kineto JSON(.gz), nsys SQLite exports, nccl-tests output, topo text");
                     c->add_option("files", args->files, "input files (one per rank for Kineto)")->required();
                     c->add_option("-o,--output", args->out, "output run file (.moetune)")->required();
                     c->add_option("--rank", args->rank, "rank for files that do not say which rank they are");
                     c->add_flag("--force", args->force, "overwrite an existing output file");
                     c->callback([args, &exit_code] { run_import(*args, exit_code); });
                   }};

}  // namespace
}  // namespace moetune::cli
