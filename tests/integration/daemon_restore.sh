# A field office restored from last night's copy must not diverge in
# silence, and must recover by itself (docs/RECOVERY.md):
#   gao writes r1, syncs; a copy is kept; it writes r2, which reaches hq;
#   the copy is restored and gao writes r3 before its daemon starts.
# At the first HELLO both ends see that gao went back in time; gao sets r3
# aside, takes a new incarnation, gets its old stream (r2) back from hq and
# writes r3 again: within 30 s r2 is back at gao, r3 is at hq, digests are
# equal, both verify, and status said "recovering" (amber) meanwhile.
# The link is slowed (link_relay, 800 ms each way), and held while status
# is read during the recovery.
. "$(dirname "$0")/lib_daemon.sh"
: "${LINK_RELAY:?LINK_RELAY must point at the link_relay tool}"
SYNC_CONF='heartbeat_ms = 200\ntimeout_ms = 8000\nbatch_changes = 100\nwindow = 2'
site hq; site gao hq
start hq; start gao

title() { fs "$1" get "$2" --json 2>/dev/null | jq -r .fields.title; }
incarnation() { fs "$1" status --json | jq -r .incarnation; }

step "r1 syncs; a copy of gao's replica is kept; r2 syncs"
fs gao put sitrep-1201 --kind analysis --scope MLI --set title="r1" >/dev/null
wait_converged 20 hq gao
stop gao
cp "$T/gao.db" "$T/gao-copy.db"
start gao
fs gao put sitrep-1202 --kind analysis --scope MLI --set title="r2" \
  --set status=final --set author="Gao JMAC" >/dev/null
wait_converged 20 hq gao
before=$(incarnation gao)

step "gao is restored from the copy and writes r3 while its daemon is down"
stop gao
cp "$T/gao-copy.db" "$T/gao.db"
rm -f "$T/gao.db-wal" "$T/gao.db-shm"
fs gao put sitrep-1203 --kind analysis --scope MLI --set title="r3" >/dev/null
[ "$(title gao sitrep-1202)" = "" ] || fail "the restored copy holds r2"
relay=$(free_port)
"$LINK_RELAY" relay "$relay" "127.0.0.1:${PORT[hq]}" 800 >>"$T/relay.log" 2>&1 &
RELAY=$!
PIDS+=("$RELAY")
PARENT_EP[gao]=tcp://127.0.0.1:$relay
conf gao >"$T/gao.conf"
: >"$T/gao.log"
t0=$SECONDS
start gao

step "gao says it is recovering (amber, with the reason), then recovers"
# The link is held (the relay stopped) as soon as gao starts recovering,
# so what status says meanwhile is read without a race; then let go.
wait_until 20 "gao did not start recovering" grep -q "event=rollback.*action=recovering" "$T/gao.log"
kill -STOP "$RELAY"
recovering() {
  fs gao status --json >"$T/st.json" 2>/dev/null || return 1
  [ "$(jq -r '.sites[0].health' "$T/st.json")" = amber ] &&
    [ "$(jq -r '.sites[0].why' "$T/st.json")" = "recovering from a restore" ] &&
    jq -r '.sites[0].last_error' "$T/st.json" | grep -q "restored from an older copy"
}
wait_until 10 "gao's status does not say it is recovering" recovering
echo "gao's status while recovering: $(fs gao status | grep -m1 'recovering from')"
kill -CONT "$RELAY"
at_hq() { [ "$(title hq sitrep-1203)" = r3 ]; }
wait_until 30 "r3 did not reach hq" at_hq
wait_converged 30 hq gao
echo "recovered in $((SECONDS - t0)) s after gao's daemon started"
[ $((SECONDS - t0)) -le 30 ] || fail "the recovery took longer than 30 s"
assert_eq "$(title gao sitrep-1202)" r2 "r2 back at gao"
assert_eq "$(title gao sitrep-1201)" r1 "r1 at gao"
assert_eq "$(fs hq get sitrep-1202 --json | jq -r .fields.author)" "Gao JMAC" "r2 at hq"
for s in hq gao; do fs "$s" verify >/dev/null || fail "$s does not verify"; done
grep -q "event=rollback.*action=recovering" "$T/gao.log" || fail "gao's log does not say it recovers"
grep -q "event=recovered.*reissued=2 dropped=0" "$T/gao.log" || fail "gao's log does not say what it wrote again"
grep -q "event=rollback.*restored from an older copy" "$T/hq.log" || fail "hq's log does not say gao went back in time"
[ "$(incarnation gao)" != "$before" ] || fail "gao kept its incarnation"
cleared() { ! fs gao status | grep -q recovering && ! fs hq status | grep -q "restored from"; }
wait_until 10 "status still says recovering after the recovery" cleared
[ "$(fs gao status --json | jq -r '.sites[0].health')" = green ] || fail "gao's own row is not green"

step "restored again, and the new write is as long as the lost one: the checksums tell"
stop gao
PARENT_EP[gao]=""
unset 'PARENT_EP[gao]'
conf gao >"$T/gao.conf"
cp "$T/gao.db" "$T/gao-copy2.db"
start gao
fs gao put sitrep-1204 --kind analysis --scope MLI --set title="r4" >/dev/null
wait_converged 20 hq gao
stop gao
cp "$T/gao-copy2.db" "$T/gao.db"
rm -f "$T/gao.db-wal" "$T/gao.db-shm"
fs gao put sitrep-1205 --kind analysis --scope MLI --set title="r5" >/dev/null
: >"$T/gao.log"
start gao
wait_until 15 "gao did not see other content at its own seq" \
  grep -q "event=rollback.*another change as gao:" "$T/gao.log"
wait_until 15 "gao did not recover from a write as long as the lost one" \
  grep -q "event=recovered" "$T/gao.log"
wait_converged 30 hq gao
assert_eq "$(title hq sitrep-1205)" r5 "r5 at hq"
assert_eq "$(title gao sitrep-1204)" r4 "r4 back at gao"
for s in hq gao; do fs "$s" verify >/dev/null || fail "$s does not verify"; done
echo "PASS restored replica recovers"
