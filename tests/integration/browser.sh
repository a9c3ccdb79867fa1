# The document browser on HQ's daemon, checked in headless Chromium:
# search with filters and snippets, a document, an open conflict side by
# side, a history with what each version changed, and the freshness of
# each site's data; no script, nothing loaded from elsewhere, text from
# the sites escaped. Screenshots go to the test's output directory.
. "$(dirname "$0")/lib_daemon.sh"
command -v chromium >/dev/null || fail "chromium is missing: run ./scripts/deps --test"
OUT=${FSY_TEST_OUT:-$T/out}
mkdir -p "$OUT"
site hq; site gao hq
HTTP[gao]=""
body1=$'Families displaced from Ménaka arrive in Gao.\nMarkets reopened.\nConvoy escorts continue.'
body2=$'Families displaced from Ménaka arrive in Gao.\nMarkets reopened on Tuesday.\nConvoy escorts continue.'
fs gao --author "Aminata Traoré" put jmac-gao-w48 --kind analysis --scope MLI \
  --set title="JMAC weekly 48: displacement around Gao" --set body="$body1" --set status=draft >/dev/null
fs gao --author "Aminata Traoré" put jmac-gao-w48 --set body="$body2" >/dev/null
fs gao put sitrep-gao-1 --kind analysis --scope MLI --set title="Sitrep <b>Gao</b> & Kidal" --set body="Rain; roads cut." >/dev/null
fs hq put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali 2027" --set body="Priorities: protection of civilians." >/dev/null
start hq; start gao
wait_converged 30 hq gao
step "an open conflict: both sides edit the status while cut off"
stop gao
fs gao --author "Aminata Traoré" put jmac-gao-w48 --set status=final >/dev/null
fs hq --author "HQ reviewer" put jmac-gao-w48 --set status=returned >/dev/null
start gao
wait_converged 30 hq gao
assert_eq "$(fs hq conflicts --json | jq -r '.[0].conflicts[0].field')" status "the conflict at hq"

chrome() {
  timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --no-first-run --disable-background-networking --disable-component-update \
    --disable-sync --user-data-dir="$T/chrome" --window-size=1280,900 "$@" 2>>"$T/chrome.log"
}
base="http://127.0.0.1:${HTTP[hq]}"
page() { # NAME URL: DOM to $T/NAME.html, screenshot to $OUT/browser-NAME.png
  chrome --dump-dom "$2" >"$T/$1.html" || fail "chromium failed on $2: $(tail -5 "$T/chrome.log")"
  chrome --screenshot="$OUT/browser-$1.png" "$2" >/dev/null || fail "no screenshot of $2"
  [ "$(head -c 8 "$OUT/browser-$1.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$1: not a PNG"
  grep -q "<script" "$T/$1.html" && fail "$1: the page has a script"
  grep -qE '(src|href)="https?:' "$T/$1.html" && fail "$1: the page loads something from elsewhere"
  echo "screenshot: $OUT/browser-$1.png"
}

step "search: results with snippets, filters, and each site's freshness"
page search "$base/docs?q=displaced&scope=MLI&since=30d"
grep -q 'href="/docs/MLI/jmac-gao-w48"' "$T/search.html" || fail "the report is not among the results"
grep -q '<mark>displaced</mark>' "$T/search.html" || fail "no marked match in the snippet"
grep -q 'gao: data as of' "$T/search.html" || fail "the freshness of gao's data is not shown"
grep -q 'isf-mli-2027' "$T/search.html" && fail "a document without the word was found"
page filtered "$base/docs?scope=MLI&site=hq"
assert_eq "$(grep -o 'href="/docs/MLI/[^"]*"' "$T/filtered.html" | sort | tr '\n' ' ')" \
  'href="/docs/MLI/isf-mli-2027" href="/docs/MLI/jmac-gao-w48" ' "documents whose latest version is hq's"
grep -q 'Sitrep &lt;b&gt;Gao&lt;/b&gt; &amp; Kidal' "$T/filtered.html" && fail "sitrep-gao-1 should not be listed"
page all "$base/docs?q=Kidal"
grep -q 'Sitrep &lt;b&gt;Gao&lt;/b&gt; &amp; Kidal' "$T/all.html" || fail "a title from a site is not escaped: $(grep -o 'Sitrep[^<]*' "$T/all.html")"

step "a document: fields, the conflict side by side, and its history"
page doc "$base/docs/MLI/jmac-gao-w48"
grep -q 'Markets reopened on Tuesday' "$T/doc.html" || fail "the body is not shown"
grep -q 'created .* at gao by Aminata Traoré' "$T/doc.html" || fail "no provenance"
grep -q '<table class="conflict">' "$T/doc.html" || fail "no conflict table"
sides=$(sed -n '/<table class="conflict">/,/<\/table>/p' "$T/doc.html" | grep -oE '<pre>(final|returned)</pre>' | sort | tr '\n' ' ')
assert_eq "$sides" "<pre>final</pre> <pre>returned</pre> " "both sides of the conflict"
grep -q '<span class="del">-Markets reopened.</span>' "$T/doc.html" || fail "the history does not show the removed line"
grep -q '<span class="add">+Markets reopened on Tuesday.</span>' "$T/doc.html" || fail "the history does not show the added line"

step "the browser follows the API's rules"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$base/docs/MLI/nothing-here")" 404 "an unknown document"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$base/docs?since=yesterday")" 400 "a bad filter"
echo "PASS browser"
