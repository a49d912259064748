#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# gui_no_display.sh MOETUNE_GUI RUN: --help and --version answer with no display and no
# QT_QPA_PLATFORM (parsed before any QApplication); --report pdf/html/png renders
# headless; a bad format or run is one line, exit 2.
set -u
G=$1 run=$2
fail() { echo "FAIL: $*"; exit 1; }
nd() { env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
h=$(nd "$G" --help 2>&1) || fail "--help without a display: $h"
grep -q -- '--report' <<<"$h" || fail "--help does not list --report"
v=$(nd "$G" --version 2>&1) || fail "--version without a display: $v"
[[ $v =~ ^moetune-gui\ [0-9] ]] || fail "--version printed '$v'"
nd "$G" --report "$run" --format pdf -o "$work/r.pdf" >"$work/log" 2>&1 || fail "--report pdf: $(cat "$work/log")"
[[ $(head -c 4 "$work/r.pdf") == %PDF ]] || fail "no PDF"
nd "$G" --report "$run" --format html -o "$work/r.html" >"$work/log" 2>&1 || fail "--report html: $(cat "$work/log")"
grep -q 'data:image/png;base64,' "$work/r.html" || fail "html from the GUI carries no PNG plot"
grep -q '<svg' "$work/r.html" && fail "html from the GUI still carries SVG next to its PNGs"
nd "$G" --report "$run" --format png -o "$work/png" >"$work/log" 2>&1 || fail "--report png: $(cat "$work/log")"
ls "$work/png"/step_time.png >/dev/null 2>&1 || fail "--report png wrote no step_time.png: $(ls "$work/png")"
out=$(nd "$G" --report "$run" --format docx -o "$work/x" 2>&1)
[[ $? == 2 && $(wc -l <<<"$out") == 1 ]] || fail "bad format: want one line, exit 2: $out"
out=$(nd "$G" --report "$work/missing.moetune" -o "$work/x.pdf" 2>&1)
[[ $? == 2 && $(wc -l <<<"$out") == 1 ]] || fail "missing run: want one line, exit 2: $out"
echo "ok: $v; --help/--version/--report without a display"
