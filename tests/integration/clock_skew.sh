# A field office whose clock runs 3 hours fast: its changes are accepted,
# the importing site is told which site's clock looks wrong and by how much,
# and the importer's own clock is not dragged ahead.
. "$(dirname "$0")/lib.sh"
command -v faketime >/dev/null || fail "faketime is missing: run ./scripts/deps"
# libfaketime is preloaded; the sanitizer build must not insist on coming first.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

fs hq init --site hq >/dev/null
faketime -f '+3h' "$FIELDSYNC" --db "$T/kidal.db" init --site kidal >/dev/null
faketime -f '+3h' "$FIELDSYNC" --db "$T/kidal.db" put sitrep-kidal --kind analysis \
  --scope MLI --set title="Sitrep Kidal, written 3 hours in the future" >/dev/null
fs kidal bundle export --all -o "$T/kidal.fsb" >/dev/null
fs hq bundle import --allow-unsigned "$T/kidal.fsb" >"$T/out" 2>"$T/err" || fail "import failed: $(cat "$T/err")"
grep -qE "from kidal are stamped 1(79|80)m ahead" "$T/err" ||
  fail "no clock warning naming kidal: $(cat "$T/err")"
assert_eq "$(fs hq get sitrep-kidal --json | jq -r .fields.title)" \
  "Sitrep Kidal, written 3 hours in the future" "accepted"

step "hq's next write is stamped near hq's own time, not kidal's"
fs hq put sitrep-kidal --set status=read >/dev/null
now=$(date +%s)
stamp=$(fs hq log sitrep-kidal --json | jq -r '[.[] | select(.site == "hq")][0].time')
secs=$(date -d "$stamp" +%s)
[ $((secs - now)) -le 3700 ] || fail "hq's clock dragged to $stamp"
echo "PASS clock skew"
