#!/usr/bin/env bash
# Document throughput against raw SQLite, measured in the same run: a
# field office holding N analysis reports (~2.4 KB of JSON, eight fields)
# that HQ lacks catches up over loopback (live, both daemons, CURVE), and
# the same documents travel by bundle (export --all, import into a fresh
# replica). The baseline is bench_raw_docs: the same NDJSON lines, one row
# per document, 1,000 per transaction, synchronous=FULL.
#
#   bench/bench_catchup.sh [BUILD_DIR] [DOCS]   (defaults: build-rel 10000)
#   FSY_BENCH_SYNC='compression_level = 1' bench/bench_catchup.sh   ([sync] lines)
#   FSY_BENCH_LOGS=DIR keeps the daemons' logs there
#
# Prints docs/s for each and the ratios to raw (issue: at least 0.5; each
# against a baseline measured just before it), and
# an incremental round of FSY_BENCH_ROUND (default 1,000) edited documents.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-rel}
N=${2:-10000}
F=$PWD/$B/fieldsync D=$PWD/$B/fieldsyncd RAW=$PWD/$B/bench/bench_raw_docs
WAIT=$PWD/$B/bench/bench_wait_changes
for x in "$F" "$D" "$RAW" "$WAIT"; do
  [ -x "$x" ] || { echo "bench_catchup: $x missing: cmake --build $B" >&2; exit 1; }
done
W=$(mktemp -d /tmp/fsy-bench-catchup.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -z "${FSY_BENCH_LOGS:-}" ] || cp "$W"/*.log "$FSY_BENCH_LOGS"/; rm -rf "$W"' EXIT
P=$((20000 + RANDOM % 12000))
now_ms() { date +%s%3N; }
# hq_holds N: the moment (ms) HQ's log holds N changes: max(lseq), which
# HQ's log reaches with these changes alone, polled every 2 ms by one
# process (a loop starting sqlite3 every 30 ms read the round's end about
# 20 ms late and slowed the daemons it timed: bench_wait_changes.c)
hq_holds() { "$WAIT" "$W/hq.db" "$1"; }
# quiet: every timed step (the baseline's too) starts with nothing of the
# steps before it still being written back; without it, an import ran
# 4.4-4.7 s by hand and 5.5-8.8 s here, right after a step that had
# written several hundred MB (docs/PERFORMANCE.md)
quiet() { sync; sleep 1; }

# N reports, deterministic: eight fields, a long body of field prose
awk -v n="$N" 'BEGIN {
  s = "Patrols along the Gao-Ansongo axis reported no incident this week; convoys to Menaka moved under escort. ";
  s = s "Market prices for millet and sorghum were stable in Gao and Bourem, higher in Ansongo after the closure of the Tessit road. ";
  s = s "Access to water points was restored in three villages of the Gounzoureye commune after repairs by the WASH cluster. ";
  s = s "Community leaders in Djebock raised concerns about armed men seen near the river crossing at night; the JMAC cell is verifying. ";
  for (i = 0; i < n; i++) {
    body = sprintf("Week %d. %s%s%s%s%s", i % 52, s, s, s, s, substr(s, 1, 80 + i % 40));
    printf "{\"scope\":\"MLI\",\"id\":\"jmac-gao-%07d\",\"kind\":\"analysis\",\"fields\":{", i;
    printf "\"title\":\"JMAC weekly analysis, Gao region, report %d\",\"status\":\"draft\",", i;
    printf "\"summary\":\"Security and humanitarian situation in the Gao region, week %d: stable with localised tensions.\",", i % 52;
    printf "\"body\":\"%s\",\"risks\":\"Road insecurity on the Gao-Ansongo axis during the rainy season; IED threat near Tessit.\",", body;
    printf "\"owner\":\"JMAC Gao desk\",\"region\":\"Gao\",\"sources\":\"UNPOL, FTS patrols, OCHA, local authorities\"}}\n";
  }
}' >"$W/reports.ndjson"
bytes=$(wc -c <"$W/reports.ndjson")
echo "documents: $N, $((bytes / N)) bytes of JSON each"

# baseline [PAGE]: raw SQLite's docs/s for the same documents, measured
# just before the step it is the baseline of (this machine's speed moves
# within minutes: a baseline taken at the start of a run of several minutes
# compared the last step with another machine)
baseline() {
  quiet
  "$RAW" "$W/reports.ndjson" "$W/raw.db" 1000 ${1:-} >"$W/raw.out"
  rm -f "$W/raw.db" "$W/raw.db-wal" "$W/raw.db-shm"
  awk '/raw_docs_per_s/ { print $2 }' "$W/raw.out"
}

# 1. the baselines
raw0=$(baseline)
echo "raw SQLite, 1 row a document, 1,000 a transaction, synchronous=FULL: $raw0 docs/s"
# the issue's baseline takes SQLite's default pages (4 KiB); a replica's are
# 8 KiB: the same baseline with those, for a like-for-like ratio too
"$F" --db "$W/page.db" init --site page >/dev/null
page=$(sqlite3 "$W/page.db" 'PRAGMA page_size')
raw_page=$(baseline "$page")
echo "raw SQLite as above, pages of $page bytes like a replica's: $raw_page docs/s"

# 2. live catch-up, field office -> HQ
"$F" --db "$W/hq.db" init --site hq >/dev/null
"$F" --db "$W/gao.db" init --site gao >/dev/null
"$F" keygen -o "$W/hq" >/dev/null
"$F" keygen -o "$W/gao" >/dev/null
printf '[site]\ndb = %s\nsecret_key_file = %s\n[listen]\nendpoint = tcp://127.0.0.1:%s\n[http]\nlisten = off\n[child gao]\npublic_key = %s\n' \
  "$W/hq.db" "$W/hq.key" "$P" "$(cat "$W/gao.pub")" >"$W/hq.conf"
printf '[site]\ndb = %s\nsecret_key_file = %s\n[parent]\nendpoint = tcp://127.0.0.1:%s\nserver_public_key = %s\n[http]\nlisten = off\n' \
  "$W/gao.db" "$W/gao.key" "$P" "$(cat "$W/hq.pub")" >"$W/gao.conf"
if [ -n "${FSY_BENCH_SYNC:-}" ]; then # extra [sync] lines, e.g. 'compression_level = 1'
  printf '[sync]\n%b\n' "$FSY_BENCH_SYNC" | tee -a "$W/hq.conf" >>"$W/gao.conf"
fi
"$F" --db "$W/gao.db" import --batch 1000 "$W/reports.ndjson" >/dev/null
total=$("$F" --db "$W/gao.db" verify --json | jq .changes_checked)
raw=$(baseline)
echo "raw SQLite again, just before the catch-up: $raw docs/s"
quiet
/usr/bin/time -f "%M %U %S" -o "$W/hq.rss" "$D" -c "$W/hq.conf" 2>"$W/hq.log" &
t0=$(now_ms)
/usr/bin/time -f "%M %U %S" -o "$W/gao.rss" "$D" -c "$W/gao.conf" 2>"$W/gao.log" &
t1=$(hq_holds "$total")
live=$((N * 1000 / (t1 - t0 + 1)))
pkill -TERM -f "^$D -c $W" || true
wait 2>/dev/null || true
echo "catch-up over loopback: $N documents ($total changes) in $((t1 - t0)) ms = $live docs/s; peak RSS KB, user s, sys s: hq $(cat "$W/hq.rss"); gao $(cat "$W/gao.rss")"

# 3. the same by bundle
"$F" --db "$W/gao.db" bundle export --all -o "$W/all.fsb" >/dev/null
"$F" --db "$W/hq2.db" init --site hq >/dev/null
raw_imp=$(baseline)
echo "raw SQLite again, just before the import: $raw_imp docs/s"
quiet
t0=$(now_ms)
"$F" --db "$W/hq2.db" bundle import --allow-unsigned "$W/all.fsb" >/dev/null 2>&1
t1=$(now_ms)
imp=$((N * 1000 / (t1 - t0 + 1)))
echo "bundle import: $N documents in $((t1 - t0)) ms = $imp docs/s"

# 4. an incremental round: the field office edits M of the reports (two
# fields each) while its daemon is down; both daemons start; from the
# field office's start to the last change committed at HQ. The issue's
# comparison: PouchDB's incremental pull of 1,000 such edits, 0.82 s here.
M=${FSY_BENCH_ROUND:-1000}
[ "$M" -le "$N" ] || M=$N
awk -v n="$N" -v m="$M" 'BEGIN {
  for (k = 0; k < m; k++) {
    i = int(k * n / m)
    printf "{\"scope\":\"MLI\",\"id\":\"jmac-gao-%07d\",\"fields\":{\"status\":\"final\",", i
    printf "\"summary\":\"Reviewed by the JMAC chief, week %d: tensions around Tessit confirmed.\"}}\n", i % 52
  }
}' >"$W/edits.ndjson"
"$F" --db "$W/gao.db" import --batch 1000 "$W/edits.ndjson" >/dev/null
total=$("$F" --db "$W/gao.db" verify --json | jq .changes_checked)
starts=$(grep -c 'event=start ' "$W/hq.log")
quiet
"$D" -c "$W/hq.conf" 2>>"$W/hq.log" &
# HQ listening, as it would be (its start line comes once it is bound)
until [ "$(grep -c 'event=start ' "$W/hq.log")" -gt "$starts" ]; do sleep 0.01; done
t0=$(now_ms)
"$D" -c "$W/gao.conf" 2>>"$W/gao.log" &
t1=$(hq_holds "$total")
pkill -TERM -f "^$D -c $W" || true
wait 2>/dev/null || true
echo "incremental round: $M documents edited at the field office, at HQ in $((t1 - t0)) ms (daemon start and handshake included)"
awk -v l="$live" -v i="$imp" -v r="$raw" -v ri="$raw_imp" -v r0="$raw0" -v rp="$raw_page" -v m="$M" -v ms="$((t1 - t0))" 'BEGIN {
  printf "catch-up / raw = %.3f; import / raw = %.3f (aim: 0.5 each; each against the baseline just before it)\n", l / r, i / ri
  printf "against the first baseline alone: catch-up %.3f, import %.3f\n", l / r0, i / r0
  printf "against raw with the replica'"'"'s page size: catch-up %.3f, import %.3f\n", l / rp, i / rp
  if (m == 1000) printf "incremental round: PouchDB 820 ms / fieldsync %d ms = %.1f (aim: 5)\n", ms, 820 / ms }'
