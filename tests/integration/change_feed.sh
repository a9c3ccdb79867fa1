# Following HQ without re-exporting: `fieldsync changes` and /api/changes
# deliver every change exactly once, in commit order, across restarts of
# the consumer and of the daemon, resumed from the last cursor; the
# documents API serves search and documents, only with the token when one
# is configured and only the scopes [http] read_scopes names.
. "$(dirname "$0")/lib_daemon.sh"
site hq; site gao hq
HTTP[gao]=""
start hq; start gao
api() { curl -s -m 70 "http://127.0.0.1:${HTTP[hq]}$1"; }
wait_until 20 "hq's HTTP did not come up" sh -c "curl -s -o /dev/null http://127.0.0.1:${HTTP[hq]}/healthz"

# write N reports at SITE, a few fields each, in separate transactions
reports() {
  local site=$1 from=$2 to=$3 i
  for i in $(seq "$from" "$to"); do
    fs "$site" put "jmac-$site-$i" --kind analysis --scope MLI --set title="JMAC $site $i" --set status=draft >/dev/null
  done
}
# the log of hq as cursors, in order
all_cursors() { fs hq changes | jq -r .cursor; }

step "a follower killed and resumed from its last cursor misses nothing and repeats nothing"
reports hq 1 5
"$FIELDSYNC" --db "$T/hq.db" changes --follow >"$T/feed1" 2>"$T/feed1.err" &
F1=$!
reports gao 1 20
wait_until 20 "the follower saw nothing" sh -c "[ \$(wc -l <'$T/feed1') -gt 10 ]"
kill -TERM $F1; wait $F1 || fail "changes --follow did not end cleanly on TERM: $(cat "$T/feed1.err")"
last=$(tail -1 "$T/feed1" | jq -r .cursor)
reports gao 21 30
stop hq; start hq  # the daemon restarts meanwhile
reports hq 6 10
"$FIELDSYNC" --db "$T/hq.db" changes --since "$last" --follow >"$T/feed2" &
F2=$!
want=$((5 * 3 + 30 * 3 + 5 * 3))
wait_until 30 "the follower did not catch up" sh -c "[ \$(cat '$T/feed1' '$T/feed2' | wc -l) -ge $want ]"
kill -TERM $F2; wait $F2
cat "$T/feed1" "$T/feed2" | jq -r .cursor >"$T/got"
assert_eq "$(sort "$T/got" | uniq -d | wc -l)" 0 "changes delivered twice"
all_cursors >"$T/want"
cmp "$T/want" "$T/got" || fail "the followed feed differs from the log: $(diff "$T/want" "$T/got" | head -5)"
assert_eq "$(wc -l <"$T/got")" "$want" "changes followed"
assert_eq "$(jq -r 'select(.id == "jmac-gao-7" and .field == "title") | [.site, .value] | join(" ")' "$T/feed1" "$T/feed2")" "gao JMAC gao 7" "a change from gao"

step "/api/changes: long poll, resumed from the cursor across a daemon restart"
cursor=0
: >"$T/http"
poll() { # one request; appends its lines, moves the cursor
  local out; out=$(curl -s -m 70 -D "$T/hdr" "http://127.0.0.1:${HTTP[hq]}/api/changes?since=$cursor&limit=40&wait=${1:-0}")
  [ -z "$out" ] || printf '%s\n' "$out" >>"$T/http"
  cursor=$(tr -d '\r' <"$T/hdr" | sed -n 's/^X-Fieldsync-Cursor: //p')
  [ -n "$cursor" ] || fail "no cursor header: $(cat "$T/hdr")"
}
while poll; [ "$(wc -l <"$T/http")" -lt 60 ]; do :; done
stop hq; start hq
wait_until 20 "hq's HTTP did not come back" sh -c "curl -s -o /dev/null http://127.0.0.1:${HTTP[hq]}/healthz"
while [ "$(wc -l <"$T/http")" -lt "$want" ]; do poll; done
before=$SECONDS
( sleep 2; reports gao 31 31 ) &
W=$!
poll 30
[ $((SECONDS - before)) -ge 1 ] || fail "the long poll answered before the change came"
[ $((SECONDS - before)) -le 15 ] || fail "the long poll did not answer when the change came"
assert_eq "$(tail -1 "$T/http" | jq -r '.id')" "jmac-gao-31" "the change the long poll waited for"
wait $W
jq -r .cursor "$T/http" >"$T/got"
all_cursors >"$T/want"
cmp "$T/want" "$T/got" || fail "/api/changes differs from the log: $(diff "$T/want" "$T/got" | head -5)"
before=$SECONDS
poll 2
assert_eq "$(wc -l <"$T/got")" "$(jq -r .cursor "$T/http" | wc -l)" "nothing new after a 2 s wait"
[ $((SECONDS - before)) -ge 2 ] || fail "an empty long poll answered at once"
bad=$(curl -s -w ' %{http_code}' "http://127.0.0.1:${HTTP[hq]}/api/changes?since=banana")
case $bad in *"not a cursor"*" 400") ;; *) fail "a bad cursor: $bad" ;; esac

step "/api/docs: search and filters as the command line has them"
fs hq put risk-ssd-1 --kind risk --scope SSD --set title="Flooding risk in Malakal" >/dev/null
assert_eq "$(api '/api/docs?q=flooding' | jq -r '[.[].id] | join(",")')" "risk-ssd-1" "search"
assert_eq "$(api '/api/docs?scope=MLI&site=gao&limit=1000' | jq length)" 31 "filters"
assert_eq "$(api '/api/docs?scope=MLI&site=gao&limit=1000' | jq -c '[.[].id] | sort')" \
  "$(fs hq list --scope MLI --site gao --json | jq -c '[.[].id] | sort')" "the same as list"
assert_eq "$(api '/api/docs/MLI/jmac-gao-3' | jq -r '[.fields.title, .created_site, .updated_author != ""] | join("|")')" "JMAC gao 3|gao|true" "one document"
case $(curl -s -w ' %{http_code}' "http://127.0.0.1:${HTTP[hq]}/api/docs?since=yesterday") in *" 400") ;; *) fail "a bad time was not refused" ;; esac

step "with a token, documents only with it; read_scopes limits what is served"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/api.token"
stop hq
EXTRA_CONF="[http]\ntoken_file = $T/api.token\nread_scopes = MLI" conf hq >"$T/hq.conf"
start hq
wait_until 20 "hq's HTTP did not come back" sh -c "curl -s -o /dev/null http://127.0.0.1:${HTTP[hq]}/healthz"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${HTTP[hq]}/api/docs")" 401 "without the token"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong-token-0123456789' "http://127.0.0.1:${HTTP[hq]}/api/docs")" 401 "a wrong token"
auth=(-H "Authorization: Bearer $(cat "$T/api.token")")
assert_eq "$(curl -s "${auth[@]}" "http://127.0.0.1:${HTTP[hq]}/api/docs?limit=1000" | jq -r '[.[].scope] | unique | join(",")')" MLI "only the served scope"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "http://127.0.0.1:${HTTP[hq]}/api/docs?scope=SSD")" 403 "a scope not served"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "http://127.0.0.1:${HTTP[hq]}/api/docs/SSD/risk-ssd-1")" 404 "a document of a scope not served"
assert_eq "$(curl -s "${auth[@]}" "http://127.0.0.1:${HTTP[hq]}/api/changes?limit=10000" | jq -r .scope | sort -u)" MLI "the feed of the served scope"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -u "analyst:$(cat "$T/api.token")" "http://127.0.0.1:${HTTP[hq]}/api/docs")" 200 "the token as a browser's password"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${HTTP[hq]}/metrics")" 200 "metrics need no token"
echo "PASS change_feed"
