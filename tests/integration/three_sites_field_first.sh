# Acceptance, order 2: gao's courier reaches hq first, bundles are exported
# against stale vectors (replays), and the resolve happens at a field office.
. "$(dirname "$0")/lib_three_sites.sh"
setup_three_sites
step "exchange: gao->hq, bamako->hq, hq->gao, hq->bamako, with replays"
exchange gao hq
fs hq bundle import --allow-unsigned "$T/gao-to-hq.bundle" >/dev/null   # the courier came twice
exchange bamako hq
exchange hq gao
exchange hq bamako
fs bamako bundle export --all -o "$T/bamako-all.bundle" >/dev/null
fs gao bundle import --allow-unsigned "$T/bamako-all.bundle" >/dev/null
fs gao bundle import --allow-unsigned "$T/bamako-all.bundle" >/dev/null
check_converged
resolve_and_check gao
exchange gao hq
exchange hq bamako
check_resolved
echo "PASS three sites, order field office first"
