#!/usr/bin/env bash
# HQ's analysis: full-text search, every filter and their combinations, CSV
# and the index after a kill -9, on a corpus of 5,000 reports from seven
# sites whose expected answers tests/tools/search_corpus.py computes itself.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || fail "python3 is missing: run ./scripts/deps --test"
FSY_FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
[ -n "$FSY_FAKETIME_LIB" ] || fail "libfaketime is missing: run ./scripts/deps --test"
export FSY_FAKETIME_LIB
# libfaketime is preloaded ahead of ASan's runtime in the sanitizer build
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

step "5,000 reports from 7 sites: search and filters return exactly the expected documents"
python3 "$FSY_SOURCE_DIR/tests/tools/search_corpus.py" "$FIELDSYNC" "$T" 5000

step "contradictory or malformed filters are refused"
fs hq init --site hq >/dev/null 2>&1 || true
expect_fail 2 "any-version needs --site" fs hq list --any-version
expect_fail 2 "add --csv" fs hq list --fields title
expect_fail 2 "choose one" fs hq list --csv --json
expect_fail 2 "not before --until" fs hq list --since 2026-11-02 --until 2026-11-01
expect_fail 2 "not a time" fs hq list --since yesterday
expect_fail 2 "given twice" fs hq list --site gao --site juba
expect_fail 2 "cannot read the search query" fs hq search '"unclosed'
expect_fail 2 "one QUERY" fs hq search
expect_fail 2 "scope" fs hq list --scope 'bad scope'
echo "PASS search_corpus"
