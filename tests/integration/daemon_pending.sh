# "Has my report reached HQ?" HQ <- Bamako <- Gao. Each parent passes
# down what HQ holds, so Gao knows per document whether what it wrote is
# at its parent and at HQ (fieldsync pending, status, get, /metrics).
#   Gao offline writes 20 reports: 20 not at the parent (nor at HQ);
#   Gao syncs with Bamako while HQ is down: at the parent, not at HQ;
#   HQ comes back: none pending.
. "$(dirname "$0")/lib_daemon.sh"
site hq; site bamako hq; site gao bamako
start hq; start bamako; start gao

pending() { fs gao pending --json; }
# pends HQ PARENT: documents not at HQ, and not at the parent
pends() {
  local p; p=$(pending) || return 1
  [ "$(jq .documents_not_at_hq <<<"$p")" = "$1" ] &&
    [ "$(jq .documents_not_at_parent <<<"$p")" = "$2" ]
}
report() { echo "gao pending: $(pending | jq -c '{documents_not_at_hq, documents_not_at_parent}')"; }

step "a first report reaches HQ, and Gao learns it"
fs gao put jmac-weekly-48 --kind analysis --scope MLI --set title="Weekly 48" >/dev/null
wait_converged 20 hq bamako gao
explain=report wait_until 15 "gao did not learn its report is at HQ" pends 0 0
fs gao get jmac-weekly-48 | grep -q "^delivery: at HQ" || fail "get does not say the report is at HQ"
[ "$(fs hq pending --json | jq .root)" = true ] || fail "hq does not know it is the root"

step "Gao, offline, writes 20 reports: none at the parent"
stop gao
for i in $(seq -w 1 20); do
  fs gao put "jmac-flash-$i" --kind analysis --scope MLI \
    --set title="Flash report $i: movement near Ber" --set region=Timbuktu >/dev/null
done
pends 20 20 || fail "pending does not list 20 reports not at the parent: $(report)"
fs gao pending | grep -q "^MLI  *jmac-flash-01 " || fail "pending does not list the reports"
[ "$(fs gao pending --json | jq -r '.documents[0].id')" = jmac-flash-01 ] || fail "not oldest first"
fs gao status | grep -q "20 documents (60 changes) not yet at HQ" ||
  fail "status does not say what is not at HQ: $(fs gao status | head -3)"
fs gao get jmac-flash-07 | grep -q "^delivery: not yet at HQ: 3 change(s) written here, 3 not even at the parent" ||
  fail "get does not say the report is not at the parent: $(fs gao get jmac-flash-07)"

step "HQ is down; Gao syncs with Bamako: at the parent, not at HQ"
stop hq
start gao
explain=report wait_until 20 "gao did not learn its reports are at bamako" pends 20 0
fs gao status | grep -q "20 documents (60 changes) not yet at HQ" || fail "status lost the count"
metrics=$(curl -sf "http://127.0.0.1:${HTTP[gao]}/metrics") || fail "no /metrics at gao"
grep -q '^fieldsync_pending_documents{where="hq"} 20$' <<<"$metrics" || fail "no pending gauge for HQ"
grep -q '^fieldsync_pending_documents{where="parent"} 0$' <<<"$metrics" || fail "no pending gauge for the parent"

step "HQ is back: nothing pending"
start hq
explain=report wait_until 30 "gao did not learn its reports reached HQ" pends 0 0
fs gao get jmac-flash-07 | grep -q "^delivery: at HQ" || fail "get does not say the report is at HQ"
fs gao status | grep -q "everything written here is at HQ" || fail "status does not say all is at HQ"
echo "PASS pending"
