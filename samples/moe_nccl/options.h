// SPDX-License-Identifier: Apache-2.0
// Command-line options of the moe_nccl sample and their validation (host-only, no CUDA).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "moetune/trace/result.h"

namespace moe {

enum class CommDtype { fp32, bf16, fp16 };
const char* to_string(CommDtype d);
int comm_bytes(CommDtype d);

// Every knob of the sample. Defaults give a small 2-layer, 8-expert, top-2 model.
struct Options {
  int experts = 8;
  int top_k = 2;
  int hidden = 1024;
  int ffn = 4096;
  int tokens = 2048;  // tokens per rank per step
  int layers = 2;
  int steps = 20;
  int warmup = 3;
  double skew = 0.0;  // Zipf exponent of the expert popularity prior (0 = uniform)
  CommDtype comm_dtype = CommDtype::fp32;
  int overlap_chunks = 1;  // 1 = no overlap
  std::string placement;   // path of a moetune-placement JSON, empty = expert e on rank e % R
  bool grad_allreduce = false;
  int slow_rank = -1;        // rank that does extra work, -1 = none
  double slow_factor = 1.0;  // its expert compute is multiplied by this
  uint64_t seed = 1;
  int rank = 0;
  int nranks = 1;
  int ranks_per_node = 1;  // for the "same node" replica rule; emulated nodes: 1
  int device = -1;         // -1 = rank % device count
  std::string init_file;   // ncclUniqueId rendezvous file (needed when nranks > 1)
  std::string check_out;   // write the final layer output of the last step to CHECK_OUT.rank<r>.bin
};

// Parses argv (and RANK / WORLD_SIZE / LOCAL_RANK from the environment when --rank / --nranks
// are absent). Error message is one line: "moe_nccl: what is wrong".
moetune::Expected<Options> parse_options(const std::vector<std::string>& args,
                                         const std::vector<std::pair<std::string, std::string>>& env);

// Size checks that need no GPU: index ranges fit in int32, top-k <= experts, etc.
moetune::Expected<void> validate(const Options& o);

// Bytes of device memory one rank needs (upper bound), for the "does it fit" check.
int64_t device_bytes_needed(const Options& o, int local_experts_max);

std::string usage();

}  // namespace moe
