# /healthz follows the replica's disk: 200 while it takes writes, 503 with
# the reason when the disk is full (a small tmpfs filled up) or turns
# read-only (an ext4 image whose kernel error handling remounts it
# read-only under the running daemon), and 200 again when space returns.
# Needs root: it mounts its own filesystems under the test's directory.
. "$(dirname "$0")/lib_daemon.sh"
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root (mounts a tmpfs and a loop-mounted ext4 image)"
  exit 77
fi
FULL=$T/full RO=$T/ro
mkdir -p "$FULL" "$RO"
unmount_at_exit "$FULL"
unmount_at_exit "$RO"

# daemon NAME DIR: a replica in DIR and its daemon, serving HTTP.
daemon() {
  local name=$1 dir=$2
  HTTP[$name]=$(free_port)
  "$FIELDSYNC" --db "$dir/$name.db" init --site "$name" >/dev/null
  printf '[site]\nid = %s\ndb = %s\ninsecure = true\n[listen]\nendpoint = tcp://127.0.0.1:%s\n[http]\nlisten = 127.0.0.1:%s\nmin_free_bytes = 1048576\n' \
    "$name" "$dir/$name.db" "$(free_port)" "${HTTP[$name]}" >"$T/$name.conf"
  start "$name"
}
# healthz NAME: "CODE BODY"
healthz() {
  local body code
  body=$(curl -s -w '\n%{http_code}' "http://127.0.0.1:${HTTP[$1]}/healthz")
  code=${body##*$'\n'}
  echo "$code ${body%$'\n'*}"
}
health_is() { # health_is NAME CODE PATTERN
  local h; h=$(healthz "$1")
  [ "${h%% *}" = "$2" ] && grep -qE -- "$3" <<<"$h"
}
wait_health() { # wait_health NAME CODE PATTERN
  HEALTH_OF=$1
  explain=show_health wait_until 15 "$1's healthz never became $2 /$3/" health_is "$@"
}
show_health() { echo "it is '$(healthz "$HEALTH_OF")'"; }

step "a disk that fills up"
mount -t tmpfs -o size=8m tmpfs "$FULL"
daemon gao "$FULL"
wait_health gao 200 '^200 ok$'
dd if=/dev/zero of="$FULL/filler" bs=64k 2>/dev/null || true # until ENOSPC
wait_health gao 503 'unhealthy: disk nearly full: [0-9]+ bytes free'
echo "  $(healthz gao)"
kill -0 "${PID[gao]}" || fail "the daemon died when the disk filled"
rm "$FULL/filler"
wait_health gao 200 '^200 ok$'

step "a disk that turns read-only under the daemon"
truncate -s 32M "$T/ro.img"
mkfs.ext4 -q -F "$T/ro.img"
if ! mount -o loop,errors=remount-ro "$T/ro.img" "$RO" 2>"$T/mount.err"; then
  echo "SKIP: no loop device here for the read-only disk: $(cat "$T/mount.err")"
  exit 77
fi
daemon kidal "$RO"
wait_health kidal 200 '^200 ok$'
dev=$(basename "$(findmnt -no SOURCE "$RO")")
[ -w "/sys/fs/ext4/$dev/trigger_fs_error" ] || fail "no /sys/fs/ext4/$dev/trigger_fs_error"
echo 1 >"/sys/fs/ext4/$dev/trigger_fs_error" # as an I/O error would
findmnt -no OPTIONS "$RO" | grep -qE '(^|,)(ro|emergency_ro)(,|$)' ||
  fail "the filesystem did not turn read-only: $(findmnt -no OPTIONS "$RO")"
wait_health kidal 503 'unhealthy: replica not writable: .*(read-?only|readonly|I/O)'
echo "  $(healthz kidal)"
kill -0 "${PID[kidal]}" || fail "the daemon died when its disk turned read-only"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${HTTP[kidal]}/status")" = 200 ] ||
  fail "/status stopped answering on a read-only disk"
echo "PASS disk"
