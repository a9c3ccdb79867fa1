# On an installed server, both programs find /etc/fieldsync/fieldsync.conf
# without -c or --db: `fieldsync status` reads the site's replica, not an
# empty ./fieldsync.db, and `fieldsyncd --check` checks that file. The
# "no replica" message says what was looked at. $FIELDSYNC_CONFIG names
# another file; --db and $FIELDSYNC_DB skip the default. The scenario runs
# in a mount namespace of its own with a scratch /etc/fieldsync: the
# machine's is never read or written.
if [ "${1:-}" != --inside ]; then
  [ "$(id -u)" = 0 ] || { echo "SKIP: needs root for a mount namespace"; exit 77; }
  command -v unshare >/dev/null || { echo "SKIP: no unshare"; exit 77; }
  made=""
  if [ ! -e /etc/fieldsync ]; then mkdir /etc/fieldsync && made=1; fi
  rc=0
  unshare --mount bash "$0" --inside || rc=$?
  [ -z "$made" ] || rmdir /etc/fieldsync
  exit $rc
fi
. "$(dirname "$0")/lib.sh"
mount --make-rprivate / && mount -t tmpfs tmpfs /etc/fieldsync ||
  { echo "SKIP: cannot mount a scratch /etc/fieldsync"; exit 77; }
cd "$T"
unset FIELDSYNC_DB FIELDSYNC_CONFIG
printf '[site]\nid = gao\ndb = %s\ninsecure = true\n[parent]\nendpoint = tcp://127.0.0.1:1\n' \
  "$T/gao.db" >/etc/fieldsync/fieldsync.conf

step "no replica yet: the message names the file that named it"
if "$FIELDSYNC" status >out 2>err; then fail "status without a replica succeeded"; fi
grep -qF "no replica at $T/gao.db ([site] db in /etc/fieldsync/fieldsync.conf)" err ||
  fail "message: $(cat err)"

step "init, put and get with no -c or --db: the configured replica"
"$FIELDSYNC" init >/dev/null || fail "init from the default configuration"
[ -f "$T/gao.db" ] || fail "init did not create [site] db"
[ ! -e fieldsync.db ] || fail "a second replica appeared in the working directory"
"$FIELDSYNC" put sitrep-gao-1 --kind analysis --scope MLI --set title="Gao sitrep 1" >/dev/null
assert_eq "$("$FIELDSYNC" --db "$T/gao.db" get sitrep-gao-1 --json | jq -r .fields.title)" \
  "Gao sitrep 1" "the write went elsewhere"
"$FIELDSYNC" status >/dev/null || fail "status on the configured replica"

step "fieldsyncd --check reads the same file"
"$FIELDSYNCD" --check >out 2>&1 || fail "--check: $(cat out)"
grep -q "/etc/fieldsync/fieldsync.conf: configuration and replica are usable" out ||
  fail "--check said: $(cat out)"

step "\$FIELDSYNC_CONFIG names another; \$FIELDSYNC_DB and --db skip the default"
printf '[site]\nid = kidal\ndb = %s\n' "$T/kidal.db" >"$T/kidal.conf"
FIELDSYNC_CONFIG=$T/kidal.conf "$FIELDSYNC" status >out 2>err && fail "kidal has no replica"
grep -qF "no replica at $T/kidal.db ([site] db in $T/kidal.conf (\$FIELDSYNC_CONFIG))" err ||
  fail "message: $(cat err)"
FIELDSYNC_DB=$T/x.db "$FIELDSYNC" status >out 2>err && fail "x.db does not exist"
grep -qF "no replica at $T/x.db (\$FIELDSYNC_DB)" err || fail "message: $(cat err)"
"$FIELDSYNC" --db "$T/y.db" status >out 2>err && fail "y.db does not exist"
grep -qF "no replica at $T/y.db (--db)" err || fail "message: $(cat err)"

step "no configuration installed: both say where they looked"
rm /etc/fieldsync/fieldsync.conf
"$FIELDSYNC" status >out 2>err && fail "status with nothing configured succeeded"
grep -qF "no replica at ./fieldsync.db (no --db, -c or \$FIELDSYNC_CONFIG; /etc/fieldsync/fieldsync.conf does not exist)" err ||
  fail "message: $(cat err)"
rc=0
"$FIELDSYNCD" --check >out 2>&1 || rc=$?
assert_eq "$rc" 2 "fieldsyncd without a configuration"
grep -q "no configuration at /etc/fieldsync/fieldsync.conf" out || fail "fieldsyncd said: $(cat out)"
echo "PASS default configuration"
