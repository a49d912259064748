// SPDX-License-Identifier: Apache-2.0
#include "options.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace moe {
namespace {

using moetune::Error;

Error err(const std::string& what) { return Error{"moe_nccl: " + what}; }

template <class T>
bool parse_num(const std::string& s, T& out) {
  if constexpr (std::is_floating_point_v<T>) {
    try {
      size_t pos = 0;
      double v = std::stod(s, &pos);
      if (pos != s.size() || !std::isfinite(v)) return false;
      out = static_cast<T>(v);
      return true;
    } catch (...) {
      return false;
    }
  } else {
    auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    return r.ec == std::errc() && r.ptr == s.data() + s.size();
  }
}

}  // namespace

const char* to_string(CommDtype d) {
  switch (d) {
    case CommDtype::fp32: return "fp32";
    case CommDtype::bf16: return "bf16";
    case CommDtype::fp16: return "fp16";
  }
  return "?";
}

int comm_bytes(CommDtype d) { return d == CommDtype::fp32 ? 4 : 2; }

std::string usage() {
  return "usage: moe_nccl [--experts E] [--top-k K] [--hidden H] [--ffn F] [--tokens T] [--layers L]\n"
         "  [--steps N] [--warmup W] [--skew S] [--comm-dtype fp32|bf16|fp16] [--overlap-chunks C]\n"
         "  [--placement FILE] [--grad-allreduce] [--slow-rank R:F] [--seed S] [--rank R --nranks N]\n"
         "  [--init-file FILE] [--ranks-per-node P] [--device D] [--check-out PREFIX]\n";
}

moetune::Expected<Options> parse_options(const std::vector<std::string>& args,
                                         const std::vector<std::pair<std::string, std::string>>& env) {
  Options o;
  for (auto& [k, v] : env) {  // torchrun / launcher variables; flags below override them
    if (k == "RANK" && !parse_num(v, o.rank)) return err("RANK is not a number: '" + v + "'");
    if (k == "WORLD_SIZE" && !parse_num(v, o.nranks)) return err("WORLD_SIZE is not a number: '" + v + "'");
    if (k == "MOE_INIT_FILE") o.init_file = v;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::string val;
    bool has_inline = false;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      val = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_inline = true;
    }
    if (a == "--grad-allreduce") {
      o.grad_allreduce = true;
      continue;
    }
    if (a == "--help" || a == "-h") return err("help requested\n" + usage());
    auto take = [&]() -> bool {
      if (has_inline) return true;
      if (i + 1 >= args.size()) return false;
      val = args[++i];
      return true;
    };
    auto num = [&](auto& field) -> moetune::Expected<void> {
      if (!take()) return err(a + " needs a value");
      if (!parse_num(val, field)) return err(a + ": not a number: '" + val + "'");
      return {};
    };
    moetune::Expected<void> r;
    if (a == "--experts") r = num(o.experts);
    else if (a == "--top-k") r = num(o.top_k);
    else if (a == "--hidden") r = num(o.hidden);
    else if (a == "--ffn") r = num(o.ffn);
    else if (a == "--tokens") r = num(o.tokens);
    else if (a == "--layers") r = num(o.layers);
    else if (a == "--steps") r = num(o.steps);
    else if (a == "--warmup") r = num(o.warmup);
    else if (a == "--skew") r = num(o.skew);
    else if (a == "--overlap-chunks") r = num(o.overlap_chunks);
    else if (a == "--seed") r = num(o.seed);
    else if (a == "--rank") r = num(o.rank);
    else if (a == "--nranks") r = num(o.nranks);
    else if (a == "--ranks-per-node") r = num(o.ranks_per_node);
    else if (a == "--device") r = num(o.device);
    else if (a == "--comm-dtype") {
      if (!take()) return err(a + " needs a value");
      if (val == "fp32") o.comm_dtype = CommDtype::fp32;
      else if (val == "bf16") o.comm_dtype = CommDtype::bf16;
      else if (val == "fp16") o.comm_dtype = CommDtype::fp16;
      else return err("--comm-dtype must be fp32, bf16 or fp16, not '" + val + "'");
    } else if (a == "--placement" || a == "--init-file" || a == "--check-out") {
      if (!take()) return err(a + " needs a value");
      (a == "--placement" ? o.placement : a == "--init-file" ? o.init_file : o.check_out) = val;
    } else if (a == "--slow-rank") {
      if (!take()) return err(a + " needs a value");
      auto colon = val.find(':');
      if (colon == std::string::npos || !parse_num(val.substr(0, colon), o.slow_rank) ||
          !parse_num(val.substr(colon + 1), o.slow_factor))
        return err("--slow-rank wants R:F (rank and work factor), not '" + val + "'");
    } else {
      return err("unknown option '" + a + "'");
    }
    if (!r) return r.error();
  }
  auto v = validate(o);
  if (!v) return v.error();
  return o;
}

moetune::Expected<void> validate(const Options& o) {
  if (o.experts < 1) return err("--experts must be >= 1");
  if (o.top_k < 1 || o.top_k > 8) return err("--top-k must be in 1..8");
  if (o.top_k > o.experts) return err("--top-k " + std::to_string(o.top_k) + " exceeds --experts " + std::to_string(o.experts));
  if (o.experts > 1024) return err("--experts must be <= 1024");
  if (o.hidden < 1 || o.ffn < 1 || o.tokens < 1 || o.layers < 1)
    return err("--hidden, --ffn, --tokens and --layers must be >= 1");
  if (o.steps < 1 || o.warmup < 0) return err("--steps must be >= 1 and --warmup >= 0");
  if (o.skew < 0 || o.skew > 10) return err("--skew must be in 0..10");
  if (o.overlap_chunks < 1 || o.overlap_chunks > o.tokens)
    return err("--overlap-chunks must be in 1..tokens (" + std::to_string(o.tokens) + ")");
  if (o.nranks < 1) return err("--nranks must be >= 1");
  if (o.rank < 0 || o.rank >= o.nranks)
    return err("--rank " + std::to_string(o.rank) + " is outside 0.." + std::to_string(o.nranks - 1));
  if (o.ranks_per_node < 1) return err("--ranks-per-node must be >= 1");
  if (o.slow_rank >= o.nranks) return err("--slow-rank names rank " + std::to_string(o.slow_rank) + " but there are " + std::to_string(o.nranks) + " ranks");
  if (o.slow_rank >= 0 && (o.slow_factor < 1 || o.slow_factor > 100)) return err("--slow-rank factor must be in 1..100");
  if (o.nranks > 1 && o.init_file.empty()) return err("--init-file (or MOE_INIT_FILE) is needed with more than one rank");
  if (o.placement.empty() && o.nranks > o.experts)
    return err(std::to_string(o.nranks) + " ranks but only " + std::to_string(o.experts) + " experts: some ranks would hold none");
  // Rows that one rank may receive: every token of every rank, k times. Indices are int32.
  const int64_t max_rows = int64_t(o.tokens) * o.top_k * o.nranks;
  if (max_rows > std::numeric_limits<int32_t>::max() / 2) return err("--tokens * --top-k * ranks is too large (int32 row indices)");
  if (int64_t(o.hidden) * o.ffn > (int64_t(1) << 31)) return err("--hidden * --ffn is too large");
  return {};
}

int64_t device_bytes_needed(const Options& o, int local_experts_max) {
  const int64_t T = o.tokens, H = o.hidden, F = o.ffn, K = o.top_k, E = o.experts, R = o.nranks;
  const int64_t cb = comm_bytes(o.comm_dtype);
  const int64_t rows_in = T * K * R;  // worst case: everything lands on this rank
  int64_t b = 0;
  b += 2 * T * H * 4;                                   // activations (ping-pong)
  b += int64_t(o.layers) * (H * E * 4);                 // gates
  b += int64_t(o.layers) * local_experts_max * 2 * H * F * 4;  // expert weights
  b += T * K * H * cb * 2;                              // send + combine buffers
  b += rows_in * H * cb * 2;                            // recv + send-back buffers
  b += rows_in * (H * 4 * 2 + F * 4);                   // expert in/out + intermediate
  if (o.grad_allreduce) b += int64_t(o.layers) * (H * E + 4 * H * H) * 4;
  return b;
}

}  // namespace moe
