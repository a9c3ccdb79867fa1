# Comparing versions: diff between two versions of a field, the sides of a
# conflict, log --full, and resolve --file with a merged text.
. "$(dirname "$0")/lib.sh"
fs hq init --site hq >/dev/null
fs bamako init --site bamako >/dev/null
v1=$'Priorities for 2027:\n1. Protection of civilians\n2. Return of displaced persons\n3. Support to elections'
v2=$'Priorities for 2027:\n1. Protection of civilians in the centre\n2. Return of displaced persons\n3. Support to elections'
v3=$'Priorities for 2027:\n1. Protection of civilians in the centre\n2. Return of displaced persons\n3. Support to elections\n4. Justice and reconciliation'
fs hq --author "ISF drafter" put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali 2027" --set body="$v1" >/dev/null
fs hq --author "ISF drafter" put isf-mli-2027 --set body="$v2" >/dev/null
fs hq put isf-mli-2027 --set body="$v3" >/dev/null

step "the last two versions, then any two named"
fs hq diff isf-mli-2027 body >"$T/d"
assert_eq "$(grep -E '^[-+][^-+]' "$T/d")" "+4. Justice and reconciliation" "last two versions"
head -2 "$T/d" | grep -q '^--- isf-mli-2027 body  hq:4 ' || fail "no header for the first version: $(cat "$T/d")"
fs hq diff isf-mli-2027 body --from hq:3 --to hq:5 >"$T/d"
assert_eq "$(grep -cE '^[-+][^-+]' "$T/d")" 3 "changed lines from v1 to v3"
grep -qx -- "-1. Protection of civilians" "$T/d" || fail "removed line missing: $(cat "$T/d")"
assert_eq "$(fs hq diff isf-mli-2027 body --to hq:4 | grep -E '^[-+][^-+]' | tr '\n' '|')" \
  "-1. Protection of civilians|+1. Protection of civilians in the centre|" "--to against the version before"
assert_eq "$(fs hq diff isf-mli-2027 body --from hq:3 | grep -cE '^[-+][^-+]')" 3 "--from against the value shown"
fs hq diff isf-mli-2027 body --from hq:5 | grep -qx "(the same value)" || fail "the current version against itself"
assert_eq "$(fs hq diff isf-mli-2027 --json | jq -r '.[0] | [.field, .from.version, .to.version, .from.author] | join(" ")')" \
  "body hq:4 hq:5 ISF drafter" "JSON sides without FIELD (the field written last)"
fs hq diff isf-mli-2027 --json | jq -r '.[0].patch' | grep -qx "+4. Justice and reconciliation" || fail "JSON patch"
expect_fail 1 "no version bamako:9 of field body" fs hq diff isf-mli-2027 body --from bamako:9
expect_fail 2 "the same version" fs hq diff isf-mli-2027 body --from hq:4 --to hq:4
expect_fail 1 "has no field 'annex'" fs hq diff isf-mli-2027 annex
expect_fail 1 "one version" fs hq diff isf-mli-2027 title

step "text from elsewhere is escaped on the terminal"
fs hq put isf-mli-2027 --set body="$v3"$'\n5. \e[2J cleared' >/dev/null
fs hq diff isf-mli-2027 body >"$T/d"
grep -q $'\e' "$T/d" && fail "an escape character reached the terminal"
grep -qF '+5. \x1b[2J cleared' "$T/d" || fail "the escaped line is missing: $(cat -v "$T/d")"

step "a conflict's two sides, and a merge resolved from a file"
exchange hq bamako
fs bamako --author "Bamako planner" put isf-mli-2027 --set body="$v3"$'\n5. Bamako: water and sanitation' >/dev/null
fs hq --author "HQ desk" put isf-mli-2027 --set body="$v3"$'\n5. HQ: mission transition' >/dev/null
exchange bamako hq
fs hq diff isf-mli-2027 >"$T/d"
sides=$(grep -E '^[-+]5\. ' "$T/d" | sort | tr '\n' '|')
case $sides in
  "+5. HQ: mission transition|-5. Bamako: water and sanitation|" | "+5. Bamako: water and sanitation|-5. HQ: mission transition|") ;;
  *) fail "the conflict's sides: $(cat "$T/d")" ;;
esac
grep -q "Bamako planner" "$T/d" || fail "the author of a side is not shown: $(cat "$T/d")"
printf '%s\n5. Bamako: water and sanitation\n6. HQ: mission transition\n' "$v3" >"$T/merged.md"
fs hq resolve isf-mli-2027 body --file "$T/merged.md" | grep -q "resolved body of isf-mli-2027" || fail "resolve --file"
fs hq get isf-mli-2027 --field body -o "$T/out.md"
cmp "$T/merged.md" "$T/out.md" || fail "the resolved value is not the file's"
assert_eq "$(fs hq conflicts --json | jq length)" 0 "open conflicts after the resolve"
expect_fail 2 "one of --keep" fs hq resolve isf-mli-2027 body --file "$T/merged.md" --value x
expect_fail 1 "cannot open|No such file" fs hq resolve isf-mli-2027 body --file "$T/missing.md"

step "log --full shows whole values"
fs hq log isf-mli-2027 --full | grep -qx "    6. HQ: mission transition" || fail "log --full: $(fs hq log isf-mli-2027 --full)"
fs hq log isf-mli-2027 | grep -q "6. HQ: mission" && fail "plain log should cut values to one line"
echo "PASS diff_resolve"
