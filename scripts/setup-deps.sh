#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages moetune builds and tests with (idempotent).
# CUDA (CUPTI, NCCL) is optional: found under /usr/local/cuda when present.
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache pkg-config poppler-utils
      libsqlite3-dev zlib1g-dev libsimdjson-dev nlohmann-json3-dev libcli11-dev
      libgtest-dev libgmock-dev libbenchmark-dev
      qt6-base-dev libqcustomplot-dev
      clang libclang-rt-14-dev xvfb xauth sqlite3 python3
      python3-torch          # the PyTorch helper's CPU tests (ctest -L python)
      dpkg-dev file)         # cpack -G DEB (dpkg-shlibdeps) and its test (ctest -L package)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
