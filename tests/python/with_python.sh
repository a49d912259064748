#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# with_python.sh any|torch SCRIPT ARGS...: runs SCRIPT with a python3 (for "torch": the
# first one that imports torch, Debian's /usr/bin/python3 included); exit 77 (ctest
# SKIP) when none does.
need=$1
shift
for py in python3 /usr/bin/python3; do
  command -v "$py" >/dev/null || continue
  if [[ $need == any ]] || "$py" -c 'import torch' 2>/dev/null; then exec "$py" "$@"; fi
done
echo "SKIP: no python3 with torch (Debian: apt-get install python3-torch)"
exit 77
