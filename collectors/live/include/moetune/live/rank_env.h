// SPDX-License-Identifier: Apache-2.0
// Where a live process is in the job: its rank (from the launcher's environment) and
// the name of its per-process output file (patterns %r rank, %p pid, %h host).
#pragma once
#include <string>
#include <string_view>

namespace moetune::live {

// Rank from RANK, OMPI_COMM_WORLD_RANK, SLURM_PROCID, PMI_RANK (first that parses as a
// non-negative integer); -1 when none is set.
int rank_from_env();
// Short host name ("" if unknown).
std::string host_name();
// Host name as the job's NCCL sees nodes: host_name(), plus ":NCCL_HOSTID" when that is set.
std::string node_name();
// Replaces %r, %p, %h and %% in `pattern`. Unknown rank expands to "x".
std::string expand_pattern(std::string_view pattern, int rank, long pid, std::string_view host);
// Integer from the environment, `fallback` when unset or malformed.
long env_long(const char* name, long fallback);
// Current CLOCK_REALTIME in ns (the run clock).
long long now_ns();

}  // namespace moetune::live
