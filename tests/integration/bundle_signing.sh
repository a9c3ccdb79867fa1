# Signed bundles: a site with keys configured imports only bundles signed by
# a key it knows; unsigned, unknown-signer and tampered bundles are refused
# and change nothing.
. "$(dirname "$0")/lib.sh"
for s in hq gao stranger; do
  fs $s init --site $s >/dev/null
  "$FIELDSYNC" keygen -o "$T/$s" >/dev/null
done
printf '[site]\ndb = %s\nsecret_key_file = %s\n[child gao]\npublic_key = %s\n' \
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
expect_fail 1 "signed by an unknown key" hq bundle import "$T/stranger.fsb"
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
echo "PASS bundle signing"
