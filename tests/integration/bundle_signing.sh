# Couriers carry the live link's authority. A site imports only bundles
# signed by a key it knows (configured, or named with --trust); unsigned
# ones only when a person says --allow-unsigned; unknown-signer and
# tampered bundles are refused and change nothing. A signed bundle carries
# only what its signer may write ([child] write_scopes, its own origin, not
# HQ's), and export for a child carries only its read_scopes.
. "$(dirname "$0")/lib.sh"
for s in hq gao stranger; do
  fs $s init --site $s >/dev/null
  "$FIELDSYNC" keygen -o "$T/$s" >/dev/null
done
printf '[site]\ndb = %s\nsecret_key_file = %s\n[child gao]\npublic_key = %s\nread_scopes = MLI\nwrite_scopes = MLI\n' \
  "$T/hq.db" "$T/hq.key" "$(cat "$T/gao.pub")" >"$T/hq.conf"
printf '[site]\ndb = %s\nsecret_key_file = %s\n[parent]\nserver_public_key = %s\n' \
  "$T/gao.db" "$T/gao.key" "$(cat "$T/hq.pub")" >"$T/gao.conf"
hq() { "$FIELDSYNC" -c "$T/hq.conf" "$@"; }
gao() { "$FIELDSYNC" -c "$T/gao.conf" "$@"; }

gao put sitrep-gao --kind analysis --scope MLI --set title="Sitrep Gao" >/dev/null
hq put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali" >/dev/null
before=$(hq digest)

step "unsigned, unknown-signer and tampered bundles are refused"
fs gao bundle export --all -o "$T/unsigned.fsb" >/dev/null
expect_fail 1 "not signed" hq bundle import "$T/unsigned.fsb"
gao bundle export --all --key "$T/stranger.key" -o "$T/stranger.fsb" >/dev/null
expect_fail 1 "signed by a key this site does not know" hq bundle import "$T/stranger.fsb"
gao bundle export --all -o "$T/signed.fsb" >/dev/null
cp "$T/signed.fsb" "$T/tampered.fsb"
size=$(stat -c %s "$T/tampered.fsb")
b=$(od -An -tu1 -j20 -N1 "$T/tampered.fsb" | tr -d ' ')
printf "\\x$(printf %02x $(((b + 1) % 256)))" | dd of="$T/tampered.fsb" bs=1 seek=20 conv=notrunc 2>/dev/null
expect_fail 1 "damaged|signature" hq bundle import "$T/tampered.fsb"
assert_eq "$(hq digest)" "$before" "hq after refusals"

step "a bundle signed by a known child imports, both ways"
hq bundle import "$T/signed.fsb" >/dev/null
hq bundle export --all -o "$T/from-hq.fsb" >/dev/null
gao bundle import "$T/from-hq.fsb" >/dev/null
assert_eq "$(gao digest)" "$(hq digest)" "converged"

step "a signed bundle carries only what its signer may write"
# gao writes SSD (outside its write_scopes) and relays changes made by a
# replica calling itself hq; both cross in a bundle gao signs.
fs fakehq init --site hq >/dev/null
fs fakehq put budget-2027 --kind plan --scope MLI --set title="Forged as HQ's" >/dev/null
fs fakehq bundle export --all -o "$T/fake.fsb" >/dev/null
fs gao bundle import --allow-unsigned "$T/fake.fsb" >/dev/null 2>&1
gao put ssd-rumour --kind analysis --scope SSD --set title="Out of mandate" >/dev/null
gao put sitrep-gao --set status=final >/dev/null
before=$(hq digest --scope SSD)
gao bundle export --all -o "$T/mixed.fsb" >/dev/null
expect_fail 1 "refused: .*(is in scope SSD: gao may write MLI|is hq's change: gao may send its own)" hq bundle import "$T/mixed.fsb"
grep -q "4 refused" "$T/out" || fail "import summary: $(cat "$T/out")"
assert_eq "$(hq get sitrep-gao --json | jq -r .fields.status)" final "gao's own MLI write applied"
hq get budget-2027 >/dev/null 2>&1 && fail "the forged HQ change was applied"
assert_eq "$(hq digest --scope SSD)" "$before" "hq's SSD after the bundle"
hq verify >/dev/null || fail "hq does not verify"

step "a bundle for a child carries its read scopes only"
hq put jmac-ssd-48 --kind analysis --scope SSD --set title="Upper Nile" >/dev/null
hq put lessons-2026 --kind analysis --scope global --set title="Lessons" >/dev/null
hq put isf-mli-2027 --set status=endorsed >/dev/null
gao vv -o "$T/gao.vv"
hq bundle export --to-vv "$T/gao.vv" -o "$T/for-gao.fsb" >"$T/export.txt"
grep -q "may read: MLI" "$T/export.txt" || fail "export does not say what gao may read: $(cat "$T/export.txt")"
gao bundle import "$T/for-gao.fsb" >/dev/null
assert_eq "$(gao list --json | jq -c '[.[].scope] | unique')" '["MLI","SSD"]' "scopes at gao (its own SSD write stays)"
gao get jmac-ssd-48 >/dev/null 2>&1 && fail "hq's SSD report reached gao"
assert_eq "$(gao get isf-mli-2027 --json | jq -r .fields.status)" endorsed "MLI update"
hq bundle export --for gao -o "$T/for-gao-2.fsb" --json | jq -e '.read_scopes == "MLI"' >/dev/null ||
  fail "export --for gao does not filter"
expect_fail 2 "whom is the bundle for" hq bundle export -o "$T/nobody.fsb"
expect_fail 1 "not kidal's" hq bundle export --to-vv "$T/gao.vv" --for kidal -o "$T/x.fsb"

step "without a configuration: unsigned only when allowed, signed only with --trust"
fs kidal init --site kidal >/dev/null
fs gao bundle export --all -o "$T/plain.fsb" >/dev/null
expect_fail 1 "not signed.*--allow-unsigned" fs kidal bundle import "$T/plain.fsb"
gao bundle export --all -o "$T/gao-signed.fsb" >/dev/null
expect_fail 1 "does not know.*--trust" fs kidal bundle import "$T/gao-signed.fsb"
fs kidal bundle import --trust "$T/gao.pub" "$T/gao-signed.fsb" >/dev/null
assert_eq "$(fs kidal get sitrep-gao --json | jq -r .fields.status)" final "imported with --trust"
fs kidal bundle import --allow-unsigned "$T/plain.fsb" 2>"$T/warn" >/dev/null
grep -q "even if unsigned" "$T/warn" || fail "no warning for --allow-unsigned"

step "keygen never writes through a symlink planted at its files"
echo "keep me" >"$T/victim"
ln -s "$T/victim" "$T/trap.key"
expect_fail 1 "exists" "$FIELDSYNC" keygen -o "$T/trap"
"$FIELDSYNC" keygen -o "$T/trap" --force >/dev/null
assert_eq "$(cat "$T/victim")" "keep me" "the symlink's target"
[ -f "$T/trap.key" ] && [ ! -L "$T/trap.key" ] || fail "trap.key is not a new file"
assert_eq "$(stat -c %a "$T/trap.key")" 600 "mode of the secret key"
echo "PASS bundle signing"
