# Attachments at one site and by bundle: a file is kept once by content,
# shown as a reference, written back whole; bad paths and sizes are refused
# with the replica unchanged; a receiver without the bytes says so; a
# replica of schema 2 (fieldsync 0.1.0) is upgraded (to 5) and takes attachments
#   and urgent writes.
. "$(dirname "$0")/lib.sh"

fs gao init --site gao >/dev/null
fs hq init --site hq >/dev/null
head -c 900000 /dev/urandom >"$T/gao-region-map.pdf"
printf 'Rapport mensuel\n' >"$T/Rapport mensuel JMAC.docx"

step "put --attach: the field holds the reference"
fs gao put jmac-monthly-11 --kind analysis --scope MLI \
  --set title="JMAC monthly report, November" \
  --attach annex="$T/gao-region-map.pdf" >/dev/null
fs gao get jmac-monthly-11 >"$T/get.txt"
grep -q 'annex  \[attachment\] gao-region-map.pdf (878.9 KB, application/pdf, ' "$T/get.txt" ||
  fail "get does not show the reference: $(cat "$T/get.txt")"
! grep -q arriving "$T/get.txt" || fail "a complete attachment shows as arriving"
hash=$(fs gao get jmac-monthly-11 --json | jq -r .fields.annex.attachment.hash)
assert_eq "$hash" "$(b2sum -l 256 "$T/gao-region-map.pdf" | cut -d' ' -f1)" "reference hash"
assert_eq "$(fs gao get jmac-monthly-11 --json | jq .fields.annex.attachment.size)" 900000 "size"
fs gao log jmac-monthly-11 | grep -q '\[attachment\] gao-region-map.pdf' ||
  fail "log does not show the reference"
fs gao export >"$T/export.ndjson"
grep -q '"attachment":{"name":"gao-region-map.pdf"' "$T/export.ndjson" ||
  fail "export does not show the reference"
fs ndj init --site ndj >/dev/null
expect_fail 1 'field "annex" is an attachment: .*--attach annex=PATH' fs ndj import "$T/export.ndjson"

step "get --field -o: the bytes, whole"
fs gao get jmac-monthly-11 --field annex -o "$T/out.pdf"
cmp "$T/out.pdf" "$T/gao-region-map.pdf" || fail "written attachment differs"
assert_eq "$(fs gao get jmac-monthly-11 --field title)" "JMAC monthly report, November" "text field to stdout"
fs gao put note --kind analysis --scope MLI --attach annex="$T/Rapport mensuel JMAC.docx" \
  --type application/msword >/dev/null
fs gao get note --json | jq -e '.fields.annex.attachment |
  .name == "Rapport mensuel JMAC.docx" and .type == "application/msword"' >/dev/null ||
  fail "name with spaces or --type not kept"

step "the same content attached twice is stored once"
fs gao put risk-north --kind assessment --scope MLI --attach map="$T/gao-region-map.pdf" >/dev/null
assert_eq "$(sqlite3 "$T/gao.db" 'SELECT count(*) FROM blobs')" 2 "blobs (map once, docx once)"
assert_eq "$(sqlite3 "$T/gao.db" 'SELECT sum(length(data)) FROM blob_chunks')" 900016 "bytes stored"

step "an empty file: a reference whose bytes nobody needs to send"
: >"$T/empty.txt"
fs gao put empty-note --kind analysis --scope MLI --attach note="$T/empty.txt" >/dev/null
fs gao get empty-note | grep -q '\[attachment\] empty.txt (0 B, text/plain, ' || fail "empty attachment not shown"

step "bad paths, types and sizes: refused, nothing written"
before=$(digest gao)
expect_fail 1 "cannot open .*nope.pdf: No such file" fs gao put x --kind plan --scope MLI --attach a="$T/nope.pdf"
expect_fail 1 "is not a regular file" fs gao put x --kind plan --scope MLI --attach a="$T"
expect_fail 2 "empty path" fs gao put x --kind plan --scope MLI --attach a=
expect_fail 2 "give --attach" fs gao put x --kind plan --scope MLI --set a=1 --type text/plain
expect_fail 1 "type/subtype" fs gao put x --kind plan --scope MLI --attach a="$T/out.pdf" --type pdf
printf '[limits]\nmax_attachment_bytes = 1000\n' >"$T/small.conf"
expect_fail 1 "over the 1000-byte limit for an attachment \(\[limits\] max_attachment_bytes\)" \
  "$FIELDSYNC" -c "$T/small.conf" --db "$T/gao.db" put x --kind plan --scope MLI --attach a="$T/out.pdf"
expect_fail 1 "has no field 'nothing'" fs gao get jmac-monthly-11 --field nothing -o "$T/x"
expect_fail 2 "give --field" fs gao get jmac-monthly-11 -o "$T/x"
assert_eq "$(digest gao)" "$before" "digest after refused writes"

step "a receiver holds the reference; the bytes have not travelled"
fs hq vv -o "$T/hq.vv"
fs gao bundle export --to-vv "$T/hq.vv" --attachments none -o "$T/gao-to-hq.fsb" >/dev/null
fs hq bundle import --allow-unsigned "$T/gao-to-hq.fsb" >/dev/null
fs hq get jmac-monthly-11 | grep -q '(arriving: 0 B of 878.9 KB)' ||
  fail "receiver does not say the attachment is arriving: $(fs hq get jmac-monthly-11)"
expect_fail 1 "gao-region-map.pdf is not complete here yet \(arriving: 0 B of 878.9 KB\)" \
  fs hq get jmac-monthly-11 --field annex -o "$T/hq.pdf"
[ ! -e "$T/hq.pdf" ] || fail "a partial file was left behind"
ls "$T" | grep -q 'hq.pdf.tmp' && fail "a temporary file was left behind"
all_digests_equal gao hq

step "a bundle carries the bytes by default; --attachments none only the references"
fs bamako init --site bamako >/dev/null
fs gao bundle export --all -o "$T/full.fsb" >"$T/export.txt"
grep -q '^with 3 attachments (878.9 KB)$' "$T/export.txt" || fail "export does not count attachments: $(cat "$T/export.txt")"
fs gao bundle export --all --attachments none -o "$T/small.fsb" >/dev/null
[ "$(stat -c %s "$T/small.fsb")" -lt 10000 ] || fail "--attachments none still carries bytes"
fs bamako bundle import --allow-unsigned "$T/small.fsb" >/dev/null
fs bamako get jmac-monthly-11 | grep -q 'arriving: 0 B of 878.9 KB' || fail "bamako should wait for the bytes"
fs bamako get empty-note --field note -o "$T/empty-at-bamako.txt" || fail "an empty attachment is not whole at once"
fs bamako bundle import --allow-unsigned "$T/full.fsb" >"$T/import.txt"
grep -q ', 2 attachments now whole here$' "$T/import.txt" || fail "import does not count attachments: $(cat "$T/import.txt")"
fs bamako get jmac-monthly-11 --field annex -o "$T/bamako.pdf"
cmp "$T/bamako.pdf" "$T/gao-region-map.pdf" || fail "attachment carried by bundle differs"
! fs bamako get jmac-monthly-11 | grep -q arriving || fail "still arriving after the full bundle"
fs bamako verify >/dev/null || fail "bamako does not verify"
step "a site without the bytes exports the references, and says so"
fs hq bundle export --all -o "$T/hq.fsb" 2>"$T/hq.err" >/dev/null
grep -q "2 attachments not whole here left out" "$T/hq.err" || fail "no warning for attachments left out"
expect_fail 2 "all or none" fs gao bundle export --all --attachments some -o "$T/x.fsb"

step "a bundle for a child carries what the live link would: its [child] attachments"
printf '[child bamako]\nattachments = none\n' >"$T/none.conf"
fs bamako vv -o "$T/bamako.vv"
"$FIELDSYNC" -c "$T/none.conf" --db "$T/gao.db" bundle export --to-vv "$T/bamako.vv" \
  -o "$T/policy.fsb" 2>"$T/policy.err" >/dev/null
grep -q "attachments left out: bamako gets them never" "$T/policy.err" || fail "no word on the policy: $(cat "$T/policy.err")"
expect_fail 1 "bamako gets no attachments" "$FIELDSYNC" -c "$T/none.conf" --db "$T/gao.db" \
  bundle export --to-vv "$T/bamako.vv" --attachments all -o "$T/policy.fsb"

step "a replica of schema 2 is upgraded and takes attachments"
cp "$FSY_SOURCE_DIR/tests/fixtures/replica/gao-v2.db" "$T/old.db"
assert_eq "$(fs old digest 2>"$T/upgrade.err")" 5a95d383897442d3d938df1942ca929c19f97888863ff622557bcd8447b7c6bb "digest of the 0.1.0 replica"
# an upgrade can take minutes on a big replica: it is said, before and after, once
grep -q "^fieldsync: upgrading .*old.db from format 2 to 11 (6 changes)" "$T/upgrade.err" || fail "no word of the upgrade: $(cat "$T/upgrade.err")"
grep -q "^fieldsync: .*old.db upgraded to format 11 in " "$T/upgrade.err" || fail "no word of the upgrade's end: $(cat "$T/upgrade.err")"
fs old digest 2>"$T/upgrade2.err" >/dev/null
assert_eq "$(cat "$T/upgrade2.err")" "" "nothing said at the next open"
assert_eq "$(sqlite3 "$T/old.db" 'PRAGMA user_version')" 11 "schema after opening"
# the upgrade builds the search index and each document's provenance
assert_eq "$(fs old search ansongo --json | jq -r '[.[].id] | join(",")')" jmac-weekly-48 "search in the upgraded replica"
assert_eq "$(fs old search 'strategic OR patrols' --json | jq -r '[.[].id] | sort | join(",")')" isf-mli-2027,jmac-weekly-48 "OR search in the upgraded replica"
assert_eq "$(fs old list --json | jq -r '[.[].updated_site] | unique | join(",")')" gao "latest versions' site after the upgrade"
assert_eq "$(fs old status --json | jq .documents)" "$(sqlite3 "$T/old.db" 'SELECT count(*) FROM docs WHERE visible = 1')" "documents counted after the upgrade"
fs old put jmac-weekly-48 --attach annex="$T/gao-region-map.pdf" --urgent >/dev/null
assert_eq "$(sqlite3 "$T/old.db" 'SELECT count(*) FROM urgent')" 1 "urgent marks in the upgraded replica"
fs old verify >/dev/null || fail "upgraded replica does not verify"
fs old get jmac-weekly-48 --field annex -o "$T/old.pdf"
cmp "$T/old.pdf" "$T/gao-region-map.pdf" || fail "attachment in the upgraded replica differs"
echo "PASS attachments"
