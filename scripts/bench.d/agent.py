#!/usr/bin/env python3
"""The guest agent's figures against a raw virtio-serial port of the same zone, on a running appliance (scripts/bench):
  - zone:exec z -- true, round trip, against a raw round trip on the agent's own port (a HELLO frame to the agent
    and its HELLO_OK, on the socket QEMU holds, in a zone the appliance never execs into: QEMU serves one client)
    and against one byte there and back through a host channel that the guest echoes;
  - exec stream throughput (stdin through cat and back), against the same bytes through the echoing channel;
  - create+start to the first exec answer, beside create+start to the ready line;
  - create+start to the workload's first output, an image zone (its entrypoint, in zone:logs --workload) against
    the busybox zone (zk.run, on the console), the same command in both;
  - an exec left quiet for 2 minutes (IDLE seconds) that must still answer.
Speaks the control socket's protocol 2 itself (no JVM per command).

usage: agent.py STATE_DIR [runs] [idle-seconds]"""
import base64
import hashlib
import json
import os
import io
import socket
import struct
import sys
import tarfile
import tempfile
import threading
import time

state = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
idle = int(sys.argv[3]) if len(sys.argv) > 3 else 120


def control(command, stdin=None, timeout=600):
    """Runs a command line; returns (exit, stdout bytes, stderr text)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(state + "/run/control.sock")
    req = {"command": command}
    if stdin is not None:
        req.update({"stdin": True, "binary": True})
    s.sendall((json.dumps(req) + "\n").encode())
    if stdin is not None:
        # Sent beside the reading below: the appliance closes a client that stops reading its output.
        def send():
            for i in range(0, len(stdin), 32768):
                s.sendall((json.dumps({"in": base64.b64encode(stdin[i:i + 32768]).decode()}) + "\n").encode())
            s.sendall(b'{"eof":true}\n')
        threading.Thread(target=send, daemon=True).start()
    out, err, buf = bytearray(), "", b""
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            raise SystemExit("agent bench: the appliance closed the connection during " + command)
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            f = json.loads(line)
            if "exit" in f:
                s.close()
                return f["exit"], bytes(out), err
            if "outb" in f:
                out += base64.b64decode(f["outb"])
            if "out" in f:
                out += f["out"].encode()
            if "err" in f or "errb" in f:
                err += f.get("err", "") or base64.b64decode(f["errb"]).decode(errors="replace")


def must(command, **kw):
    rc, out, err = control(command, **kw)
    if rc != 0:
        raise SystemExit("agent bench: %s exited %d: %s" % (command, rc, err))
    return out


# The echo zone: its one channel echoes what it gets (the raw baseline on the same kind of port). A virtio-serial
# port reads end-of-file while no host is connected, so cat starts again until the bench connects.
t0 = time.monotonic()
must("zone:create --hypervisor kvm --channels echo --cmdline"
     " 'zk.run=\"while :; do cat 0<>/dev/virtio-ports/echo 1>&0; usleep 100000; done\"' --start ab")
must("zone:wait --timeout 300 --console 'zonekeeper: zone ab ready' ab")
ready = time.monotonic() - t0
for _ in range(600):
    if control("zone:exec ab -- true", timeout=300)[0] == 0:
        break
    time.sleep(0.05)
else:
    raise SystemExit("agent bench: zone ab never answered zone:exec")
first_exec = time.monotonic() - t0
print("agent: create+start to the ready line %.2f s, to the first zone:exec answer %.2f s" % (ready, first_exec))

info = json.loads(must("zone:info --json ab"))
chan = info["runtime"]["channel.echo"].split(" ", 1)[1]
raw = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
raw.connect(chan)
raw.settimeout(60)


def raw_round_trip():
    raw.sendall(b"x")
    while raw.recv(1) != b"x":
        pass


raw_round_trip()


def agent_port_round_trips(zone, n, runs):
    """Milliseconds per HELLO/HELLO_OK on a zone's agent port, raw (docs/AGENT-PROTOCOL.md), one figure a run."""
    address = json.loads(must("zone:info --json " + zone))["runtime"]["agent"]
    if not address.startswith("unix:"):
        raise SystemExit("agent bench: agent transport " + address)
    a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    a.connect(address[5:])
    a.settimeout(60)

    def hello(nonce, sync):
        a.sendall((b"ZKAGSYNC" + nonce if sync else b"") + struct.pack(">IBIH", 5 + 10, 0x01, 0, 1) + nonce)
        want = b"ZKAGSYNC" + nonce
        buf = b""
        while want not in buf:  # stale bytes of an earlier connection may come first
            chunk = a.recv(4096)
            if not chunk:
                raise SystemExit("agent bench: the agent port closed")
            buf += chunk
        rest = buf[buf.index(want) + 16:]
        while len(rest) < 9 or len(rest) < 4 + struct.unpack(">I", rest[:4])[0]:
            rest += a.recv(4096)
        if rest[4] != 0x81:
            raise SystemExit("agent bench: no HELLO_OK from the agent")

    hello(os.urandom(8), True)
    figures = []
    for _ in range(runs):
        t = time.monotonic()
        for _ in range(n):
            hello(os.urandom(8), False)
        figures.append((time.monotonic() - t) * 1000 / n)
    a.close()
    return figures


must("zone:create --hypervisor kvm --start rawagent")
must("zone:wait --timeout 300 --console 'zonekeeper: zone rawagent ready' rawagent")
n = 50
agent_raw = agent_port_round_trips("rawagent", n, runs)
must("zone:destroy rawagent")
for r in range(runs):
    t = time.monotonic()
    for _ in range(n):
        raw_round_trip()
    raw_ms = (time.monotonic() - t) * 1000 / n
    t = time.monotonic()
    for _ in range(n // 5):
        must("zone:exec ab -- true")
    exec_ms = (time.monotonic() - t) * 1000 / (n // 5)
    print("agent: round trip: zone:exec ab -- true %.1f ms (control socket + Gogo + agent + fork/exec), "
          "raw HELLO on the agent's port %.2f ms, raw byte through the echoing port %.2f ms"
          % (exec_ms, agent_raw[r], raw_ms))

size = 16 << 20
data = os.urandom(size)
for r in range(runs):
    got = bytearray()
    t = time.monotonic()
    sent = 0
    raw.setblocking(False)
    while len(got) < size:
        if sent < size:
            try:
                sent += raw.send(data[sent:sent + 65536])
            except BlockingIOError:
                pass
        try:
            got += raw.recv(1 << 20)
        except BlockingIOError:
            time.sleep(0.0005)
    raw.setblocking(True)
    raw_s = time.monotonic() - t
    t = time.monotonic()
    out = must("zone:exec ab -- cat", stdin=data)
    exec_s = time.monotonic() - t
    same = hashlib.sha256(out).digest() == hashlib.sha256(data).digest() and bytes(got) == data
    print("agent: 16 MiB in and back: zone:exec ab -- cat %.1f MiB/s, raw echoing port %.1f MiB/s (%s)"
          % (16 / exec_s, 16 / raw_s, "bytes identical" if same else "BYTES DIFFER"))

t = time.monotonic()
rc, out, err = control("zone:exec ab -- sh -c 'sleep %d; echo still-here; exit 5'" % idle, timeout=idle + 120)
print("agent: an exec quiet for %d s answered %r with exit %d after %.0f s" % (idle, out.decode().strip(), rc,
                                                                           time.monotonic() - t))
rc, out, err = control("zone:exec ab -- /nonexistent")
print("agent: zone:exec ab -- /nonexistent: exit %d, %s" % (rc, err.strip()))
must("zone:destroy ab")


def oci_layout(folder, command):
    """An OCI layout of one layer: the host's static busybox as /bin/busybox and /bin/sh, and command as Cmd."""
    def blob(data):
        digest = hashlib.sha256(data).hexdigest()
        os.makedirs(folder + "/blobs/sha256", exist_ok=True)
        with open(folder + "/blobs/sha256/" + digest, "wb") as f:
            f.write(data)
        return "sha256:" + digest, len(data)

    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        for d in ("bin/", "tmp/"):
            e = tarfile.TarInfo(d)
            e.type, e.mode = tarfile.DIRTYPE, 0o755
            t.addfile(e)
        with open("/bin/busybox", "rb") as f:
            data = f.read()
        e = tarfile.TarInfo("bin/busybox")
        e.size, e.mode = len(data), 0o755
        t.addfile(e, io.BytesIO(data))
        e = tarfile.TarInfo("bin/sh")
        e.type, e.linkname = tarfile.SYMTYPE, "busybox"
        t.addfile(e)
    layer_digest, layer_size = blob(layer.getvalue())
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": command},
                         "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}).encode()
    config_digest, config_size = blob(config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": config_digest, "size": config_size},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": layer_digest, "size": layer_size}]}).encode()
    manifest_digest, manifest_size = blob(manifest)
    with open(folder + "/oci-layout", "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(folder + "/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                                      "digest": manifest_digest, "size": manifest_size}]}, f)


# The same command in both zones; the text it prints is not on the kernel's command line (the busybox zone's
# zk.run is), so only the command's own output matches.
first = "echo tuptuo-tsrif | rev"
layout = tempfile.mkdtemp(prefix="zk-bench-image-")
oci_layout(layout, ["/bin/sh", "-c", first])
must("image:import --tag bench/first:1 " + layout)
for r in range(runs):
    t = time.monotonic()
    must("zone:create --image bench/first:1 --memory 256 --start img%d" % r)
    must("zone:wait --timeout 300 --workload --console first-output img%d" % r)
    image_s = time.monotonic() - t
    t = time.monotonic()
    must("zone:create --hypervisor kvm --memory 256 --cmdline 'zk.run=\"%s\"' --start bb%d" % (first, r))
    must("zone:wait --timeout 300 --console first-output bb%d" % r)
    busybox_s = time.monotonic() - t
    print("agent: create+start to the workload's first output: image zone %.2f s, busybox zone %.2f s"
          % (image_s, busybox_s))
    must("zone:destroy img%d" % r)
    must("zone:destroy bb%d" % r)
must("image:remove bench/first:1")
