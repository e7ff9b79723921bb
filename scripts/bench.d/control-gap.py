#!/usr/bin/env python3
"""Asks a running appliance a cheap command (zone:list) over its control socket, one ask after the other, until
STOP_FILE exists, and prints the longest wait for an answer it saw and how many asks it made: the control plane's
unavailability as a client sees it, to set beside the appliance's own figure during a driver upgrade.

usage: control-gap.py STATE_DIR STOP_FILE  ->  prints "MAX_MS ASKS" (MAX_MS is -1 when an ask failed)
Once its first ask is answered it creates STOP_FILE.ready: start what is measured only then (a loaded machine can
take seconds to start Python)."""
import json
import os
import socket
import sys
import time

state, stop = sys.argv[1], sys.argv[2]


def ask(command):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(state + "/run/control.sock")
    try:
        s.sendall((json.dumps({"command": command}) + "\n").encode())
        buf = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return False
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                frame = json.loads(line)
                if "exit" in frame:
                    return frame["exit"] == 0
    finally:
        s.close()


longest = 0.0
asks = 0
failed = False
while not os.path.exists(stop):
    t0 = time.monotonic()
    try:
        ok = ask("zone:list")
    except OSError:
        ok = False
    if asks == 0:
        open(stop + ".ready", "w").close()
    else:
        longest = max(longest, time.monotonic() - t0)
    asks += 1
    failed = failed or not ok
print("%d %d" % (-1 if failed else round(longest * 1000), asks))
