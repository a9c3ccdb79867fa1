# One site id, two machines: gao's machine is copied (replica and key) and
# the copy starts as gao while gao still runs. The copy is refused while
# gao is connected, and both it and hq say why, naming both machines; gao
# carries on undisturbed (the copy cannot take its connection). Nothing is
# lost: the copy keeps its writes, and once gao's machine is switched off
# the copy is taken, recovers as a restored replica does, and the writes
# of both machines end up at hq and at the copy.
. "$(dirname "$0")/lib_daemon.sh"
SYNC_CONF='heartbeat_ms = 200\ntimeout_ms = 3000\nbatch_changes = 100\nwindow = 2'
site hq; site gao hq
start hq; start gao

title() { fs "$1" get "$2" --json 2>/dev/null | jq -r .fields.title; }
# site_error SITE: what SITE's status says of itself (its own row).
site_error() { fs "$1" status --json | jq -r '.sites[] | select(.role == "self") | .last_error'; }
# gao_row FIELD: hq's row for gao.
gao_row() { fs hq status --json | jq -r ".sites[] | select(.site == \"gao\") | .$1"; }

step "gao writes r1 and syncs; its machine is copied, replica and key"
fs gao put isf-mli-2027 --kind plan --scope MLI --set title="r1" >/dev/null
wait_converged 20 hq gao
stop gao
cp "$T/gao.db" "$T/copy.db"
cp "$T/gao.key" "$T/copy.key"
HTTP[copy]=$(free_port)
PORT[copy]=$(free_port)
sed -e "s#$T/gao\.#$T/copy.#" \
  -e "s#127.0.0.1:${HTTP[gao]}#127.0.0.1:${HTTP[copy]}#" \
  -e "s#127.0.0.1:${PORT[gao]}#127.0.0.1:${PORT[copy]}#" "$T/gao.conf" >"$T/copy.conf"
grep -q "$T/copy.db" "$T/copy.conf" || fail "the copy's configuration names another replica"
hellos=$(grep -c "event=hello peer=gao" "$T/hq.log")
start gao
again() { [ "$(grep -c "event=hello peer=gao" "$T/hq.log")" -gt "$hellos" ]; }
wait_until 10 "gao did not reconnect" again

step "the copy starts as gao too: refused, and both it and hq say why"
gao_sessions=$(grep -c "event=state.*to=wait-hello" "$T/gao.log" || true)
hq_lines=$(wc -l <"$T/hq.log")
start copy
refused() { site_error copy | grep -q "gao already runs on"; }
wait_until 15 "the copy's status does not say it was refused" refused
said=$(site_error copy)
echo "the copy's status: $said"
case $said in *"pid ${PID[gao]} (127.0.0.1)"*) ;; *) fail "the copy is not told which machine runs as gao" ;; esac
case $said in *"this is "*"pid ${PID[copy]} (127.0.0.1)"*) ;; *) fail "the copy is not named in its refusal" ;; esac
case $said in *"give the copy a site id of its own"*) ;; *) fail "the copy is not told what to do" ;; esac
grep -q "event=refused-by-peer.*gao already runs on" "$T/copy.log" || fail "the copy's log does not say it was refused"
noted() { gao_row last_error | grep -q "two machines run as gao"; }
wait_until 10 "hq's row for gao does not say two machines run as gao" noted
note=$(gao_row last_error)
echo "hq's row for gao: $(gao_row health): $note"
case $note in *"pid ${PID[gao]}"*"pid ${PID[copy]}"*) ;; *) fail "hq does not name both machines" ;; esac
assert_eq "$(gao_row health)" amber "hq's row for gao"
grep -q "level=error .*event=site-claimed site=gao .*pid ${PID[copy]}" "$T/hq.log" ||
  fail "hq's log does not name the refused machine"

step "gao carries on undisturbed; the copy's writes stay with it"
fs gao put isf-mli-2027 --kind plan --scope MLI --set title="r2" --set owner="Gao JMAC" >/dev/null
fs copy put jmac-gao-1204 --kind analysis --scope MLI --set title="r3" >/dev/null
at_hq() { [ "$(fs hq get isf-mli-2027 --json | jq -r .fields.owner)" = "Gao JMAC" ]; }
wait_until 10 "gao's write did not reach hq" at_hq
sleep 2
[ "$(title hq jmac-gao-1204)" = "" ] || fail "the refused copy's write reached hq"
assert_eq "$(grep -c "event=state.*to=wait-hello" "$T/gao.log" || true)" "$gao_sessions" \
  "gao's session restarts while the copy tries"
tail -n +"$((hq_lines + 1))" "$T/hq.log" >"$T/hq-since.log"
grep -q "event=replaced" "$T/hq-since.log" && fail "hq let the copy replace gao's live session"

step "gao's machine is switched off: the copy is taken and nothing is lost"
stop gao
t0=$SECONDS
copy_at_hq() { [ "$(title hq jmac-gao-1204)" = r3 ]; }
wait_until 40 "the copy's write did not reach hq" copy_at_hq
wait_converged 20 hq copy
echo "the copy's write was at hq $((SECONDS - t0)) s after gao stopped"
assert_eq "$(fs copy get isf-mli-2027 --json | jq -r .fields.owner)" "Gao JMAC" "gao's last write at the copy"
assert_eq "$(title copy jmac-gao-1204)" r3 "the copy's own write"
for s in hq copy; do fs "$s" verify >/dev/null || fail "$s does not verify"; done
grep -q "event=recovered" "$T/copy.log" || fail "the copy's log does not say it recovered"
clear() { [ -z "$(gao_row last_error)" ] && [ -z "$(site_error copy)" ]; }
wait_until 10 "status still shows a problem after the copy took over" clear
echo "PASS two machines as one site"
