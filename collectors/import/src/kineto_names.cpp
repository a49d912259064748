// SPDX-License-Identifier: Apache-2.0
// Small pure helpers of the Kineto importer: exact µs->ns conversion of number tokens,
// NCCL collective / dtype / kernel-name normalisation, rank from file names.
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

#include "kineto_internal.h"

namespace moetune::import::kineto {
namespace {

std::string lower_no_underscore(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s)
    if (c != '_' && c != ' ' && c != '-') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Exponent forms ("1e3", "1.5E-2"): through double.
bool exponent_us_to_ns(std::string_view tok, std::int64_t& ns) {
  std::string s(tok);
  char* end = nullptr;
  double us = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(us)) return false;
  double v = us * 1000.0;
  if (!(v > -9.2e18 && v < 9.2e18)) return false;
  ns = std::llround(v);
  return true;
}

}  // namespace

// Plain decimals in one pass (the common case); a token that is not one is an
// exponent form if it has an 'e' or 'E' anywhere, else not a number.
bool us_token_to_ns(std::string_view tok, std::int64_t& ns) {
  while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\n' || tok.back() == '\r' || tok.back() == '\t'))
    tok.remove_suffix(1);
  if (tok.empty()) return false;
  auto other = [&] { return tok.find_first_of("eE") != std::string_view::npos && exponent_us_to_ns(tok, ns); };
  std::size_t i = 0;
  bool neg = false;
  if (tok[0] == '-') {
    neg = true;
    i = 1;
  }
  std::int64_t whole = 0;
  std::size_t digits = 0;
  for (; i < tok.size() && tok[i] >= '0' && tok[i] <= '9'; ++i, ++digits) {
    if (__builtin_mul_overflow(whole, 10, &whole) || __builtin_add_overflow(whole, tok[i] - '0', &whole))
      return other();
  }
  if (digits == 0) return other();
  std::int64_t frac = 0;  // nanoseconds from the first three fraction digits
  if (i < tok.size() && tok[i] == '.') {
    ++i;
    int n = 0;
    bool round_up = false;
    std::size_t fdigits = 0;
    for (; i < tok.size() && tok[i] >= '0' && tok[i] <= '9'; ++i, ++fdigits) {
      if (n < 3) {
        frac = frac * 10 + (tok[i] - '0');
        ++n;
      } else if (n == 3) {
        round_up = tok[i] >= '5';
        ++n;
      }
    }
    if (fdigits == 0) return other();
    for (; n < 3; ++n) frac *= 10;
    if (round_up) ++frac;
  }
  if (i != tok.size()) return other();
  std::int64_t v = 0;
  if (__builtin_mul_overflow(whole, 1000, &v) || __builtin_add_overflow(v, frac, &v)) return other();
  ns = neg ? -v : v;
  return true;
}

std::string normalise_collective(std::string_view name) {
  std::string k = lower_no_underscore(name);
  // PyTorch suffixes: _base, _coalesced, _into_tensor, v (all_to_allv), _single.
  if (starts_with(k, "allreduce")) return "AllReduce";
  if (starts_with(k, "alltoall")) return "AllToAll";
  if (starts_with(k, "allgather")) return "AllGather";
  if (starts_with(k, "reducescatter")) return "ReduceScatter";
  if (starts_with(k, "broadcast")) return "Broadcast";
  if (starts_with(k, "sendrecv")) return "SendRecv";
  if (k == "send" || starts_with(k, "send")) return "Send";
  if (k == "recv" || starts_with(k, "recv")) return "Recv";
  if (starts_with(k, "reduce")) return "Reduce";
  if (starts_with(k, "gather")) return "Gather";
  if (starts_with(k, "scatter")) return "Scatter";
  if (starts_with(k, "barrier")) return "Barrier";
  std::string out(name);
  while (!out.empty() && out[0] == '_') out.erase(0, 1);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

int dtype_size(std::string_view dtype) {
  if (auto p = dtype.rfind("::"); p != std::string_view::npos) dtype = dtype.substr(p + 2);
  std::string k = lower_no_underscore(dtype);
  if (k == "float" || k == "float32" || k == "int" || k == "int32" || k == "uint32" || k == "qint32") return 4;
  if (k == "double" || k == "float64" || k == "long" || k == "int64" || k == "uint64" || k == "complexfloat")
    return 8;
  if (k == "half" || k == "float16" || k == "bfloat16" || k == "short" || k == "int16" || k == "uint16") return 2;
  if (k == "byte" || k == "char" || k == "bool" || k == "int8" || k == "uint8" || k == "qint8" || k == "quint8" ||
      starts_with(k, "float8"))
    return 1;
  if (k == "complexdouble") return 16;
  if (k == "complexhalf") return 4;
  return 0;
}

bool is_nccl_kernel(std::string_view n) {
  return starts_with(n, "nccl") && n.find("Kernel") != std::string_view::npos;
}

NcclKernelName parse_nccl_kernel_name(std::string_view n) {
  NcclKernelName out;
  auto p = n.find("Kernel_");
  if (!starts_with(n, "nccl") || p == std::string_view::npos) return out;
  std::string_view rest = n.substr(p + 7);
  rest = rest.substr(0, rest.find('('));
  std::string_view parts[3];
  for (int i = 0; i < 3 && !rest.empty(); ++i) {
    auto u = rest.find('_');
    parts[i] = rest.substr(0, u);
    rest = u == std::string_view::npos ? std::string_view{} : rest.substr(u + 1);
  }
  out.func = std::string(parts[0]);
  std::string algo = lower_no_underscore(parts[1]);
  if (algo == "ring") out.algo = "Ring";
  else if (algo == "tree") out.algo = "Tree";
  else if (algo == "nvls") out.algo = "NVLS";
  else if (algo == "nvlstree") out.algo = "NVLSTree";
  else if (algo == "collnetdirect") out.algo = "CollNetDirect";
  else if (algo == "collnetchain") out.algo = "CollNetChain";
  else if (algo == "pat") out.algo = "PAT";
  if (!out.algo.empty()) {
    std::string proto = lower_no_underscore(parts[2]);
    if (proto == "ll") out.proto = "LL";
    else if (proto == "ll128") out.proto = "LL128";
    else if (proto == "simple") out.proto = "Simple";
  }
  return out;
}

std::optional<int> rank_from_file_name(const std::filesystem::path& file) {
  std::string s = file.filename().string();
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view key : {"rank", "worker"}) {
    for (std::size_t p = s.find(key); p != std::string::npos; p = s.find(key, p + 1)) {
      std::size_t i = p + key.size();
      if (i < s.size() && (s[i] == '-' || s[i] == '_')) ++i;
      std::size_t j = i;
      while (j < s.size() && j - i < 9 && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
      if (j > i) return std::stoi(s.substr(i, j - i));
    }
  }
  return std::nullopt;
}

CopyKind copy_kind_from_name(std::string_view n) {
  if (n.find("HtoD") != std::string_view::npos) return CopyKind::HtoD;
  if (n.find("DtoH") != std::string_view::npos) return CopyKind::DtoH;
  if (n.find("DtoD") != std::string_view::npos) return CopyKind::DtoD;
  if (n.find("PtoP") != std::string_view::npos) return CopyKind::PtoP;
  return CopyKind::Unknown;
}

bool is_sync_api(std::string_view n) {
  return n.size() > 11 && n.substr(n.size() - 11) == "Synchronize" && (starts_with(n, "cuda") || starts_with(n, "cu"));
}

}  // namespace moetune::import::kineto
