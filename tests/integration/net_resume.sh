# Over a satellite link (the vsat profile: 600 ms round trip, 256 kbit/s,
# 1 % loss), a field office whose link was cut resumes with nothing new in
# at most 2 round trips after ZeroMQ's handshake: it says hello as the
# handshake completes, and the parent's hello makes the session live. The
# child's log times both ends (event=link state=up, then the state live),
# the round trip is the emulator's.
. "$(dirname "$0")/lib_daemon.sh"
. "$(dirname "$0")/lib_netns.sh"
netns_require
SYNC_CONF='heartbeat_ms = 1000\ntimeout_ms = 4000\nreconnect_ms = 200\nreconnect_max_ms = 1000'
site hq; site gao hq
ns_site hq; ns_site gao
ns_link gao hq vsat
ns_start hq; ns_start gao
fs gao put sitrep-gao-1205 --kind analysis --scope MLI --set title="Gao situation report, 5 Dec" >/dev/null
wait_converged 60 hq gao
RTT=${PROFILE_RTT[vsat]}

# ms TIMESTAMP: milliseconds since the epoch of a log line's timestamp
ms() { date -d "$1" +%s%3N; }
live_lines() { grep -c 'event=state peer=parent from=wait-hello to=live' "$T/gao.log" || true; }
best=999999
for round in 1 2 3; do
  step "resume $round: the link is cut until gao notices, then healed"
  lives=$(live_lines)
  gone=$(grep -c 'event=restart peer=parent' "$T/gao.log" || true)
  ns_cut gao
  noticed() { [ "$(grep -c 'event=restart peer=parent' "$T/gao.log" || true)" -gt "$gone" ]; }
  wait_until 30 "gao never noticed its link was cut" noticed
  # until ZeroMQ gives the dead connection up and makes a new one: the
  # resume then starts with a handshake, as after a real outage
  conns=$(grep -c 'connection .* accepted' "$T/relay-gao.log" || true)
  redialled() { [ "$(grep -c 'connection .* accepted' "$T/relay-gao.log" || true)" -gt "$conns" ]; }
  wait_until 60 "gao's daemon never made a new connection" redialled
  mark=$(wc -l <"$T/gao.log")
  healed=$(date +%s%3N)
  ns_heal gao
  back() { [ "$(live_lines)" -gt "$lives" ]; }
  wait_until 90 "gao's session did not come back" back
  tail -n +"$((mark + 1))" "$T/gao.log" >"$T/after"
  live=$(grep -m1 'to=live' "$T/after" | cut -d' ' -f1)
  up=$(awk -v l="$live" '/event=link peer=parent state=/ && $1 <= l { t = $1 } END { print t }' "$T/after")
  [ -n "$up" ] || fail "no handshake logged before the session went live: $(head -5 "$T/after")"
  took=$(($(ms "$live") - $(ms "$up")))
  echo "healed, handshake $(($(ms "$up") - healed)) ms later (TCP, ZMTP, CURVE; ZeroMQ's redial), live ${took} ms after it = $(awk -v t="$took" -v r="$RTT" 'BEGIN { printf "%.2f", t / r }') round trips"
  [ "$took" -lt "$best" ] && best=$took
done
# TCP over a lossy link has bad runs (a lost segment waits for a
# retransmission timeout): the best of three is what the protocol costs.
[ "$best" -le $((2 * RTT + RTT / 4)) ] ||
  fail "the best resume took $best ms after the handshake: over 2 round trips of $RTT ms"
fs gao put sitrep-gao-1205 --set status="final" >/dev/null
got() { [ "$(fs hq get sitrep-gao-1205 --json | jq -r .fields.status)" = final ]; }
wait_until 30 "a write after the resumes did not reach hq" got
echo "ok: best resume $best ms after the handshake (round trip $RTT ms)"
