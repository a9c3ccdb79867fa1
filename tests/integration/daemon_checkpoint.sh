# fieldsyncd copies its write-ahead log into the replica when changes stop
# moving, not inside the turns that apply them (SQLite's own checkpoint at
# every commit past 1,000 pages made each batch's sender wait): HQ's log
# holds a whole catch-up of ~8 MB, then the replica file takes it while
# the daemon still runs, with the field office connected (its heartbeats do
# not count as traffic).
. "$(dirname "$0")/lib_daemon.sh"
site hq
site gao hq

size() { stat -c %s "$1" 2>/dev/null || echo 0; }

step "2,000 JMAC reports of ~3 KB at the field office catch up to HQ"
body=$(printf 'Patrols along the Gao-Ansongo axis reported no incident; convoys to Menaka moved under escort. %.0s' $(seq 1 30))
for i in $(seq -w 1 2000); do
  printf '{"scope":"MLI","id":"jmac-gao-%s","kind":"analysis","fields":{"title":"Gao weekly %s","body":"%s %s"}}\n' "$i" "$i" "$body" "$i"
done >"$T/reports.ndjson"
fs gao import --batch 500 "$T/reports.ndjson" >/dev/null
total=$(changes gao)
start hq
start gao
holds_all() { [ "$(changes hq)" -ge "$total" ]; }
wait_until 120 "HQ did not catch up" holds_all
wal=$(size "$T/hq.db-wal")
db=$(size "$T/hq.db")
echo "HQ after the catch-up: replica file $db bytes, write-ahead log $wal bytes"
# SQLite's own checkpoints keep the log near 4 MiB (1,000 pages and a batch)
[ "$wal" -ge $((6 * 1024 * 1024)) ] ||
  fail "HQ's log was copied during the catch-up ($wal bytes at its end)"

step "once nothing moves, fieldsyncd copies the log into the replica"
copied() { [ "$(size "$T/hq.db")" -ge $((db + 5 * 1024 * 1024)) ]; }
wait_until 10 "HQ's log was not copied into its replica while it ran" copied
echo "HQ's replica file: $(size "$T/hq.db") bytes"
assert_eq "$(fs hq get jmac-gao-1999 --scope MLI --json | jq -r .fields.title)" "Gao weekly 1999" "a report read back"
stop gao
stop hq
echo "PASS daemon_checkpoint"
