// SPDX-License-Identifier: Apache-2.0
// Fuzz entry for the Kineto importer: the input bytes become a trace file, imported
// into a throw-away store. Any crash, sanitizer report or abort is a bug; an error
// is fine but must name the file (the one-line contract of every importer).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "common/scratch_dir.h"
#include "moetune/import/import.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace fs = std::filesystem;
  // One scratch folder per process, removed at exit; tmpfs when there is one (SQLite's
  // fsyncs on a disk cost ~100 ms per input).
  static const moetune::test::ScratchDir scratch("moetune-fuzz-kineto", moetune::test::ScratchDir::On::Tmpfs);
  const fs::path& dir = scratch.path();
  const fs::path in = dir / "trace.json";
  {
    std::ofstream out(in, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  moetune::WriterOptions wo;
  wo.force = true;
  auto w = moetune::TraceWriter::create(dir / "out.moetune", wo);
  if (!w) return 0;
  moetune::import::ImportContext ctx(moetune::import::ImportOptions{0, {}});
  auto r = moetune::import::import_kineto(in, **w, ctx);
  if (!r && r.error().message.rfind(in.string() + ": ", 0) != 0) {
    std::fprintf(stderr, "error does not name the file: %s\n", r.error().message.c_str());
    std::abort();
  }
  if (r) (void)(*w)->finish();  // exercise the commit path too
  return 0;
}
