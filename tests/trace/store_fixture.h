// SPDX-License-Identifier: Apache-2.0
// Test fixture for the trace store tests: small SYNTHETIC stores written by TraceWriter
// into this process's scratch folder.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>

#include "common/scratch_dir.h"
#include "common/store.h"
#include "moetune/trace/reader.h"
#include "moetune/trace/writer.h"

namespace moetune::test {

inline std::filesystem::path tmp_path(const std::string& name) { return process_dir("moetune-trace-test") / name; }

// The one NCCL op of a small store: an AllReduce on rank 0 from 0 to 500 ns.
inline NcclOpRow small_allreduce() {
  NcclOpRow op;
  op.rank = RankId(0);
  op.func = "AllReduce";
  op.start_ns = 0;
  op.end_ns = 500;
  return op;
}

// Writes a store to `p`: what `rows` adds (ranks, ops, steps, stats), then `kernels`
// kernels alternating over ranks 0 and 1 on stream 7, one every 1 us, 500 ns long, every
// tenth named ncclDevKernel_AllReduce and the others gemm, correlation id = index.
inline void write_store(const std::filesystem::path& p, int kernels, const std::function<void(TraceWriter&)>& rows) {
  auto rd = make_store(p, [&](TraceWriter& wr) {
    rows(wr);
    auto gemm = wr.intern("gemm");
    auto nccl = wr.intern("ncclDevKernel_AllReduce");
    for (int i = 0; i < kernels; ++i) {
      KernelRow k;
      k.rank = RankId(i % 2);
      k.stream = StreamId(7);
      k.start_ns = 1000 * i;
      k.dur_ns = 500;
      k.name = (i % 10 == 0) ? nccl : gemm;
      k.correlation = i;
      wr.add(k);
    }
    return true;
  });
  ASSERT_TRUE(rd);
}

// Opening `p` fails with a message containing `why`.
inline void expect_refused(const std::filesystem::path& p, const std::string& why) {
  auto r = TraceReader::open(p);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find(why), std::string::npos) << r.error().message;
}

}  // namespace moetune::test
