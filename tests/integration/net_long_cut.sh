# Reliability 1b: a cut longer than the session timeout.
#   hq <-vsat- gao; the link stays down for FSY_CUT_SECONDS (default 45)
#   while both sides write. ZeroMQ's own heartbeats drop the silent
#   connection after timeout_ms and keep trying a new one (TCP alone would
#   hold on to the dead one for ~15 minutes), so when the link returns a
#   fresh connection carries the sync and both converge, every write once.
. "$(dirname "$0")/lib_daemon.sh"
. "$(dirname "$0")/lib_netns.sh"
netns_require
CUT=${FSY_CUT_SECONDS:-45}
site hq; site gao hq
ns_site hq; ns_site gao
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
[ "$after" -gt "$before" ] || fail "no new connection through the link: ZeroMQ kept the dead one"
echo "connections through the link: $before before the cut, $after after"
for s in hq gao; do
  assert_eq "$(fs "$s" list --json | jq length)" $((2 * i + 1)) "documents at $s"
  assert_eq "$(changes "$s")" $((2 * (2 * i + 1))) "changes in $s's log"
done
echo "PASS long cut"
