// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <cstdlib>

#include "moetune/live/rank_env.h"

using namespace moetune::live;

TEST(RankEnv, LauncherVariablesInOrder) {
  for (const char* n : {"RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID", "PMI_RANK"}) ::unsetenv(n);
  EXPECT_EQ(rank_from_env(), -1);
  ::setenv("PMI_RANK", "7", 1);
  EXPECT_EQ(rank_from_env(), 7);
  ::setenv("SLURM_PROCID", "5", 1);
  EXPECT_EQ(rank_from_env(), 5);
  ::setenv("OMPI_COMM_WORLD_RANK", "bogus", 1);  // malformed: skipped
  EXPECT_EQ(rank_from_env(), 5);
  ::setenv("RANK", "2", 1);
  EXPECT_EQ(rank_from_env(), 2);
  for (const char* n : {"RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID", "PMI_RANK"}) ::unsetenv(n);
}

TEST(RankEnv, Patterns) {
  EXPECT_EQ(expand_pattern("run-%r-%h-%p.moetune", 3, 42, "node1"), "run-3-node1-42.moetune");
  EXPECT_EQ(expand_pattern("a%%b%r", -1, 1, ""), "a%bx");
  EXPECT_EQ(expand_pattern("x%q%", 0, 1, "h"), "x%q%");
}
