#!/usr/bin/env bash
# A mission hub and its field offices, real daemons on loopback with CURVE:
# how fast every session is back after the hub restarts with nothing new,
# how long its loop's longest turn is, and what the hub holds in memory
# with every office connected, idle and then all writing at once.
#
#   bench/bench_hub.sh [BUILD_DIR] [CHANGES] [CHILDREN]   (build-rel 1000000 50)
#
# The hub's log is CHANGES changes of its own planning scope, which the
# offices do not read (the case where finding what a child lacks by
# scanning the log costs the most); each office reads MLI.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-rel}
N=${2:-1000000}
K=${3:-50}
F=$PWD/$B/fieldsync D=$PWD/$B/fieldsyncd
W=$(mktemp -d /tmp/fsy-bench-hub.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; [ -n "${FSY_KEEP:-}" ] || rm -rf "$W"' EXIT
port() { echo $((20000 + RANDOM % 12000)); }
now_ms() { date +%s%3N; }
P=$(port) H=$(port)
SYNC='[sync]\nheartbeat_ms = 1000\ntimeout_ms = 5000\nreconnect_ms = 100\nreconnect_max_ms = 500\n'

"$F" --db "$W/hub.db" init --site bamako >/dev/null
"$F" keygen -o "$W/hub" >/dev/null
{
  printf '[site]\ndb = %s\nsecret_key_file = %s\n[listen]\nendpoint = tcp://127.0.0.1:%s\n' \
    "$W/hub.db" "$W/hub.key" "$P"
  printf '[http]\nlisten = 127.0.0.1:%s\n' "$H"
  printf "$SYNC"
} >"$W/hub.conf"
for i in $(seq 1 "$K"); do
  c=office$i
  "$F" --db "$W/$c.db" init --site "$c" >/dev/null
  "$F" keygen -o "$W/$c" >/dev/null
  printf '[child %s]\npublic_key = %s\nread_scopes = MLI\n' "$c" "$(cat "$W/$c.pub")" >>"$W/hub.conf"
  {
    printf '[site]\ndb = %s\nsecret_key_file = %s\n' "$W/$c.db" "$W/$c.key"
    printf '[parent]\nendpoint = tcp://127.0.0.1:%s\nserver_public_key = %s\n' "$P" "$(cat "$W/hub.pub")"
    printf '[http]\nlisten = off\n'
    printf "$SYNC"
  } >"$W/$c.conf"
done

t0=$(now_ms)
awk -v n=$((N / 7)) 'BEGIN { for (i = 0; i < n; i++)
  printf "{\"scope\":\"MINUSMA-HQ\",\"id\":\"budget-line-%07d\",\"kind\":\"plan\",\"fields\":{\"title\":\"Budget line %d\",\"status\":\"approved\",\"owner\":\"Mission support\",\"amount\":\"%d USD\",\"period\":\"2026-27\",\"note\":\"Fuel, rations and rotations for the sector east battalion\"}}\n", i, i, i * 37 }' >"$W/hub.ndjson"
"$F" --db "$W/hub.db" import --batch 1000 "$W/hub.ndjson" >/dev/null
echo "hub log: $(sqlite3 "$W/hub.db" 'SELECT count(*) FROM changes') changes, imported in $(($(now_ms) - t0)) ms"

metric() { curl -sf "http://127.0.0.1:$H/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
live() { [ "$("$F" -c "$W/hub.conf" status --json | jq '[.sites[] | select(.role == "child" and .connected)] | length')" = "$K" ]; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status"; }

"$D" -c "$W/hub.conf" 2>"$W/hub.log" &
HUB=$!
for i in $(seq 1 "$K"); do "$D" -c "$W/office$i.conf" 2>"$W/office$i.log" & done
until live; do sleep 0.2; done
# a hub that has run a while: its whole-replica check is done
until grep -q "event=verified" "$W/hub.log"; do sleep 0.2; done
echo "all $K offices connected; hub RSS $(rss_kb $HUB) KB (idle)"

kill -TERM $HUB
wait $HUB || true
t0=$(now_ms)
"$D" -c "$W/hub.conf" 2>"$W/hub.log" &
HUB=$!
# the hub's own log says when each session went live (status, a process
# of its own reading a million-change replica, would add its own time)
hellos() { grep -c "event=hello " "$W/hub.log" || true; }
until [ "$(hellos)" -ge "$K" ]; do sleep 0.02; done
last=$(grep "event=hello " "$W/hub.log" | tail -1 | cut -d' ' -f1)
echo "hub restart: all $K sessions live $(($(date -d "$last" +%s%3N) - t0)) ms after the process started"
until live; do sleep 0.2; done
echo "longest loop turn: $(metric fieldsync_loop_turn_longest_seconds) s"

# every office writes at once: a stream each way per office
t0=$(now_ms)
puts=()
for i in $(seq 1 "$K"); do
  "$F" -c "$W/office$i.conf" put "sitrep-office$i-1205" --kind analysis --scope MLI \
    --set title="Situation report, office $i, 5 Dec" \
    --set body="$(head -c 6000 /dev/urandom | base64 -w0 | head -c 4000)" >/dev/null &
  puts+=($!)
done
wait "${puts[@]}"
all_in() { [ "$(sqlite3 "$W/hub.db" "SELECT count(DISTINCT doc) FROM changes WHERE doc LIKE 'sitrep-office%'")" = "$K" ]; }
until all_in; do sleep 0.05; done
echo "a write at each of $K offices: all at the hub in $(($(now_ms) - t0)) ms"
sleep 3 # and back down to every other office
echo "hub RSS with every stream in use: $(rss_kb $HUB) KB (peak $(hwm_kb $HUB) KB); streams hold send $(metric 'fieldsync_stream_memory_bytes{direction="send"}') B, receive $(metric 'fieldsync_stream_memory_bytes{direction="receive"}') B"
echo "longest loop turn: $(metric fieldsync_loop_turn_longest_seconds) s"
