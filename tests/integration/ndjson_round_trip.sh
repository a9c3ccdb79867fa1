# NDJSON export and import: a round trip into another site reproduces the
# documents; importing the same file again writes nothing new.
. "$(dirname "$0")/lib.sh"
fs hq init --site hq >/dev/null
fs hq put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali 2027" \
  --set status=draft >/dev/null
fs hq put jmac-weekly-48 --kind analysis --scope SSD --set title="JMAC weekly 48" \
  --set body=$'Line one\nLine two, with "quotes" and ünïcödé' >/dev/null
printf '\x00\x01\xfe binary annex' >"$T/annex.bin"
fs hq put jmac-weekly-48 --file annex="$T/annex.bin" >/dev/null
fs hq export -o "$T/hq.ndjson"
assert_eq "$(wc -l <"$T/hq.ndjson")" 2 "exported lines"
assert_eq "$(fs hq export --scope SSD | jq -r .id)" jmac-weekly-48 "scope filter"

step "import into a fresh site shows the same documents"
fs juba init --site juba >/dev/null
fs juba import "$T/hq.ndjson" >/dev/null
fs juba export -o "$T/juba.ndjson"
# the documents are the same; who wrote them and when is each replica's own
content() { jq -c 'del(.created, .created_site, .created_author, .updated, .updated_site, .updated_author)' "$1"; }
cmp <(content "$T/hq.ndjson") <(content "$T/juba.ndjson") || fail "round trip differs"
assert_eq "$(jq -r .created_site "$T/juba.ndjson" | sort -u)" juba "provenance at the importing site"
assert_eq "$(fs juba get jmac-weekly-48 --json | jq -r .fields.annex.base64 | base64 -d | od -An -c | head -1 | tr -s ' ')" \
  "$(od -An -c "$T/annex.bin" | head -1 | tr -s ' ')" "binary field"

step "importing again changes nothing"
changes=$(fs juba verify --json | jq .changes_checked)
before=$(digest juba)
fs juba import "$T/hq.ndjson" | grep -q "2 already up to date" || fail "re-import wrote"
assert_eq "$(fs juba verify --json | jq .changes_checked)" "$changes" "log size after re-import"
assert_eq "$(digest juba)" "$before" "digest after re-import"

step "an edited line updates only what changed"
sed 's/"draft"/"endorsed"/' "$T/hq.ndjson" >"$T/edited.ndjson"
fs juba import "$T/edited.ndjson" >/dev/null
assert_eq "$(fs juba verify --json | jq .changes_checked)" "$((changes + 1))" "one new change"
assert_eq "$(fs juba get isf-mli-2027 --json | jq -r .fields.status)" endorsed "status"

step "a line marked urgent is written as urgent; a bad mark is refused"
printf '%s\n' '{"scope":"MLI","id":"flash-0412","kind":"analysis","urgent":true,"fields":{"title":"Flash: road Gao-Ansongo closed at km 42"}}' \
  '{"scope":"MLI","id":"sitrep-1203","kind":"analysis","urgent":false,"fields":{"title":"Sitrep 3 Dec"}}' >"$T/urgent.ndjson"
assert_eq "$(fs juba import "$T/urgent.ndjson" --json | jq -c '[.documents, .urgent]')" "[2,1]" "urgent lines counted"
assert_eq "$(sqlite3 "$T/juba.db" "SELECT count(*) FROM urgent u JOIN changes c USING (scope, origin, seq) WHERE c.doc = 'flash-0412'")" 1 "the flash report is marked urgent"
assert_eq "$(sqlite3 "$T/juba.db" 'SELECT count(*) FROM urgent')" 1 "only the urgent line is marked"
printf '%s\n' '{"scope":"MLI","id":"flash-0413","kind":"analysis","urgent":"yes","fields":{"title":"x"}}' >"$T/bad-urgent.ndjson"
expect_fail 1 '"urgent" must be true or false' fs juba import "$T/bad-urgent.ndjson"

step "an export is no more readable than its replica"
chmod 0640 "$T/juba.db"
(umask 022 && fs juba export -o "$T/private.ndjson")
assert_eq "$(stat -c %a "$T/private.ndjson")" 640 "mode of the export"
echo "PASS ndjson round trip"
