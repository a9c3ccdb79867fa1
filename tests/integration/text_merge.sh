# Prose that merges itself: HQ, Bamako and Gao edit different paragraphs of
# one ISF body while their links are down; after sync every site shows all
# three edits, no conflict, equal digests, and says the field was merged.
# The next edit replaces every head. Edits of the same lines stay a
# conflict that shows only the overlap, resolved with --file. A site whose
# [merge] whole_value_fields differs is refused, live and by bundle, and
# both ends say why.
. "$(dirname "$0")/lib_daemon.sh"
site hq; site bamako hq; site gao hq
for s in hq bamako gao; do start $s; done
body() { fs "$1" get isf-mli-2027 --field body 2>/dev/null; }
conflicts() { fs "$1" status --json | jq .conflicts; }
has_body() { body "$1" | grep -qF "$2"; }
# peer_error SITE: the reasons SITE's status gives, one a line
peer_error() { fs "$1" status --json | jq -r '.sites[].last_error'; }

cat >"$T/isf.md" <<'EOF'
1. Context
The Integrated Strategic Framework covers Bamako, Gao and Timbuktu.

2. Protection of civilians
Patrols continue on the Gao-Ansongo road twice a week.

3. Humanitarian access
Access to Ménaka depends on escorts.

4. Logistics
Fuel stocks in Gao last six weeks.

5. Risks
Seasonal floods may cut the ferry at Bourem.
EOF

step "HQ writes the ISF; every site has it"
fs hq put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali 2027" --file body="$T/isf.md" >/dev/null
wait_until 20 "the ISF did not reach the field" has_body gao "ferry at Bourem"
wait_until 20 "the ISF did not reach bamako" has_body bamako "ferry at Bourem"

step "links down: HQ, Bamako and Gao each edit their own paragraph"
stop bamako; stop gao
sed 's/covers Bamako, Gao and Timbuktu/covers Bamako, Gao, Timbuktu and Ménaka/' "$T/isf.md" >"$T/hq.md"
sed 's/twice a week/daily since the attack of 3 November/' "$T/isf.md" >"$T/bamako.md"
sed 's/last six weeks/last four weeks: the October convoy was delayed/' "$T/isf.md" >"$T/gao.md"
fs hq put isf-mli-2027 --file body="$T/hq.md" >/dev/null
fs bamako put isf-mli-2027 --file body="$T/bamako.md" >/dev/null
fs gao put isf-mli-2027 --file body="$T/gao.md" >/dev/null

step "links back: every site shows the three edits merged, no conflict"
start bamako; start gao
wait_converged 30 hq bamako gao
for s in hq bamako gao; do
  b=$(body $s)
  for want in "Timbuktu and Ménaka" "daily since the attack" "four weeks: the October convoy"; do
    [[ "$b" == *"$want"* ]] || fail "$s's body lacks '$want': $b"
  done
  assert_eq "$(conflicts $s)" 0 "open conflicts at $s"
done
sed -e 's/covers Bamako, Gao and Timbuktu/covers Bamako, Gao, Timbuktu and Ménaka/' \
  -e 's/twice a week/daily since the attack of 3 November/' \
  -e 's/last six weeks/last four weeks: the October convoy was delayed/' "$T/isf.md" >"$T/want.md"
body gao >"$T/got.md"
cmp -s "$T/want.md" "$T/got.md" || fail "the merge is not the three edits: $(diff "$T/want.md" "$T/got.md")"
fs bamako get isf-mli-2027 | grep -q "(merged hq:4, bamako:1 and gao:1 over hq:3: concurrent edits to different lines)" ||
  fail "get does not say the body was merged: $(fs bamako get isf-mli-2027)"
fs hq log isf-mli-2027 | grep -q "^now .*body: merged hq:4, bamako:1 and gao:1 over hq:3" ||
  fail "log does not show the merge: $(fs hq log isf-mli-2027)"
assert_eq "$(fs hq get isf-mli-2027 --json | jq -c '.merged.body.heads')" '["hq:4","bamako:1","gao:1"]' "merged heads in JSON"
code=$(curl -s -o "$T/page.html" -w '%{http_code}' "http://127.0.0.1:${HTTP[hq]}/docs/MLI/isf-mli-2027" || true)
touch "$T/page.html"
grep -q "merged hq:4, bamako:1 and gao:1 over hq:3" "$T/page.html" ||
  fail "the document page does not say the body was merged (HTTP $code): $(cat "$T/page.html")"
curl -s "http://127.0.0.1:${HTTP[hq]}/api/docs/MLI/isf-mli-2027" | jq -e '.merged.body.bases == ["hq:3", "hq:3"]' >/dev/null ||
  fail "the API does not say what merged"
fs hq diff isf-mli-2027 body | grep -q "^+Fuel stocks in Gao last four weeks" || fail "diff does not show what merged: $(fs hq diff isf-mli-2027 body)"

step "resolve takes a merge back: keeping one version drops the others"
sqlite3 "$T/gao.db" ".backup '$T/undo.db'"
"$FIELDSYNC" --db "$T/undo.db" resolve isf-mli-2027 body --keep bamako:1 >/dev/null
cmp -s "$T/bamako.md" <("$FIELDSYNC" --db "$T/undo.db" get isf-mli-2027 --field body) || fail "resolve --keep did not undo the merge"
assert_eq "$("$FIELDSYNC" --db "$T/undo.db" get isf-mli-2027 --json | jq -c .merged)" '{}' "merges after the resolve"

step "the next edit replaces every head: no merge remains to compute"
sed 's/Seasonal floods/Seasonal floods (July to September)/' "$T/got.md" >"$T/next.md"
fs gao put isf-mli-2027 --file body="$T/next.md" >/dev/null
assert_eq "$(fs gao log isf-mli-2027 --json | jq '[.[] | select(.version == "gao:2")][0].bases')" 3 "bases of the edit after a merge"
wait_converged 30 hq bamako gao
cmp -s "$T/next.md" <(body hq) || fail "hq does not show gao's edit of the merge"
assert_eq "$(fs hq get isf-mli-2027 --json | jq -c .merged)" '{}' "merges left after the edit"

step "edits of the same line stay a conflict showing only the overlap"
stop bamako
sed 's/depends on escorts/depends on MINUSMA escorts/' "$T/next.md" >"$T/a.md"
sed 's/depends on escorts/depends on escorts and the rains/' "$T/next.md" >"$T/b.md"
fs hq put isf-mli-2027 --file body="$T/a.md" >/dev/null
fs bamako put isf-mli-2027 --file body="$T/b.md" >/dev/null
start bamako
one_conflict() { [ "$(conflicts "$1")" = 1 ]; }
wait_until 30 "the overlap did not reach bamako" one_conflict bamako
wait_converged 30 hq bamako gao
out=$(fs gao conflicts)
echo "$out" | grep -q "the edits overlap: only the places below conflict" || fail "conflicts does not say why: $out"
echo "$out" | grep -q "at line 8:" || fail "conflicts does not place the overlap: $out"
echo "$out" | grep -q "Access to Ménaka depends on MINUSMA escorts." || fail "HQ's side missing: $out"
echo "$out" | grep -q "Access to Ménaka depends on escorts and the rains." || fail "Bamako's side missing: $out"
echo "$out" | grep -q "Seasonal floods" && fail "conflicts shows whole values, not the overlap: $out"
got=$(fs gao conflicts --json | jq -r '.[0].conflicts[0] | [.why, (.overlaps | length), .overlaps[0].base.text] | join("|")')
assert_eq "$got" "overlap|1|Access to Ménaka depends on escorts." "the overlap in JSON"
fs gao get isf-mli-2027 | grep -q "at line 8:" || fail "get does not show the overlap"
sed 's/depends on escorts/depends on MINUSMA escorts and the rains/' "$T/next.md" >"$T/resolved.md"
fs gao resolve isf-mli-2027 body --file "$T/resolved.md" >/dev/null
wait_converged 30 hq bamako gao
assert_eq "$(conflicts hq)" 0 "conflicts after the resolve"
cmp -s "$T/resolved.md" <(body bamako) || fail "bamako does not show the resolved body"

step "a site merging by another rule is refused, live and by bundle, saying why"
stop gao
EXTRA_CONF='[merge]\nwhole_value_fields = status, body' conf gao >"$T/gao.conf"
start gao
refused() { peer_error gao | grep -q "text merge rules differ" && peer_error hq | grep -q "text merge rules differ"; }
wait_until 20 "the rule mismatch is not shown at both ends" refused
peer_error hq | grep -q 'give every site the same \[merge\] whole_value_fields' || fail "hq does not say what to do: $(peer_error hq)"
assert_eq "$("$FIELDSYNC" --db "$T/gao.db" get isf-mli-2027 --json | jq -c .merged)" '{}' "gao under its own rule"
fs gao put isf-mli-2027 --set status=draft >/dev/null
fs hq vv -o "$T/hq.vv" >/dev/null
fs gao bundle export --to-vv "$T/hq.vv" -o "$T/gao.fsb" >/dev/null
expect_fail 1 "merges text by another rule" "$FIELDSYNC" --db "$T/hq.db" bundle import --allow-unsigned "$T/gao.fsb"
stop gao
conf gao >"$T/gao.conf"
start gao
wait_converged 30 hq bamako gao
assert_eq "$(fs hq get isf-mli-2027 --json | jq -r .fields.status)" draft "gao's write after the rule is fixed"

step "the tool applies a config's [merge] and refuses a bad one"
printf '[merge]\nwhole_value_fields = _kind\n' >"$T/bad.conf"
expect_fail 1 "not a field name people write" "$FIELDSYNC" -c "$T/bad.conf" --db "$T/hq.db" list
printf '[merge]\nwhole_value_fields = body\n' >"$T/whole.conf"
stop hq
sqlite3 "$T/hq.db" ".backup '$T/copy.db'"
"$FIELDSYNC" -c "$T/whole.conf" --db "$T/copy.db" get isf-mli-2027 >/dev/null
sqlite3 "$T/copy.db" "SELECT value FROM meta WHERE key = 'merge_whole'" | grep -qx body || fail "the tool did not apply [merge]"
echo "PASS text_merge"
