// SPDX-License-Identifier: Apache-2.0
// Internal helpers of the Kineto importer (not installed; used by kineto_*.cpp and the
// fuzz/unit tests only through import_kineto()).
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <simdjson.h>

#include "moetune/import/import.h"

namespace moetune::import::kineto {

// The JSON text of one trace in simdjson's padded buffer (plain file read, or gzip
// inflated); parse_trace takes a view of it.
class JsonText {
 public:
  JsonText() = default;
  explicit JsonText(simdjson::padded_string s) : owned_(std::move(s)) {}
  simdjson::padded_string_view view() const {
    return simdjson::padded_string_view(owned_.data(), owned_.size(), owned_.size() + simdjson::SIMDJSON_PADDING);
  }

 private:
  simdjson::padded_string owned_;
};

// Reads FILE (plain JSON or gzip, possibly several gzip members) into one padded
// buffer for simdjson. Errors name the file: missing, empty, truncated gzip, corrupt gzip.
Expected<JsonText> load_json(const std::filesystem::path& file);

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
