// SPDX-License-Identifier: Apache-2.0
// A profile in the job's own language (profile.h "targets"). The profile's flags are
// intents written in our samples' language; each target maps an intent to options that
// exist in that project (names checked against its source, cited in docs/PROFILE.md) or
// to a manual step. Nothing is appended that the target does not take.
#include <algorithm>
#include <filesystem>
#include <optional>

#include "moetune/analyzers/profile.h"

namespace moetune::analyzers {
namespace {

// What the profile asks for, independent of any framework.
struct Intents {
  std::optional<std::string> comm_dtype;      // --comm-dtype VALUE: dispatch in this dtype
  std::optional<std::string> overlap_chunks;  // --overlap-chunks N: overlap dispatch with compute
  bool placement = false;                     // an expert placement plan (hot experts)
  int extra_copies = 0;                       // replicas beyond one per expert, largest layer
  std::vector<std::string> other;             // flags no target but as-is understands
};

Intents intents_of(const Profile& p) {
  Intents in;
  for (std::size_t i = 0; i < p.flags.size(); ++i) {
    const std::string& f = p.flags[i];
    const bool has_value = i + 1 < p.flags.size() && p.flags[i + 1].rfind("-", 0) != 0;
    if (f == "--comm-dtype" && has_value) in.comm_dtype = p.flags[++i];
    else if (f == "--overlap-chunks" && has_value) in.overlap_chunks = p.flags[++i];
    else in.other.push_back(f);
  }
  in.placement = p.placement.has_value() || !p.placement_file.empty();
  if (p.placement)
    for (const auto& [layer, experts] : p.placement->layers) {
      int extra = 0;
      for (const auto& ranks : experts) extra += std::max<int>(0, int(ranks.size()) - 1);
      in.extra_copies = std::max(in.extra_copies, extra);
    }
  return in;
}

std::string base_name(const std::string& s) { return std::filesystem::path(s).filename().string(); }

// The command already has option `name` (as "--x" or "--x=...").
bool has_option(const std::vector<std::string>& cmd, const std::string& name) {
  return std::any_of(cmd.begin(), cmd.end(),
                     [&](const std::string& a) { return a == name || a.rfind(name + "=", 0) == 0; });
}

// Appends option `name` (+ value) unless the command sets it already.
void add(TargetKnobs& k, const std::vector<std::string>& cmd, const std::string& name,
         const std::optional<std::string>& value = std::nullopt) {
  if (has_option(cmd, name) || std::find(k.args.begin(), k.args.end(), name) != k.args.end()) {
    k.kept.push_back(name + (value ? " " + *value : std::string()) + ": the command sets " + name + " already");
    return;
  }
  k.args.push_back(name);
  if (value) k.args.push_back(*value);
}

// bf16 / fp16 / fp8 spelled the way vLLM and SGLang's --dtype take it.
std::string torch_dtype_name(const std::string& d) {
  if (d == "bf16") return "bfloat16";
  if (d == "fp16") return "float16";
  return d;
}

// Our samples (argparse in torch_moe, the same rule in moe_nccl) take an option's last
// value: the profile's value goes after the command's own, which is the misconfiguration
// the profile was written to change (a tuning loop's baseline sets --comm-dtype fp32).
void set_last(TargetKnobs& k, const std::vector<std::string>& cmd, const std::string& name, const std::string& value) {
  if (has_option(cmd, name)) k.overridden.push_back(name + " " + value + ": after the command's own " + name);
  k.args.push_back(name);
  k.args.push_back(value);
}

void render_samples(TargetKnobs& k, const Intents& in, const std::string& placement, const std::vector<std::string>& cmd) {
  if (in.comm_dtype) set_last(k, cmd, "--comm-dtype", *in.comm_dtype);
  if (in.overlap_chunks) set_last(k, cmd, "--overlap-chunks", *in.overlap_chunks);
  if (in.placement && !placement.empty()) set_last(k, cmd, "--placement", placement);
}

void render_megatron(TargetKnobs& k, const Intents& in, const std::vector<std::string>& cmd) {
  if (in.comm_dtype) {
    if (*in.comm_dtype == "bf16") add(k, cmd, "--bf16");  // activations (and so the dispatched tokens) in bf16
    else k.manual.push_back("dispatch in " + *in.comm_dtype + ": Megatron-LM has no option for the dispatch dtype alone");
  }
  if (in.overlap_chunks) {
    // EP all-to-all overlapped with computation (batch-level, 1F1B); needs the
    // alltoall or flex dispatcher.
    if (!has_option(cmd, "--moe-token-dispatcher-type")) add(k, cmd, "--moe-token-dispatcher-type", "alltoall");
    add(k, cmd, "--overlap-moe-expert-parallel-comm");
  }
  if (in.placement)
    k.manual.push_back("expert placement: Megatron-LM places experts by EP rank only (no replicas); balance the "
                       "router instead, e.g. --moe-router-enable-expert-bias or --moe-aux-loss-coeff (changes training)");
}

void render_vllm(TargetKnobs& k, const Intents& in, const std::vector<std::string>& cmd) {
  if (in.comm_dtype) add(k, cmd, "--dtype", torch_dtype_name(*in.comm_dtype));
  if (in.overlap_chunks) add(k, cmd, "--enable-dbo");  // dual batch overlap (needs --enable-expert-parallel)
  if (in.placement) {
    add(k, cmd, "--enable-eplb");
    if (in.extra_copies > 0)
      add(k, cmd, "--eplb-config", "{\"num_redundant_experts\":" + std::to_string(in.extra_copies) + "}");
    k.manual.push_back("expert placement: vLLM's EPLB rebalances from its own load statistics; the plan's exact "
                       "placement is not loaded");
  }
}

void render_sglang(TargetKnobs& k, const Intents& in, const std::vector<std::string>& cmd) {
  if (in.comm_dtype) add(k, cmd, "--dtype", torch_dtype_name(*in.comm_dtype));
  if (in.overlap_chunks) add(k, cmd, "--enable-two-batch-overlap");
  if (in.placement) {
    add(k, cmd, "--enable-eplb");
    if (in.extra_copies > 0) add(k, cmd, "--ep-num-redundant-experts", std::to_string(in.extra_copies));
    k.manual.push_back("expert placement: SGLang's EPLB rebalances from its own statistics; the plan's exact "
                       "placement is not loaded (--init-expert-location takes SGLang's own format)");
  }
}

void render_deepspeed(TargetKnobs& k, const Intents& in) {
  if (in.comm_dtype) {
    if (*in.comm_dtype == "bf16") k.config.push_back("\"bf16\": {\"enabled\": true} in the DeepSpeed config JSON");
    else k.manual.push_back("dispatch in " + *in.comm_dtype + ": DeepSpeed has no config key for the dispatch dtype alone");
  }
  if (in.overlap_chunks)
    k.manual.push_back("overlap of the expert all-to-all with compute: no DeepSpeed-MoE config key "
                       "(zero_optimization.overlap_comm overlaps the ZeRO gradient reduction, not the dispatch)");
  if (in.placement) k.manual.push_back("expert placement: DeepSpeed-MoE has no placement or replica option");
}

}  // namespace

const std::vector<std::string>& profile_targets() {
  static const std::vector<std::string> t{"generic", "samples", "megatron", "deepspeed", "vllm", "sglang", "as-is"};
  return t;
}

std::string detect_target(const std::vector<std::string>& cmd) {
  for (std::size_t i = 0; i < cmd.size(); ++i) {
    const std::string& a = cmd[i];
    const std::string b = base_name(a);
    if (b == "moe_nccl" || b == "torch_moe.py" || b == "launch_moe.sh") return "samples";
    if ((b.rfind("pretrain_", 0) == 0 && b.size() > 3 && b.substr(b.size() - 3) == ".py") ||
        a.find("Megatron-LM/") != std::string::npos || a.rfind("megatron.", 0) == 0)
      return "megatron";
    if (a.rfind("sglang.launch_server", 0) == 0) return "sglang";
    if ((b == "vllm" && i + 1 < cmd.size() && cmd[i + 1] == "serve") || a.rfind("vllm.entrypoints", 0) == 0)
      return "vllm";
    if (b == "deepspeed" || a.rfind("deepspeed.", 0) == 0 || a == "--deepspeed" || a == "--deepspeed_config" ||
        a.rfind("--deepspeed_config=", 0) == 0 || a.rfind("--deepspeed=", 0) == 0)
      return "deepspeed";
  }
  return "generic";
}

TargetKnobs render_knobs(const Profile& p, const std::string& target, const std::string& placement_path,
                         const std::vector<std::string>& cmd) {
  TargetKnobs k;
  k.target = target;
  const Intents in = intents_of(p);
  if (target == "as-is") {
    k.args = p.flags;
    if (in.placement && !placement_path.empty()) k.args.insert(k.args.end(), {"--placement", placement_path});
    return k;
  }
  if (target == "samples") render_samples(k, in, placement_path, cmd);
  else if (target == "megatron") render_megatron(k, in, cmd);
  else if (target == "vllm") render_vllm(k, in, cmd);
  else if (target == "sglang") render_sglang(k, in, cmd);
  else if (target == "deepspeed") render_deepspeed(k, in);
  else {  // generic: no argument; what the flags meant, as manual steps
    if (in.comm_dtype) k.manual.push_back("send the MoE dispatch/combine in " + *in.comm_dtype + " (sample flag --comm-dtype)");
    if (in.overlap_chunks)
      k.manual.push_back("overlap the expert all-to-all with compute, " + *in.overlap_chunks +
                         " chunks (sample flag --overlap-chunks)");
    if (in.placement) k.manual.push_back("place the experts as the plan says" +
                                         (placement_path.empty() ? std::string() : " (" + placement_path + ")"));
  }
  for (const auto& f : in.other) k.manual.push_back("flag " + f + ": not known to target " + target + "; use --target as-is to append it");
  return k;
}

nlohmann::json targets_json(const Profile& p) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& t : profile_targets()) {
    if (t == "as-is") continue;
    const TargetKnobs k = render_knobs(p, t, p.placement_file.empty() ? "PROFILE.placement.json" : p.placement_file);
    j[t] = {{"args", k.args}, {"config", k.config}, {"manual", k.manual}};
  }
  return j;
}

}  // namespace moetune::analyzers
