# While HQ applies one batch of a session, it decodes the next one waiting
# from the same connection on a second thread (daemon/ahead.h); changes
# sent as deltas are rebuilt in their turn, against the replica that holds
# every batch before them (a report edited twice in a row offline is a
# delta against a version that may still be in the batch being applied
# when its own batch is decoded). Whatever the order of decoding, HQ ends
# with exactly the field office's replica.
. "$(dirname "$0")/lib_daemon.sh"
# batch_bytes: a 256 KiB measure of the link, which a loopback meets
# even under a sanitizer (batches of 100-200 changes close by count)
SYNC_CONF="heartbeat_ms = 200\ntimeout_ms = 2000\nbatch_changes = 100\nbatch_bytes = 262144\nwindow = 4"
site hq
site gao hq
site menaka gao

para='Patrols along the Gao-Ansongo axis reported no incident; convoys to Menaka moved under escort.'
body=$(printf "$para %.0s" $(seq 1 30))
# reports EDIT [NEW]: 800 JMAC reports of ~3 KB, one sentence per edit;
# with NEW, a new report numbered NEW+i after each (whole values: HQ's
# applying stays the slower end, so frames wait behind it)
reports() {
  local i
  for i in $(seq -f %04g 1 800); do
    printf '{"scope":"MLI","id":"jmac-gao-%s","kind":"analysis","fields":{"title":"Gao weekly %s","body":"%s %s Edit: %s."}}\n' \
      "$i" "$i" "$body" "$i" "$1"
    [ -z "${2:-}" ] ||
      printf '{"scope":"MLI","id":"jmac-tbk-%s","kind":"analysis","fields":{"title":"Timbuktu weekly %s","body":"%s"}}\n' \
        "$(($2 + 10#$i))" "$i" "$body"
  done
}

step "800 reports at the field office catch up to HQ in batches of 100, then 200"
reports "none" >"$T/r0.ndjson"
fs gao import --batch 400 "$T/r0.ndjson" >/dev/null
start hq
start gao
wait_converged 120 hq gao
# loopback is a fast link: once measured, batches of twice the configured
# changes (daemon/pace.h), fewer transactions for HQ
grep -q "site=gao event=batch_size peer=parent changes=200 configured=100 " "$T/gao.log" ||
  fail "gao's batches did not grow on loopback: $(grep 'event=batch_size' "$T/gao.log" | head -2)"

step "each report edited twice offline travels as deltas"
stop gao
reports "the JMAC chief asked for sources" 1000 >"$T/r1.ndjson"
reports "sources confirmed by UNPOL" 2000 >"$T/r2.ndjson"
fs gao import --batch 400 "$T/r1.ndjson" >/dev/null
fs gao import --batch 400 "$T/r2.ndjson" >/dev/null
# the last 300 reports edited twice in a row: where a batch ends between
# the two, the second is a delta against the first, in the batch before
# its own
reports "sources confirmed by UNPOL" 2000 |
  awk '{ a = $0; sub(/UNPOL\./, "UNPOL, draft.", a); print a; sub(/UNPOL\./, "UNPOL and OCHA."); print }' |
  grep -v jmac-tbk | tail -n 600 >"$T/r3.ndjson"
fs gao import --batch 1 "$T/r3.ndjson" >/dev/null
start gao
wait_converged 120 hq gao
fs hq get jmac-gao-0777 --scope MLI --json | jq -r .fields.body | grep -q "0777 Edit: sources confirmed by UNPOL and OCHA\.$" ||
  fail "HQ does not show the field office's last edit: $(fs hq get jmac-gao-0777 --scope MLI --json | jq -r .fields.body | tail -c 80)"
assert_eq "$(fs hq list --scope MLI --json | jq length)" 2400 "reports at HQ"
assert_eq "$(fs hq conflicts --json | jq length)" 0 "open conflicts at HQ"
stop gao
stop hq

step "HQ decoded batches ahead, deltas among them, and dropped none"
line=$(grep "site=hq event=stop" "$T/hq.log" | tail -1)
echo "$line"
[[ "$line" =~ decoded_ahead=([0-9]+)\ ahead_deltas=([0-9]+) ]] || fail "no counts in HQ's stop line: $line"
[ "${BASH_REMATCH[1]}" -ge 5 ] || fail "HQ decoded no batches ahead: $line"
[ "${BASH_REMATCH[2]}" -ge 1 ] || fail "no delta came through a batch decoded ahead: $line"
grep -q "site=hq event=resend" "$T/hq.log" && fail "HQ dropped frames: $(grep 'event=resend' "$T/hq.log" | head -3)"
grep -q "malformed=0" <<<"$line" || fail "malformed frames at HQ: $line"

step "a site between two takes batches from its parent and its child at once"
# gao holds a frame read ahead from one socket while a batch from the
# other comes first: the decode waits for its own frame (none dropped)
gen() { # gen PREFIX: 1,500 new reports
  local i
  for i in $(seq -f %04g 1 1500); do
    printf '{"scope":"MLI","id":"%s-%s","kind":"analysis","fields":{"title":"%s %s","body":"%s %s"}}\n' \
      "$1" "$i" "$1" "$i" "$body" "$i"
  done
}
gen jmac-hq >"$T/h.ndjson"
gen sitrep-menaka >"$T/m.ndjson"
fs hq import --batch 400 "$T/h.ndjson" >/dev/null
fs menaka import --batch 400 "$T/m.ndjson" >/dev/null
: >"$T/gao.log"
start hq
start gao
start menaka
wait_converged 180 hq gao menaka
stop menaka
stop gao
stop hq
line=$(grep "site=gao event=stop" "$T/gao.log" | tail -1)
echo "$line"
[[ "$line" =~ decoded_ahead=([1-9][0-9]*) ]] || fail "gao decoded no batches ahead: $line"
grep -q "site=gao event=resend" "$T/gao.log" &&
  fail "gao dropped frames it had decoded ahead: $(grep 'event=resend' "$T/gao.log" | head -3)"
echo "PASS daemon_decode_ahead"
