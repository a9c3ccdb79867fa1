#!/usr/bin/env bash
# A document with a long history: a risk register entry whose status is
# edited N times (one import of N one-field edits), then one more edit of
# it, against the same edit of a document with one version, in the same
# run. A write must not cost more as its document's history grows.
#
#   bench/bench_history.sh [BUILD_DIR] [EDITS]   (defaults: build-rel 20000)
#
# Prints the import's edits per second, and the median of 9 single edits
# (the tool's start included) of each document.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-rel}
N=${2:-20000}
case $B in /*) ;; *) B=$PWD/$B ;; esac
F=$B/fieldsync
[ -x "$F" ] || { echo "bench_history: $F missing: cmake --build $B" >&2; exit 1; }
W=$(mktemp -d /tmp/fsy-bench-history.XXXXXX)
trap 'rm -rf "$W"' EXIT
now_us() { date +%s%6N; }

"$F" --db "$W/r.db" init --site bamako >/dev/null
"$F" --db "$W/r.db" put risk-mopti-roads --scope MLI --kind risk \
  --set title="Road access, Mopti region" --set status="open, week 0" >/dev/null
"$F" --db "$W/r.db" put risk-gao-fuel --scope MLI --kind risk \
  --set title="Fuel supply, Gao region" --set status="open" >/dev/null
awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++)
  printf "{\"scope\":\"MLI\",\"id\":\"risk-mopti-roads\",\"fields\":{\"status\":\"open, reviewed %d\"}}\n", i }' >"$W/edits.ndjson"
t0=$(now_us)
"$F" --db "$W/r.db" import --batch 1000 "$W/edits.ndjson" >/dev/null
t1=$(now_us)
echo "import of $N edits of one document: $(((t1 - t0) / 1000)) ms = $((N * 1000000 / (t1 - t0 + 1))) edits/s"

# median of 9 single edits, in microseconds
one_edit() {
  for i in 1 2 3 4 5 6 7 8 9; do
    s=$(now_us)
    "$F" --db "$W/r.db" put "$1" --scope MLI --set status="checked $i" >/dev/null
    e=$(now_us)
    echo $((e - s))
  done | sort -n | sed -n 5p
}
long=$(one_edit risk-mopti-roads)
short=$(one_edit risk-gao-fuel)
echo "one edit (median of 9, tool start included): $((N + 1)) versions $((long / 1000)) ms; 1 version $((short / 1000)) ms; ratio $(awk -v a="$long" -v b="$short" 'BEGIN { printf "%.2f", a / b }')"
