# Two processes writing to one replica at once (as the CLI and the daemon
# will): every write lands, no clock value is minted twice, and the replica
# verifies. Writers wait on each other through SQLite's busy timeout.
. "$(dirname "$0")/lib.sh"
fs bamako init --site bamako >/dev/null
writer() {
  for i in $(seq 1 40); do
    fs bamako put "sitrep-$1-$i" --kind analysis --scope MLI \
      --set title="Sitrep $1 number $i" --set status=draft >/dev/null || exit 1
  done
}
writer a & pa=$!
writer b & pb=$!
wait $pa || fail "writer a failed"
wait $pb || fail "writer b failed"
assert_eq "$(fs bamako list --json | jq length)" 80 "documents"
assert_eq "$(sqlite3 "$T/bamako.db" 'SELECT count(*) FROM changes')" 240 "changes"
assert_eq "$(sqlite3 "$T/bamako.db" 'SELECT count(DISTINCT hlc) FROM changes')" 240 \
  "distinct clock values"
assert_eq "$(sqlite3 "$T/bamako.db" 'SELECT max(seq) FROM vv')" 240 "contiguous seqs"
fs bamako verify >/dev/null || fail "verify failed"
echo "PASS concurrent writers"
