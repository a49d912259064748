// SPDX-License-Identifier: Apache-2.0
// A gtest fixture with a scratch folder of its own: made before each test, removed after it.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>

#include "common/scratch_dir.h"

namespace moetune::test {

class ScratchTest : public ::testing::Test {
 protected:
  ScratchDir scratch_{"moetune-test"};
  const std::filesystem::path& dir_ = scratch_.path();
};

}  // namespace moetune::test
