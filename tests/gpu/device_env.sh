#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Sourced by the device scripts (run from the repository root, BUILD naming the bundle):
# sets ROOT and M (the bundle's moetune CLI) and what the collectors need to load on the
# GPU machine: LD_LIBRARY_PATH with the bundle's devlib/ (libraries the machine lacks) and
# CUDA's, MOETUNE_LIB_DIR holding both collector libraries. The functions below serve the
# scripts that log cases to a results.jsonl ($R) in a work folder ($OUT) packed into $FINAL.
ROOT=$(pwd)
M=$ROOT/$BUILD/app/moetune
export LD_LIBRARY_PATH=$ROOT/$BUILD/devlib:/usr/local/cuda/lib64:/usr/local/cuda/extras/CUPTI/lib64:${LD_LIBRARY_PATH:-}
export MOETUNE_LIB_DIR=$ROOT/$BUILD/devlib/collectors
mkdir -p "$MOETUNE_LIB_DIR"
cp "$ROOT/$BUILD/collectors/cupti/libmoetune_cupti.so" "$ROOT/$BUILD/collectors/nccl/libmoetune_nccl.so" "$MOETUNE_LIB_DIR/"

# note JSON: one case (a JSON object) into $R, with "t": the script's elapsed seconds.
note() { echo "${1%\}}, \"t\": $SECONDS}" >> "$R"; }
# stats_of RUN NAME: the run's stats table as JSON rows (name, rank, severity, value).
stats_of() { python3 -c "
import json, sqlite3, sys
db = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True)
print(json.dumps([dict(zip(('name', 'rank', 'severity', 'value'), r)) for r in
                  db.execute('SELECT name, rank, severity, value FROM stats ORDER BY name, rank')], indent=0))
" "$1" > "$OUT/$2.stats.json" 2>&1; }
# median_of LOG...: the largest median_step_ms of the JSON lines in the logs (-1 when none).
median_of() { python3 -c "import json,sys; v=[json.loads(l)['median_step_ms'] for f in sys.argv[1:] for l in open(f) if l.startswith('{')]; print(max(v) if v else -1)" "$@"; }
# pack_results: $R as results.json (in $OUT and $FINAL) and all of $OUT as $FINAL/device.tar.gz.
pack_results() {
  python3 -c "import json; print(json.dumps([json.loads(l) for l in open('$R')], indent=1))" > "$OUT/results.json"
  cp "$OUT/results.json" "$FINAL/results.json"
  tar czf "$FINAL/device.tar.gz" -C "$OUT" .
}
