# A field office restored from last night's copy must not diverge in
# silence (../shared/DESIGN.md, "An origin's stream is write-once").
#   gao writes r1, syncs; a copy is kept; it writes r2, which reaches hq;
#   the copy is restored and gao writes r3 before its daemon starts.
# Both ends see at the first HELLO that gao went back in time: no session
# starts, r3 does not reach hq (its seqs are r2's), r2 is not lost, and
# status and log at both ends say what happened and where to read on.
# Then the recovery docs/OPERATIONS.md gives, run as written: nothing lost.
. "$(dirname "$0")/lib_daemon.sh"
site hq; site gao hq
start hq; start gao

step "r1 syncs; a copy of gao's replica is kept; r2 syncs"
fs gao put sitrep-1201 --kind analysis --scope MLI --set title="r1" >/dev/null
wait_converged 20 hq gao
stop gao
cp "$T/gao.db" "$T/gao-copy.db"
start gao
fs gao put sitrep-1202 --kind analysis --scope MLI --set title="r2" \
  --set status=final --set author="Gao JMAC" >/dev/null
wait_converged 20 hq gao

step "gao is restored from the copy and writes r3 while its daemon is down"
stop gao
cp "$T/gao-copy.db" "$T/gao.db"
rm -f "$T/gao.db-wal" "$T/gao.db-shm"
fs gao put sitrep-1203 --kind analysis --scope MLI --set title="r3" >/dev/null
start gao
wait_until 15 "gao did not see that it went back in time" grep -q "event=rollback" "$T/gao.log"
wait_until 15 "hq did not see that gao went back in time" grep -q "event=rollback" "$T/hq.log"
sleep 2
fs hq get sitrep-1203 >/dev/null 2>&1 && fail "r3 reached hq under seqs that are r2's"
assert_eq "$(fs hq get sitrep-1202 --json | jq -r .fields.title)" r2 "r2 at hq"
says() { fs "$1" status | grep -q "restored from an older copy"; }
wait_until 10 "gao's status does not say it was restored" says gao
wait_until 10 "hq's status does not say gao was restored" says hq
echo "gao's status: $(fs gao status | grep -m1 'restored from')"
[ "$(grep -c "event=rollback" "$T/gao.log")" -le 2 ] || fail "the rollback is logged at every hello"

step "the recovery OPERATIONS.md gives: export, a fresh replica, sync, import"
stop gao
fs gao export -o "$T/gao-since.ndjson"
mv "$T/gao.db" "$T/gao-restored.db"
rm -f "$T/gao.db-wal" "$T/gao.db-shm"
fs gao init --site gao >/dev/null
start gao
wait_converged 30 hq gao
fs gao import "$T/gao-since.ndjson" >/dev/null
wait_converged 30 hq gao
for d in sitrep-1201 sitrep-1202 sitrep-1203; do
  fs hq get "$d" >/dev/null || fail "$d is not at hq after the recovery"
done
assert_eq "$(fs hq get sitrep-1203 --json | jq -r .fields.title)" r3 "r3 at hq"
for s in hq gao; do fs "$s" verify >/dev/null || fail "$s does not verify"; done

step "restored again, and the new write is as long as the lost one: the checksums tell"
stop gao
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
wait_until 10 "hq's status does not say gao was restored" says hq
sleep 1
fs hq get sitrep-1205 >/dev/null 2>&1 && fail "r5 reached hq under r4's seqs"
echo "PASS restored replica"
