# Test hosts in network namespaces, joined by emulated satellite links
# (sourced after lib_daemon.sh). Every site gets its own namespace; a link
# between a child and its parent is a veth pair with addresses that exist
# only inside the two namespaces. What a link does comes from a profile:
#
#   rate   tc tbf on both ends of the veth (each direction)
#   loss   nft: numgen random drops on both ends' output
#   delay  tests/tools/link_relay in the child's namespace: the child's
#          daemon reaches its parent through it, each direction held for
#          half the round trip
#   cuts   nft: everything on the veth dropped (ns_cut / ns_heal), or a
#          flapping schedule (ns_flap)
#
# The scenario removes its namespaces, processes and links when it exits,
# failed or not. link_profile.sh measures that the profiles hold.
: "${LINK_RELAY:?LINK_RELAY must point at the link_relay tool}"

# Link profiles, in one place: round trip (ms), rate (kbit/s), loss (%),
# jitter (ms, each way); flapping: up and down (s), on top of vsat.
declare -A PROFILE_RTT=([lan]=0 [vsat]=600 [bad-vsat]=800)
declare -A PROFILE_KBIT=([lan]=0 [vsat]=256 [bad-vsat]=64)
declare -A PROFILE_LOSS=([lan]=0 [vsat]=1 [bad-vsat]=5)
declare -A PROFILE_JITTER=([lan]=0 [vsat]=20 [bad-vsat]=50)
FLAP_UP=${FLAP_UP:-20} FLAP_DOWN=${FLAP_DOWN:-10}

NETNS_ID=fsy$$
NET=$((100 + $$ % 100)) # 10.NET.LINK.{1,2}: distinct across parallel runs
declare -A NS VETH_C VETH_P LINK_NO RELAY_PORT
NS_LIST=()
NS_LINKS=0

netns_require() {
  sweep_stale_namespaces
  if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root (creates network namespaces)"
    exit 77
  fi
  local c
  for c in ip tc nft; do
    command -v $c >/dev/null || fail "$c is missing: run ./scripts/deps --test"
  done
}

# Namespaces of runs that died without cleaning up (killed by a timeout):
# fsy<PID>-SITE whose PID is gone. Their processes go with them.
sweep_stale_namespaces() {
  local n pid
  for n in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep -E '^fsy[0-9]+-' || true); do
    pid=${n#fsy}; pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null && continue
    ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$n" 2>/dev/null || true
  done
}

# Once the scenario's processes are gone: anything still running in its
# namespaces (forked helpers) goes with them.
netns_remove_all() {
  local n
  for n in "${NS_LIST[@]}"; do
    ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$n" 2>/dev/null || true
  done
}
CLEANUP_HOOKS+=(netns_remove_all)

# nsx SITE CMD...: run CMD in SITE's namespace.
nsx() { local s=$1; shift; ip netns exec "${NS[$s]}" "$@"; }

# ns_site NAME: a namespace for site NAME (its loopback up).
ns_site() {
  local n="$NETNS_ID-$1"
  ip netns add "$n" || fail "cannot create namespace $n"
  NS_LIST+=("$n")
  NS[$1]=$n
  ip -n "$n" link set lo up
  ip netns exec "$n" nft add table inet fsy
  ip netns exec "$n" nft add chain inet fsy out '{ type filter hook output priority 0; }'
}

# ns_link CHILD PARENT PROFILE: the link from CHILD up to PARENT. The
# child's daemon reaches its parent at PARENT_EP[CHILD] (its relay).
ns_link() {
  local c=$1 p=$2 prof=$3 i
  i=$((++NS_LINKS))
  LINK_NO[$c]=$i
  VETH_C[$c]="f$$c$i" VETH_P[$c]="f$$p$i" # at most 15 characters
  ip link add "${VETH_C[$c]}" type veth peer name "${VETH_P[$c]}"
  ip link set "${VETH_C[$c]}" netns "${NS[$c]}"
  ip link set "${VETH_P[$c]}" netns "${NS[$p]}"
  ip -n "${NS[$c]}" addr add "10.$NET.$i.2/30" dev "${VETH_C[$c]}"
  ip -n "${NS[$p]}" addr add "10.$NET.$i.1/30" dev "${VETH_P[$c]}"
  ip -n "${NS[$c]}" link set "${VETH_C[$c]}" up
  ip -n "${NS[$p]}" link set "${VETH_P[$c]}" up
  # one chain per link for its cuts, at both ends: healing one link never
  # touches another's
  nsx "$c" nft add chain inet fsy "cut$i" '{ type filter hook output priority -1; }'
  nsx "$p" nft add chain inet fsy "cut$i" '{ type filter hook output priority -1; }'
  ns_shape "$c" "$p" "$prof"
  RELAY_PORT[$c]=$(free_port)
  nsx "$c" "$LINK_RELAY" relay "${RELAY_PORT[$c]}" "10.$NET.$i.1:${PORT[$p]}" \
    $((PROFILE_RTT[$prof] / 2)) "${PROFILE_JITTER[$prof]}" 2>>"$T/relay-$c.log" &
  PIDS+=("$!")
  PARENT_EP[$c]="tcp://127.0.0.1:${RELAY_PORT[$c]}"
}

# ns_shape CHILD PARENT PROFILE: rate and loss on both ends of the link.
ns_shape() {
  local c=$1 p=$2 prof=$3 end dev kbit=${PROFILE_KBIT[$3]} loss=${PROFILE_LOSS[$3]}
  for end in "$c:${VETH_C[$c]}" "$p:${VETH_P[$c]}"; do
    dev=${end#*:}
    if [ "$kbit" -gt 0 ]; then
      # a queue of about 2 s at the link's rate, as a satellite modem has
      ip netns exec "${NS[${end%%:*}]}" tc qdisc replace dev "$dev" root tbf \
        rate "${kbit}kbit" burst 4kb latency 2000ms
    fi
    if [ "$loss" -gt 0 ]; then
      ip netns exec "${NS[${end%%:*}]}" nft add rule inet fsy out oifname "$dev" \
        numgen random mod 100 '<' "$loss" drop
    fi
  done
}

# ns_cut CHILD / ns_heal CHILD: the link up from CHILD drops everything /
# nothing (both directions; established connections see silence).
ns_cut() {
  nsx "$1" nft add rule inet fsy "cut${LINK_NO[$1]}" oifname "${VETH_C[$1]}" drop
  nsx "${PARENT[$1]}" nft add rule inet fsy "cut${LINK_NO[$1]}" oifname "${VETH_P[$1]}" drop
}
ns_heal() {
  nsx "$1" nft flush chain inet fsy "cut${LINK_NO[$1]}"
  nsx "${PARENT[$1]}" nft flush chain inet fsy "cut${LINK_NO[$1]}"
}

# ns_flap CHILD [OFFSET_S]: the link up from CHILD goes down for FLAP_DOWN
# s every FLAP_UP + FLAP_DOWN s (the first cut after OFFSET_S + FLAP_UP),
# until ns_flap_stop CHILD, which leaves it up. The flapper stops between
# two steps (a stop file), never in the middle of an nft command.
declare -A FLAPPER
ns_flap() {
  rm -f "$T/flap-stop-$1"
  (
    nap() { local t=$1; while [ "$t" -gt 0 ] && [ ! -e "$T/flap-stop-$2" ]; do sleep 1; t=$((t - 1)); done; }
    nap "${2:-0}" "$1"
    while [ ! -e "$T/flap-stop-$1" ]; do
      nap "$FLAP_UP" "$1"; [ -e "$T/flap-stop-$1" ] && break
      ns_cut "$1"; echo "$(date +%s) cut" >>"$T/flaps-$1"
      nap "$FLAP_DOWN" "$1"
      ns_heal "$1"; echo "$(date +%s) heal" >>"$T/flaps-$1"
    done
  ) &
  FLAPPER[$1]=$!
  PIDS+=("$!")
}
ns_flap_stop() {
  touch "$T/flap-stop-$1"
  wait "${FLAPPER[$1]}" 2>/dev/null || true
  ns_heal "$1"
}

# Daemons run in their site's namespace and listen on its addresses.
LISTEN_HOST=0.0.0.0
ns_start() { WRAP="ip netns exec ${NS[$1]}" start "$1"; }

# A satellite link's timings: a session survives a few lost round trips.
SYNC_CONF=${SYNC_CONF:-'heartbeat_ms = 1000\ntimeout_ms = 8000\nbatch_changes = 200\nwindow = 8\nreconnect_ms = 200\nreconnect_max_ms = 2000'}

# http_in SITE PATH: GET one of SITE's HTTP endpoints.
http_in() { nsx "$1" curl -sf "http://127.0.0.1:${HTTP[$1]}$2"; }
