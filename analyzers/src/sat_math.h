// SPDX-License-Identifier: Apache-2.0
// Saturating int64 arithmetic for numbers that come from a file: step numbers, summed
// durations, byte counts. fuzz_store (UBSan) showed that sums and differences of extreme
// stored values overflow; a saturated result stays absurd but defined, and the analyses
// judge it like any other large value.
#pragma once
#include <cstdint>
#include <limits>

namespace moetune::analyzers {

inline std::int64_t sat_add(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  return r;
}

inline std::int64_t sat_sub(std::int64_t a, std::int64_t b) {
  std::int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  return r;
}

// A double as int64, clamped to the int64 range (NaN: 0); a plain cast of a double
// beyond the range is undefined.
inline std::int64_t sat_from_double(double v) {
  if (!(v == v)) return 0;
  if (v >= 9223372036854775807.0) return std::numeric_limits<std::int64_t>::max();
  if (v <= -9223372036854775808.0) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(v);
}

}  // namespace moetune::analyzers
