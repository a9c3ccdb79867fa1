# Attachments over a satellite link (vsat: 256 kbit/s, 600 ms round trip).
#   hq <-vsat- gao. gao attaches a report's 5 MiB annex (1 MiB under the
#   sanitizers), queues a backlog of 500 incident reports (about 15 s of
#   the link), then writes a one-line flash report with --urgent:
#   - the flash report is at HQ within 10 s, ahead of the backlog, while
#     the annex is in flight;
#   - gao's status says how much is still to send, and when;
#   - the annex is whole at HQ within 1.3 x (its compressed size / the
#     link's rate) + 30 s;
#   - attached again to another document, it crosses no more;
#   - a second annex, with the link cut for 60 s (10 s) at about half of it
#     and gao's daemon restarted: the link carries at most 1.25 x its
#     compressed size for it; digests equal, verify ok at both.
. "$(dirname "$0")/lib_daemon.sh"
. "$(dirname "$0")/lib_netns.sh"
netns_require
: "${CHUNK_ZSIZE:?CHUNK_ZSIZE must point at the chunk_zsize tool}"
if [ "${FSY_SANITIZE:-OFF}" = ON ]; then MIB=1 CUT=10; else MIB=5 CUT=60; fi
MIB=${FSY_ATT_MIB:-$MIB} CUT=${FSY_CUT_SECONDS:-$CUT}
# the thin-link settings of config/gao-field.conf
SYNC_CONF='heartbeat_ms = 5000\ntimeout_ms = 30000\nbatch_changes = 200\nbatch_bytes = 262144\nwindow = 8\nreconnect_ms = 200\nreconnect_max_ms = 2000'
site hq; site gao hq
ns_site hq; ns_site gao
ns_link gao hq vsat
ns_start hq; ns_start gao
kbit=${PROFILE_KBIT[vsat]}

# An annex of MIB MiB: a report's prose (compresses like text, not like
# repeated bytes), seeded so that two annexes differ.
annex() {
  awk -v seed="$1" -v size=$((MIB << 20)) 'BEGIN {
    srand(seed)
    n = split("the of in and to on from with near along during after patrol " \
      "convoy incident market village armed group civilians displaced water " \
      "point road checkpoint humanitarian access security situation reported " \
      "observed confirmed attack clash protest ceasefire mission battalion " \
      "police community leaders women youth harvest prices fuel shortage " \
      "rainy season flooding bridge district region camp returnees health " \
      "school tension calm risk assessment recommendation coordination", w, " ")
    m = split("Gao Ansongo Menaka Kidal Tessit Bourem Timbuktu Mopti", pl, " ")
    out = 0
    while (out < size) {
      s = ""
      for (j = 0; j < 14; j++) s = s w[1 + int(rand() * n)] " "
      s = s "near " pl[1 + int(rand() * m)] ", " int(rand() * 900) " people.\n"
      if (out + length(s) > size) s = substr(s, 1, size - out)
      printf "%s", s
      out += length(s)
    }
  }' # exactly size bytes: a "| head -c" would kill awk with SIGPIPE at times
}
veth_bytes() { ip -n "${NS[gao]}" -s -j link show dev "${VETH_C[gao]}" | jq '.[0].stats64 | .rx.bytes + .tx.bytes'; }
whole_at_hq() { ! fs hq get "$1" 2>/dev/null | grep -q arriving && fs hq get "$1" >/dev/null 2>&1; }
at_hq() { fs hq get "$1" >/dev/null 2>&1; }

fs gao put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali 2027" >/dev/null
wait_converged 60 hq gao

# N incident reports of ~4 kB each for the shared register, as NDJSON.
backlog() {
  awk -v n="$1" 'BEGIN {
    srand(7)
    k = split("patrol convoy incident market village armed group civilians " \
      "displaced water point road checkpoint access security reported " \
      "observed confirmed clash protest police community harvest fuel", w, " ")
    for (i = 1; i <= n; i++) {
      b = ""
      while (length(b) < 4000) b = b w[1 + int(rand() * k)] " "
      printf "{\"scope\":\"global\",\"id\":\"incident-%04d\",\"kind\":\"analysis\",", i
      printf "\"fields\":{\"title\":\"Incident %d\",\"body\":\"%s\"}}\n", i, b
    }
  }'
}
at_hq_count() { fs hq export --scope global | wc -l; }

step "gao attaches a $MIB MiB annex, queues a backlog, then writes an urgent flash report"
annex 11 >"$T/annex-a.txt"
backlog 500 >"$T/backlog.ndjson"
za=$("$CHUNK_ZSIZE" "$T/annex-a.txt")
t0=$(date +%s%3N)
fs gao put jmac-monthly-11 --kind analysis --scope MLI --set title="JMAC monthly, November" \
  --attach annex="$T/annex-a.txt" >/dev/null
sleep 3
fs gao import "$T/backlog.ndjson" >/dev/null
tf=$(date +%s%3N)
fs gao put flash-0412 --kind analysis --scope MLI --urgent \
  --set title="Flash: road Gao-Ansongo closed at km 42" >/dev/null
wait_until 10 "the flash report did not reach hq within 10 s" at_hq flash-0412
ahead=$(at_hq_count)
echo "flash report at hq $(($(date +%s%3N) - tf)) ms after it was written; $ahead of 500 backlog reports there"
[ "$ahead" -lt 500 ] || fail "the whole backlog was at hq before the flash report: nothing was overtaken"
grep -q "event=urgent peer=parent scope=MLI origin=gao" "$T/gao.log" || fail "gao's log does not show the urgent send"
whole_at_hq jmac-monthly-11 && fail "the annex was whole before the flash report: not in flight"
sending() { fs gao status --json | jq -e '.sites[] | select(.role == "parent") |
  .attachments.sending | .bytes_waiting > 0 and .eta_s != null and .eta_s > 0' >/dev/null; }
gao_status() { fs gao status --json | jq -c '.sites[] | select(.role == "parent") | .attachments'; }
explain=gao_status wait_until 20 "gao's status does not say what is left to send and when" sending
echo "gao's status: $(fs gao status | grep attachments:)"

limit_ms=$((za * 8 / kbit * 13 / 10 + 30000))
wait_until $((limit_ms / 1000 + 5)) "the annex was not whole at hq in time" whole_at_hq jmac-monthly-11
ms=$(($(date +%s%3N) - t0))
echo "annex of $((MIB << 20)) bytes, $za compressed: whole at hq in $ms ms (limit $limit_ms ms;" \
  "the link's limit for it $((za * 8 / kbit)) ms)"
[ "$ms" -le "$limit_ms" ] || fail "the annex took $ms ms, over $limit_ms ms"
fs hq get jmac-monthly-11 --field annex -o "$T/hq-a.txt"
cmp "$T/hq-a.txt" "$T/annex-a.txt" || fail "the annex at hq differs"

step "the same annex attached to another document crosses no more"
before=$(veth_bytes)
fs gao put risk-north --kind assessment --scope MLI --attach annex="$T/annex-a.txt" >/dev/null
wait_until 30 "risk-north did not reach hq whole" whole_at_hq risk-north
sleep 2
again=$(($(veth_bytes) - before))
echo "link bytes for the second reference: $again"
[ "$again" -lt $((za / 20)) ] || fail "$again bytes crossed for content hq holds"

step "a second annex; the link cut for $CUT s at half of it; gao's daemon restarted"
annex 22 >"$T/annex-b.txt"
zb=$("$CHUNK_ZSIZE" "$T/annex-b.txt")
hash=$(b2sum -l 256 "$T/annex-b.txt" | cut -d' ' -f1)
half() { [ "$(sqlite3 "$T/hq.db" "SELECT have * 2 >= size FROM blobs WHERE hex(hash) = upper('$hash')")" = 1 ]; }
before=$(veth_bytes)
fs gao put jmac-monthly-12 --kind analysis --scope MLI --set title="JMAC monthly, December" \
  --attach annex="$T/annex-b.txt" >/dev/null
wait_until 300 "half of the annex never reached hq" half
have_at_cut=$(sqlite3 "$T/hq.db" "SELECT have FROM blobs WHERE hex(hash) = upper('$hash')")
ns_cut gao
stop gao
ns_start gao
sleep "$CUT"
ns_heal gao
wait_until 300 "the second annex was not whole at hq after the cut" whole_at_hq jmac-monthly-12
wire=$(($(veth_bytes) - before))
echo "second annex: $zb bytes compressed, $have_at_cut of $((MIB << 20)) at hq when cut;" \
  "the link carried $wire bytes ($(awk -v a="$wire" -v b="$zb" 'BEGIN { printf "%.2f", a / b }') x)"
[ $((wire * 100)) -le $((zb * 125)) ] || fail "the link carried $wire bytes, over 1.25 x $zb"
[ "$(at_hq_count)" -eq 500 ] || fail "the backlog did not all reach hq"
wait_converged 60 hq gao
for s in hq gao; do fs "$s" verify >/dev/null || fail "$s does not verify"; done
fs hq get jmac-monthly-12 --field annex -o "$T/hq-b.txt"
cmp "$T/hq-b.txt" "$T/annex-b.txt" || fail "the second annex at hq differs"
echo "PASS attachments over vsat"
