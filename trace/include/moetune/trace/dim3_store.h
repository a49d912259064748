// SPDX-License-Identifier: Apache-2.0
// How format 3 stores kernels.grid and kernels.block. pack_dim3 (rows.h) puts y and z at
// bits 21 and 42, so the common y = z = 1 makes every value a 6-byte SQLite integer
// (12 bytes of a ~45-byte kernel row). Format 3 stores the value XOR kDim3Ones (y = z = 1
// becomes x alone: 1-2 bytes), except 0 (unknown) and kDim3Ones itself, which stay as
// they are; the map is its own inverse. Writers apply dim3_store, readers dim3_load.
#pragma once
#include <cstdint>

namespace moetune {

inline constexpr std::int64_t kDim3Ones = (std::int64_t{1} << 21) | (std::int64_t{1} << 42);

inline constexpr std::int64_t dim3_store(std::int64_t v) { return v == 0 || v == kDim3Ones ? v : v ^ kDim3Ones; }

// The packed dimensions of a value stored in a file of `format_version`.
inline constexpr std::int64_t dim3_load(std::int64_t stored, int format_version) {
  return format_version >= 3 ? dim3_store(stored) : stored;
}

}  // namespace moetune
