// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the nsys SQLite importer. The input is written to a private
// temporary file (SQLite reads files) and imported into a throw-away run; any crash,
// hang, sanitizer report or uncaught exception is a bug. Seeds: the real exports in
// shared/data/external/nsys and tests/data/fuzz/nsys (crashers kept as regressions).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/scratch_dir.h"
#include "moetune/import/import.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const moetune::test::ScratchDir scratch("moetune-fuzz-nsys", moetune::test::ScratchDir::On::Tmpfs);
  static const std::filesystem::path in = scratch / "in.sqlite", out = scratch / "out.moetune";
  {
    std::ofstream f(in, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  std::error_code ec;
  std::filesystem::remove(out, ec);
  {
    auto w = moetune::TraceWriter::create(out, {.force = true});
    if (w) {
      moetune::import::ImportContext ctx({});
      auto r = moetune::import::import_nsys(in, **w, ctx);
      if (r) (void)(*w)->finish();
    }
  }
  std::filesystem::remove(in, ec);
  std::filesystem::remove(out, ec);
  return 0;
}
