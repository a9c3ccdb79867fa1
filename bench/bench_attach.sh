#!/usr/bin/env bash
# Attachment throughput on loopback: a field office attaches a file; HQ's
# daemon pulls it. Prints the time until it is whole at HQ and the rate,
# and the same bytes written by `put --attach` locally (the store's own
# rate) as a baseline from the same run.
#
#   bench/bench_attach.sh [BUILD_DIR] [MIB] [RUNS]   (defaults: build-rel 50 3)
#
# The file is random (incompressible, like a PDF of scans or photos).
# Over a satellite link: tests/integration/net_attachments.sh, whose
# figures are in docs/ATTACHMENTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-rel} MIB=${2:-50} RUNS=${3:-3}
F=$PWD/$B/fieldsync D=$PWD/$B/fieldsyncd
W=$(mktemp -d /tmp/fsy-bench-attach.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
now_ms() { date +%s%3N; }
head -c $((MIB << 20)) /dev/urandom >"$W/annex.bin"
for run in $(seq 1 "$RUNS"); do
  rm -f "$W"/*.db* "$W"/*.conf
  P=$((20000 + RANDOM % 12000))
  "$F" --db "$W/hq.db" init --site hq >/dev/null
  "$F" --db "$W/gao.db" init --site gao >/dev/null
  printf '[site]\ndb = %s\ninsecure = true\n[listen]\nendpoint = tcp://127.0.0.1:%s\n[http]\nlisten = off\n' "$W/hq.db" "$P" >"$W/hq.conf"
  printf '[site]\ndb = %s\ninsecure = true\n[parent]\nendpoint = tcp://127.0.0.1:%s\n[http]\nlisten = off\n' "$W/gao.db" "$P" >"$W/gao.conf"
  t0=$(now_ms)
  "$F" --db "$W/gao.db" put jmac-11 --kind analysis --scope MLI --attach annex="$W/annex.bin" >/dev/null
  local_ms=$(($(now_ms) - t0))
  "$D" -c "$W/hq.conf" 2>"$W/hq.log" &
  "$D" -c "$W/gao.conf" 2>"$W/gao.log" &
  t1=$(now_ms)
  until [ "$(sqlite3 "$W/hq.db" 'SELECT count(*) FROM blobs WHERE complete = 1' 2>/dev/null || echo 0)" = 1 ]; do sleep 0.05; done
  ms=$(($(now_ms) - t1))
  echo "run $run: $MIB MiB whole at hq in $ms ms = $((MIB * 1000 / (ms + 1))) MiB/s" \
    "(incl. daemon start and session set-up); put --attach locally $local_ms ms =" \
    "$((MIB * 1000 / (local_ms + 1))) MiB/s"
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
done
