# CURVE by default: only admitted child keys sync; an unknown key, and an
# admitted key presented by a site of another id, never receive or apply a
# single change; a plaintext client gets nothing; running without CURVE
# needs insecure = true and says so at start.
. "$(dirname "$0")/lib_daemon.sh"
: "${FSY_POKE:?}"
site hq; site gao hq
start hq; start gao
ep="tcp://127.0.0.1:${PORT[hq]}"
fs hq put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali 2027" >/dev/null
fs gao put sitrep-gao --kind analysis --scope MLI --set title="Sitrep Gao" >/dev/null
wait_converged 20 hq gao
grep -q "curve=on" "$T/hq.log" || fail "hq does not run CURVE"
hq_digest=$(digest hq)

step "an admitted key with a newline in its routing id forges no log line"
FSY_POKE_ID=$'gao\n2026-01-01T00:00:00Z level=error site=hq event=forged' \
  FSY_POKE_KEY="$T/gao.key" FSY_POKE_SERVER="$(cat "$T/hq.pub")" "$FSY_POKE" "$ep" hello >/dev/null
wait_until 10 "hq did not log the odd routing id" grep -q "routing_id=gao?2026" "$T/hq.log"
grep -q "^2026-01-01T00:00:00Z level=error site=hq event=forged" "$T/hq.log" && fail "a forged line in hq's log"

step "a child with an unknown key gets nothing and gives nothing"
fs rogue init --site rogue >/dev/null
"$FIELDSYNC" keygen -o "$T/rogue" >/dev/null
PORT[rogue]=$(free_port); PARENT[rogue]=hq
conf rogue >"$T/rogue.conf"
fs rogue put fake-plan --kind plan --scope MLI --set title="Forged plan" >/dev/null
rogue_digest=$(digest rogue)
start rogue

step "an admitted key presented by another site id gets nothing either"
fs timbuktu init --site timbuktu >/dev/null
cp "$T/gao.key" "$T/timbuktu.key"; cp "$T/gao.pub" "$T/timbuktu.pub"
PORT[timbuktu]=$(free_port); PARENT[timbuktu]=hq
conf timbuktu >"$T/timbuktu.conf"
fs timbuktu put fake-report --kind analysis --scope MLI --set title="Impostor" >/dev/null
timbuktu_digest=$(digest timbuktu)
start timbuktu

step "a plaintext client gets nothing, and hq keeps running"
"$FSY_POKE" "tcp://127.0.0.1:${PORT[hq]}" version >"$T/poke.out"
assert_eq "$(cat "$T/poke.out")" none "plaintext reply"

refusals_logged() { grep -q "event=unknown-key" "$T/hq.log" && grep -q "event=impostor" "$T/hq.log"; }
hq_log() { tail -5 "$T/hq.log"; }
explain=hq_log wait_until 4 "no refusal in hq's log" refusals_logged
# Nothing moved only means something once both intruders have tried a whole
# session and given up: wait for each to time out on its parent.
gave_up() { grep -q "event=restart peer=parent" "$T/rogue.log" &&
  grep -q "event=restart peer=parent" "$T/timbuktu.log"; }
wait_until 10 "the intruders never gave up a session" gave_up
assert_eq "$(digest hq)" "$hq_digest" "hq after the rogue and the impostor"
assert_eq "$(digest rogue)" "$rogue_digest" "rogue received nothing"
assert_eq "$(digest timbuktu)" "$timbuktu_digest" "impostor received nothing"
kill -0 "${PID[hq]}" || fail "hq died"

step "the admitted child still syncs"
fs gao put sitrep-gao --set status=final >/dev/null
wait_converged 20 hq gao

step "no key and no insecure = true: the daemon refuses to start"
printf '[site]\ndb = %s\n[listen]\nendpoint = tcp://127.0.0.1:%s\n' "$T/rogue.db" "$(free_port)" >"$T/nokey.conf"
expect_fail 1 "no \\[site\\] secret_key_file: create one with 'fieldsync keygen" \
  "$FIELDSYNCD" --check -c "$T/nokey.conf"
printf 'insecure = true\n' >>"$T/nokey.conf"
sed -i 's/^\[listen\]/insecure = true\n[listen]/; $d' "$T/nokey.conf"
"$FIELDSYNCD" --check -c "$T/nokey.conf" >/dev/null || fail "insecure = true refused"
chmod 644 "$T/gao.key"
sed "s|^db = .*|db = $T/gao.db|" "$T/gao.conf" >"$T/loose.conf"
expect_fail 1 "readable by others: run chmod 600" "$FIELDSYNCD" --check -c "$T/loose.conf"
echo "PASS security"
