# The text index is written behind the changes (schema 9): what still
# waits is never silent. Reports imported while the daemon is down wait;
# status (text and --json), /metrics and the status page say how many; a
# search writes them first and finds them; the daemon writes the rest once
# its links are quiet, and every view goes back to nothing waiting.
. "$(dirname "$0")/lib_daemon.sh"
site hq

# waiting SITE: documents whose index rows wait, from status --json
waiting() { fs "$1" status --json | jq .index_pending; }
metric() { curl -sf "http://127.0.0.1:${HTTP[hq]}/metrics" | awk '$1 == "fieldsync_index_pending_documents" { print $2 }'; }

step "60 JMAC reports imported while fieldsyncd is down wait for the index"
for i in $(seq -w 1 60); do
  printf '{"scope":"MLI","id":"jmac-kidal-%s","kind":"analysis","fields":{"title":"Kidal weekly %s","body":"Water trucking to Anefis resumed in week %s."}}\n' "$i" "$i" "$i"
done >"$T/reports.ndjson"
fs hq import "$T/reports.ndjson" >/dev/null
assert_eq "$(waiting hq)" 60 "documents waiting after the import"
fs hq status | grep -q "^search index: 60 documents waiting to be indexed" ||
  fail "status does not say the index waits: $(fs hq status)"

step "fieldsyncd writes them once its links are quiet; every view says so"
start hq
has_metric() { [ -n "$(metric)" ]; }
wait_until 10 "/metrics never answered" has_metric
index_done() { [ "$(metric)" = 0 ] && [ "$(waiting hq)" = 0 ]; }
wait_until 20 "the daemon did not write the waiting index rows" index_done
fs hq status | grep -q "search index" && fail "status still speaks of the index: $(fs hq status)"
page=$(curl -sf "http://127.0.0.1:${HTTP[hq]}/") || fail "no status page"
grep -q 'index-pending' <<<"$page" && fail "the page still says the index waits"
assert_eq "$(fs hq search Anefis --limit 0 --json | jq length)" 60 "reports found by their words"
stop hq

step "a search writes what waits first"
printf '{"scope":"MLI","id":"jmac-kidal-61","kind":"analysis","fields":{"title":"Kidal weekly 61","body":"Ferry at Bourem closed."}}\n' |
  fs hq import - >/dev/null
assert_eq "$(waiting hq)" 1 "documents waiting after a second import"
fs hq status | grep -q "^search index: 1 document waiting" || fail "status: $(fs hq status)"
assert_eq "$(fs hq search Bourem --json | jq -r '.[0].id')" jmac-kidal-61 "the new report found at once"
assert_eq "$(waiting hq)" 0 "documents waiting after the search"
echo "PASS index_pending"
