// SPDX-License-Identifier: Apache-2.0
// Rows of one Kineto file on their way from the thread that parses it to the one
// writer. A file's rows travel in RowBatches, in the order the mapper made them;
// apply_batch() writes them in that order, so a file imported on a worker thread
// gives exactly the rows (ids included) of a file imported on the caller's thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kineto_internal.h"
#include "moetune/import/import.h"

namespace moetune::import::kineto {

// String ids in rows are file-local (position in the file's string list, in first-use
// order; `strings` holds the ones new in this batch) and NcclOpRow::kernel_id is the
// 1-based ordinal of the op's kernel in the file: apply_batch maps both to the writer's.
struct RowBatch {
  std::optional<int> claim_rank;  // set in a file's first batch: the rank its rows use
  std::vector<std::string> strings;
  std::vector<KernelRow> kernels;
  std::vector<MemcpyRow> memcpys;
  std::vector<MemsetRow> memsets;
  std::vector<ApiCallRow> api_calls;
  std::vector<NvtxRow> nvtx;
  std::vector<NcclOpRow> nccl;
  std::vector<RankRow> ranks;
  std::vector<StepRow> steps;
  std::vector<ExpertRoutingRow> routing;
  struct Placement {  // written only if the layer is not placed yet (ImportContext)
    int layer = 0;
    std::vector<ExpertPlacementRow> rows;
  };
  std::vector<Placement> placements;
  std::vector<StatRow> stats;
  std::vector<std::pair<std::string, std::string>> meta;  // meta rows (thread names for lane labels)
  std::uint64_t bytes_done = 0, bytes_total = 0;  // progress of the parse when the batch was sent
  std::size_t events = 0;                         // rows of the bulk tables, for the batch size

  bool empty() const {
    return !claim_rank && strings.empty() && events == 0 && nccl.empty() && ranks.empty() && steps.empty() &&
           routing.empty() && placements.empty() && stats.empty() && meta.empty();
  }
};

// Receives a file's batches in order; false: stop (the import was given up).
using BatchSink = std::function<bool(RowBatch&&)>;

// Loads, parses and maps FILE, sending its rows to `sink` in batches. `rank_option`
// is --rank (for files that name no rank). Returns the file's JSON error, else its
// meta error (no or bad rank), like the sequential importer; claiming the rank is
// apply_batch's job. Runs on any thread: touches no shared state.
Expected<void> map_file(const std::filesystem::path& file, std::optional<int> rank_option, const BatchSink& sink,
                        ParseScratch& scratch);

// Writes one file's batches into the writer, in order. Claims the file's rank on the
// first batch (through the context, on the writer's thread); after a failed claim the
// rest of the file is dropped and error() says why.
class BatchApplier {
 public:
  BatchApplier(const std::filesystem::path& file, TraceWriter& w, ImportContext& ctx);
  void apply(RowBatch& b);
  const std::optional<Error>& error() const { return error_; }

 private:
  std::filesystem::path file_;
  TraceWriter& w_;
  ImportContext& ctx_;
  std::vector<StringId> ids_;      // file-local string id -> writer's
  std::int64_t kernel_base_ = 0;   // writer's last kernel id before this file
  std::optional<Error> error_;
};

}  // namespace moetune::import::kineto
