// SPDX-License-Identifier: Apache-2.0
// The one JSON line moe_nccl prints at the end, and the step-time statistics behind it.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "options.h"

namespace moe {

struct RunResult {
  std::vector<double> step_ms;  // per measured step, the slowest rank's wall time
  std::string device_name;
  int nccl_version = 0;
  bool replicated = false;
  std::vector<int64_t> routed;  // rank 0's routed tokens per expert, all layers and steps
  std::vector<std::pair<std::string, std::string>> nccl_env;  // NCCL_* variables in effect
};

double median(std::vector<double> v);
// {"sample":"moe_nccl","tokens_per_s":...,"median_step_ms":...,...settings...}
std::string result_json(const Options& o, const RunResult& r);

// Binary dump of the final activations for the correctness check:
// int32 magic 0x4D4F4531 ('MOE1'), tokens, hidden, first global token; then tokens*hidden floats.
bool write_check_file(const std::string& path, const Options& o, const std::vector<float>& out);

}  // namespace moe
