#!/usr/bin/env python3
"""Calls the appliance's containerd.task.v2.Task service directly, for what ctr cannot send: a Create with a crafted
bundle or rootfs mount. ttrpc framing and the few protobufs are written by hand (containerd 1.6's shim.proto).

  ttrpc_task.py SOCKET NAMESPACE create ID BUNDLE [TYPE:SOURCE[:OPTION,...]]   (a rootfs mount, else none)
  ttrpc_task.py SOCKET NAMESPACE state ID
  ttrpc_task.py SOCKET NAMESPACE delete ID

Prints "ok" and the answer's fields, or "error CODE MESSAGE" (gRPC status); exits 0 either way, 2 on no answer.
"""
import socket
import struct
import sys

SERVICE = "containerd.task.v2.Task"
STATUS = {0: "UNKNOWN", 1: "CREATED", 2: "RUNNING", 3: "STOPPED", 4: "PAUSED", 5: "PAUSING"}


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def field_bytes(n, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(n << 3 | 2) + varint(len(data)) + data


def field_varint(n, v):
    return varint(n << 3) + varint(v) if v else b""


def fields(data):
    i = 0
    while i < len(data):
        key, i = read_varint(data, i)
        n, wire = key >> 3, key & 7
        if wire == 0:
            v, i = read_varint(data, i)
        elif wire == 2:
            ln, i = read_varint(data, i)
            v, i = data[i:i + ln], i + ln
        elif wire == 1:
            v, i = data[i:i + 8], i + 8
        elif wire == 5:
            v, i = data[i:i + 4], i + 4
        else:
            raise ValueError("wire type %d" % wire)
        yield n, v


def read_varint(data, i):
    shift = v = 0
    while True:
        b = data[i]
        i += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v, i
        shift += 7


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("the appliance closed the connection")
        buf += chunk
    return buf


def call(path, namespace, method, payload):
    request = (field_bytes(1, SERVICE) + field_bytes(2, method) + field_bytes(3, payload)
               + field_bytes(5, field_bytes(1, "containerd-namespace-ttrpc") + field_bytes(2, namespace)))
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(300)
        sock.connect(path)
        sock.sendall(struct.pack(">IIBB", len(request), 1, 1, 0) + request)
        while True:
            length, stream, kind, _ = struct.unpack(">IIBB", recv_exact(sock, 10))
            body = recv_exact(sock, length)
            if stream == 1 and kind == 2:
                break
    code, message, answer = 0, "", b""
    for n, v in fields(body):
        if n == 1:
            for m, w in fields(v):
                if m == 1:
                    code = w
                elif m == 2:
                    message = w.decode(errors="replace")
        elif n == 2:
            answer = v
    return code, message, answer


def main(argv):
    path, namespace, action, task = argv[1:5]
    if action == "create":
        payload = field_bytes(1, task) + field_bytes(2, argv[5])
        if len(argv) > 6:
            parts = argv[6].split(":", 2)
            mount = field_bytes(1, parts[0]) + field_bytes(2, parts[1])
            for option in (parts[2].split(",") if len(parts) > 2 else []):
                mount += field_bytes(4, option)
            payload += field_bytes(3, mount)
        method = "Create"
    elif action in ("state", "delete"):
        payload, method = field_bytes(1, task), action.capitalize()
    else:
        sys.exit("unknown action " + action)
    try:
        code, message, answer = call(path, namespace, method, payload)
    except (OSError, EOFError) as e:
        print("no answer: %s" % e)
        return 2
    if code:
        print("error %d %s" % (code, message))
        return 0
    described = []
    for n, v in fields(answer):
        if method == "State" and n == 4:
            v = STATUS.get(v, v)
        described.append("%d=%s" % (n, v.decode(errors="replace") if isinstance(v, bytes) else v))
    print("ok " + " ".join(described))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
