# Reliability 7: a replica damaged on disk is caught by fieldsyncd, which
# will not run on it rather than send the damage on: at start for what was
# added since its last check, while it runs for the rest, and before
# any change leaves; the site is then rebuilt from its parent as
# docs/RELIABILITY.md says, with what only it held salvaged from the
# damaged file.
. "$(dirname "$0")/lib_daemon.sh"
site hq; site gao hq
start hq; start gao
fs hq put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali 2027" >/dev/null
fs gao put sitrep-gao-48 --kind analysis --scope MLI --set title="Gao sitrep week 48" >/dev/null
fs gao put incident-0412 --kind analysis --scope MLI --set title="Incident 0412" >/dev/null
wait_converged 20 hq gao
stop gao
# written while gao's daemon is down: only gao holds it
fs gao put sitrep-gao-49 --kind analysis --scope MLI --set title="Gao sitrep week 49" >/dev/null
hq_digest=$(digest hq)
cp "$T/gao.db" "$T/gao.good"

step "a change altered on disk: the daemon refuses to start"
sqlite3 "$T/gao.db" "UPDATE changes SET value = CAST('forged' AS BLOB)
  WHERE lseq = (SELECT max(lseq) FROM changes WHERE field = 'title')"
expect_fail 1 "gao.db is damaged: 1 of [0-9]+ changes fail their checksum .*Not starting: it would send the damage to other sites.*Rebuilding a site" \
  timeout 30 "$FIELDSYNCD" -c "$T/gao.conf"
expect_fail 1 "is damaged" timeout 30 "$FIELDSYNCD" --check -c "$T/gao.conf"
assert_eq "$(digest hq)" "$hq_digest" "hq's digest"

# fresh GOOD: gao.db is the good copy again, daemon files gone
fresh() { cp "$T/gao.good" "$T/gao.db"; rm -f "$T/gao.db-wal" "$T/gao.db-shm"; }
# alter WHICH: a title change's value altered in place (min or max lseq)
alter() { sqlite3 "$T/gao.db" "UPDATE changes SET value = CAST('forged' AS BLOB)
  WHERE lseq = (SELECT $1(lseq) FROM changes WHERE field = 'title')"; }
# stops_damaged: gao's daemon ends by itself, saying why
stops_damaged() {
  local rc=0
  wait "${PID[gao]}" || rc=$?
  [ "$rc" = 1 ] || fail "gao's daemon ended with $rc, not 1: $(tail -3 "$T/gao.log")"
  grep -q "gao.db is damaged: .*checksum.*Stopped: it would send the damage" "$T/gao.log" ||
    fail "gao's daemon did not say it stopped on damage: $(tail -3 "$T/gao.log")"
}

step "a damaged change is never taken, even with the checks at start off: hq refuses it, gao finds it"
fresh
alter max # sitrep-gao-49's title: hq lacks it
sed -i 's/^\[site\]$/[site]\nverify_at_start = false/' "$T/gao.conf"
: >"$T/gao.log"
start gao
wait_until 20 "gao's daemon is still running with a damaged change to send" \
  bash -c "! kill -0 ${PID[gao]} 2>/dev/null"
stops_damaged
assert_eq "$(digest hq)" "$hq_digest" "hq's digest"
fs hq get sitrep-gao-49 >/dev/null 2>&1 && fail "the damaged sitrep reached hq"
# gao sent it without checking: hq refused the batch by its hash, and the
# resend it asked for is what gao checked and stopped on
grep -q "site=hq event=resend peer=gao .*batch hash mismatch" "$T/hq.log" ||
  fail "hq did not refuse the damaged batch by its hash: $(grep 'peer=gao' "$T/hq.log" | tail -3)"
grep -q "site=gao event=rewind peer=parent" "$T/gao.log" ||
  fail "gao did not rewind before it stopped: $(tail -5 "$T/gao.log")"
sed -i '/^verify_at_start = false$/d' "$T/gao.conf"

step "an old change altered: the start passes it, the check while running stops the daemon"
fresh
: >"$T/gao.log"
start gao # a whole pass, recorded: the next start checks only what is new
wait_until 20 "gao's daemon did not check its whole replica" grep -q "event=verified" "$T/gao.log"
stop gao
alter min
: >"$T/gao.log"
start gao
wait_until 20 "gao's daemon is still running on a damaged replica" \
  bash -c "! kill -0 ${PID[gao]} 2>/dev/null"
stops_damaged
# it said so in the replica: the next start checks everything, and refuses
expect_fail 1 "gao.db is damaged: .*Not starting" timeout 30 "$FIELDSYNCD" -c "$T/gao.conf"
# gao's sound changes may have gone first: the forged one never did
assert_eq "$(fs hq get isf-mli-2027 --json | jq -r .fields.title)" "ISF Mali 2027" "hq's ISF title"

step "a page overwritten on disk: the daemon stops, at start or soon after"
cp "$T/gao.good" "$T/gao.db"
rm -f "$T/gao.db-wal" "$T/gao.db-shm"
page=$(sqlite3 "$T/gao.db" 'PRAGMA page_size')
pages=$(( $(stat -c %s "$T/gao.db") / page ))
dd if=/dev/urandom of="$T/gao.db" bs="$page" seek=$((pages / 2)) count=1 conv=notrunc 2>/dev/null
expect_fail 1 "damaged|malformed|not a fieldsync replica" timeout 30 "$FIELDSYNCD" -c "$T/gao.conf"
assert_eq "$(fs hq get isf-mli-2027 --json | jq -r .fields.title)" "ISF Mali 2027" "hq's ISF title"

step "an edit sent as a delta against a damaged base: gao stops before it leaves"
# hq holds the report's first body; gao's copy of it is damaged; gao's
# edit would travel as a delta against it, which hq would rebuild from its
# own sound copy into a value that fails the batch's hash at every resend
fresh
sed -i 's/^\[site\]$/[site]\nverify_at_start = false/' "$T/gao.conf"
: >"$T/gao.log"
start gao
para='Convoys to Menaka moved under escort; no incident on the Gao-Ansongo axis.'
body=$(printf "$para %.0s" $(seq 1 20))
fs gao put jar-gao-2027 --kind analysis --scope MLI --set body="$body" >/dev/null
wait_converged 20 hq gao
stop gao
sqlite3 "$T/gao.db" "UPDATE changes SET value = CAST('forged' AS BLOB)
  WHERE doc = 'jar-gao-2027' AND field = 'body'"
fs gao put jar-gao-2027 --scope MLI --set body="$body Reviewed by the JMAC chief." >/dev/null
hq_body=$(fs hq get jar-gao-2027 --scope MLI --json | jq -r .fields.body)
hq_lines=$(wc -l <"$T/hq.log")
start gao
wait_until 20 "gao's daemon is still running with a damaged delta base" \
  bash -c "! kill -0 ${PID[gao]} 2>/dev/null"
stops_damaged
assert_eq "$(fs hq get jar-gao-2027 --scope MLI --json | jq -r .fields.body)" "$hq_body" "hq's report body"
tail -n +$((hq_lines + 1)) "$T/hq.log" | grep "site=hq event=resend peer=gao" &&
  fail "the delta left gao"
sed -i '/^verify_at_start = false$/d' "$T/gao.conf"

step "rebuilding gao from its parent, with what only gao held salvaged"
cp "$T/gao.good" "$T/gao.db"
rm -f "$T/gao.db-wal" "$T/gao.db-shm"
sqlite3 "$T/gao.db" "UPDATE changes SET value = CAST('forged' AS BLOB)
  WHERE lseq = (SELECT max(lseq) FROM changes WHERE field = 'title')"
mv "$T/gao.db" "$T/gao.db.damaged"
"$FIELDSYNC" --db "$T/gao.db.damaged" export -o "$T/salvage.ndjson" 2>/dev/null ||
  true # a badly damaged file may not export: then only the parent's copy remains
fs gao init --site gao >/dev/null
start gao
wait_converged 20 hq gao
fs gao get incident-0412 >/dev/null || fail "gao did not get its history back from hq"
[ -s "$T/salvage.ndjson" ] || fail "nothing salvaged from a file with one bad change"
fs gao import "$T/salvage.ndjson" >/dev/null
wait_converged 20 hq gao
fs hq get sitrep-gao-49 >/dev/null || fail "the salvaged sitrep never reached hq"
fs gao verify >/dev/null || fail "the rebuilt gao does not verify"
echo "PASS corrupt replica"
