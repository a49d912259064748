#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The moetune CLI must start on a headless node: no Qt, no QCustomPlot, no X11/GL in
# its direct NEEDED entries (readelf) nor in what the loader resolves (ldd).
set -u
cli=$1
[[ -x $cli ]] || { echo "FAIL: $cli is not an executable"; exit 1; }
needed=$(readelf -d "$cli" | awk '/NEEDED/{print $NF}' | tr -d '[]')
[[ -n $needed ]] || { echo "FAIL: readelf -d $cli shows no NEEDED entries"; exit 1; }
echo "NEEDED: $(echo $needed)"
bad='Qt[0-9]|qcustomplot|libX11|libxcb|libGL|libEGL|libOpenGL'
if grep -Eiq "$bad" <<<"$needed"; then echo "FAIL: $cli needs $(grep -Ei "$bad" <<<"$needed" | tr '\n' ' ')"; exit 1; fi
resolved=$(ldd "$cli") || { echo "FAIL: ldd $cli"; exit 1; }
if grep -Eiq "$bad" <<<"$resolved"; then echo "FAIL: ldd $cli resolves $(grep -Ei "$bad" <<<"$resolved" | awk '{print $1}' | tr '\n' ' ')"; exit 1; fi
# and it runs without a display
out=$(env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM "$cli" --version) || { echo "FAIL: --version"; exit 1; }
[[ $out == moetune\ * ]] || { echo "FAIL: --version printed '$out'"; exit 1; }
echo "ok: $out, no Qt"
