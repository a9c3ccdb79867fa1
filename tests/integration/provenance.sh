# Who wrote what: every change records its author (--author, else [site]
# author, else $FIELDSYNC_AUTHOR, else the login name); the live link and
# bundles carry it; get, log, conflicts, list, search and export show the
# created and updated times, sites and authors.
. "$(dirname "$0")/lib_daemon.sh"
site hq; site gao hq
for s in hq gao; do start $s; done
# field_is SITE DOC FIELD VALUE: the document is there with that value
field_is() { [ "$(fs "$1" get "$2" --json 2>/dev/null | jq -r ".fields.$3")" = "$4" ]; }

step "the author travels with the change over the live link"
"$FIELDSYNC" --db "$T/gao.db" --author "Aminata Traoré" put jmac-gao-w48 --kind analysis --scope MLI \
  --set title="JMAC weekly 48" --set body="Convoy attacked near Ansongo." >/dev/null
FIELDSYNC_AUTHOR="Moussa Diallo" fs gao put jmac-gao-w48 --set status=final >/dev/null
wait_until 20 "the report did not reach hq" field_is hq jmac-gao-w48 status final
log=$(fs hq log jmac-gao-w48 --json)
assert_eq "$(echo "$log" | jq -r '[.[] | select(.field == "title") | .author] | join(",")')" "Aminata Traoré" "title's author at hq"
assert_eq "$(echo "$log" | jq -r '[.[] | select(.field == "status") | .author] | join(",")')" "Moussa Diallo" "status's author at hq"
got=$(fs hq list --json | jq -r '.[0] | [.created_site, .created_author, .updated_site, .updated_author] | join("|")')
assert_eq "$got" "gao|Aminata Traoré|gao|Moussa Diallo" "list's provenance at hq"
fs hq get jmac-gao-w48 | grep -q "^created .* at gao by Aminata Traoré; last version .* at gao by Moussa Diallo$" ||
  fail "get does not say who: $(fs hq get jmac-gao-w48)"
fs hq log jmac-gao-w48 | grep -q "gao:4 .*Moussa Diallo  *status" || fail "log has no author column: $(fs hq log jmac-gao-w48)"

step "the configuration's author, the environment's, and the login name, in that order"
printf '[site]\nid = hq\ndb = %s\nauthor = JMAC Bamako desk\n' "$T/hq.db" >"$T/author.conf"
FIELDSYNC_AUTHOR="Env Person" "$FIELDSYNC" -c "$T/author.conf" put risk-mli-q4 --kind risk --scope MLI --set title="Risk Q4" >/dev/null
FIELDSYNC_AUTHOR="Env Person" fs hq put risk-mli-q4 --set status=draft >/dev/null
env -u FIELDSYNC_AUTHOR "$FIELDSYNC" --db "$T/hq.db" put risk-mli-q4 --set region=Gao >/dev/null
authors=$(fs hq log risk-mli-q4 --json | jq -r '[.[] | select(.field != "_kind") | .author] | join(",")')
assert_eq "$authors" "JMAC Bamako desk,Env Person,$(id -un)" "authors by precedence"
expect_fail 2 "author contains a control" "$FIELDSYNC" --db "$T/hq.db" --author $'Bad\x1b[2J' put risk-mli-q4 --set status=x
printf '[site]\nid = hq\nauthor = \033[2J\n' >"$T/bad-author.conf"
expect_fail 1 "author" "$FIELDSYNC" -c "$T/bad-author.conf" list

step "a bundle carries authors; conflicts show whose each side is"
wait_until 20 "risk-mli-q4 did not reach gao" field_is gao risk-mli-q4 region Gao
stop gao
fs gao --author "Field Analyst" put risk-mli-q4 --set status=escalating >/dev/null
"$FIELDSYNC" --db "$T/hq.db" --author "HQ Reviewer" put risk-mli-q4 --set status=stable >/dev/null
fs hq vv -o "$T/hq.vv" >/dev/null
fs gao bundle export --to-vv "$T/hq.vv" -o "$T/gao.fsb" >/dev/null
fs hq bundle import --allow-unsigned "$T/gao.fsb" >/dev/null 2>&1
sides=$(fs hq conflicts --json | jq -r '[.[].conflicts[].heads[].author] | sort | join(",")')
assert_eq "$sides" "Field Analyst,HQ Reviewer" "authors of the two sides"
fs hq conflicts | grep -q "Field Analyst" || fail "conflicts does not show the author: $(fs hq conflicts)"
exp=$(fs hq export --where title="Risk Q4" | jq -r '[.created_author, .updated_site] | join("|")')
assert_eq "$exp" "JMAC Bamako desk|$(fs hq list --json | jq -r '.[] | select(.id == "risk-mli-q4") | .updated_site')" "export's provenance"
fs hq export --csv --fields title | grep -q '^MLI,risk-mli-q4,risk,.*,hq,JMAC Bamako desk,' || fail "CSV lacks the author: $(fs hq export --csv --fields title)"
fs hq put risk-mli-q4 --set note='=HYPERLINK("http://example.invalid","x")' >/dev/null
fs hq export --csv --fields note | grep -qF ",\"'=HYPERLINK(" || fail "a formula reaches the spreadsheet: $(fs hq export --csv --fields note)"
echo "PASS provenance"
