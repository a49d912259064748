#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# check_installed.sh PREFIX WITH_GUI WITH_COLLECTORS: runs the installed moetune (and
# moetune-gui) from PREFIX with no display and no build tree in sight; prints one FAIL
# line and exits 1 at the first problem.
set -u
P=$1 gui=$2 coll=$3
fail() { echo "FAIL: $*"; exit 1; }
for f in bin/moetune share/moetune/demo/demo.moetune share/bash-completion/completions/moetune \
         share/doc/moetune/LICENSE share/doc/moetune/copyright share/doc/moetune/PROFILE.md \
         share/doc/moetune/LICENSING.md lib/python3/dist-packages/moetune/__init__.py; do
  [[ -e $P/$f ]] || fail "$P/$f not installed"
done
if [[ $coll == 1 ]]; then
  for f in lib/moetune/libmoetune_cupti.so lib/moetune/libmoetune_nccl.so; do [[ -e $P/$f ]] || fail "$P/$f not installed"; done
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
run() { env -u DISPLAY -u WAYLAND_DISPLAY -u QT_QPA_PLATFORM -u MOETUNE_LIB_DIR -u NCCL_PROFILER_PLUGIN "$@"; }
M=$P/bin/moetune
demo=$P/share/moetune/demo/demo.moetune
v=$(run "$M" --version) || fail "moetune --version"
[[ $v == "moetune "[0-9]* ]] || fail "moetune --version printed '$v'"
run "$M" record --help >help.txt 2>&1 || fail "moetune record --help: $(cat help.txt)"
grep -q -- '--output' help.txt || fail "record --help lists no --output"
run "$M" info "$demo" >info.txt 2>&1 || fail "moetune info on the installed demo: $(head -3 info.txt)"
grep -qi 'rank' info.txt || fail "info printed no ranks: $(head -3 info.txt)"
run "$M" analyze --json "$demo" >analyze.json 2>analyze.err
rc=$?
[[ $rc == 0 || $rc == 1 ]] || fail "moetune analyze exit $rc: $(head -3 analyze.err)"
python3 -c 'import json,sys; d=json.load(open("analyze.json")); assert d["findings"], "no findings"' ||
  fail "analyze --json of the demo is not JSON with findings"
if [[ $coll == 1 ]]; then  # record finds the installed collectors (../lib/moetune from bin/)
  run "$M" record -o "$work/r.moetune" -- true >record.txt 2>&1
  if grep -q 'not found (set MOETUNE_LIB_DIR)' record.txt; then fail "record does not find the installed collectors: $(cat record.txt)"; fi
fi
PYTHONPATH=$P/lib/python3/dist-packages python3 -c 'import moetune, sys; sys.exit(0 if moetune.__file__.startswith(sys.argv[1]) else 1)' "$P" ||
  fail "import moetune with PYTHONPATH=$P/lib/python3/dist-packages"
if [[ $gui == 1 ]]; then
  G=$P/bin/moetune-gui
  [[ -x $G ]] || fail "$G not installed"
  run "$G" --help >ghelp.txt 2>&1 || fail "moetune-gui --help without a display: $(head -3 ghelp.txt)"
  grep -q -- '--report' ghelp.txt || fail "moetune-gui --help lists no --report"
  gv=$(run "$G" --version 2>&1) || fail "moetune-gui --version without a display: $gv"
  [[ $gv == "moetune-gui "[0-9]* ]] || fail "moetune-gui --version printed '$gv'"
  run "$G" --report "$demo" --format pdf -o "$work/g.pdf" >g.txt 2>&1 || fail "moetune-gui --report pdf: $(cat g.txt)"
  [[ $(head -c 4 "$work/g.pdf") == %PDF ]] || fail "moetune-gui --report wrote no PDF"
  # the CLI hands pdf to the GUI installed beside it
  run "$M" report "$demo" --format pdf -o "$work/c.pdf" >c.txt 2>&1 || fail "moetune report --format pdf: $(cat c.txt)"
  [[ $(head -c 4 "$work/c.pdf") == %PDF ]] || fail "moetune report --format pdf wrote no PDF"
fi
echo "ok: $v from $P"
