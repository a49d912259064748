#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Rebuilds the bundled demo runs (see demo/README.md). Usage: demo/make_demo.sh [MOETUNE]
set -eu
M=${1:-./build/dev/app/moetune}
cd "$(dirname "$0")/.."
"$M" synth -o demo/demo.moetune --force --ranks 8 --steps 12 --topology nvlink:4,pcie:2,net:2 \
  --inject hot_experts_slow_rank,fp32_dispatch,straggler:2,tree_sync --seed 7
"$M" import /work/shared/data/external/kineto/hta_nccl_data_rank0of2.json.gz -o demo/real-hta-rank0of2.moetune --force
