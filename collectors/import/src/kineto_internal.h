// SPDX-License-Identifier: Apache-2.0
// Internal helpers of the Kineto importer (not installed; used by kineto_*.cpp and the
// fuzz/unit tests only through import_kineto()).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "moetune/import/import.h"

namespace moetune::import::kineto {

// Memory one parsing thread reuses from file to file: the text buffer of plain files
// and simdjson's parser (structural index). Reused pages are not faulted in again
// (page faults of fresh buffers were ~40 % of the import's system time); buffers
// over kKeepBytes are given back after each file.
struct ParseScratch {
  static constexpr std::size_t kKeepBytes = std::size_t{256} << 20;
  std::unique_ptr<char[]> text;  // size + simdjson::SIMDJSON_PADDING bytes
  std::size_t text_cap = 0;
  simdjson::ondemand::parser parser;
  void trim();  // gives back what is over kKeepBytes
};

// The JSON text of one trace in a padded buffer: the scratch buffer (plain file) or
// its own (gzip inflated); parse_trace takes a view of it.
class JsonText {
 public:
  JsonText() = default;
  explicit JsonText(simdjson::padded_string s) : owned_(std::move(s)), data_(owned_.data()), size_(owned_.size()) {}
  JsonText(const char* data, std::size_t size) : data_(data), size_(size) {}
  simdjson::padded_string_view view() const {
    return simdjson::padded_string_view(data_, size_, size_ + simdjson::SIMDJSON_PADDING);
  }

 private:
  simdjson::padded_string owned_;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

// Reads FILE (plain JSON or gzip, possibly several gzip members) into one padded
// buffer for simdjson (plain files: scratch.text). Errors name the file: missing,
// empty, truncated gzip, corrupt gzip.
Expected<JsonText> load_json(const std::filesystem::path& file, ParseScratch& scratch);

// Converts a JSON number token in microseconds ("123", "4458676983543.183", "-5.5",
// "1e3") to integer nanoseconds, exactly for plain decimals (no double rounding),
// through double for exponent forms. False when the token is not a number or the
// result would not fit in int64.
bool us_token_to_ns(std::string_view tok, std::int64_t& ns);

// NCCL naming helpers.
// "allreduce" -> "AllReduce", "all_to_all"/"alltoall_base" -> "AllToAll", "_allgather_base" ->
// "AllGather", ...; unknown names come back with their first letter upper-cased.
std::string normalise_collective(std::string_view name);
// Byte size of a PyTorch dtype name as Kineto writes it ("Float", "BFloat16", "Long", "c10::Half");
// 0 when unknown.
int dtype_size(std::string_view dtype);
// True for NCCL communication kernels ("ncclKernel_...", "ncclDevKernel_...").
bool is_nccl_kernel(std::string_view kernel_name);
// Parts of an NCCL kernel name: "ncclKernel_AllReduce_RING_LL_Sum_float(...)" -> func "AllReduce",
// algo "Ring", proto "LL". Empty strings when absent.
struct NcclKernelName {
  std::string func, algo, proto;
};
NcclKernelName parse_nccl_kernel_name(std::string_view kernel_name);

// Rank from a file name: "rank-3", "rank_3", "rank3", "worker3" (case-insensitive);
// nullopt when none.
std::optional<int> rank_from_file_name(const std::filesystem::path& file);

// Copy kind from a Kineto memcpy name ("Memcpy HtoD (Pageable -> Device)").
CopyKind copy_kind_from_name(std::string_view name);

// Whether a CUDA runtime/driver call waits for the device (cuda*Synchronize, cu*Synchronize).
bool is_sync_api(std::string_view name);

}  // namespace moetune::import::kineto
