# fieldsyncd copies its write-ahead log into the replica on a thread of its
# own once changes stop moving, not inside the turns that apply them
# (SQLite's own copy at every commit past 1,000 pages made each batch's
# sender wait): HQ asks for the copy with the log holding more than SQLite
# would have let it, and the replica file takes the catch-up while the
# daemon runs, the field office still connected (its heartbeats do not
# count as traffic).
. "$(dirname "$0")/lib_daemon.sh"
site hq
site gao hq
EXTRA_CONF='[log]\nlevel = debug'

size() { stat -c %s "$1" 2>/dev/null || echo 0; }

step "2,000 JMAC reports of ~3 KB at the field office catch up to HQ"
body=$(printf 'Patrols along the Gao-Ansongo axis reported no incident; convoys to Menaka moved under escort. %.0s' $(seq 1 30))
for i in $(seq -w 1 2000); do
  printf '{"scope":"MLI","id":"jmac-gao-%s","kind":"analysis","fields":{"title":"Gao weekly %s","body":"%s %s"}}\n' "$i" "$i" "$body" "$i"
done >"$T/reports.ndjson"
fs gao import --batch 500 "$T/reports.ndjson" >/dev/null
total=$(changes gao)
before=$(size "$T/hq.db")
start hq
start gao
holds_all() { [ "$(sqlite3 "$T/hq.db" 'SELECT coalesce(max(lseq), 0) FROM changes')" -ge "$total" ]; }
wait_until 120 "HQ did not catch up" holds_all

step "once nothing moves, HQ copies its log into the replica while it runs"
copied() { [ "$(size "$T/hq.db")" -ge $((before + 5 * 1024 * 1024)) ]; }
wait_until 20 "HQ's log was not copied into its replica while it ran" copied
echo "HQ's replica file: $before bytes before, $(size "$T/hq.db") after"
# the largest log HQ asked to copy: SQLite's own copy keeps it under 1,000
# pages (8 MiB with a new replica's pages of 8 KiB)
page=$(sqlite3 "$T/hq.db" 'PRAGMA page_size')
most=$(grep -o 'event=checkpoint kib=[0-9]*' "$T/hq.log" | grep -o '[0-9]*$' | sort -n | tail -1)
echo "largest log HQ asked to copy: ${most:-none} KiB (pages of $page bytes)"
[ "${most:-0}" -ge $((1100 * page / 1024)) ] || fail "HQ copied its log as it went (largest copy asked: ${most:-none} KiB)"
assert_eq "$(fs hq get jmac-gao-1999 --scope MLI --json | jq -r .fields.title)" "Gao weekly 1999" "a report read back"

step "batches with more waiting behind them were committed without a disk sync"
# and gao learns that all of it is at HQ (the vector HQ sends once synced)
at_hq() { fs gao pending --json | jq -e '.changes_not_at_hq == 0 and .changes_not_at_parent == 0' >/dev/null; }
wait_until 10 "gao does not learn that its reports are at HQ: $(fs gao pending | head -1)" at_hq
grep -q "level=warn site=hq event=checkpoint" "$T/hq.log" && fail "a copy failed: $(grep 'event=checkpoint' "$T/hq.log")"
stop gao
stop hq
grep -q "site=hq event=stop malformed=0 lazy_commits=[1-9]" "$T/hq.log" ||
  fail "HQ synced every batch of the catch-up as it came: $(grep 'event=stop' "$T/hq.log")"
# and they went on disk on the checkpointer's thread, not in the loop
grep -q "site=hq event=stop .* synced_behind=[1-9]" "$T/hq.log" ||
  fail "HQ's loop synced its lazy commits itself: $(grep 'event=stop' "$T/hq.log")"
echo "PASS daemon_checkpoint"
