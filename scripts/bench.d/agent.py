#!/usr/bin/env python3
"""The guest agent's figures against a raw virtio-serial port of the same zone, on a running appliance (scripts/bench):
  - zone:exec z -- true, round trip, against one byte there and back through a host channel that the guest echoes;
  - exec stream throughput (stdin through cat and back), against the same bytes through the echoing channel;
  - create+start to the first exec answer, beside create+start to the ready line;
  - an exec left quiet for 2 minutes (IDLE seconds) that must still answer.
Speaks the control socket's protocol 2 itself (no JVM per command).

usage: agent.py STATE_DIR [runs] [idle-seconds]"""
import base64
import hashlib
import json
import os
import socket
import sys
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
        for i in range(0, len(stdin), 32768):
            s.sendall((json.dumps({"in": base64.b64encode(stdin[i:i + 32768]).decode()}) + "\n").encode())
        s.sendall(b'{"eof":true}\n')
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


# The echo zone: its one channel echoes what it gets (the raw baseline on the same kind of port).
t0 = time.monotonic()
must("zone:create --hypervisor kvm --channels echo --cmdline 'zk.run=\"cat 0<>/dev/virtio-ports/echo 1>&0\"' --start ab")
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
n = 50
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
          "raw byte through the echoing port %.2f ms" % (exec_ms, raw_ms))

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
