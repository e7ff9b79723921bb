#!/usr/bin/env bash
# containerd's runtime path: containerd.sh DIST RUNS. A containerd of its own (launcher/src/test/sh/containerd-test.d/
# containerd-env.sh: root, state, config and sockets in a temporary folder) and the appliance of DIST; times
# `ctr run --rm IMAGE ID /bin/true` of the same busybox image with runc (Debian's containerd-shim-runc-v2) and with
# Zonekeeper, and a plain `zone:create --image ... --start` of that image until its workload has exited, sent over
# the control socket (no JVM client per run). Also the shim's `start` alone. Figures, never pass/fail.
set -euo pipefail
DIST=$(cd "$1" && pwd -P)
runs=${2:-3}
here=$(cd "$(dirname "$0")/../.." && pwd -P)/launcher/src/test/sh/containerd-test.d
WORK=$(mktemp -d /tmp/zk-ctr-bench.XXXXXX)
# shellcheck source=../../launcher/src/test/sh/containerd-test.d/containerd-env.sh
. "$here/containerd-env.sh"
trap 'ctr_cleanup; rm -rf "$WORK"' EXIT
IMAGE=zonekeeper.test/busybox:1
ctr_start_containerd
zk_start_appliance
python3 "$here/oci_archive.py" "$WORK/busybox.tar" "$IMAGE"
ctr_ image import "$WORK/busybox.tar" >/dev/null
mkdir -p "$WORK/layout" && tar -C "$WORK/layout" -xf "$WORK/busybox.tar"
echo "containerd: $runs runs each, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $(containerd --version | cut -d' ' -f3)"
python3 - "$CTR_SOCK" "$ZK_STATE" "$IMAGE" "$WORK/layout" "$runs" "$DIST/bin/containerd-shim-zonekeeper-v2" "$WORK" <<'PY'
import json, os, socket, statistics, subprocess, sys, time
sock, state, image, layout, runs, shim, work = sys.argv[1:8]
runs = int(runs)

def control(command):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(600)
    s.connect(state + "/run/control.sock")
    s.sendall((json.dumps({"command": command}) + "\n").encode())
    buf, out = b"", []
    while True:
        chunk = s.recv(65536)
        if not chunk:
            raise SystemExit("containerd bench: the appliance closed the connection during " + command)
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            msg = json.loads(line)
            if "exit" in msg:
                if msg["exit"]:
                    raise SystemExit("containerd bench: %s failed: %s" % (command, "".join(out)))
                return "".join(out)
            out.append(msg.get("out", "") + msg.get("err", ""))

def ctr_run(runtime, name):
    t = time.perf_counter()
    r = subprocess.run(["ctr", "--address", sock, "run", "--rm", "--runtime", runtime, image, name, "/bin/true"],
                       capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise SystemExit("containerd bench: ctr run --runtime %s failed: %s" % (runtime, r.stderr.strip()))
    return time.perf_counter() - t

def plain_zone(name):
    t = time.perf_counter()
    control("zone:create --image bench/busybox:1 --start %s -- /bin/true" % name)
    control("zone:wait --timeout 300 %s STOPPED" % name)
    elapsed = time.perf_counter() - t
    control("zone:destroy " + name)
    return elapsed

def show(label, seconds):
    print("containerd: %-58s mean %6.2f s, min %6.2f s, max %6.2f s" % (label, statistics.mean(seconds),
                                                                      min(seconds), max(seconds)))

control("image:import --tag bench/busybox:1 " + layout)
ctr_run("io.containerd.runc.v2", "warm-runc")  # first use of each path warms caches; not counted
ctr_run("io.containerd.zonekeeper.v2", "warm-zk")
runc, zk, plain = [], [], []
for i in range(runs):
    runc.append(ctr_run("io.containerd.runc.v2", "runc-%d" % i))
    zk.append(ctr_run("io.containerd.zonekeeper.v2", "zk-%d" % i))
    plain.append(plain_zone("plain-%d" % i))
show("ctr run --rm /bin/true, runc (containerd-shim-runc-v2):", runc)
show("ctr run --rm /bin/true, Zonekeeper (io.containerd.zonekeeper.v2):", zk)
show("zone:create --image --start /bin/true to STOPPED (same image):", plain)

bundle = os.path.join(work, "timing-bundle")
os.makedirs(bundle, exist_ok=True)
open(os.path.join(bundle, "config.json"), "w").write("{}")
env = dict(os.environ, ZONEKEEPER_STATE=state)
times = []
for i in range(50):
    t = time.perf_counter()
    subprocess.run([shim, "-namespace", "bench", "-address", sock, "-id", "t%d" % i, "start"], cwd=bundle, env=env,
                   check=True, capture_output=True)
    times.append((time.perf_counter() - t) * 1000)
    subprocess.run([shim, "-namespace", "bench", "-id", "t%d" % i, "-bundle", bundle, "delete"], cwd=bundle, env=env,
                   capture_output=True)
base = []
for i in range(50):
    t = time.perf_counter()
    subprocess.run(["/bin/true"], capture_output=True)
    base.append((time.perf_counter() - t) * 1000)
times.sort()
base.sort()
print("containerd: shim start with the appliance running (fork+exec included): median %.1f ms, p90 %.1f ms, max %.1f ms"
      " (50 runs); /bin/true the same way: median %.1f ms" % (times[25], times[45], times[-1], base[25]))
PY
