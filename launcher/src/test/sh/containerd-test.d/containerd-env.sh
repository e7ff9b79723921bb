# Sourced by containerd-test and scripts/bench.d/containerd.sh: a containerd of their own under WORK (root, state,
# config, sockets), never the machine's, and the Zonekeeper appliance of DIST on WORK/zk. Callers set WORK and DIST
# and call ctr_cleanup from their EXIT trap; every process started here is ended by its PID.
#   ctr_start_containerd    ctr_stop_containerd    zk_start_appliance    zk_kill_appliance [SIGNAL]    ctr_ ...
CTR_SOCK=$WORK/c.sock
ZK_STATE=$WORK/zk
containerd_pid=""
appliance_pid=""

# ctr's snapshotter (its CONTAINERD_SNAPSHOTTER), which decides the rootfs mounts a Create gets: overlayfs gives an
# overlay mount, native a bind mount of a folder. ZK_CTR_SNAPSHOTTER picks another.
export CONTAINERD_SNAPSHOTTER=${ZK_CTR_SNAPSHOTTER:-overlayfs}
# Time-limited, so that a hung call fails the check instead of the whole run.
ctr_() { timeout 300 ctr --address "$CTR_SOCK" "$@"; }

ctr_write_config() {
  mkdir -p "$WORK/root" "$WORK/state"
  # The CRI plugin is off (no kubelet here); docs/KUBERNETES.md has the runtime's CRI section.
  cat >"$WORK/config.toml" <<TOML
version = 2
root = "$WORK/root"
state = "$WORK/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTR_SOCK"
[ttrpc]
  address = "$CTR_SOCK.ttrpc"
[debug]
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = "$WORK/opt"
TOML
}

ctr_start_containerd() {
  [ -f "$WORK/config.toml" ] || ctr_write_config
  # The distribution's bin/ first on PATH: containerd finds containerd-shim-zonekeeper-v2 there, and the shim finds
  # the appliance's state through ZONEKEEPER_STATE.
  PATH="$DIST/bin:$PATH" ZONEKEEPER_STATE="$ZK_STATE" \
    containerd --config "$WORK/config.toml" >>"$WORK/containerd.log" 2>&1 </dev/null &
  containerd_pid=$!
  wait_ready "$containerd_pid" 300 "$WORK/containerd.log" "containerd did not start" ctr_ version
}

# wait_ready PID TENTHS LOG WHAT CHECK...: polls CHECK every 0.1 s, at most TENTHS times and while PID lives; else
# says WHAT with the end of LOG and fails.
wait_ready() {
  local pid=$1 tries=$2 log=$3 what=$4
  shift 4
  for _ in $(seq "$tries"); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$what; the end of $log:" >&2
  tail -20 "$log" >&2
  return 1
}

answers() { python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$1"; }

# end_process PID [SIGNAL]: signals a process this script started and reaps it.
end_process() {
  [ -n "$1" ] || return 0
  kill "-${2:-TERM}" "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

ctr_stop_containerd() {
  end_process "$containerd_pid"
  containerd_pid=""
}

zk_start_appliance() {
  "$DIST/bin/zonekeeper" --state "$ZK_STATE" --no-shell >>"$WORK/appliance.log" 2>&1 </dev/null &
  appliance_pid=$!
  wait_ready "$appliance_pid" 1200 "$WORK/appliance.log" "the appliance did not serve $ZK_STATE/run/shim.ttrpc.sock" \
    answers "$ZK_STATE/run/shim.ttrpc.sock"
}

zk_kill_appliance() {
  end_process "$appliance_pid" "${1:-TERM}"
  appliance_pid=""
}

zk_() { timeout 300 "$DIST/bin/zonekeeper" --state "$ZK_STATE" -c "$*"; }

# Ends what this script started: containerd, the zones on the appliance, the appliance, and the relays the shim
# left (one per container, see the shim's source).
ctr_cleanup() {
  ctr_stop_containerd
  if [ -n "$appliance_pid" ]; then
    zk_ "zone:list" 2>/dev/null | awk 'NR>1 {print $1}' | while read -r z; do zk_ "zone:destroy $z" >/dev/null 2>&1 || true; done
  fi
  zk_kill_appliance TERM
  local pid
  for pid in $(ctr_relay_pids); do kill "$pid" 2>/dev/null || true; done
}

ctr_relay_pids() {
  local f pid
  # The shim writes each relay's PID beside its socket (shim-<hash>.pid); a PID now used by another program is skipped.
  for f in "$ZK_STATE"/run/shim-*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = zk-shim-relay ] && echo "$pid"
  done
}
