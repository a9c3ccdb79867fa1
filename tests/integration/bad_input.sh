# Bad input: every mistake gets a one-line error and a non-zero exit, and the
# replica is unchanged (checked by digest before and after).
. "$(dirname "$0")/lib.sh"

fs gao init --site gao >/dev/null
fs gao put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali 2027" \
  --set status=draft >/dev/null
before=$(digest gao)
unchanged() { assert_eq "$(digest gao)" "$before" "digest after: $*"; }

step "missing replica, unknown document, ambiguous id"
expect_fail 1 "no replica at .*init" fs nowhere get isf-mli-2027
expect_fail 1 "no document" fs gao get jmac-unknown
expect_fail 1 "no document" fs gao rm jmac-unknown
fs gao put jmac-weekly --kind analysis --scope SSD --set title=x >/dev/null
fs gao put jmac-weekly --kind analysis --scope MLI --set title=y >/dev/null
expect_fail 1 "scopes MLI, SSD" fs gao get jmac-weekly
before=$(digest gao)

step "malformed arguments"
expect_fail 2 "FIELD=VALUE" fs gao put isf-mli-2027 --set status
expect_fail 2 "empty field name" fs gao put isf-mli-2027 --set =draft
expect_fail 2 "try 'fieldsync put --help'" fs gao put isf-mli-2027 --bogus
expect_fail 2 "unknown command" fs gao frobnicate
unchanged "malformed arguments"

step "invalid identifiers and values"
expect_fail 1 "UTF-8" fs gao put $'isf-\xff' --kind plan --scope MLI --set title=x
expect_fail 1 "UTF-8" fs gao put isf-mli-2027 --set $'ti\xc3tle=x'
expect_fail 1 "UTF-8" fs gao put isf-mli-2027 --set $'title=\xed\xa0\x80'
expect_fail 1 "longer than 128" fs gao put "$(printf 'a%.0s' {1..200})" --kind plan --scope MLI --set title=x
expect_fail 1 "reserved" fs gao put isf-mli-2027 --set _deleted=1
expect_fail 1 "give --kind" fs gao put new-plan --scope MLI --set title=x
expect_fail 1 "kind is set at creation" fs gao put isf-mli-2027 --kind analysis --set title=x
printf '[site]\ndb = %s\n[limits]\nmax_value_bytes = 100\n' "$T/gao.db" >"$T/gao.conf"
expect_fail 1 "over the 100-byte limit" "$FIELDSYNC" -c "$T/gao.conf" put isf-mli-2027 --set body="$(printf 'x%.0s' {1..200})"
head -c 500 /dev/zero >"$T/big.bin"
expect_fail 1 "100" "$FIELDSYNC" -c "$T/gao.conf" put isf-mli-2027 --file annex="$T/big.bin"
unchanged "invalid input"

step "bad configuration"
printf '[site]\ndb = %s\ncolour = blue\n' "$T/gao.db" >"$T/typo.conf"
expect_fail 1 "typo.conf:3: unknown key 'colour'" "$FIELDSYNC" -c "$T/typo.conf" list

step "truncated, damaged, foreign and empty bundles"
fs gao bundle export --all -o "$T/good.bundle" >/dev/null
size=$(stat -c %s "$T/good.bundle")
head -c $((size / 2)) "$T/good.bundle" >"$T/truncated.bundle"
cp "$T/good.bundle" "$T/flipped.bundle"
flip_byte() { # FILE POS: change one byte to a different value
  local b; b=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
  printf "\\x$(printf %02x $(((b + 1) % 256)))" |
    dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
flip_byte "$T/flipped.bundle" $((size / 2))
cmp -s "$T/good.bundle" "$T/flipped.bundle" && fail "flip_byte changed nothing"
echo "Minutes of the security cell meeting" >"$T/minutes.txt"
: >"$T/empty.bundle"
expect_fail 1 "truncated" fs gao bundle import --allow-unsigned "$T/truncated.bundle"
expect_fail 1 "damaged" fs gao bundle import --allow-unsigned "$T/flipped.bundle"
expect_fail 1 "not a fieldsync bundle" fs gao bundle import --allow-unsigned "$T/minutes.txt"
expect_fail 1 "not a fieldsync bundle" fs gao bundle import --allow-unsigned "$T/empty.bundle"
expect_fail 1 "cannot open" fs gao bundle import --allow-unsigned "$T/absent.bundle"
echo '{"format":"fieldsync-vv","version":1' >"$T/broken.vv"
expect_fail 1 "broken.vv" fs gao bundle export --to-vv "$T/broken.vv" -o "$T/x.bundle"
unchanged "bad bundles"

step "a replay and a site's own bundle change nothing"
fs gao bundle import --allow-unsigned "$T/good.bundle" >/dev/null
fs gao bundle import --allow-unsigned "$T/good.bundle" >/dev/null
unchanged "own bundle imported twice"
fs hq init --site hq >/dev/null
fs hq bundle import --allow-unsigned "$T/good.bundle" >/dev/null
hq_digest=$(digest hq)
fs hq bundle import --allow-unsigned "$T/good.bundle" >/dev/null
assert_eq "$(digest hq)" "$hq_digest" "hq digest after replay"
assert_eq "$hq_digest" "$before" "hq equals gao"

step "a site restored from an old backup reuses seqs: its bundle is refused, loudly"
fs kidal init --site kidal >/dev/null
cp "$T/kidal.db" "$T/kidal-backup.db"
fs kidal put sitrep-kidal --kind analysis --scope MLI --set title="Sitrep Kidal" >/dev/null
exchange kidal hq
hq_before=$(digest hq)
cp "$T/kidal-backup.db" "$T/kidal.db"
rm -f "$T/kidal.db-wal" "$T/kidal.db-shm"
fs kidal put sitrep-kidal --kind analysis --scope MLI --set title="Other text" >/dev/null
fs kidal bundle export --all -o "$T/restored.bundle" >/dev/null
expect_fail 1 "refused: .*differs" fs hq bundle import --allow-unsigned "$T/restored.bundle"
grep -q "2 refused" "$T/out" || fail "import summary lacks the refused count: $(cat "$T/out")"
assert_eq "$(digest hq)" "$hq_before" "hq digest after refused bundle"

step "NDJSON import: a bad line is reported by number, its batch not applied"
cat >"$T/reports.ndjson" <<'NDJSON'
{"scope":"MLI","id":"sitrep-1","kind":"analysis","fields":{"title":"Sitrep 1"}}
{"scope":"MLI","id":"sitrep-2","kind":"analysis","fields":{"title":"Sitrep 2"}}
{"scope":"MLI","id":"sitrep-3","kind":"analysis","fields":{"title":42}}
NDJSON
expect_fail 1 "reports.ndjson:3" fs gao import "$T/reports.ndjson"
unchanged "bad NDJSON batch"
expect_fail 1 "no document" fs gao get sitrep-1

step "a replica from a newer fieldsync is refused"
cp "$T/gao.db" "$T/newer.db"
sqlite3 "$T/newer.db" "PRAGMA user_version=99"
expect_fail 1 "upgrade" "$FIELDSYNC" --db "$T/newer.db" list
echo "not a database at all" >"$T/notes.db"
expect_fail 1 "not a fieldsync replica" "$FIELDSYNC" --db "$T/notes.db" list

step "verify catches a flipped byte inside a row"
fs gao verify >/dev/null
cp "$T/gao.db" "$T/damaged.db"
sqlite3 "$T/damaged.db" "UPDATE changes SET value = CAST('ISF Mali 2O27' AS BLOB) WHERE field = 'title' AND doc = 'isf-mli-2027'"
expect_fail 1 "checksum" "$FIELDSYNC" --db "$T/damaged.db" verify
echo "PASS bad input"
