# [alert] command: HQ runs it when a site changes colour, at most once a
# minute per site, with the site, colour, reason and data age in its
# environment. Kidal (configured, never connected) is told at once; Gao
# going silent is told; Gao back within the minute is not told yet.
. "$(dirname "$0")/lib_daemon.sh"
site hq; site gao hq; site kidal hq
cat >"$T/alert.sh" <<'HOOK'
#!/bin/sh
printf '%s %s %s %s|%s|%s\n' "$FIELDSYNC_ALERT_FROM" "$FIELDSYNC_ALERT_SITE" \
  "$FIELDSYNC_ALERT_HEALTH" "$FIELDSYNC_ALERT_PREVIOUS" "$FIELDSYNC_ALERT_WHY" \
  "$FIELDSYNC_ALERT_AS_OF" >>"${0%.sh}.log"
HOOK
chmod +x "$T/alert.sh"
EXTRA_CONF="[alert]\ncommand = $T/alert.sh" conf hq >"$T/hq.conf"
start hq; start gao
told() { grep -q "$1" "$T/alert.log" 2>/dev/null; }

step "kidal, never connected, is told at once"
wait_until 10 "no alert for kidal" told "^hq kidal red green|never connected"
fs gao put jmac-weekly-48 --kind analysis --scope MLI --set title="Weekly 48" >/dev/null
wait_converged 20 hq gao
told " gao " && fail "gao was told while green: $(cat "$T/alert.log")"

step "gao falls silent: told, with its data's date"
stop gao
wait_until 20 "no alert for gao" told "^hq gao amber green|"
grep "^hq gao amber" "$T/alert.log" | grep -qE '\|20[0-9]{2}-[0-9]{2}-[0-9]{2}T' ||
  fail "the alert has no data date: $(cat "$T/alert.log")"

step "gao back within the minute: not told yet"
start gao
wait_converged 20 hq gao
sleep 4
[ "$(grep -c ' gao ' "$T/alert.log")" = 1 ] || fail "gao told more than once a minute: $(cat "$T/alert.log")"
grep -q "event=alert site=gao health=amber" "$T/hq.log" || fail "hq's log does not record the alert"
cat "$T/alert.log"
echo "PASS alerts"
