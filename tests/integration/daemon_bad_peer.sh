# A peer sending garbage, a truncated frame, a frame over the size limit or
# another protocol version neither crashes nor stalls the daemon: the bad
# frames are logged and counted, a version mismatch is refused by name, and
# the good child keeps syncing throughout.
# Frame handling is what is tested here, so the link is plaintext; CURVE
# is tested in daemon_security.sh.
INSECURE=1
. "$(dirname "$0")/lib_daemon.sh"
: "${FSY_POKE:?FSY_POKE must point at the fsy_poke test tool}"
site hq; site gao hq; site menaka hq # menaka: admitted, and goes wrong
start hq; start gao
fs gao put sitrep-gao --kind analysis --scope MLI --set title="Before the noise" >/dev/null
wait_converged 20 hq gao
ep="tcp://127.0.0.1:${PORT[hq]}"

step "garbage, truncated and oversize frames"
for kind in garbage truncated oversize garbage; do
  "$FSY_POKE" "$ep" "$kind" >"$T/poke.out" || fail "fsy_poke $kind"
  assert_eq "$(cat "$T/poke.out")" none "reply to $kind"
  kill -0 "${PID[hq]}" || fail "hq died after $kind"
done
grep -q "event=malformed" "$T/hq.log" || fail "no malformed-frame line in hq's log"
FSY_POKE_ID=menaka "$FSY_POKE" "$ep" session-garbage 500 >"$T/poke.out"
assert_eq "$(cat "$T/poke.out")" answered "hq's replies to the hellos around the garbage"
wait_until 10 "hq did not count 500 more bad frames" grep -q "total=256" "$T/hq.log"
grep -q "event=hello peer=menaka" "$T/hq.log" || fail "the garbage did not come from a session"
lines=$(grep -c "event=malformed" "$T/hq.log")
echo "504 bad frames, 500 from a session: $lines log lines"
[ "$lines" -le 12 ] || fail "$lines log lines for 504 bad frames: not rate-limited"

step "another protocol version is refused by name"
"$FSY_POKE" "$ep" version >"$T/poke.out"
grep -q "refuse: peer speaks protocol 99, this fieldsyncd speaks 3" "$T/poke.out" ||
  fail "version reply: $(cat "$T/poke.out")"

step "without keys, only configured children are served"
site kidal hq # hq's configuration, written when it started, has no [child kidal]
start kidal
fs kidal put sitrep-kidal --kind analysis --scope MLI --set title="Not admitted" >/dev/null
kidal_log() { tail -5 "$T/kidal.log"; tail -5 "$T/hq.log"; }
explain=kidal_log wait_until 10 "hq did not refuse kidal" grep -q "event=unknown-child site=kidal" "$T/hq.log"
wait_until 10 "kidal was not told why" grep -q "no \[child kidal\] section" "$T/kidal.log"
sleep 1
fs hq get sitrep-kidal >/dev/null 2>&1 && fail "hq applied a change from a site it does not serve"
stop kidal

step "300 made-up names take no session, and the real child still gets in"
for i in $(seq 1 300); do
  FSY_POKE_ID="fake$i" "$FSY_POKE" "$ep" hello >"$T/poke.out"
  grep -q "refuse: this site has no \[child fake$i\] section" "$T/poke.out" ||
    fail "fake$i was not refused: $(cat "$T/poke.out")"
done
stop gao
start gao
fs gao put sitrep-gao --set status="after the noise" >/dev/null
fs hq put isf-mli-2027 --kind plan --scope MLI --set title="ISF" >/dev/null
wait_converged 20 hq gao
kill -0 "${PID[hq]}" || fail "hq died"
stop hq; stop gao
grep -q "event=stop malformed=[1-9]" "$T/hq.log" || fail "malformed frames not counted"
echo "PASS bad peer"
