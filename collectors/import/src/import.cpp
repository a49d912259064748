// SPDX-License-Identifier: Apache-2.0
#include "moetune/import/import.h"

#include <cctype>
#include <sys/stat.h>

#include <cerrno>
#include <fstream>

#include "moetune/trace/safe_file.h"
#include "kineto_pipeline.h"

namespace moetune::import {

const char* to_string(Format f) {
  switch (f) {
    case Format::Kineto: return "kineto";
    case Format::Nsys: return "nsys";
    case Format::NcclTests: return "nccl-tests";
    case Format::Topo: return "nvidia-smi-topo";
    case Format::Unknown: break;
  }
  return "unknown";
}

Format detect_format(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Format::Unknown;
  std::string head(16384, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  if (head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x1f && static_cast<unsigned char>(head[1]) == 0x8b)
    return Format::Kineto;  // gzip: only Kineto traces come gzipped
  if (head.rfind("SQLite format 3", 0) == 0) return Format::Nsys;
  // Our provenance lines ("#! source: ...", "#! expect: ...") are not the tool's output:
  // drop them before looking for format markers (they may name other tools).
  {
    std::string kept;
    std::size_t pos = 0;
    while (pos < head.size()) {
      std::size_t nl = head.find('\n', pos);
      std::size_t end = nl == std::string::npos ? head.size() : nl + 1;
      if (head.compare(pos, 2, "#!") != 0) kept.append(head, pos, end - pos);
      pos = end;
    }
    head = std::move(kept);
  }
  std::size_t i = head.find_first_not_of(" \t\r\n");
  // "[1,0]<stdout>:" / "[0]" before a line is an MPI launcher's rank tag, not a JSON array.
  const bool rank_tag = i != std::string::npos && head[i] == '[' && i + 1 < head.size() &&
                        std::isdigit(static_cast<unsigned char>(head[i + 1]));
  if (i != std::string::npos && (head[i] == '{' || (head[i] == '[' && !rank_tag))) return Format::Kineto;
  if (head.find("busbw") != std::string::npos || head.find("nccl-tests") != std::string::npos ||
      head.find("# Using devices") != std::string::npos || head.find("_perf") != std::string::npos)
    return Format::NcclTests;
  if (head.find("GPU0") != std::string::npos &&
      (head.find("Legend") != std::string::npos || head.find("CPU Affinity") != std::string::npos ||
       head.find("\tX") != std::string::npos || head.find(" X ") != std::string::npos))
    return Format::Topo;
  return Format::Unknown;
}

Expected<RankId> ImportContext::claim_rank(int rank, const std::filesystem::path& file) {
  if (rank < 0) return Error{file.string() + ": negative rank " + std::to_string(rank)};
  if (!taken_.insert(rank).second)
    return Error{file.string() + ": rank " + std::to_string(rank) +
                 " is already taken by another input file (pass one file per rank)"};
  return RankId(rank);
}

int ImportContext::next_free_rank() const {
  int r = 0;
  while (taken_.count(r)) ++r;
  return r;
}

Expected<void> import_files(const std::vector<std::filesystem::path>& files, TraceWriter& w,
                            const ImportOptions& opts) {
  ImportContext ctx(opts);
  kineto::Prefetch kineto(files, opts);  // parses the Kineto files ahead, in parallel
  std::string sources;
  for (const auto& f : files) {
    std::error_code ec;
    // Type checked before any open: a FIFO with no writer would block the open forever.
    struct stat st {};
    if (::stat(f.c_str(), &st) != 0)
      return Error{errno == ENOENT ? f.string() + ": no such file" : describe_errno(f, "cannot read", errno)};
    if (S_ISDIR(st.st_mode)) return Error{f.string() + ": is a directory"};
    if (!S_ISREG(st.st_mode))
      return Error{f.string() + ": not a regular file (" +
                   (S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISSOCK(st.st_mode) ? "a socket" : "a device") +
                   "); import reads files"};

    if (std::filesystem::file_size(f, ec) == 0 && !ec) return Error{f.string() + ": empty file"};
    Format fmt = detect_format(f);
    Expected<void> r;
    switch (fmt) {
      case Format::Kineto: r = kineto.import(f, w, ctx); break;
      case Format::Nsys: r = import_nsys(f, w, ctx); break;
      case Format::NcclTests: r = import_nccl_tests(f, w, ctx); break;
      case Format::Topo: r = import_topo(f, w, ctx); break;
      case Format::Unknown:
        return Error{f.string() +
                     ": unknown format (expected Kineto JSON(.gz), nsys SQLite export, nccl-tests output or "
                     "nvidia-smi topo -m text)"};
    }
    if (!r) return r;
    if (!sources.empty()) sources += ";";
    sources += std::string(to_string(fmt)) + ":" + f.filename().string();
  }
  w.set_meta("source", sources);
  return {};
}

}  // namespace moetune::import
