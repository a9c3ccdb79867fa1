#!/usr/bin/env bash
# The reliability scenarios at full size (the suite runs short versions):
#   bench/reliability.sh BUILD_DIR [flapping] [kills] [bandwidth] [bad-vsat]
# Needs root (network namespaces, as the suite's own runs). Figures go to
# docs/RELIABILITY.md.
set -euo pipefail
B=$(cd "${1:?usage: bench/reliability.sh BUILD_DIR [scenario...]}" && pwd)
shift
cd "$(dirname "$0")/.."
export FIELDSYNC=$B/fieldsync FIELDSYNCD=$B/fieldsyncd FSY_POKE=$B/tests/fsy_poke \
  PROM_LINT=$B/tests/prom_lint NOTIFY_SINK=$B/tests/notify_sink \
  LINK_RELAY=$B/tests/link_relay FSY_SOURCE_DIR=$PWD
run() { echo "==> $*"; /usr/bin/time -f "    (%e s)" env "$@"; }
for s in "${@:-flapping kills bandwidth bad-vsat}"; do
  for one in $s; do
    case $one in
      flapping) run FSY_FLAP_WRITES=5000 FSY_FLAP_SECONDS=150 bash tests/integration/net_flapping.sh ;;
      kills) run FSY_KILLS=50 bash tests/integration/kill_loop.sh ;;
      bandwidth) run FSY_BW_REPORTS=2000 bash tests/integration/net_bandwidth.sh ;;
      bad-vsat) run FSY_BW_REPORTS=500 FSY_BW_PROFILE=bad-vsat bash tests/integration/net_bandwidth.sh ;;
      *) echo "unknown scenario $one" >&2; exit 2 ;;
    esac
  done
done
