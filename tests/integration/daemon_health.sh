# Operations: headquarters sees every site's sync health.
#   hq <- bamako <- gao, kidal
# HQ hears of all four sites through health summaries; a field office that
# stops shows as disconnected at HQ (/status, /metrics, the CLI and the
# status page) within the timeout, with a growing last-contact age and a
# growing count of changes it is behind. /metrics passes a Prometheus
# text-format check; the status page renders in headless Chromium (a
# screenshot goes to the test's output folder); systemd hears READY and
# WATCHDOG. A field office whose clock is two minutes fast shows so at HQ
# and in its hub's log.
. "$(dirname "$0")/lib_daemon.sh"
: "${PROM_LINT:?PROM_LINT must point at the prom_lint tool}"
: "${NOTIFY_SINK:?NOTIFY_SINK must point at the notify_sink tool}"
OUT=${FSY_TEST_OUT:-$T/out}
mkdir -p "$OUT"

site hq; site bamako hq; site gao bamako; site kidal bamako
"$NOTIFY_SINK" "$T/notify.sock" 120 >"$T/notify.out" &
PIDS+=("$!")
wait_until 10 "the notify socket never appeared" test -S "$T/notify.sock"
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=1000000 start hq
start bamako; start gao
# its clock two minutes fast (env execs: the daemon keeps the PID we kill)
faketime_lib=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 | head -1)
[ -n "$faketime_lib" ] || fail "libfaketime is missing: run ./scripts/deps --test"
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
WRAP="env LD_PRELOAD=$faketime_lib FAKETIME=+120s" start kidal

get() { curl -sf "http://127.0.0.1:${HTTP[hq]}$1"; }
# field SITE KEY: one field of SITE's row in HQ's /status
field() { get /status | jq -r --arg s "$1" ".sites[] | select(.site == \$s) | .$2"; }
# metric NAME SITE: one sample of HQ's /metrics
metric() { get /metrics | awk -v k="$1{site=\"$2\"}" '$1 == k { print $2 }'; }
has_doc() { fs "$1" get "$2" >/dev/null 2>&1; }
cli_state() { fs hq status --all-sites | awk -v s="$1" '$2 == s { print $4 }'; }
hq_status() { echo "HQ's status:"; fs hq status --all-sites; }
explain=hq_status

step "HQ hears of every site in the tree"
fs gao put sitrep-gao-48 --kind analysis --scope MLI --set title="Gao sitrep week 48" >/dev/null
all_reported() {
  [ "$(get /status | jq -c '[.sites[] | select(.version != null) | [.site, .state]] | sort')" = \
    '[["bamako","connected"],["gao","connected"],["hq","self"],["kidal","connected"]]' ]
}
wait_until 20 "HQ never heard of all four sites" all_reported
assert_eq "$(field gao role)" below "gao's role at HQ"
assert_eq "$(field gao via)" bamako "gao is heard through"
assert_eq "$(field gao parent)" bamako "gao's parent"
assert_eq "$(field gao health)" green "gao's health while connected"
assert_eq "$(metric fieldsync_site_connected gao)" 1 "gao connected in /metrics"
wait_until 10 "HQ never got gao's sitrep" has_doc hq sitrep-gao-48

step "a clock two minutes fast shows, against HQ's clock, two hops up"
offset=$(field kidal clock_offset_ms)
awk -v o="$offset" 'BEGIN { exit !(o > 115000 && o < 125000) }' ||
  fail "kidal's clock offset at HQ is $offset ms, not about +120000"
assert_eq "$(field kidal health)" amber "kidal's health with its clock off"
field kidal why | grep -qE '^clock off by 1(19|20) s$' ||
  fail "why kidal is amber: $(field kidal why)"
grep -q 'event=clock-offset peer=kidal offset_ms=[0-9]* state=skewed' "$T/bamako.log" ||
  fail "bamako did not log kidal's clock: $(grep clock "$T/bamako.log")"

step "a field office stops: HQ shows it disconnected within the timeout"
stop gao
t0=$SECONDS
state_is() { [ "$(field "$1" state)" = "$2" ]; }
wait_until 15 "gao still shown connected at HQ" state_is gao disconnected
took=$((SECONDS - t0))
# timeout_ms (2 s) + health_ms (1 s) at bamako, with room for a busy machine
[ $took -le 10 ] || fail "HQ took $took s to see gao disconnected"
assert_eq "$(metric fieldsync_site_connected gao)" 0 "gao in /metrics"
assert_eq "$(cli_state gao)" disconnected "gao in 'fieldsync status --all-sites'"
assert_eq "$(field gao health)" amber "gao's health"
assert_eq "$(cli_state kidal)" connected "kidal in 'fieldsync status --all-sites'"

step "its last contact ages and what it lacks grows as others write"
age1=$(field gao seconds_since_contact)
behind1=$(field gao behind)
metric_behind1=$(metric fieldsync_site_changes_behind gao)
assert_eq "$metric_behind1" "$behind1" "behind in /metrics and /status"
fs hq put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali 2027" --set status=draft >/dev/null
fs kidal put sitrep-kidal-48 --kind analysis --scope MLI --set title="Kidal sitrep week 48" >/dev/null
wait_until 10 "kidal's sitrep never reached HQ" has_doc hq sitrep-kidal-48
aged() { awk -v a="$age1" -v b="$(field gao seconds_since_contact)" 'BEGIN { exit !(b >= a + 1.5) }'; }
wait_until 10 "gao's last contact did not age from $age1 s" aged
grew() { [ "$(field gao behind)" -gt "$behind1" ]; }
wait_until 10 "gao's behind did not grow from $behind1" grew
behind2=$(field gao behind)
[ "$(metric fieldsync_site_changes_behind gao)" -gt "$metric_behind1" ] ||
  fail "gao's behind did not grow in /metrics"
awk -v a="$(metric fieldsync_site_last_contact_seconds gao)" -v b="$age1" 'BEGIN { exit !(a > b) }' ||
  fail "gao's last contact did not age in /metrics"
fs hq status --all-sites | awk '$2 == "gao"' | grep -qE "[0-9]+s ago" ||
  fail "the CLI shows no age for gao: $(fs hq status --all-sites)"
cli_behind=$(fs hq status --all-sites | awk '$2 == "gao" { print $7 }')
[ "$cli_behind" -ge "$behind2" ] || fail "the CLI shows gao $cli_behind behind, /status $behind2"

step "/metrics is valid Prometheus text with every metric operations need"
get /metrics >"$OUT/metrics.txt"
"$PROM_LINT" <"$OUT/metrics.txt" >"$T/families" || fail "prom_lint: $(cat "$T/families")"
for m in fieldsync_site_connected fieldsync_site_last_contact_seconds \
  fieldsync_site_changes_behind fieldsync_site_changes_ahead \
  fieldsync_peer_bytes_sent_total fieldsync_peer_bytes_received_total \
  fieldsync_peer_changes_sent_total fieldsync_peer_changes_received_total \
  fieldsync_peer_batches_refused_total fieldsync_site_open_conflicts \
  fieldsync_site_clock_offset_seconds fieldsync_uptime_seconds fieldsync_replica_bytes; do
  grep -q "^$m " "$T/families" || fail "/metrics lacks $m"
done
grep -q '^fieldsync_peer_bytes_sent_total counter ' "$T/families" || fail "bytes sent is not a counter"
printf 'x_total{site="a"} 1\nx_total{site="a"} 2\n' | "$PROM_LINT" >"$T/bad" &&
  fail "prom_lint accepted a duplicate series"
grep -q "no HELP\|appears twice" "$T/bad" || fail "prom_lint's complaint: $(cat "$T/bad")"

step "the status page shows every site with its state, worst first"
chrome() {
  timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --disable-background-networking --disable-component-update \
    --disable-sync --user-data-dir="$T/chrome" --window-size=1280,600 "$@" 2>>"$T/chrome.log"
}
page="http://127.0.0.1:${HTTP[hq]}/"
chrome --dump-dom "$page" >"$T/dom.html" || fail "chromium failed: $(tail -5 "$T/chrome.log")"
rows=$(grep -o 'data-site="[a-z]*" data-state="[a-z]*"' "$T/dom.html" | sed 's/data-site="\([a-z]*\)" data-state="\([a-z]*\)"/\1:\2/' | tr '\n' ' ')
assert_eq "${rows%% *}" "gao:disconnected" "the first (worst) row on the page"
assert_eq "$(echo $rows | tr ' ' '\n' | sort | tr '\n' ' ')" \
  "bamako:connected gao:disconnected hq:self kidal:connected " "rows on the page"
grep -q '<tr class="amber" data-site="gao"' "$T/dom.html" || fail "gao is not amber on the page"
grep -qE '(src|href)="https?:' "$T/dom.html" && fail "the page loads something from elsewhere"
chrome --screenshot="$OUT/status-page.png" "$page" >/dev/null || fail "no screenshot"
[ "$(head -c 8 "$OUT/status-page.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
  fail "the screenshot is not a PNG"
echo "screenshot: $OUT/status-page.png"

step "healthz, and systemd hears READY and WATCHDOG"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${HTTP[hq]}/healthz")" = 200 ] ||
  fail "healthz is not 200"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${HTTP[hq]}/nowhere")" = 404 ] ||
  fail "an unknown path is not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:${HTTP[hq]}/status")" = 405 ] ||
  fail "POST is not refused"
# 64 clients dribbling requests do not keep a monitor out
slow=()
for _ in $(seq 1 64); do
  exec {fd}<>"/dev/tcp/127.0.0.1/${HTTP[hq]}"
  printf 'GET /heal' >&"$fd"
  slow+=("$fd")
done
[ "$(curl -s --max-time 3 -o /dev/null -w '%{http_code}' "http://127.0.0.1:${HTTP[hq]}/healthz")" = 200 ] ||
  fail "healthz does not answer beside 64 slow clients"
for fd in "${slow[@]}"; do exec {fd}>&-; done
grep -q '^READY=1$' "$T/notify.out" || fail "no READY=1: $(cat "$T/notify.out")"
grep -q '^WATCHDOG=1 STATUS=parent none, 1 child session(s)$' "$T/notify.out" ||
  fail "no WATCHDOG=1 with a status: $(cat "$T/notify.out")"
stop hq
notified() { echo "the notify socket heard: $(cat "$T/notify.out")"; }
explain=notified wait_until 10 "no STOPPING=1" grep -q '^STOPPING=1$' "$T/notify.out"
echo "PASS health"
