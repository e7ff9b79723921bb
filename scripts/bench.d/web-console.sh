#!/usr/bin/env bash
# What the web console costs: web-console.sh DIST RUNS. Each run starts an appliance in the background on a fresh
# state directory, from a copy of DIST with the default features ("without") or with zonekeeper-web added and a
# password set ("with"); times how long until the control socket answers (and, with the console, until its port
# listens), then for "with" logs in and reads /api/zones, /api/history and /api/drivers 30 times, and reads the
# JVM's peak RSS (VmHWM) before stopping it by its PID. Prints means and maxima; figures, never pass/fail.
set -euo pipefail
dist=$(cd "$1" && pwd -P)
runs=${2:-3}
work=$(mktemp -d /tmp/zk-web-bench.XXXX)
appliance=""
cleanup() {
  if [ -n "$appliance" ]; then kill "$appliance" 2>/dev/null || true; wait "$appliance" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
password=bench-$RANDOM$RANDOM
for variant in without with; do
  cp -r "$dist" "$work/$variant"
done
sed -i 's/zonekeeper.features = /zonekeeper.features = zonekeeper-web.json, /' "$work/with/etc/zonekeeper.properties"
python3 - "$password" "$port" >"$work/with/etc/io.zonekeeper.web.cfg" <<'PY'
import base64, hashlib, os, sys
salt = os.urandom(16)
h = hashlib.pbkdf2_hmac("sha256", sys.argv[1].encode(), salt, 200000)
print("passwordHash = pbkdf2-sha256:200000:%s:%s" % (base64.b64encode(salt).decode(), base64.b64encode(h).decode()))
print("port = %s" % sys.argv[2])
PY
echo "web console: $runs runs each, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
for variant in without with; do
  total_ms=0; web_ms=0; peak_kb=0
  for i in $(seq "$runs"); do
    state=$work/state-$variant-$i
    start=$(date +%s%N)
    "$work/$variant/bin/zonekeeper" --state "$state" --no-shell >"$state.log" 2>&1 </dev/null &
    appliance=$!
    for _ in $(seq 600); do [ -S "$state/run/control.sock" ] && break; sleep 0.05; done
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    if [ "$variant" = with ]; then
      for _ in $(seq 600); do curl -s -o /dev/null "http://127.0.0.1:$port/login" && break; sleep 0.05; done
      web_ms=$((web_ms + ($(date +%s%N) - start) / 1000000))
    fi
    if [ "$variant" = with ]; then
      curl -s -o /dev/null -c "$work/cookies" --data-urlencode "password=$password" "http://127.0.0.1:$port/login"
      for _ in $(seq 30); do
        curl -s -o /dev/null -b "$work/cookies" "http://127.0.0.1:$port/api/zones"
        curl -s -o /dev/null -b "$work/cookies" "http://127.0.0.1:$port/api/history?zone=none"
        curl -s -o /dev/null -b "$work/cookies" "http://127.0.0.1:$port/api/drivers"
      done
    else
      "$work/$variant/bin/zonekeeper" --state "$state" -c 'zone:list' >/dev/null 2>&1
    fi
    kb=$(awk '/^VmHWM/ {print $2}' "/proc/$appliance/status")
    kill "$appliance"; wait "$appliance" 2>/dev/null || true; appliance=""
    total_ms=$((total_ms + ms)); [ "$kb" -gt "$peak_kb" ] && peak_kb=$kb
  done
  if [ "$variant" = with ]; then
    echo "web console: with zonekeeper-web: control socket after $((total_ms / runs)) ms, console listening after $((web_ms / runs)) ms (mean of $runs), peak RSS after login and 90 JSON requests $((peak_kb / 1024)) MiB (max)"
  else
    echo "web console: without it (default features): control socket after $((total_ms / runs)) ms (mean of $runs), peak RSS after zone:list $((peak_kb / 1024)) MiB (max)"
  fi
done
