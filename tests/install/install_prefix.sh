#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# install_prefix.sh BUILD SCRATCH WITH_GUI WITH_COLLECTORS: cmake --install BUILD into
# SCRATCH (DESTDIR, prefix /usr), then check_installed.sh on SCRATCH/usr.
set -u
build=$1 scratch=$2 gui=$3 coll=$4
rm -rf "$scratch" && mkdir -p "$scratch" || exit 1
if ! DESTDIR=$scratch/root cmake --install "$build" --prefix /usr >"$scratch/install.log" 2>&1; then
  echo "FAIL: cmake --install: $(tail -3 "$scratch/install.log")"
  exit 1
fi
bash "$(dirname "$0")/check_installed.sh" "$scratch/root/usr" "$gui" "$coll" || exit 1
rm -rf "$scratch"
