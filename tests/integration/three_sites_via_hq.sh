# Acceptance, order 1: bundles travel hq<->bamako first, then hq<->gao,
# until quiet; resolved at hq.
. "$(dirname "$0")/lib_three_sites.sh"
setup_three_sites
step "exchange: hq<->bamako, hq<->gao, hq<->bamako"
sync_pair hq bamako
sync_pair hq gao
sync_pair hq bamako
check_converged
resolve_and_check hq
sync_pair hq bamako
sync_pair hq gao
check_resolved
echo "PASS three sites, order hq-bamako first"
