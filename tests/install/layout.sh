# `cmake --install` into scratch folders: the programs, the man pages (each
# renders without warnings), the unit naming the installed daemon and the
# default configuration, sysusers.d and tmpfiles.d entries, bash
# completion, examples and docs; nothing from the tests or benchmarks, and
# nothing outside the prefix.
set -euo pipefail
: "${FSY_BUILD_DIR:?FSY_BUILD_DIR must name the build directory}"
T=$(mktemp -d "${TMPDIR:-/tmp}/fsy-install-XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

step "installed under /usr into DESTDIR"
DESTDIR=$T/root cmake --install "$FSY_BUILD_DIR" --prefix /usr >"$T/install.log" 2>&1 ||
  fail "cmake --install: $(tail -5 "$T/install.log")"
R=$T/root
want=(
  usr/bin/fieldsync usr/bin/fieldsyncd
  usr/share/man/man1/fieldsync.1 usr/share/man/man8/fieldsyncd.8
  usr/share/man/man5/fieldsync.conf.5
  usr/lib/systemd/system/fieldsyncd.service
  usr/lib/sysusers.d/fieldsync.conf usr/lib/tmpfiles.d/fieldsync.conf
  usr/share/bash-completion/completions/fieldsync
  usr/share/doc/fieldsync/examples/hq.conf
  usr/share/doc/fieldsync/examples/gao-field.conf
  usr/share/doc/fieldsync/README.md usr/share/doc/fieldsync/OPERATIONS.md
)
for f in "${want[@]}"; do [ -f "$R/$f" ] || fail "not installed: /$f"; done
extra=$(find "$R/usr/bin" -type f | sed "s|^$R||" | grep -vxE '/usr/bin/fieldsyncd?' || true)
[ -z "$extra" ] || fail "installed besides the two programs: $extra"
"$R/usr/bin/fieldsync" --version | grep -q '^fieldsync ' || fail "the installed tool does not run"

step "the unit runs the installed daemon on the default configuration"
u=$R/usr/lib/systemd/system/fieldsyncd.service
grep -qx 'ExecStart=/usr/bin/fieldsyncd -c /etc/fieldsync/fieldsync.conf' "$u" ||
  fail "ExecStart: $(grep ExecStart= "$u")"
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$u" || fail "no reload in the unit"
grep -qx 'ExecReload=/usr/bin/fieldsyncd --check-config -c /etc/fieldsync/fieldsync.conf' "$u" ||
  fail "the reload does not check the file alone first: $(grep ExecReload= "$u")"
grep -qE '^RestrictAddressFamilies=.*AF_NETLINK' "$u" ||
  fail "the sandbox forbids netlink: a link coming back is not heard"
! grep -q @ "$u" || fail "unsubstituted: $(grep @ "$u")"
grep -qE '^u fieldsync ' "$R/usr/lib/sysusers.d/fieldsync.conf" || fail "no fieldsync user"
grep -qE '^d /var/lib/fieldsync 0750 fieldsync fieldsync' "$R/usr/lib/tmpfiles.d/fieldsync.conf" ||
  fail "no /var/lib/fieldsync in tmpfiles.d"

step "each man page renders, without warnings"
for p in man1/fieldsync.1 man8/fieldsyncd.8 man5/fieldsync.conf.5; do
  out=$(MANWIDTH=80 man --warnings -l "$R/usr/share/man/$p" 2>&1 >"$T/page.txt") ||
    fail "man -l $p failed: $out"
  [ -z "$out" ] || fail "man -l $p warns: $out"
  [ "$(wc -l <"$T/page.txt")" -gt 40 ] || fail "$p renders to almost nothing"
done
grep -q 'whole_value_fields' <(MANWIDTH=80 man -l "$R/usr/share/man/man5/fieldsync.conf.5" 2>/dev/null) ||
  fail "fieldsync.conf(5) lacks [merge] whole_value_fields"
grep -q 'SIGHUP' <(MANWIDTH=80 man -l "$R/usr/share/man/man8/fieldsyncd.8" 2>/dev/null) ||
  fail "fieldsyncd(8) does not say what SIGHUP does"

step "under another prefix, nothing lands outside it"
DESTDIR=$T/local cmake --install "$FSY_BUILD_DIR" --prefix /opt/fieldsync >"$T/install2.log" 2>&1 ||
  fail "cmake --install --prefix /opt/fieldsync: $(tail -5 "$T/install2.log")"
outside=$(cd "$T/local" && find . -type f | grep -v '^\./opt/fieldsync/' || true)
[ -z "$outside" ] || fail "installed outside the prefix: $outside"
grep -qx 'ExecStart=/opt/fieldsync/bin/fieldsyncd -c /etc/fieldsync/fieldsync.conf' \
  "$T/local/opt/fieldsync/lib/systemd/system/fieldsyncd.service" || fail "the unit ignores the prefix"
echo "PASS install layout"
