# Live sync over a tree of real daemons on loopback:
#   hq <- bamako <- gao, kidal;  hq <- juba
# Writes at every site reach every other site; a stopped hub catches up;
# concurrent edits show the same conflict everywhere and a resolve at HQ
# clears it everywhere; a site killed with SIGKILL mid-backlog converges.
. "$(dirname "$0")/lib_daemon.sh"
site hq; site bamako hq; site gao bamako; site kidal bamako; site juba hq
for s in hq bamako gao kidal juba; do start $s; done
ALL=(hq bamako gao kidal juba)

step "writes at every site reach every site"
fs hq put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali 2027" --set status=draft >/dev/null
fs bamako put jmac-weekly-48 --kind analysis --scope MLI --set title="JMAC weekly 48" >/dev/null
fs gao put incident-0412 --kind analysis --scope MLI --set title="Incident 0412" >/dev/null
fs kidal put sitrep-kidal --kind analysis --scope MLI --set title="Sitrep Kidal" >/dev/null
fs juba put poc-ssd --kind plan --scope SSD --set title="PoC plan Juba" >/dev/null
wait_converged 30 "${ALL[@]}"
assert_eq "$(fs kidal list --json | jq length)" 5 "documents at kidal"
assert_eq "$(changes juba)" "$(changes gao)" "log sizes"

step "fieldsync status shows the neighbours"
all_connected() { [ "$(fs bamako status --json | jq -c '[.sites[] | select(.connected) | .site] | sort')" = '["gao","hq","kidal"]' ]; }
bamako_status() { fs bamako status; }
explain=bamako_status wait_until 10 "bamako's neighbours are not all connected" all_connected

step "the hub stops; its children and HQ keep writing; it restarts"
stop bamako
fs gao put incident-0413 --kind analysis --scope MLI --set title="Incident 0413" >/dev/null
fs kidal put sitrep-kidal --set status=final >/dev/null
fs hq put isf-mli-2027 --set owner="Strategic Planning Unit" >/dev/null
bamako_gone() { [ "$(fs hq status --json | jq -c '.sites[] | select(.site == "bamako") | [.connected, .behind > 0]')" = '[false,true]' ]; }
hq_status() { fs hq status; }
explain=hq_status wait_until 10 "hq's status does not show bamako gone and behind" bamako_gone
start bamako
wait_converged 30 "${ALL[@]}"

step "concurrent edits of one field at gao and juba: one conflict everywhere"
stop gao; stop juba
fs gao put isf-mli-2027 --set status="endorsed by Gao" >/dev/null
fs juba put isf-mli-2027 --set status="questions from Juba" >/dev/null
start gao; start juba
wait_converged 30 "${ALL[@]}"
for s in "${ALL[@]}"; do
  assert_eq "$(fs $s conflicts --json | jq -c '[.[] | .id + "/" + .conflicts[].field]')" \
    '["isf-mli-2027/status"]' "conflicts at $s"
done
keep=$(fs hq conflicts --json | jq -r '.[0].conflicts[0].heads[] | select(.site == "gao") | .version')
fs hq resolve isf-mli-2027 status --keep "$keep" >/dev/null
wait_converged 30 "${ALL[@]}"
for s in "${ALL[@]}"; do
  assert_eq "$(fs $s conflicts --json | jq length)" 0 "conflicts at $s after resolve"
  assert_eq "$(fs $s get isf-mli-2027 --json | jq -r .fields.status)" "endorsed by Gao" "status at $s"
done

step "gao is killed with SIGKILL while receiving a backlog, then restarts"
stop gao
for b in $(seq 1 30); do
  { for i in $(seq 1 100); do
      printf '{"scope":"MLI","id":"report-%d-%03d","kind":"analysis","fields":{"title":"Report %d/%d","body":"Market prices in Gao and Ansongo, week %d"}}\n' "$b" "$i" "$b" "$i" "$b"
    done; } >"$T/backlog-$b.ndjson"
  fs hq import "$T/backlog-$b.ndjson" >/dev/null
done
wait_converged 30 hq bamako kidal juba
start gao
deadline=$((SECONDS + 20))
until [ "$(changes gao)" -gt 1000 ] || [ $SECONDS -ge $deadline ]; do sleep 0.02; done
killnine gao
held=$(changes gao) total=$(changes hq)
echo "gao held $held of $total changes when killed"
[ "$held" -lt "$total" ] || fail "gao had the whole backlog before the kill: nothing tested"
fs gao put incident-0414 --kind analysis --scope MLI --set title="Written while the daemon was down" >/dev/null
fs juba put poc-ssd --set status="revised" >/dev/null
start gao
wait_converged 60 "${ALL[@]}"
for s in "${ALL[@]}"; do
  fs "$s" verify >/dev/null || fail "verify at $s"
  assert_eq "$(changes $s)" "$(changes hq)" "every change exactly once at $s"
done
assert_eq "$(fs hq list --json | jq length)" 3007 "documents everywhere"

step "every daemon stops cleanly on SIGTERM"
for s in "${ALL[@]}"; do stop $s; done
grep -q "event=stop" "$T/hq.log" || fail "no stop line in hq's log"
echo "PASS daemon tree"
