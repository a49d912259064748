// SPDX-License-Identifier: Apache-2.0
// Calibration of the GPU %globaltimer against CLOCK_REALTIME: launches a one-thread
// kernel (PTX, JIT-compiled by the driver, loaded through libcuda with dlopen) that
// stores %globaltimer, bracketed by host clock reads; offset = host midpoint - GPU
// time, taken from the tightest of a few tries. Needs a current CUDA context on the
// calling thread (NCCL's init thread has one); returns nullopt otherwise.
#pragma once
#include <cstdint>
#include <optional>

namespace moetune::nccl {

struct ClockOffset {
  std::int64_t offset_ns = 0;  // add to %globaltimer to get CLOCK_REALTIME
  std::int64_t error_ns = 0;   // half the host bracket of the best try
};
std::optional<ClockOffset> measure_globaltimer_offset();

}  // namespace moetune::nccl
