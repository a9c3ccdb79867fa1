# Acceptance scenario of the replica issue, shared by the two delivery-order
# scripts: three replicas hq, bamako, gao write offline, bamako and gao edit
# the same field of one shared plan and different fields of another.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

setup_three_sites() {
  step "three replicas"
  for s in hq bamako gao; do fs $s init --site $s >/dev/null; done

  step "hq drafts the shared plans and sends them out by bundle"
  fs hq put isf-mli-2027 --kind plan --scope MLI \
    --set title="Integrated Strategic Framework, Mali 2027" \
    --set status=draft \
    --set priorities="Protection of civilians; political transition" >/dev/null
  fs hq put workplan-gao --kind plan --scope MLI \
    --set title="Gao field office work plan" --set owner="Head of Office" >/dev/null
  sync_pair hq bamako
  sync_pair hq gao

  step "offline edits at every site"
  fs hq put risk-central --kind analysis --scope MLI \
    --set title="Risk assessment, central regions" --set level=high >/dev/null
  fs bamako put jmac-weekly-48 --kind analysis --scope MLI \
    --set title="JMAC weekly, week 48" --set body="Armed group movements near Ansongo" >/dev/null
  fs gao put incident-0412 --kind analysis --scope MLI \
    --set title="Incident report 0412" --set casualties=0 >/dev/null
  # the same field of one plan, at two sites
  fs bamako put isf-mli-2027 --set status="under review" >/dev/null
  fs gao put isf-mli-2027 --set status="endorsed by field office" >/dev/null
  # different fields of another
  fs bamako put workplan-gao --set timeline="Q1-Q3 2027" >/dev/null
  fs gao put workplan-gao --set budget="USD 1.2M" >/dev/null
}

check_converged() {
  step "every replica shows the same state"
  all_digests_equal hq bamako gao
  for s in hq bamako gao; do
    assert_eq "$(fs $s get workplan-gao --json | jq -r '.fields.timeline + "|" + .fields.budget')" \
      "Q1-Q3 2027|USD 1.2M" "merged work plan at $s"
    assert_eq "$(fs $s get workplan-gao --json | jq '.conflicts | length')" 0 \
      "work plan conflicts at $s"
    assert_eq "$(fs $s conflicts --json | jq -c '[.[] | .id + "/" + (.conflicts[] | .field)]')" \
      '["isf-mli-2027/status"]' "open conflicts at $s"
    assert_eq "$(fs $s conflicts --json | jq -r '[.[0].conflicts[0].heads[].value] | sort | join("|")')" \
      "endorsed by field office|under review" "conflicting values at $s"
    for d in risk-central jmac-weekly-48 incident-0412; do
      fs $s get $d >/dev/null || fail "$d missing at $s"
    done
  done
}

resolve_and_check() {
  local at=$1 keep
  step "resolve at $at, keeping bamako's version"
  keep=$(fs $at conflicts --json |
    jq -r '.[0].conflicts[0].heads[] | select(.site == "bamako") | .version')
  [ -n "$keep" ] || fail "no bamako head at $at"
  fs $at resolve isf-mli-2027 status --keep "$keep" >/dev/null
  assert_eq "$(fs $at conflicts --json | jq length)" 0 "conflicts after resolve at $at"
}

check_resolved() {
  step "the conflict is gone everywhere, with the chosen value"
  all_digests_equal hq bamako gao
  for s in hq bamako gao; do
    assert_eq "$(fs $s conflicts --json | jq length)" 0 "conflicts at $s"
    assert_eq "$(fs $s get isf-mli-2027 --json | jq -r .fields.status)" \
      "under review" "status at $s"
  done
}
