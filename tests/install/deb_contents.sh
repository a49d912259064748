#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# deb_contents.sh BUILD SCRATCH WITH_GUI WITH_COLLECTORS: cpack -G DEB, then the two
# packages' contents (dpkg-deb -c) and control fields (dpkg-deb -f); the CLI package
# (and the GUI one) extracted into SCRATCH and run from there (check_installed.sh).
# Exit 77 (ctest SKIP) without dpkg-deb.
set -u
build=$1 scratch=$2 gui=$3 coll=$4
command -v dpkg-deb >/dev/null || { echo "SKIP: dpkg-deb not installed"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$scratch" && mkdir -p "$scratch" || exit 1
(cd "$scratch" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$scratch/out" >cpack.log 2>&1) ||
  fail "cpack: $(tail -5 "$scratch/cpack.log")"
cli=$(ls "$scratch"/out/moetune_*.deb 2>/dev/null | head -1)
[[ -n $cli ]] || fail "no moetune_*.deb in $scratch/out: $(ls "$scratch/out")"
dpkg-deb -c "$cli" | awk '{print $NF}' >"$scratch/cli.list" || fail "dpkg-deb -c $cli"
for f in ./usr/bin/moetune ./usr/share/doc/moetune/copyright ./usr/share/doc/moetune/LICENSE \
         ./usr/share/moetune/demo/demo.moetune ./usr/share/bash-completion/completions/moetune \
         ./usr/lib/python3/dist-packages/moetune/__init__.py; do
  grep -qx -- "$f" "$scratch/cli.list" || fail "$f missing from $(basename "$cli")"
done
if [[ $coll == 1 ]]; then
  for f in ./usr/lib/moetune/libmoetune_cupti.so ./usr/lib/moetune/libmoetune_nccl.so; do
    grep -qx -- "$f" "$scratch/cli.list" || fail "$f missing from $(basename "$cli")"
  done
fi
if grep -Eiq 'moetune-gui|qt6|qcustomplot' "$scratch/cli.list"; then fail "the CLI package carries GUI files"; fi
[[ $(dpkg-deb -f "$cli" Package) == moetune ]] || fail "CLI package name"
built=$("$build/app/moetune" --version | awk '{print $2}' | tr '-' '~')
[[ $(dpkg-deb -f "$cli" Version) == "$built" ]] || fail "package version $(dpkg-deb -f "$cli" Version) is not the binaries' $built"
if dpkg-deb -f "$cli" Depends | grep -Eiq 'qt|qcustomplot'; then fail "the CLI package depends on Qt"; fi
grep -q 'Apache' <(dpkg-deb --fsys-tarfile "$cli" | tar -xO ./usr/share/doc/moetune/copyright) || fail "CLI copyright is not Apache-2.0"
dpkg-deb -x "$cli" "$scratch/root" || fail "dpkg-deb -x $cli"
if [[ $gui == 1 ]]; then
  g=$(ls "$scratch"/out/moetune-gui_*.deb 2>/dev/null | head -1)
  [[ -n $g ]] || fail "no moetune-gui_*.deb"
  dpkg-deb -c "$g" | awk '{print $NF}' >"$scratch/gui.list" || fail "dpkg-deb -c $g"
  for f in ./usr/bin/moetune-gui ./usr/share/doc/moetune-gui/copyright; do
    grep -qx -- "$f" "$scratch/gui.list" || fail "$f missing from $(basename "$g")"
  done
  if grep -q '/usr/bin/moetune$' "$scratch/gui.list"; then fail "the GUI package carries the CLI"; fi
  deps=$(dpkg-deb -f "$g" Depends)
  grep -qi 'qcustomplot' <<<"$deps" || fail "moetune-gui Depends lacks QCustomPlot: $deps"
  grep -q 'moetune (=' <<<"$deps" || fail "moetune-gui does not depend on moetune: $deps"
  grep -q 'GPL-3' <(dpkg-deb --fsys-tarfile "$g" | tar -xO ./usr/share/doc/moetune-gui/copyright) ||
    fail "moetune-gui copyright does not state GPL-3"
  dpkg-deb -x "$g" "$scratch/root" || fail "dpkg-deb -x $g"
fi
bash "$(dirname "$0")/check_installed.sh" "$scratch/root/usr" "$gui" "$coll" || exit 1
echo "ok: $(basename "$cli")${gui:+ }$( [[ $gui == 1 ]] && basename "$g")"
rm -rf "$scratch"
