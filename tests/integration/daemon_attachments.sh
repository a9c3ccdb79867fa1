# Attachments between live daemons on loopback:
#   hq <- bamako <- gao (attachments = all);  bamako <- kidal (on-demand);
#   hq <- juba (none)
# An attachment written at a field office reaches every site that gets
# attachments, checked whole; the same file attached again crosses no link;
# an on-demand office holds the reference until it fetches, through the
# hub; a 'none' office never gets the bytes and says so.
. "$(dirname "$0")/lib_daemon.sh"
ATTACHMENTS[kidal]=on-demand
ATTACHMENTS[juba]=none
site hq; site bamako hq; site gao bamako; site kidal bamako; site juba hq
for s in hq bamako gao kidal juba; do start $s; done
ALL=(hq bamako gao kidal juba)
head -c 3000000 /dev/urandom >"$T/gao-region-map.pdf"
complete_at() { ! fs "$1" get "$2" | grep -q arriving; }

step "gao attaches a map: it reaches bamako and hq whole"
fs gao put jmac-monthly-11 --kind analysis --scope MLI --set title="JMAC monthly" \
  --attach annex="$T/gao-region-map.pdf" >/dev/null
wait_converged 30 "${ALL[@]}"
for s in bamako hq; do
  wait_until 30 "the map did not reach $s whole" complete_at "$s" jmac-monthly-11
  fs "$s" get jmac-monthly-11 --field annex -o "$T/map-$s.pdf"
  cmp "$T/map-$s.pdf" "$T/gao-region-map.pdf" || fail "the map at $s differs"
done
grep -q 'event=attachment-complete peer=gao' "$T/bamako.log" || fail "bamako did not log the transfer"

step "the same file attached to another document crosses no link"
fetches() { grep -c 'event=attachment-fetch' "$T/$1.log" || true; }
before_b=$(fetches bamako) before_h=$(fetches hq)
fs gao put risk-north --kind assessment --scope MLI --attach map="$T/gao-region-map.pdf" >/dev/null
wait_converged 30 "${ALL[@]}"
complete_at hq risk-north || fail "risk-north's map is not whole at hq"
assert_eq "$(fetches bamako)" "$before_b" "fetches at bamako for the same content"
assert_eq "$(fetches hq)" "$before_h" "fetches at hq for the same content"

step "kidal (on demand) holds the reference, not the bytes, until it fetches"
sleep 2 # a few turns in which nothing may arrive
fs kidal get jmac-monthly-11 | grep -q 'arriving: 0 B of 2.9 MB' ||
  fail "kidal should hold only the reference: $(fs kidal get jmac-monthly-11)"
fs kidal fetch jmac-monthly-11 annex | grep -q 'asked for gao-region-map.pdf' || fail "fetch did not say what it asked for"
wait_until 30 "the fetched map did not reach kidal" complete_at kidal jmac-monthly-11
fs kidal get jmac-monthly-11 --field annex -o "$T/map-kidal.pdf"
cmp "$T/map-kidal.pdf" "$T/gao-region-map.pdf" || fail "the map at kidal differs"
complete_at kidal risk-north || fail "risk-north refers to the same bytes: whole at kidal too"

step "a fetch travels up: hq attaches, kidal fetches through bamako"
head -c 500000 /dev/urandom >"$T/hq-annex.pdf"
ATTACHMENTS[bamako]=on-demand # bamako gets hq's attachments on demand too
stop hq; rm "$T/hq.conf"; start hq
stop gao # gao gets everything from bamako: it would make bamako fetch
fs hq put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali 2027" \
  --attach annex="$T/hq-annex.pdf" >/dev/null
wait_converged 30 hq bamako kidal juba
sleep 2
complete_at bamako isf-mli-2027 && fail "bamako (on demand) got hq's annex without asking"
fs kidal fetch isf-mli-2027 annex >/dev/null
wait_until 40 "kidal's fetch did not travel up through bamako" complete_at kidal isf-mli-2027
complete_at bamako isf-mli-2027 || fail "the hub should hold what it relayed"
fs kidal get isf-mli-2027 --field annex -o "$T/isf-kidal.pdf"
cmp "$T/isf-kidal.pdf" "$T/hq-annex.pdf" || fail "hq's annex at kidal differs"
start gao
wait_until 30 "gao (all) did not get hq's annex once back" complete_at gao isf-mli-2027

step "juba (none) never gets the bytes, and a fetch there is refused by hq"
fs juba get jmac-monthly-11 | grep -q 'arriving: 0 B' || fail "juba got bytes with attachments = none"
fs juba fetch jmac-monthly-11 annex >/dev/null
wait_until 20 "hq did not refuse juba's fetch" grep -q 'event=attachment-not-there peer=parent.*attachments = none' "$T/juba.log"
complete_at juba jmac-monthly-11 && fail "juba got the bytes"
for s in "${ALL[@]}"; do fs "$s" verify >/dev/null || fail "$s does not verify"; done
echo "PASS daemon attachments"
