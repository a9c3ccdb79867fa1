# Reliability 7: a replica damaged on disk is caught when fieldsyncd starts,
# and the daemon refuses to run on it rather than send the damage on; the
# site is then rebuilt from its parent as docs/RELIABILITY.md says, with
# what only it held salvaged from the damaged file.
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
expect_fail 1 "gao.db is damaged: 1 of 8 changes fail their checksum .*Not starting: it would send the damage to other sites.*Rebuilding a site" \
  timeout 30 "$FIELDSYNCD" -c "$T/gao.conf"
expect_fail 1 "is damaged" timeout 30 "$FIELDSYNCD" --check -c "$T/gao.conf"
assert_eq "$(digest hq)" "$hq_digest" "hq's digest"

step "a page overwritten on disk: the daemon refuses to start"
cp "$T/gao.good" "$T/gao.db"
rm -f "$T/gao.db-wal" "$T/gao.db-shm"
pages=$(( $(stat -c %s "$T/gao.db") / 4096 ))
dd if=/dev/urandom of="$T/gao.db" bs=4096 seek=$((pages / 2)) count=1 conv=notrunc 2>/dev/null
expect_fail 1 "damaged|malformed|not a fieldsync replica" timeout 30 "$FIELDSYNCD" -c "$T/gao.conf"
assert_eq "$(digest hq)" "$hq_digest" "hq's digest"

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
