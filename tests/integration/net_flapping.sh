# Reliability 1: three sites on satellite links that keep failing.
#   hq <-vsat- bamako <-vsat- gao, both links flapping (up 20 s, down 10 s,
#   out of phase). Writes spread over all three sites during the flaps
#   converge to equal digests once the links settle, and every write is in
#   every log exactly once. FSY_FLAP_WRITES sets how many (bench: 5000).
. "$(dirname "$0")/lib_daemon.sh"
. "$(dirname "$0")/lib_netns.sh"
netns_require
N=${FSY_FLAP_WRITES:-240}
SPREAD=${FSY_FLAP_SECONDS:-45} # seconds the writes are spread over

site hq; site bamako hq; site gao bamako
SITES=(hq bamako gao)
for s in "${SITES[@]}"; do ns_site $s; done
ns_link bamako hq vsat
ns_link gao bamako vsat
for s in "${SITES[@]}"; do ns_start $s; done
ns_flap bamako 0
ns_flap gao 7

step "$N writes spread over three sites for $SPREAD s while the links flap"
t0=$SECONDS
pause=$(awk -v s="$SPREAD" -v n="$N" 'BEGIN { printf "%.3f", s / n }')
: >"$T/acked"
for i in $(seq 1 "$N"); do
  s=${SITES[$((i % 3))]}
  if fs "$s" put "sitrep-$s-$i" --kind analysis --scope MLI \
    --set title="Sitrep $i from $s" >/dev/null 2>>"$T/put.err"; then
    echo "sitrep-$s-$i" >>"$T/acked"
  fi
  sleep "$pause"
done
echo "writes took $((SECONDS - t0)) s; $(wc -l <"$T/acked") acknowledged"
[ "$(wc -l <"$T/acked")" -eq "$N" ] || fail "local writes failed: $(head -3 "$T/put.err")"

# each link was cut, and the sites at both ends noticed
for c in bamako gao; do
  n=$(grep -c ' cut$' "$T/flaps-$c" || true)
  [ "$n" -gt 0 ] || fail "the link up from $c was never cut"
  # the child gave up on silence or unacknowledged batches, or the parent
  # timed the child out
  lost=$(grep -cE 'event=restart peer=parent why="(silence|batches unacknowledged)"' "$T/$c.log" || true)
  lost=$((lost + $(grep -c "event=timeout peer=$c\$" "$T/${PARENT[$c]}.log" || true)))
  echo "link up from $c: cut $n times; sessions lost: $lost"
  [ "$lost" -gt 0 ] || fail "$c never noticed its link was cut"
done

step "the links settle: every site converges"
ns_flap_stop bamako
ns_flap_stop gao
t1=$SECONDS
wait_converged 240 "${SITES[@]}"
echo "converged $((SECONDS - t1)) s after the links settled"

step "every write is in every log exactly once"
sort "$T/acked" >"$T/want"
for s in "${SITES[@]}"; do
  fs "$s" list --json | jq -r '.[].id' | sort >"$T/have-$s"
  cmp -s "$T/want" "$T/have-$s" ||
    fail "$s: documents differ from the writes: $(diff "$T/want" "$T/have-$s" | head -5)"
  # each write is two changes (kind, title): none lost, none twice
  assert_eq "$(changes "$s")" $((2 * N)) "changes in $s's log"
  fs "$s" verify >/dev/null || fail "$s does not verify"
done
echo "PASS flapping"
