# fieldsync command-line scenarios — shared helpers (sourced, not run).
#
# FIELDSYNC points at the built tool (ctest sets it). Each scenario works in
# its own temporary directory, removed on exit unless FSY_KEEP is set.
set -euo pipefail

: "${FIELDSYNC:?FIELDSYNC must point at the fieldsync binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/fsy-cli-XXXXXX")
cleanup() { [ -n "${FSY_KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

# fs SITE ARGS...: run fieldsync against SITE's replica.
fs() { local site=$1; shift; "$FIELDSYNC" --db "$T/$site.db" "$@"; }

digest() { fs "$1" digest; }

# exchange FROM TO: carry what TO lacks from FROM, by vector file and bundle.
exchange() {
  fs "$2" vv -o "$T/$2.vv"
  fs "$1" bundle export --to-vv "$T/$2.vv" -o "$T/$1-to-$2.bundle" >/dev/null
  fs "$2" bundle import --allow-unsigned "$T/$1-to-$2.bundle" >/dev/null
}

# both ways
sync_pair() { exchange "$1" "$2"; exchange "$2" "$1"; }

assert_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: '$1' != '$2'"; }

# expect_fail CODE PATTERN CMD...: CMD exits with CODE and stderr matches PATTERN.
expect_fail() {
  local want=$1 pattern=$2; shift 2
  local rc=0
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, wanted $want; stderr: $(cat "$T/err")"
  grep -qE -- "$pattern" "$T/err" || fail "'$*' stderr lacks /$pattern/: $(cat "$T/err")"
  [ "$(wc -l <"$T/err")" -ge 1 ] || fail "no error message from '$*'"
}

# all_digests_equal SITE...: every site shows the same digest.
all_digests_equal() {
  local first; first=$(digest "$1")
  for s in "$@"; do assert_eq "$(digest "$s")" "$first" "digest of $s"; done
}
