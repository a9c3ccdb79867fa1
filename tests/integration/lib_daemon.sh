# Helpers for scenarios with real fieldsyncd daemons on loopback (sourced).
# Each site gets a replica, a config and a log in $T; daemons are killed
# when the scenario exits, whatever happened.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
: "${FIELDSYNCD:?FIELDSYNCD must point at the fieldsyncd binary}"

# PARENT_EP[site]: the endpoint a site reaches its parent at, when not the
# parent's own loopback port (lib_netns.sh: a link emulator in between).
declare -A PORT HTTP PID PARENT READ_SCOPES WRITE_SCOPES PARENT_EP ATTACHMENTS
PIDS=()
# CLEANUP_HOOKS: more to undo once every process is gone (mounts,
# namespaces), added by the scenario or lib_netns.sh.
CLEANUP_HOOKS=()
daemon_cleanup() {
  local p h
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for h in "${CLEANUP_HOOKS[@]}"; do "$h" || true; done
  release_ports
  cleanup
}
# unmount_at_exit DIR: DIR is unmounted when the scenario exits.
MOUNTS=()
unmount_all() { local m; for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done; }
unmount_at_exit() { MOUNTS+=("$1"); [[ " ${CLEANUP_HOOKS[*]} " == *" unmount_all "* ]] || CLEANUP_HOOKS+=(unmount_all); }
trap daemon_cleanup EXIT
trap 'exit 143' TERM INT HUP # a killed run still cleans up

# A loopback port nobody listens on (bash's /dev/tcp probes it), and that
# no other scenario running now, nor this one, has taken: each port handed
# out is reserved by a directory (mkdir is atomic), released on exit. Drawn
# from 20000-31999, below Linux's ephemeral range (32768-60999): there, an
# outgoing connection may take the port between the probe and the bind.
PORTS_DIR=${TMPDIR:-/tmp}/fsy-ports
mkdir -p "$PORTS_DIR"
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 12000))
    mkdir "$PORTS_DIR/$p" 2>/dev/null || continue
    echo $$ >"$PORTS_DIR/$p/owner"
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then continue; fi
    echo "$p"
    return
  done
  fail "no free port"
}
release_ports() {
  local d
  for d in "$PORTS_DIR"/*/; do
    [ "$(cat "$d/owner" 2>/dev/null)" = $$ ] && rm -rf "$d"
  done
  return 0
}

# site NAME [PARENT]: replica, key pair and port. Links use CURVE unless
# the scenario sets INSECURE=1.
site() {
  local name=$1 parent=${2:-}
  PORT[$name]=$(free_port)
  HTTP[$name]=$(free_port)
  PARENT[$name]=$parent
  fs "$name" init --site "$name" >/dev/null
  [ -n "${INSECURE:-}" ] || "$FIELDSYNC" keygen -o "$T/$name" >/dev/null
}

pubkey() { cat "$T/$1.pub"; }

# below NAME: every site under NAME in the tree, comma-separated.
below() {
  local c out=""
  for c in "${!PARENT[@]}"; do
    [ "${PARENT[$c]}" = "$1" ] || continue
    out+="$c, "
    local sub; sub=$(below "$c")
    [ -z "$sub" ] || out+="$sub, "
  done
  printf '%s' "${out%, }"
}

# conf NAME: the site's configuration, admitting every child declared so far.
conf() {
  local name=$1 parent=${PARENT[$1]} c
  printf '[site]\nid = %s\ndb = %s\n' "$name" "$T/$name.db"
  if [ -n "${INSECURE:-}" ]; then printf 'insecure = true\n'
  else printf 'secret_key_file = %s\n' "$T/$name.key"; fi
  printf '[listen]\nendpoint = tcp://%s:%s\n' "${LISTEN_HOST:-127.0.0.1}" "${PORT[$name]}"
  if [ -n "${HTTP[$name]:-}" ]; then printf '[http]\nlisten = 127.0.0.1:%s\n' "${HTTP[$name]}"
  else printf '[http]\nlisten = off\n'; fi
  [ -z "${MIN_FREE:-}" ] || printf 'min_free_bytes = %s\n' "$MIN_FREE"
  if [ -n "$parent" ]; then
    printf '[parent]\nendpoint = %s\n' "${PARENT_EP[$name]:-tcp://127.0.0.1:${PORT[$parent]}}"
    [ -n "${INSECURE:-}" ] || printf 'server_public_key = %s\n' "$(pubkey "$parent")"
  fi
  for c in "${!PARENT[@]}"; do
    [ "${PARENT[$c]}" = "$name" ] || continue
        printf '[child %s]\n' "$c"
    [ -n "${INSECURE:-}" ] || printf 'public_key = %s\n' "$(pubkey "$c")"
    [ -z "$(below "$c")" ] || printf 'sites_below = %s\n' "$(below "$c")"
    [ -z "${READ_SCOPES[$c]:-}" ] || printf 'read_scopes = %s\n' "${READ_SCOPES[$c]}"
    [ -z "${WRITE_SCOPES[$c]:-}" ] || printf 'write_scopes = %s\n' "${WRITE_SCOPES[$c]}"
    [ -z "${ATTACHMENTS[$c]:-}" ] || printf 'attachments = %s\n' "${ATTACHMENTS[$c]}"
  done
  # small batches and window: a backlog takes many round trips
  printf '[sync]\n%b\nhealth_ms = %s\n' \
    "${SYNC_CONF:-heartbeat_ms = 200\ntimeout_ms = 2000\nbatch_changes = 100\nwindow = 2}" \
    "${HEALTH_MS:-1000}"
  [ -z "${EXTRA_CONF:-}" ] || printf '%b\n' "$EXTRA_CONF"
}

start() {
  [ -f "$T/$1.conf" ] || conf "$1" >"$T/$1.conf"
  # WRAP: a command that execs the daemon (so $! is the daemon's PID), e.g.
  # "env LD_PRELOAD=... FAKETIME=+120s" or "ip netns exec NS"
  ${WRAP:-} "$FIELDSYNCD" -c "$T/$1.conf" 2>>"$T/$1.log" &
  PID[$1]=$!
  PIDS+=("$!")
}

stop() { kill -TERM "${PID[$1]}"; wait "${PID[$1]}" || fail "$1 did not stop cleanly"; }

killnine() { kill -9 "${PID[$1]}"; wait "${PID[$1]}" 2>/dev/null || true; }

# wait_converged SECONDS SITE...: until every site shows the same digest.
converged() {
  local first s
  first=$(digest "$1")
  for s in "$@"; do [ "$(digest "$s")" = "$first" ] || return 1; done
}
convergence_report() {
  local s
  for s in "${CONVERGING[@]}"; do echo "$s $(digest "$s") $(changes "$s")"; done
  for s in "${CONVERGING[@]}"; do echo "--- $s.log"; tail -5 "$T/$s.log" 2>/dev/null; done
}
wait_converged() {
  local secs=$1
  shift
  CONVERGING=("$@")
  explain=convergence_report wait_until "$secs" "sites did not converge within the deadline" converged "$@"
}

# wait_until SECONDS WHAT CMD...: until CMD succeeds; else fail saying WHAT
# (and, if the scenario defines it, what `explain` prints).
wait_until() {
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    [ $SECONDS -lt $deadline ] || fail "$what${explain:+; $($explain)}"
    sleep 0.2
  done
}

# changes SITE: rows in its log
changes() { fs "$1" verify --json | jq .changes_checked; }
