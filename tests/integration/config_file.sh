# The documented example configuration works as shipped (but for its paths),
# and its values take effect.
. "$(dirname "$0")/lib_daemon.sh"
: "${FSY_SOURCE_DIR:?}"
sed "s|^db = .*|db = $T/site.db|; s|^max_value_bytes = .*|max_value_bytes = 64|" \
  "$FSY_SOURCE_DIR/config/site.conf" >"$T/site.conf"
"$FIELDSYNC" -c "$T/site.conf" init >/dev/null
assert_eq "$("$FIELDSYNC" -c "$T/site.conf" vv --json | jq -r .site)" gao "site id from config"
"$FIELDSYNC" -c "$T/site.conf" put ops-plan --kind plan --scope MLI --set title=short >/dev/null
expect_fail 1 "64-byte limit" "$FIELDSYNC" -c "$T/site.conf" put ops-plan \
  --set body="$(printf 'y%.0s' {1..65})"
printf '[site]\nmax_clock_skew = -5\n' >"$T/neg.conf"
expect_fail 1 "neg.conf:2: .*max_clock_skew" "$FIELDSYNC" -c "$T/neg.conf" list
printf '[sites]\nid = gao\n' >"$T/section.conf"
expect_fail 1 "section.conf:2: unknown section \[sites\]" "$FIELDSYNC" -c "$T/section.conf" list
expect_fail 1 "cannot open config" "$FIELDSYNC" -c "$T/missing.conf" list
printf '[alert]\ncommand = fieldsync-alert-mail\n' >"$T/alert.conf"
expect_fail 1 "alert.conf:2: .*absolute path" "$FIELDSYNC" -c "$T/alert.conf" list
step "[site] write_scopes: local writes outside them are refused"
printf '[site]\ndb = %s\nwrite_scopes = MLI, global\n' "$T/site.db" >"$T/scoped.conf"
"$FIELDSYNC" -c "$T/scoped.conf" put jmac-note --kind analysis --scope MLI --set title=ok >/dev/null
expect_fail 1 "may not write scope SSD" "$FIELDSYNC" -c "$T/scoped.conf" put poc --kind plan --scope SSD --set title=no
expect_fail 1 "no document 'poc'" "$FIELDSYNC" -c "$T/scoped.conf" get poc

step "the daemon examples (HQ, hub, field office) are accepted by fieldsyncd"
: "${FIELDSYNCD:?}"
for ex in hq bamako-hub gao-field; do
  site=${ex%%-*}
  fs "ex-$site" init --site "$site" >/dev/null
  "$FIELDSYNC" keygen -o "$T/ex-$site" >/dev/null
  sed -e "s|^db = .*|db = $T/ex-$site.db|" \
    -e "s|^secret_key_file = .*|secret_key_file = $T/ex-$site.key|" \
    "$FSY_SOURCE_DIR/config/$ex.conf" >"$T/$ex.conf"
  "$FIELDSYNCD" --check -c "$T/$ex.conf" >/dev/null || fail "fieldsyncd rejects $ex.conf"
done
printf '[site]\ndb = %s\ninsecure = true\n[listen]\nendpoint = tcp://127.0.0.1:1\n[sync]\nwindow = 0\n' "$T/ex-hq.db" >"$T/bad-window.conf"
expect_fail 1 "bad-window.conf:7: \\[sync\\] window" "$FIELDSYNCD" --check -c "$T/bad-window.conf"
printf '[site]\ndb = %s\ninsecure = true\n[child gao]\npublic_key = not-a-key\n' "$T/ex-hq.db" >"$T/bad-key.conf"
expect_fail 1 "bad-key.conf:5: \\[child gao\\] public_key: not a public key" "$FIELDSYNCD" --check -c "$T/bad-key.conf"
sed -e "s|^db = .*|db = $T/ex-gao.db|" -e "s|^secret_key_file = .*|secret_key_file = $T/ex-gao.key|" \
  "$FSY_SOURCE_DIR/config/bamako-hub.conf" >"$T/wrong-site.conf"
expect_fail 1 "id is bamako but the replica belongs to gao" "$FIELDSYNCD" --check -c "$T/wrong-site.conf"
printf '[site]\ndb = %s\ninsecure = true\n[listen]\nendpoint = tcp://127.0.0.1:1\n[sync]\nheartbeat_ms = 1000\ntimeout_ms = 1500\n' "$T/ex-hq.db" >"$T/tight.conf"
expect_fail 1 "timeout_ms must be more than twice heartbeat_ms" "$FIELDSYNCD" --check -c "$T/tight.conf"
printf '[site]\ndb = %s\ninsecure = true\n' "$T/ex-hq.db" >"$T/idle.conf"
expect_fail 1 "neither \\[listen\\] nor \\[parent\\]" "$FIELDSYNCD" --check -c "$T/idle.conf"
printf '[site]\ndb = %s\ninsecure = true\n[listen]\nendpoint = tcp://127.0.0.1:1\n[http]\nlisten = 127.0.0.1:99999\n' "$T/ex-hq.db" >"$T/bad-http.conf"
expect_fail 1 "bad-http.conf:7: \\[http\\] listen: want off or ADDRESS:PORT" "$FIELDSYNCD" --check -c "$T/bad-http.conf"
printf '[site]\ndb = %s\n[log]\nlevel = loud\n' "$T/ex-hq.db" >"$T/bad-log.conf"
expect_fail 1 "bad-log.conf:4: \\[log\\] level: 'loud' is not one of debug, info, warn, error" "$FIELDSYNCD" --check -c "$T/bad-log.conf"
printf '[site]\ndb = %s\n[status]\nred_after = 5\n' "$T/ex-hq.db" >"$T/bad-status.conf"
expect_fail 1 "bad-status.conf:4: unknown key 'red_after' in \\[status\\]" "$FIELDSYNCD" --check -c "$T/bad-status.conf"

step "an HTTP port already taken: the daemon says so and does not start"
busy=$(free_port)
printf '[site]\ndb = %s\ninsecure = true\n[listen]\nendpoint = tcp://127.0.0.1:%s\n[http]\nlisten = 127.0.0.1:%s\n[log]\nlevel = warn\n' \
  "$T/ex-hq.db" "$(free_port)" "$busy" >"$T/http1.conf"
sed "s|^endpoint = .*|endpoint = tcp://127.0.0.1:$(free_port)|" "$T/http1.conf" >"$T/http2.conf"
"$FIELDSYNCD" -c "$T/http1.conf" 2>"$T/http1.log" &
first=$!; PIDS+=("$first")
serving() { curl -sf "http://127.0.0.1:$busy/healthz" >/dev/null; }
wait_until 10 "the first daemon never served HTTP" serving
expect_fail 1 "cannot serve HTTP at 127.0.0.1:$busy .*change \\[http\\] listen, or set it to off" \
  "$FIELDSYNCD" -c "$T/http2.conf"
kill -TERM $first; wait $first
step "[log] level = warn: warnings are logged, information is not"
grep -q 'level=warn site=hq event=insecure' "$T/http1.log" || fail "no warning logged: $(cat "$T/http1.log")"
grep -q 'level=info' "$T/http1.log" && fail "information logged at level warn: $(cat "$T/http1.log")"

step "the systemd unit is valid"
if command -v systemd-analyze >/dev/null; then
  sed -e "s|@FSY_BINDIR@/fieldsyncd|$FIELDSYNCD|g" -e "s|@FSY_DEFAULT_CONFIG@|$T/fieldsync.conf|g" \
    "$FSY_SOURCE_DIR/config/fieldsyncd.service.in" >"$T/fieldsyncd.service"
  ! grep -q @ "$T/fieldsyncd.service" || fail "unsubstituted in the unit: $(grep @ "$T/fieldsyncd.service")"
  grep -q '^ExecReload=.*kill -HUP \$MAINPID$' "$T/fieldsyncd.service" || fail "the unit cannot reload"
  out=$(systemd-analyze verify --man=no "$T/fieldsyncd.service" 2>&1) || fail "systemd-analyze: $out"
  [ -z "$out" ] || fail "systemd-analyze: $out"
  grep -q '^Type=notify$' "$T/fieldsyncd.service" || fail "the unit is not Type=notify"
else
  echo "note: no systemd-analyze here: the unit file was not verified"
fi
echo "PASS config file"
