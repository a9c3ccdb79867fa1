#!/usr/bin/env bash
# Bytes on the wire: a field office catches up N analysis reports to HQ
# over loopback (CURVE on), and the TCP payload both ways is compared with
# the same documents as one NDJSON stream compressed by zstd -3 and -19,
# measured in the same run. Then one sentence is changed in a 20 KB report
# while connected: the bytes that edit costs, both ways.
#
#   bench/bench_wire.sh [BUILD_DIR] [DOCS]     (defaults: build-rel 10000)
#
# FSY_BENCH_SYNC: extra [sync] lines for both daemons (e.g. a level).
# Prints one "bench NAME VALUE" line per figure, after a readable summary.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-rel}
N=${2:-10000}
SYNC=${FSY_BENCH_SYNC:-}
F=$PWD/$B/fieldsync D=$PWD/$B/fieldsyncd
W=$(mktemp -d /tmp/fsy-bench-wire.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$W"' EXIT
P=$((20000 + RANDOM % 12000))

# Reports as a JMAC cell writes them: eight text fields, a long body of
# sentences drawn (fixed seed) from the cell's vocabulary, ~2.4 KB of JSON.
gen_reports() {
  awk -v n="$1" 'BEGIN {
    seed = 42
    split("Gao Ansongo Menaka Kidal Timbuktu Mopti Bourem Tessalit Douentza Goundam Aguelhok Ber Lere Niono Tenenkou", town, " ")
    split("draft final review cleared", status, " ")
    # A vocabulary of 20,000 words drawn from syllables, picked with a
    # Zipf-like law (rank r about 1/r), as words in prose are: the reports
    # compress about as real ones do (zstd -19 about 5:1), not 10:1.
    split("ba ka ma ta sa di do fa ga ha ke ki la lo mo na ni ou ra se si te ti wa ya za bou dia kou mou sou tou an el in or", syl, " ")
    # the commonest words are those of the cell; the long tail, names of
    # people, villages and groups
    V = 20000
    top = split("the of and in to near on from with patrol road access security armed group market water point displaced families returnees convoy checkpoint incident reported observed confirmed local authorities community leaders humanitarian partners prices fuel cereal harvest rains flooding clinic school camp site mission escort curfew militia ceasefire mediation dialogue land pasture herders farmers youth recruitment taxation abductions threats shelter food cholera vaccination distribution registration bridge ferry airstrip district region village town week day people women children police army teams cluster protection risk tension calm movement arrivals", word, " ")
    for (v = top + 1; v <= V; v++) {
      w = ""
      for (k = 1 + rnd(3); k > 0; k--) w = w syl[1 + rnd(35)]
      word[v] = w
    }
    for (i = 0; i < n; i++) {
      t = town[1 + rnd(15)]
      body = ""
      while (length(body) < 1850) {
        s = ""
        for (k = 6 + rnd(14); k > 0; k--) s = s " " zipf()
        body = body toupper(substr(s, 2, 1)) substr(s, 3) (rnd(4) ? ". " : sprintf(", %d people, grid %04d %04d. ", rnd(5000), rnd(10000), rnd(10000)))
      }
      printf "{\"scope\":\"MLI\",\"id\":\"jmac-mli-%06d\",\"kind\":\"analysis\",\"fields\":{", i
      printf "\"title\":\"Weekly JMAC analysis, %s sector, week %d\",", t, 1 + i % 52
      printf "\"status\":\"%s\",\"tags\":\"%s, %s, %s, %s\",", status[1 + rnd(4)], tolower(t), zipf(), zipf(), zipf()
      printf "\"period_start\":\"2026-%02d-%02d\",\"period_end\":\"2026-%02d-%02d\",", 1 + rnd(12), 1 + rnd(28), 1 + rnd(12), 1 + rnd(28)
      printf "\"region\":\"%s\",\"summary\":\"Situation in %s: %s %s %s.\",", t, t, zipf(), zipf(), zipf()
      printf "\"body\":\"%s\"}}\n", body
    }
  }
  function rnd(k) { seed = (seed * 16807) % 2147483647; return int(seed / 2147483647 * k) }
  function zipf() { return word[int(exp(rnd(1000000) / 1000000 * log(V)))] }'
}

"$F" --db "$W/hq.db" init --site hq >/dev/null
"$F" --db "$W/gao.db" init --site gao >/dev/null
"$F" keygen -o "$W/hq" >/dev/null
"$F" keygen -o "$W/gao" >/dev/null
sync_conf="heartbeat_ms = 30000\ntimeout_ms = 90000\n$SYNC"
printf '[site]\ndb = %s\nsecret_key_file = %s\n[listen]\nendpoint = tcp://127.0.0.1:%s\n[http]\nlisten = off\n[child gao]\npublic_key = %s\n[sync]\n%b\n' \
  "$W/hq.db" "$W/hq.key" "$P" "$(cat "$W/gao.pub")" "$sync_conf" >"$W/hq.conf"
printf '[site]\ndb = %s\nsecret_key_file = %s\n[parent]\nendpoint = tcp://127.0.0.1:%s\nserver_public_key = %s\n[http]\nlisten = off\n[sync]\n%b\n' \
  "$W/gao.db" "$W/gao.key" "$P" "$(cat "$W/hq.pub")" "$sync_conf" >"$W/gao.conf"

gen_reports "$N" >"$W/reports.ndjson"
"$F" --db "$W/gao.db" import --batch 1000 "$W/reports.ndjson" >/dev/null
total=$("$F" --db "$W/gao.db" verify --json | jq .changes_checked)
json=$(stat -c %s "$W/reports.ndjson")
z3=$(zstd -q -3 -c "$W/reports.ndjson" | wc -c)
z19=$(zstd -q -19 -c "$W/reports.ndjson" | wc -c)

# TCP payload of the field office's connection to HQ, both ways, as the
# kernel counts it (ss: bytes_sent, bytes_received).
wire() {
  ss -tinH state established "( dport = :$P )" |
    awk '{ for (i = 1; i <= NF; i++) { split($i, kv, ":")
           if (kv[1] == "bytes_sent" || kv[1] == "bytes_received") s += kv[2] } }
         END { print s + 0 }'
}
at_hq() { sqlite3 "$W/hq.db" "SELECT count(*) FROM changes"; }

"$D" -c "$W/hq.conf" 2>"$W/hq.log" &
"$D" -c "$W/gao.conf" 2>"$W/gao.log" &
until [ "$(at_hq)" -ge "$total" ]; do sleep 0.1; done
sleep 1 # the last acknowledgement
catchup=$(wire)
frames=$("$F" --db "$W/gao.db" status --json |
  jq '[.sites[] | select(.role == "parent") | .bytes_sent + .bytes_received] | add')

# One sentence changed in a 20 KB report, while connected.
long=$(head -n 20 "$W/reports.ndjson" | jq -r .fields.body | awk '{ s = s $0 } END { print substr(s, 1, 20000) }')
"$F" --db "$W/gao.db" put jmac-mli-long --kind analysis --scope MLI --set body="$long" >/dev/null
until [ "$(sqlite3 "$W/hq.db" "SELECT count(*) FROM changes WHERE doc = 'jmac-mli-long'")" -ge 2 ]; do sleep 0.05; done
sleep 1
before=$(wire)
edited="${long:0:9000}The team confirmed renewed access to the road near the ferry of Bourem on day 12, according to UNPOL teams.${long:9100}"
"$F" --db "$W/gao.db" put jmac-mli-long --set body="$edited" >/dev/null
until [ "$(sqlite3 "$W/hq.db" "SELECT count(*) FROM changes WHERE doc = 'jmac-mli-long'")" -ge 3 ]; do sleep 0.05; done
sleep 1
edit=$(($(wire) - before))

# Another sentence, once the session's compression stream has been given
# back (idle 30 s): the edit travels as a delta against what HQ holds.
sleep "${FSY_BENCH_IDLE_S:-35}"
before=$(wire)
edited2="${edited:0:15000}Community leaders in Menaka asked for a second water point before the rains, the cluster reports.${edited:15100}"
"$F" --db "$W/gao.db" put jmac-mli-long --set body="$edited2" >/dev/null
until [ "$(sqlite3 "$W/hq.db" "SELECT count(*) FROM changes WHERE doc = 'jmac-mli-long'")" -ge 4 ]; do sleep 0.05; done
sleep 1
late=$(($(wire) - before))

per() { echo $(($1 / N)); }
echo "documents: $N ($total changes), NDJSON $json B ($(per "$json") B/doc)"
echo "zstd -3 of the NDJSON:  $z3 B ($(per "$z3") B/doc)"
echo "zstd -19 of the NDJSON: $z19 B ($(per "$z19") B/doc)"
echo "catch-up on the wire:   $catchup B ($(per "$catchup") B/doc), $(awk -v a="$catchup" -v b="$z19" 'BEGIN { printf "%.2f", a / b }') x zstd -19"
echo "  of which fieldsync frames: $frames B; ZeroMQ, CURVE and the rest: $((catchup - frames)) B"
echo "one sentence changed in a 20 KB report: $edit B on the wire"
echo "another, after the stream went idle: $late B on the wire (a heartbeat or two included)"
echo "bench wire_bytes_per_doc $(per "$catchup")"
echo "bench zstd19_bytes_per_doc $(per "$z19")"
echo "bench wire_vs_zstd19 $(awk -v a="$catchup" -v b="$z19" 'BEGIN { printf "%.3f", a / b }')"
echo "bench edit_bytes $edit"
echo "bench late_edit_bytes $late"
