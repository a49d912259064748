// SPDX-License-Identifier: Apache-2.0
#include "report.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace moe {

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string result_json(const Options& o, const RunResult& r) {
  nlohmann::json j;
  const double med = median(r.step_ms);
  j["sample"] = "moe_nccl";
  j["tokens_per_s"] = med > 0 ? double(o.tokens) * o.nranks / (med / 1e3) : 0.0;
  j["median_step_ms"] = med;
  j["min_step_ms"] = r.step_ms.empty() ? 0.0 : *std::min_element(r.step_ms.begin(), r.step_ms.end());
  j["max_step_ms"] = r.step_ms.empty() ? 0.0 : *std::max_element(r.step_ms.begin(), r.step_ms.end());
  j["measured_steps"] = r.step_ms.size();
  j["ranks"] = o.nranks;
  j["experts"] = o.experts;
  j["top_k"] = o.top_k;
  j["hidden"] = o.hidden;
  j["ffn"] = o.ffn;
  j["tokens_per_rank"] = o.tokens;
  j["layers"] = o.layers;
  j["steps"] = o.steps;
  j["warmup"] = o.warmup;
  j["skew"] = o.skew;
  j["comm_dtype"] = to_string(o.comm_dtype);
  j["overlap_chunks"] = o.overlap_chunks;
  j["placement"] = o.placement.empty() ? "default" : o.placement;
  j["replicated"] = r.replicated;
  j["grad_allreduce"] = o.grad_allreduce;
  j["slow_rank"] = o.slow_rank;
  j["slow_factor"] = o.slow_factor;
  j["seed"] = o.seed;
  j["ranks_per_node"] = o.ranks_per_node;
  j["device"] = r.device_name;
  j["nccl_version"] = r.nccl_version;
  j["routed_tokens_rank0"] = r.routed;
  auto& env = j["nccl_env"] = nlohmann::json::object();
  for (auto& [k, v] : r.nccl_env) env[k] = v;
  return j.dump();
}

bool write_check_file(const std::string& path, const Options& o, const std::vector<float>& out) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const int32_t hdr[4] = {0x4D4F4531, o.tokens, o.hidden, o.rank * o.tokens};
  bool ok = std::fwrite(hdr, sizeof hdr, 1, f) == 1 && std::fwrite(out.data(), sizeof(float), out.size(), f) == out.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace moe
