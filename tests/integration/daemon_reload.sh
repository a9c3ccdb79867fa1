# Operations without restarts. Bamako's hub has Gao and Kidal; Tessalit's
# new field office is added to its configuration and the hub reloads
# (SIGHUP): Tessalit syncs, and Gao's and Kidal's sessions never restart.
# A broken edit is refused and logged, the hub keeps running on the old
# file. Kidal's laptop is lost: its section is removed, the reload ends its
# session and its key's frames are dropped at once. `fieldsyncd --check`
# checks the running hub's file without "address in use". After a cut, a
# field office waits out a long back-off unless `fieldsync sync` asks it to
# connect now: live within 2 s.
. "$(dirname "$0")/lib_daemon.sh"
site bamako; site gao bamako; site kidal bamako
start bamako; start kidal
# Gao's back-off starts at 4 s and doubles: after a cut it waits long
SYNC_CONF='heartbeat_ms = 200\ntimeout_ms = 2000\nreconnect_ms = 4000\nreconnect_max_ms = 60000' start gao
# hellos SITE: sessions the hub has started with SITE so far
hellos() { grep -c "event=hello .*origin=$1:" "$T/bamako.log" || true; }
written_at_hub() { fs bamako get "$1" >/dev/null 2>&1; }

step "two children live"
fs gao put sitrep-gao-1 --kind analysis --scope MLI --set title="Gao sitrep 1" >/dev/null
fs kidal put sitrep-kidal-1 --kind analysis --scope MLI --set title="Kidal sitrep 1" >/dev/null
wait_converged 30 bamako gao kidal
gao_hellos=$(hellos gao) kidal_hellos=$(hellos kidal)
[ "$gao_hellos" -ge 1 ] && [ "$kidal_hellos" -ge 1 ] || fail "no hello from gao or kidal"

step "--check on the running hub's file binds nothing"
"$FIELDSYNCD" --check -c "$T/bamako.conf" >"$T/check.out" 2>&1 ||
  fail "--check next to the running hub failed: $(cat "$T/check.out")"
grep -q "usable" "$T/check.out" || fail "--check said: $(cat "$T/check.out")"
"$FIELDSYNCD" --check-config -c "$T/bamako.conf" >"$T/check.out" 2>&1 ||
  fail "--check-config: $(cat "$T/check.out")"
grep -q "configuration is usable (the replica was not checked)" "$T/check.out" ||
  fail "--check-config said: $(cat "$T/check.out")"

step "Tessalit added, SIGHUP: it syncs; Gao and Kidal keep their sessions"
site tessalit bamako
conf bamako >"$T/bamako.conf.new" && mv "$T/bamako.conf.new" "$T/bamako.conf"
kill -HUP "${PID[bamako]}"
wait_until 10 "no reload logged" grep -q "event=reload .*added=tessalit" "$T/bamako.log"
grep -q 'event=signal name=HUP action=reload' "$T/bamako.log" || fail "the signal is not logged"
start tessalit
fs tessalit put sitrep-tessalit-1 --kind analysis --scope MLI --set title="Tessalit sitrep 1" >/dev/null
wait_converged 30 bamako gao kidal tessalit
kill -0 "${PID[bamako]}" || fail "the hub stopped on SIGHUP"
assert_eq "$(hellos gao)" "$gao_hellos" "gao's session restarted on reload"
assert_eq "$(hellos kidal)" "$kidal_hellos" "kidal's session restarted on reload"

step "a broken edit: refused, logged, the old configuration kept"
cp "$T/bamako.conf" "$T/bamako.conf.good"
printf '[sync]\nwindow = many\n' >>"$T/bamako.conf"
kill -HUP "${PID[bamako]}"
wait_until 10 "the broken file is not refused" grep -q "event=reload-refused" "$T/bamako.log"
grep "event=reload-refused" "$T/bamako.log" | grep -q "window" || fail "the refusal does not name the key"
expect_fail 1 "window" "$FIELDSYNCD" --check -c "$T/bamako.conf"
expect_fail 1 "window" "$FIELDSYNCD" --check-config -c "$T/bamako.conf"
fs gao put sitrep-gao-2 --kind analysis --scope MLI --set title="Gao sitrep 2" >/dev/null
wait_until 20 "the hub stopped syncing after a refused reload" written_at_hub sitrep-gao-2
kill -0 "${PID[bamako]}" || fail "the hub stopped on a broken file"
mv "$T/bamako.conf.good" "$T/bamako.conf"

step "Gao's scopes changed: its session alone starts again, under them"
tessalit_hellos=$(hellos tessalit)
READ_SCOPES[gao]="MLI, global"
conf bamako >"$T/bamako.conf.new" && mv "$T/bamako.conf.new" "$T/bamako.conf"
kill -HUP "${PID[bamako]}"
wait_until 10 "gao's change not logged" grep -q "event=reload .*changed=gao " "$T/bamako.log"
gao_back() { [ "$(hellos gao)" -gt "$gao_hellos" ]; }
wait_until 10 "gao did not come back under its new section" gao_back
gao_hellos=$(hellos gao)
assert_eq "$(hellos tessalit)" "$tessalit_hellos" "tessalit's session restarted on gao's change"

step "Kidal's key revoked: its session ends, its writes stop at the hub"
unset 'PARENT[kidal]'
conf bamako >"$T/bamako.conf.new" && mv "$T/bamako.conf.new" "$T/bamako.conf"
kill -HUP "${PID[bamako]}"
wait_until 10 "kidal's removal not logged" grep -q "event=reload .*removed=kidal" "$T/bamako.log"
grep -q 'event=session-end peer=kidal why="its \[child\] section was removed"' "$T/bamako.log" ||
  fail "kidal's session was not ended"
fs kidal put sitrep-kidal-2 --kind analysis --scope MLI --set title="Kidal sitrep 2" >/dev/null
fs gao put sitrep-gao-3 --kind analysis --scope MLI --set title="Gao sitrep 3" >/dev/null
wait_until 20 "gao's write did not reach the hub" written_at_hub sitrep-gao-3
sleep 2
! written_at_hub sitrep-kidal-2 || fail "a write from kidal's revoked key reached the hub"
grep -q "event=revoked-key site=kidal action=dropped" "$T/bamako.log" ||
  fail "the hub does not say it dropped kidal's frames"
assert_eq "$(hellos gao)" "$gao_hellos" "gao's session restarted on kidal's removal"

step "sync at the hub, which has no parent, says so at once"
t0=$SECONDS
if fs bamako sync --timeout 20 >"$T/sync.out" 2>&1; then fail "sync at the root succeeded"; fi
grep -q "has no \[parent\]" "$T/sync.out" || fail "sync at the hub said: $(cat "$T/sync.out")"
[ $((SECONDS - t0)) -le 3 ] || fail "sync at the hub waited $((SECONDS - t0)) s to say so"

step "Gao after a cut: waits out its back-off, unless 'fieldsync sync'"
starts() { grep -c "event=start" "$T/bamako.log"; }
restarted() { [ "$(starts)" -gt "$before" ]; }
before=$(starts)
stop bamako
sleep 5 # gao tries again 4 s after the cut, then only 8 s later
start bamako
wait_until 10 "the hub did not restart" restarted
fs gao sync --timeout 10 --json >"$T/sync.json" || fail "sync failed: $(cat "$T/sync.json")"
[ "$(jq -r .live "$T/sync.json")" = true ] || fail "not live: $(cat "$T/sync.json")"
[ "$(jq -r .parent "$T/sync.json")" = bamako ] || fail "parent: $(cat "$T/sync.json")"
jq -e '.seconds < 2' "$T/sync.json" >/dev/null || fail "live only after $(jq .seconds "$T/sync.json") s"
grep -q 'event=connect-now by="fieldsync sync"' "$T/gao.log" || fail "gao does not log the request"

step "SIGHUP and SIGUSR1 during a start never end the daemon"
stop gao
start gao
sleep 0.3 # in main (before it, no program can catch a signal)
kill -HUP "${PID[gao]}"; kill -USR1 "${PID[gao]}"
sleep 1
kill -0 "${PID[gao]}" || fail "a signal during the start ended gao's daemon"

step "sync with no daemon running says so"
stop gao
if fs gao sync --timeout 3 >"$T/sync.out" 2>&1; then fail "sync without a daemon succeeded"; fi
grep -q "no fieldsyncd answered" "$T/sync.out" || fail "no daemon, but: $(cat "$T/sync.out")"
grep -q 'event=signal name=TERM action=stop' "$T/gao.log" || fail "SIGTERM is not logged"
echo "PASS"
