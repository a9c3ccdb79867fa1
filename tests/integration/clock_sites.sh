# Reliability 4: field offices with wrong clocks, on live links.
#   hq <- bamako <- gao (3 hours fast), kidal (3 hours slow)
# Their changes flow both ways; no other site's clock is dragged ahead by
# more than max_clock_skew (1 h); HQ's status shows each one's offset and
# the hub's log names them; concurrent edits of one field made at all four
# sites while cut off resolve to the same winner everywhere.
. "$(dirname "$0")/lib_daemon.sh"
faketime_lib=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
[ -n "$faketime_lib" ] || fail "libfaketime is missing: run ./scripts/deps"
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
declare -A SKEW=([gao]=+3h [kidal]=-3h)
SITES=(hq bamako gao kidal)
# at SITE CMD...: run CMD with SITE's clock
at() {
  local s=$1; shift
  if [ -n "${SKEW[$s]:-}" ]; then env LD_PRELOAD="$faketime_lib" FAKETIME="${SKEW[$s]}" "$@"
  else "$@"; fi
}
fsk() { local s=$1; shift; at "$s" "$FIELDSYNC" --db "$T/$s.db" "$@"; }
launch() { WRAP="${SKEW[$1]:+env LD_PRELOAD=$faketime_lib FAKETIME=${SKEW[$1]}}" start "$1"; }

for s in hq bamako gao kidal; do
  PORT[$s]=$(free_port); HTTP[$s]=$(free_port)
  fsk "$s" init --site "$s" >/dev/null
  "$FIELDSYNC" keygen -o "$T/$s" >/dev/null
done
PARENT=([hq]="" [bamako]=hq [gao]=bamako [kidal]=bamako)
for s in "${SITES[@]}"; do launch $s; done

step "changes from fast and slow clocks flow everywhere"
fsk hq put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali 2027" --set status=draft >/dev/null
fsk gao put sitrep-gao-48 --kind analysis --scope MLI --set title="Gao sitrep, clock 3 h fast" >/dev/null
fsk kidal put sitrep-kidal-48 --kind analysis --scope MLI --set title="Kidal sitrep, clock 3 h slow" >/dev/null
wait_converged 30 "${SITES[@]}"
for s in "${SITES[@]}"; do
  assert_eq "$(fs "$s" list --json | jq length)" 3 "documents at $s"
done

step "no clock is dragged more than max_clock_skew ahead"
for s in hq bamako; do
  fs "$s" put "probe-$s" --kind analysis --scope MLI --set title=now >/dev/null
  stamp=$(fs "$s" log "probe-$s" --json | jq -r '.[0].time')
  ahead=$(($(date -d "$stamp" +%s) - $(date +%s)))
  echo "$s stamps its writes $ahead s ahead of its clock"
  [ "$ahead" -le 3605 ] || fail "$s's clock was dragged $ahead s ahead"
done

step "HQ shows each site's offset; the hub's log names them"
off() { curl -sf "http://127.0.0.1:${HTTP[hq]}/status" | jq -r --arg s "$1" '.sites[] | select(.site == $s) | .clock_offset_ms // "none"'; }
offsets_known() { [[ "$(off gao)" =~ ^-?[0-9]+$ ]] && [[ "$(off kidal)" =~ ^-?[0-9]+$ ]]; }
wait_until 20 "HQ never learned the offsets" offsets_known
awk -v o="$(off gao)" 'BEGIN { exit !(o > 10790000 && o < 10810000) }' || fail "gao's offset at HQ: $(off gao)"
awk -v o="$(off kidal)" 'BEGIN { exit !(o < -10790000 && o > -10810000) }' || fail "kidal's offset at HQ: $(off kidal)"
fs hq status --all-sites | grep -E '^amber +gao .* \+3h00m +clock off by 10[78][0-9]{2} s' >/dev/null ||
  fail "HQ's status does not show gao's clock: $(fs hq status --all-sites)"
for s in gao kidal; do
  grep -q "event=clock-offset peer=$s offset_ms=-\?10[78][0-9]\{5\} state=skewed" "$T/bamako.log" ||
    fail "bamako's log does not name $s's clock"
done

step "concurrent edits at all four sites, cut off, resolve the same everywhere"
stop bamako
for s in "${SITES[@]}"; do fsk "$s" put isf-mli-2027 --set status="endorsed at $s" >/dev/null; done
launch bamako
wait_converged 30 "${SITES[@]}"
winner=$(fs hq get isf-mli-2027 --json | jq -r .fields.status)
for s in "${SITES[@]}"; do
  assert_eq "$(fs "$s" get isf-mli-2027 --json | jq -r .fields.status)" "$winner" "the winner at $s"
  assert_eq "$(fs "$s" conflicts --json | jq -c '[.[].conflicts[].heads | length]')" "[4]" "the conflict at $s"
done
echo "winner: $winner"
echo "PASS clock sites"
