// SPDX-License-Identifier: Apache-2.0
// The fields every GPU activity row shares (kernels, memcpys, memsets), set in one place
// for the Kineto and nsys importers; each caller then fills what is particular to its row.
#pragma once
#include <cstdint>

#include "moetune/trace/rows.h"

namespace moetune::import {

template <class Row>
Row gpu_row(RankId rank, StreamId stream, std::int64_t start_ns, std::int64_t dur_ns, std::int64_t correlation) {
  Row r;
  r.rank = rank;
  r.stream = stream;
  r.start_ns = start_ns;
  r.dur_ns = dur_ns;
  r.correlation = correlation;
  return r;
}

}  // namespace moetune::import
