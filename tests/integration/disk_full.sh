# Reliability 5: the disk of a field office fills up.
#   hq <- gao, gao's replica on a small tmpfs the test mounts and fills.
# Writes at gao fail with a clear error; sync into gao pauses (batches it
# cannot store are refused, not half-applied) without damaging anything;
# /healthz says why; when space returns, sync resumes and both converge.
. "$(dirname "$0")/lib_daemon.sh"
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root (mounts a small tmpfs)"
  exit 77
fi
DISK=$T/disk
mkdir -p "$DISK"
unmount_at_exit "$DISK"
mount -t tmpfs -o size=6m tmpfs "$DISK"

site hq; site gao hq
mv "$T/gao.db" "$DISK/gao.db" # the replica lives on the small disk
fs() { local s=$1; shift; "$FIELDSYNC" --db "$([ "$s" = gao ] && echo "$DISK" || echo "$T")/$s.db" "$@"; }
MIN_FREE=65536 conf gao | sed "s|^db = .*|db = $DISK/gao.db|" >"$T/gao.conf"
start hq; start gao
fs hq put isf-mli-2027 --kind plan --scope MLI --set title="ISF Mali 2027" >/dev/null
wait_converged 20 hq gao

step "the disk fills: writes at gao fail with a clear error"
head -c 300000 /dev/urandom | base64 -w0 >"$T/annex.txt" # 400 KB
dd if=/dev/zero of="$DISK/filler" bs=64k 2>/dev/null || true
expect_fail 1 "full" fs gao put annex-gao --kind analysis --scope MLI --file body="$T/annex.txt"
echo "  $(cat "$T/err")"
code=$(curl -s -o "$T/healthz" -w '%{http_code}' "http://127.0.0.1:${HTTP[gao]}/healthz")
assert_eq "$code" 503 "gao's healthz on a full disk"
grep -q "disk nearly full" "$T/healthz" || fail "healthz: $(cat "$T/healthz")"

step "sync into gao pauses: what it cannot store is refused, nothing is half-applied"
for i in 1 2 3; do
  fs hq put "annex-hq-$i" --kind analysis --scope MLI --file body="$T/annex.txt" >/dev/null
done
refused() { [ "$(fs hq status --json | jq '[.sites[] | select(.site == "gao") | .last_error | test("full")] | any')" = true ] ||
  grep -q 'event=apply-failed.*full' "$T/gao.log"; }
wait_until 30 "gao never refused a batch for want of space" refused
kill -0 "${PID[gao]}" || fail "gao's daemon died on a full disk"
grep -m1 'event=apply-failed' "$T/gao.log" | sed 's/^/  /'
fs gao verify >/dev/null || fail "gao is damaged after the disk filled"
fs gao get annex-hq-3 >/dev/null 2>&1 && fail "gao claims a document it had no room for"

step "space returns: sync resumes and both converge"
rm "$DISK/filler"
wait_converged 60 hq gao
fs gao get annex-hq-3 >/dev/null || fail "gao never got hq's annexes"
fs gao verify >/dev/null || fail "gao does not verify"
fs hq verify >/dev/null || fail "hq does not verify"
fs gao get annex-gao >/dev/null 2>&1 && fail "the write that failed is there after all"
echo "PASS disk full"
