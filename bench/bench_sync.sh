#!/usr/bin/env bash
# Live-sync benchmark: a field office with a backlog catches up to HQ over
# loopback; then single-edit latency while connected.
#
#   bench/bench_sync.sh [BUILD_DIR] [CHANGES]     (defaults: build-rel 100000)
#
# Prints: backlog catch-up changes/s (commit at the field office to commit
# at HQ), the daemons' peak RSS, and the latency of one edit reaching HQ
# (median and p99 over 100 edits). Compare with bench_store's raw SQLite
# batched-insert rate from the same machine (docs/PERFORMANCE.md).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-rel}
N=${2:-100000}
SYNC=${FSY_BENCH_SYNC:-} # extra [sync] lines, e.g. 'batch_changes = 4000' 
F=$PWD/$B/fieldsync D=$PWD/$B/fieldsyncd
W=$(mktemp -d /tmp/fsy-bench-sync.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
port() { echo $((20000 + RANDOM % 12000)); }
P=$(port)
now_ms() { date +%s%3N; }

"$F" --db "$W/hq.db" init --site hq >/dev/null
"$F" --db "$W/gao.db" init --site gao >/dev/null
"$F" keygen -o "$W/hq" >/dev/null
"$F" keygen -o "$W/gao" >/dev/null
printf '[site]\ndb = %s\nsecret_key_file = %s\n[listen]\nendpoint = tcp://127.0.0.1:%s\n[http]\nlisten = off\n[child gao]\npublic_key = %s\n' \
  "$W/hq.db" "$W/hq.key" "$P" "$(cat "$W/gao.pub")" >"$W/hq.conf"
printf '[site]\ndb = %s\nsecret_key_file = %s\n[parent]\nendpoint = tcp://127.0.0.1:%s\nserver_public_key = %s\n[http]\nlisten = off\n' \
  "$W/gao.db" "$W/gao.key" "$P" "$(cat "$W/hq.pub")" >"$W/gao.conf"
if [ -n "$SYNC" ]; then printf '[sync]\n%b\n' "$SYNC" | tee -a "$W/hq.conf" >>"$W/gao.conf"; fi

docs=$(((N + 6) / 7)) # a created document is 7 changes: _kind + 6 fields
awk -v n="$docs" 'BEGIN { for (i = 0; i < n; i++)
  printf "{\"scope\":\"MLI\",\"id\":\"report-%07d\",\"kind\":\"analysis\",\"fields\":{\"title\":\"Weekly report %d\",\"status\":\"draft\",\"summary\":\"Situation in the Gao region, week %d\",\"body\":\"Patrols along the Gao-Ansongo axis reported no incident; market prices stable; access to water points restored in three villages.\",\"risks\":\"Road insecurity during the rainy season\",\"owner\":\"Gao field office\"}}\n", i, i, i % 52 }' >"$W/backlog.ndjson"
"$F" --db "$W/gao.db" import --batch 1000 "$W/backlog.ndjson" >/dev/null
total=$("$F" --db "$W/gao.db" verify --json | jq .changes_checked)

/usr/bin/time -f "%M" -o "$W/hq.rss" "$D" -c "$W/hq.conf" 2>"$W/hq.log" &
t0=$(now_ms)
/usr/bin/time -f "%M" -o "$W/gao.rss" "$D" -c "$W/gao.conf" 2>"$W/gao.log" &
# max(lseq), not count(*): HQ's log holds only these changes, and a count
# scans the table (20 ms a poll, taken from the daemons' two cores)
until [ "$(sqlite3 "$W/hq.db" 'SELECT coalesce(max(lseq), 0) FROM changes')" -ge "$total" ]; do sleep 0.05; done
t1=$(now_ms)
echo "catch-up: $total changes in $((t1 - t0)) ms = $((total * 1000 / (t1 - t0 + 1))) changes/s"

lat=()
for i in $(seq 1 100); do
  s=$(now_ms)
  "$F" --db "$W/gao.db" put latency-probe --kind analysis --scope MLI --set "n=$i" >/dev/null
  until [ "$(sqlite3 "$W/hq.db" "SELECT count(*) FROM changes WHERE scope = 'MLI' AND doc = 'latency-probe' AND field = 'n' AND value = CAST('$i' AS BLOB)")" = 1 ]; do
    sleep 0.002
  done
  lat+=($(($(now_ms) - s)))
done
sorted=($(printf '%s\n' "${lat[@]}" | sort -n))
echo "edit latency (put at gao -> committed at hq, incl. ~10 ms CLI start): median ${sorted[49]} ms, p99 ${sorted[98]} ms"
pkill -TERM -f "^$D -c $W" || true
wait 2>/dev/null || true
echo "peak RSS: hq $(cat "$W/hq.rss") KB, gao $(cat "$W/gao.rss") KB"
