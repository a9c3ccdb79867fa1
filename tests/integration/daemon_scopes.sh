# Partial replication by scope down the tree, and write scopes upwards:
#   hq <- bamako (reads MLI, global) <- gao (reads and writes MLI only)
# gao never holds a document of another scope; a change gao originates for
# SSD is refused at bamako and shows in bamako's `fieldsync status`; adding
# a scope to a child later brings it that scope's whole history.
. "$(dirname "$0")/lib_daemon.sh"
site hq; site bamako hq; site gao bamako
READ_SCOPES[bamako]="MLI, global"; WRITE_SCOPES[bamako]="MLI, global"
READ_SCOPES[gao]="MLI"; WRITE_SCOPES[gao]="MLI"
fs hq put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali" >/dev/null
fs hq put poc-ssd --kind plan --scope SSD --set title="PoC plan South Sudan" >/dev/null
fs hq put mission-concept --kind plan --scope global --set title="Mission concept" >/dev/null
for s in hq bamako gao; do start $s; done

# converged per scope, as far as each site may see
same_scope() { # SCOPE SITE...
  local scope=$1 first s; shift
  first=$(fs "$1" digest --scope "$scope")
  for s in "$@"; do [ "$(fs "$s" digest --scope "$scope")" = "$first" ] || return 1; done
}
wait_scope() { wait_until "$1" "scope $2 did not converge at ${*:3}" same_scope "${@:2}"; } # SECONDS SCOPE SITE...

step "each site receives only its scopes"
fs gao put sitrep-gao --kind analysis --scope MLI --set title="Sitrep Gao" >/dev/null
wait_scope 20 MLI hq bamako gao
wait_scope 20 global hq bamako
assert_eq "$(fs gao list --json | jq -c '[.[].scope] | unique')" '["MLI"]' "scopes at gao"
assert_eq "$(fs bamako list --json | jq -c '[.[].scope] | unique')" '["MLI","global"]' "scopes at bamako"
assert_eq "$(fs gao vv --json | jq -c '[.entries[].scope] | unique')" '["MLI"]' "gao's vector"
# what gao hears of bamako's vector (HELLO, ACK) names its scopes only
parent_vv() { sqlite3 "$T/gao.db" "SELECT vv FROM peers WHERE role = 'parent'"; }
wait_until 10 "gao has not recorded bamako's vector" sh -c "[ -n \"\$(sqlite3 '$T/gao.db' \"SELECT vv FROM peers WHERE role = 'parent'\")\" ]"
parent_vv | grep -qE "^(global|SSD) " && fail "gao heard of scopes it may not read: $(parent_vv)"
parent_vv | grep -q "^MLI hq " || fail "gao's view of bamako's vector lacks MLI: $(parent_vv)"

step "a change gao originates for SSD is refused upstream and reported"
fs gao put ssd-rumour --kind analysis --scope SSD --set title="Out of mandate" >/dev/null
fs gao put sitrep-gao --set status=final >/dev/null
wait_scope 20 MLI hq bamako gao
refused() { fs bamako status --json | jq -e '.sites[] | select(.site == "gao") | .batches_refused > 0' >/dev/null; }
bamako_status() { fs bamako status; }
explain=bamako_status wait_until 10 "no refusal in bamako's status" refused
fs bamako status | grep -q "is in scope SSD: gao may write MLI" || fail "status lacks the reason: $(fs bamako status)"
grep -q "event=unauthorised peer=gao" "$T/bamako.log" || fail "no log line"
for s in hq bamako; do
  fs $s get ssd-rumour >/dev/null 2>&1 && fail "$s holds gao's SSD document"
done

step "adding SSD to bamako's read scopes brings SSD's whole history"
stop hq
READ_SCOPES[bamako]="MLI, global, SSD"
conf hq >"$T/hq.conf"
start hq
wait_scope 20 SSD hq bamako
assert_eq "$(fs bamako get poc-ssd --json | jq -r .fields.title)" "PoC plan South Sudan" "SSD history at bamako"
fs gao get poc-ssd >/dev/null 2>&1 && fail "gao holds SSD"
echo "PASS scopes"
