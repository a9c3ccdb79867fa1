# A field office's link comes back: Gao's own interface goes down for a
# while (the satellite modem lost its lock), its daemon's reconnect back-off
# grows, and when the interface comes up again the daemon hears it from the
# kernel and connects at once: a write made during the cut reaches Bamako
# within 3 s of the link's return, not at the end of the back-off (10 s or
# more after the session ended, here). No link relay: the daemon connects straight over the veth.
. "$(dirname "$0")/lib_daemon.sh"
. "$(dirname "$0")/lib_netns.sh"
netns_require
site bamako; site gao bamako
ns_site bamako; ns_site gao
vc="f$$gao" vp="f$$bko"
ip link add "$vc" type veth peer name "$vp"
ip link set "$vc" netns "${NS[gao]}"
ip link set "$vp" netns "${NS[bamako]}"
ip -n "${NS[gao]}" addr add "10.$NET.1.2/30" dev "$vc"
ip -n "${NS[bamako]}" addr add "10.$NET.1.1/30" dev "$vp"
ip -n "${NS[bamako]}" link set "$vp" up
ip -n "${NS[gao]}" link set "$vc" up
PARENT_EP[gao]="tcp://10.$NET.1.1:${PORT[bamako]}"
# Gao's back-off: 10-20 s (ZeroMQ adds up to as much again), then doubling
SYNC_CONF='heartbeat_ms = 500\ntimeout_ms = 2000\nreconnect_ms = 10000\nreconnect_max_ms = 60000'
ns_start bamako; ns_start gao
at_hub() { fs bamako get "$1" >/dev/null 2>&1; }

step "live over the link"
fs gao put sitrep-gao-1 --kind analysis --scope MLI --set title="Gao sitrep 1" >/dev/null
wait_until 30 "gao's first write did not reach bamako" at_hub sitrep-gao-1

step "Gao's interface down: the session ends; the next attempt is 10 s or more away"
ip -n "${NS[gao]}" link set "$vc" down
session_over() { grep -q "event=state peer=parent from=live" "$T/gao.log"; }
wait_until 15 "gao's session outlived the link" session_over
sleep 1
fs gao put sitrep-gao-2 --kind analysis --scope MLI \
  --set title="Gao sitrep 2, written during the cut" >/dev/null
! at_hub sitrep-gao-2 || fail "the write crossed a link that was down"

step "the interface comes back: connected at once"
t0=$(date +%s%N)
ip -n "${NS[gao]}" link set "$vc" up
wait_until 15 "the cut's write did not reach bamako" at_hub sitrep-gao-2
ms=$((($(date +%s%N) - t0) / 1000000))
echo "the write reached bamako ${ms} ms after the link came back"
[ "$ms" -lt 3000 ] || fail "it took $ms ms: the daemon waited out its back-off"
grep -q 'event=connect-now by="network change" parent=down action=reconnect' "$T/gao.log" ||
  fail "gao does not log the network change"
echo "PASS"
