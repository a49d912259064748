// SPDX-License-Identifier: Apache-2.0
// Test helpers for the Kineto importer tests: an independent reading of the real
// traces (zlib + nlohmann::json, not the importer's simdjson path) that counts events
// by category, so golden tests compare the store with what the files contain.
#pragma once
#include <zlib.h>

#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace moetune::test {

inline std::filesystem::path kineto_dir() {
  return std::filesystem::path(MOETUNE_SHARED_DATA) / "external" / "kineto";
}

inline std::string gunzip_file(const std::filesystem::path& p) {
  gzFile f = gzopen(p.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + p.string());
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  gzclose(f);
  return out;
}

// What a Kineto file holds, counted straight from its JSON.
struct KinetoCounts {
  long kernels = 0, nccl_kernels = 0, memcpys = 0, memsets = 0, api_calls = 0, sync_calls = 0, nvtx = 0;
  std::set<long> steps;
  long rank = -1;
};

inline KinetoCounts count_kineto(const std::filesystem::path& gz) {
  auto j = nlohmann::json::parse(gunzip_file(gz));
  KinetoCounts c;
  if (j.contains("distributedInfo")) c.rank = j["distributedInfo"].value("rank", -1L);
  for (const auto& e : j["traceEvents"]) {
    if (e.value("ph", "") != "X") continue;
    std::string cat = e.value("cat", ""), name = e.value("name", "");
    if (cat == "kernel") {
      ++c.kernels;
      if (name.rfind("nccl", 0) == 0) ++c.nccl_kernels;
    } else if (cat == "gpu_memcpy") ++c.memcpys;
    else if (cat == "gpu_memset") ++c.memsets;
    else if (cat == "cuda_runtime" || cat == "cuda_driver") {
      ++c.api_calls;
      if (name.size() > 11 && name.compare(name.size() - 11, 11, "Synchronize") == 0) ++c.sync_calls;
    } else if (cat == "user_annotation" || cat == "gpu_user_annotation" || cat == "cpu_op") {
      ++c.nvtx;
      if (cat != "gpu_user_annotation" && name.rfind("ProfilerStep#", 0) == 0) c.steps.insert(std::stol(name.substr(13)));
    }
  }
  return c;
}

}  // namespace moetune::test
