// SPDX-License-Identifier: Apache-2.0
// Small pure helpers of the Kineto importer: exact µs->ns conversion of number tokens,
// NCCL collective / dtype / kernel-name normalisation, rank from file names.
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

#include "kineto_internal.h"
#include "moetune/trace/comm_vocab.h"

namespace moetune::import::kineto {
namespace {

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

// The NCCL / dtype vocabulary is moetune/trace/comm_vocab.h; these keep the Kineto importer's names.
std::string normalise_collective(std::string_view name) {
  if (std::string f = comm::func_from_name(name); !f.empty()) return f;
  std::string out(name);
  while (!out.empty() && out[0] == '_') out.erase(0, 1);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

int dtype_size(std::string_view dtype) { return comm::dtype_size(dtype); }

bool is_nccl_kernel(std::string_view n) { return comm::is_nccl_kernel(n); }

NcclKernelName parse_nccl_kernel_name(std::string_view n) {
  NcclKernelName out;
  if (auto k = comm::parse_nccl_kernel(n)) out.func = k->func, out.algo = k->algo, out.proto = k->proto;
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
