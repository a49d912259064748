// SPDX-License-Identifier: Apache-2.0
// gtest helpers for TraceReader queries (which return Expected): the rows, by value, or a
// test failure carrying the reader's message ("FILE: table T: what") and no rows.
#pragma once
#include <gtest/gtest.h>

#include <utility>

#include "moetune/trace/result.h"

namespace moetune::test {

template <class V>
V rows(Expected<V>&& e) {
  if (!e) {
    ADD_FAILURE() << e.error().message;
    return V{};
  }
  return std::move(*e);
}

inline bool ok(Expected<void>&& e) {
  if (!e) ADD_FAILURE() << e.error().message;
  return e.ok();
}

}  // namespace moetune::test
