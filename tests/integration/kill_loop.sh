# Reliability 2: daemons killed with SIGKILL, again and again, while people
# keep writing and the sites keep syncing.
#   hq <- bamako <- gao, kidal on loopback. FSY_KILLS (default 15; bench:
#   50) SIGKILLs of randomly chosen daemons at random moments, each
#   restarted after a moment; a writer at random sites all along. After the
#   last restart: equal digests, `fieldsync verify` ok everywhere, and
#   Jepsen's set check over the writes acknowledged (put returned 0):
#   lost = 0, unexpected = 0, duplicated = 0.
. "$(dirname "$0")/lib_daemon.sh"
KILLS=${FSY_KILLS:-15}
SITES=(hq bamako gao kidal)
site hq; site bamako hq; site gao bamako; site kidal bamako
for s in "${SITES[@]}"; do start $s; done

writer() {
  local i=0 s
  while [ ! -e "$T/stop" ]; do
    i=$((i + 1)); s=${SITES[$((RANDOM % 4))]}
    echo "report-$s-$i" >>"$T/attempted"
    if fs "$s" put "report-$s-$i" --kind analysis --scope MLI \
      --set title="Report $i at $s" >/dev/null 2>>"$T/put.err"; then
      echo "report-$s-$i" >>"$T/acked"
    fi
  done
}
: >"$T/attempted"; : >"$T/acked"
writer &
WRITER=$!
PIDS+=("$WRITER")

step "$KILLS SIGKILLs of random daemons during writes and sync"
for k in $(seq 1 "$KILLS"); do
  sleep "0.$((RANDOM % 8 + 2))"
  victim=${SITES[$((RANDOM % 4))]}
  killnine "$victim"
  sleep "0.$((RANDOM % 5 + 1))"
  start "$victim"
done
touch "$T/stop"
wait "$WRITER"
echo "$(wc -l <"$T/acked") writes acknowledged of $(wc -l <"$T/attempted") attempted"
[ "$(wc -l <"$T/acked")" -gt 0 ] || fail "no write was acknowledged"

step "after the last restart every site converges and verifies"
wait_converged 120 "${SITES[@]}"
for s in "${SITES[@]}"; do fs "$s" verify >/dev/null || fail "$s does not verify"; done

step "the set check: nothing lost, nothing unexpected, nothing twice"
sort -u "$T/acked" >"$T/acked.s"
sort -u "$T/attempted" >"$T/attempted.s"
for s in "${SITES[@]}"; do
  fs "$s" list --json | jq -r '.[].id' | sort >"$T/have-$s"
  lost=$(comm -23 "$T/acked.s" "$T/have-$s" | wc -l)
  unexpected=$(comm -13 "$T/attempted.s" "$T/have-$s" | wc -l)
  # each write is two changes (kind, title): a change applied twice shows
  duplicated=$(($(changes "$s") - 2 * $(wc -l <"$T/have-$s")))
  echo "$s: present=$(wc -l <"$T/have-$s") lost=$lost unexpected=$unexpected duplicated=$duplicated"
  [ "$lost" -eq 0 ] || fail "$s lost acknowledged writes: $(comm -23 "$T/acked.s" "$T/have-$s" | head -3)"
  [ "$unexpected" -eq 0 ] || fail "$s holds writes nobody made"
  [ "$duplicated" -eq 0 ] || fail "$s holds $duplicated changes twice"
done
echo "PASS kill loop"
