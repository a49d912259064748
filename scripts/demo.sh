#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's main job: install, build, and run moetune on the bundled demo run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-deps.sh
cmake --preset dev
cmake --build --preset dev
./build/dev/app/moetune info demo/demo.moetune
if ./build/dev/app/moetune --help | grep -q ' analyze'; then
  ./build/dev/app/moetune analyze demo/demo.moetune
fi
