# Every site HQ knows of is on its roster, in all four views (status,
# /status, the page, /metrics): Kidal, a configured child that never
# connected, is red "never connected"; Tessalit, a field office whose data
# travels by USB key only, appears after its bundle is imported, with the
# time its data is as of (its newest change) apart from the import time.
# Decommissioning takes a site off the roster, never its data. A child
# whose key was regenerated is told so, and its parent says which key it
# refused and from where.
. "$(dirname "$0")/lib_daemon.sh"
site hq; site gao hq; site kidal hq; site tessalit
start hq; start gao
hqfs() { "$FIELDSYNC" -c "$T/hq.conf" "$@"; }
web() { curl -sf "http://127.0.0.1:${HTTP[hq]}$1"; }
# has PATH PATTERN: the whole answer first (grep -q leaving a pipe early
# would fail it under pipefail)
has() { local out; out=$(web "$1") || return 1; grep -q -- "$2" <<<"$out"; }
row() { jq -c --arg s "$1" '.sites[] | select(.site == $s)' "$T/st.json"; }

step "Kidal never connected: red, 'never connected', in every view"
fs gao put jmac-weekly-48 --kind analysis --scope MLI --set title="Weekly 48" >/dev/null
wait_converged 20 hq gao
hqfs status | grep -qE '^red +kidal +child .*never connected' ||
  fail "status does not show kidal red: $(hqfs status)"
web /status >"$T/st.json" || fail "no /status at hq"
[ "$(row kidal | jq -r .health)" = red ] || fail "/status: kidal is not red: $(row kidal)"
[ "$(row kidal | jq -r .why)" = "never connected" ] || fail "/status: kidal's why: $(row kidal)"
has /metrics '^fieldsync_site_health{site="kidal"} 2$' || fail "/metrics has no red series for kidal"
has / 'class="red" data-site="kidal"' || fail "the page has no red row for kidal"
has / "never connected" || fail "the page does not say kidal never connected"

step "Tessalit's data comes by courier: on the roster, with its data's date"
t0=$(date +%s%3N)
fs tessalit put sitrep-tessalit-0312 --kind analysis --scope MLI \
  --set title="Tessalit situation report, 3 Dec" >/dev/null
t1=$(date +%s%3N)
fs tessalit bundle export --all --key "$T/tessalit.key" -o "$T/usb.fsb" >/dev/null
sleep 2 # the courier travels: the import comes later than the data
hqfs bundle import "$T/usb.fsb" --trust "$T/tessalit.pub" >/dev/null
hqfs status --all-sites | grep -qE '^green +tessalit +courier ' ||
  fail "status --all-sites has no courier row: $(hqfs status --all-sites)"
web /status >"$T/st.json"
asof=$(row tessalit | jq .data_as_of_ms)
bundle=$(row tessalit | jq .last_bundle_ms)
[ "$asof" -ge $((t0 - 1000)) ] && [ "$asof" -le $((t1 + 1000)) ] ||
  fail "tessalit's data is as of $asof, written between $t0 and $t1"
[ "$bundle" -ge $((asof + 1500)) ] || fail "the import ($bundle) is not apart from the data ($asof)"
[ "$(row tessalit | jq -r .role)" = courier ] || fail "/status: tessalit is not a courier site"
has /metrics '^fieldsync_site_last_bundle_seconds{site="tessalit"} ' ||
  fail "/metrics has no bundle age for tessalit"
has /metrics '^fieldsync_site_data_age_seconds{site="tessalit"} ' ||
  fail "/metrics has no data age for tessalit"
has / 'data-site="tessalit"' || fail "the page has no tessalit row"

step "decommissioning takes Tessalit off the roster; its report stays"
said=$(hqfs decommission tessalit)
grep -q "tessalit decommissioned" <<<"$said" || fail "decommission said otherwise: $said"
hqfs status --all-sites | grep -q tessalit && fail "tessalit is still on the roster"
fs hq get sitrep-tessalit-0312 >/dev/null || fail "decommissioning lost tessalit's report"
said=$(hqfs decommission kidal 2>&1)
grep -q "still has \[child kidal\]" <<<"$said" || fail "no word on kidal's [child] section: $said"
expect_fail 1 "is this site" hqfs decommission hq
step "Gao's key is regenerated: both ends say which key was refused, and why"
stop gao
"$FIELDSYNC" keygen -o "$T/gao" --force >/dev/null
fp=$(head -c 8 "$T/gao.pub")
: >"$T/gao.log"
start gao
parent_says() { fs gao status | grep -E "^amber +hq +parent" | grep -F "the parent refused this site's key (.pub $fp..." | grep -q "\[child gao\]"; }
wait_until 15 "gao's status does not say its key was refused: $(fs gao status)" parent_says
curve=$(fs gao status | grep -m1 -oE "CURVE .{8}\.\.\.")
hq_says() { hqfs status | grep -E "^amber +hq +self" | grep -qF "refused a key no [child] section has ($curve) from 127.0.0.1"; }
wait_until 15 "hq's status does not name the key gao offers ($curve): $(hqfs status)" hq_says
grep -qF "event=unknown-key key=${curve#CURVE } address=127.0.0.1" "$T/hq.log" ||
  fail "hq's log does not name the key ($curve) and address: $(grep unknown-key "$T/hq.log")"
echo "gao: $(fs gao status | grep -F 'refused this site')"
echo "hq: $(hqfs status | grep -F 'refused a key')"
step "HQ's key is regenerated (or gao holds another): gao says which key it expects"
stop gao
"$FIELDSYNC" keygen -o "$T/other" >/dev/null
K=$(cat "$T/other.pub") awk '/^server_public_key = /{print "server_public_key = " ENVIRON["K"]; next} {print}' \
  "$T/gao.conf" >"$T/gao-wrong.conf"
mv "$T/gao-wrong.conf" "$T/gao.conf"
start gao
want=$(head -c 8 "$T/other.pub")
mismatch() { fs gao status | grep -E "^amber +hq +parent" | grep -qF "is its key still [parent] server_public_key ($want...)"; }
wait_until 15 "gao does not say the parent's key differs: $(fs gao status)" mismatch
echo "PASS roster"

