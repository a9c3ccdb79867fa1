# Reliability 1b: a cut longer than TCP's patience.
#   hq <-vsat- gao; TCP gives up after a few retransmissions in these
#   namespaces (net.ipv4.tcp_retries2 = 3), then the link stays down for
#   FSY_CUT_SECONDS (default 45). Both sides write meanwhile. When the link
#   returns, ZeroMQ reconnects through a fresh connection, and both
#   converge with every write once.
. "$(dirname "$0")/lib_daemon.sh"
. "$(dirname "$0")/lib_netns.sh"
netns_require
CUT=${FSY_CUT_SECONDS:-45}
site hq; site gao hq
ns_site hq; ns_site gao
for s in hq gao; do nsx $s sysctl -qw net.ipv4.tcp_retries2=3; done
ns_link gao hq vsat
ns_start hq; ns_start gao
fs hq put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali 2027" >/dev/null
wait_converged 60 hq gao
accepted() { grep -c 'accepted' "$T/relay-gao.log" || true; }
before=$(accepted)

step "the link goes down for $CUT s; both sides keep writing"
ns_cut gao
t0=$SECONDS
i=0
while [ $((SECONDS - t0)) -lt "$CUT" ]; do
  i=$((i + 1))
  fs gao put "sitrep-gao-$i" --kind analysis --scope MLI --set title="Gao sitrep $i, link down" >/dev/null
  fs hq put "note-hq-$i" --kind analysis --scope MLI --set title="HQ note $i" >/dev/null
  sleep 1
done
ns_heal gao
echo "$i writes at each side during the cut"

step "the link returns: a new connection, and both converge"
t1=$SECONDS
wait_converged 120 hq gao
echo "converged $((SECONDS - t1)) s after the link returned"
after=$(accepted)
[ "$after" -gt "$before" ] || fail "no new connection through the link: TCP never gave up, or ZeroMQ never reconnected"
echo "connections through the link: $before before the cut, $after after"
for s in hq gao; do
  assert_eq "$(fs "$s" list --json | jq length)" $((2 * i + 1)) "documents at $s"
  assert_eq "$(changes "$s")" $((2 * (2 * i + 1))) "changes in $s's log"
done
echo "PASS long cut"
