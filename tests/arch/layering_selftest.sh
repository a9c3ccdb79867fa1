#!/usr/bin/env bash
# The layering check can fail: it is run on a copy of the tree with one
# breach at a time, and must name each one. (Same environment as
# layering.sh.)
set -euo pipefail
src=${FSY_SOURCE_DIR:?}
here=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/fsy-layering.XXXXXX)
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

copy() { rm -rf "$W/t"; mkdir -p "$W/t"; cp -r "$src/lib" "$src/daemon" "$src/cli" "$src/include" "$W/t/"; }
expect() { # expect MESSAGE [ENV=VALUE...]: the check fails and says MESSAGE
  local msg=$1 out; shift
  if out=$(env FSY_SOURCE_DIR="$W/t" "$@" bash "$here/layering.sh" 2>&1); then
    fail "the check passed a tree that should fail with: $msg"
  fi
  grep -qF -- "$msg" <<<"$out" || fail "expected '$msg', got: $out"
  echo "refused as expected: $msg"
}

copy
FSY_SOURCE_DIR="$W/t" bash "$here/layering.sh" >/dev/null || fail "an unchanged copy does not pass"

copy # a library file reaching into the daemon
sed -i '0,/#include "fieldsync\/vv.h"/s//#include "fieldsync\/vv.h"\n#include "log.h"/' "$W/t/lib/vv.c"
expect "lib/vv.c includes daemon/log.h"

copy # two files including each other's headers
sed -i '0,/#include "fieldsync\/error.h"/s//#include "fieldsync\/error.h"\n#include "fieldsync\/vv.h"/' "$W/t/lib/ident.c"
sed -i '0,/#include "fieldsync\/error.h"/s//#include "fieldsync\/error.h"\n#include "fieldsync\/ident.h"/' "$W/t/lib/vv.c"
expect "lib/ident.c and lib/vv.c include each other's headers"

copy # the tool holding daemon code: fieldsyncd stands in for it
expect "the fieldsync binary holds daemon-only symbols" FIELDSYNC="${FIELDSYNCD:?}"
echo "PASS layering self-test"
