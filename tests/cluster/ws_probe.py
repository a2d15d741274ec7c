#!/usr/bin/env python3
"""A minimal WebSocket tab for the cluster checks (standard library only, loopback only).

    ws_probe.py --url http://127.0.0.1:8080 --origin http://127.0.0.1:8089 --token <access JWT>
                [--expect-event logout] [--hold 0] [--timeout 20]

Opens GET /v1/ws (subprotocol sessionhub.v1) with the given Origin, sends
{"type":"auth","token":...} and prints the hub's `ready` frame as one JSON line. Then it
stays connected for --hold seconds (answering pings), and with --expect-event waits for an
event frame of that name and prints it. Exit 0 only when everything asked for happened;
1 with the reason on stderr otherwise (refused upgrade, close frame, timeout).
"""
import argparse
import base64
import json
import os
import socket
import struct
import sys
import time
from urllib.parse import urlsplit


class Closed(Exception):
    pass


def send_frame(sock, opcode, payload):
    # Client frames are masked (RFC 6455 §5.3).
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


class Reader:
    def __init__(self, sock, buffered=b""):
        self.sock = sock
        self.buf = buffered

    def exact(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed("the connection was closed without a close frame")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self, deadline):
        """The next text frame; pings are answered, a close frame raises Closed."""
        while True:
            b0, b1 = self.exact(2, deadline)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self.exact(2, deadline))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.exact(8, deadline))[0]
            payload = self.exact(n, deadline)
            if opcode == 0x9:  # ping
                send_frame(self.sock, 0xA, payload)
            elif opcode == 0x8:  # close
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise Closed(f"close frame {code} {payload[2:].decode(errors='replace')}")
            elif opcode == 0x1:
                return json.loads(payload)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--origin", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--expect-event")
    ap.add_argument("--hold", type=float, default=0)
    ap.add_argument("--timeout", type=float, default=20)
    a = ap.parse_args()

    u = urlsplit(a.url)
    if u.scheme != "http" or u.hostname != "127.0.0.1":
        sys.exit("ws_probe: loopback http:// URLs only")
    deadline = time.monotonic() + a.timeout
    sock = socket.create_connection((u.hostname, u.port or 80), timeout=a.timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /v1/ws HTTP/1.1\r\n"
            f"Host: {u.netloc}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: sessionhub.v1\r\n"
            f"Origin: {a.origin}\r\n\r\n"
        ).encode()
    )
    raw = b""
    while b"\r\n\r\n" not in raw:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(4096)
        if not chunk:
            print("ws_probe: no answer to the upgrade", file=sys.stderr)
            return 1
        raw += chunk
    head, rest = raw.split(b"\r\n\r\n", 1)
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    if " 101 " not in status + " ":
        print(f"ws_probe: upgrade refused: {status}", file=sys.stderr)
        return 1
    reader = Reader(sock, rest)
    send_frame(sock, 0x1, json.dumps({"type": "auth", "token": a.token}).encode())
    try:
        while True:
            f = reader.frame(deadline)
            if f.get("type") == "ready":
                print(json.dumps(f), flush=True)
                break
        hold_until = time.monotonic() + a.hold
        while time.monotonic() < hold_until:
            try:
                reader.frame(hold_until)
            except TimeoutError:
                break
        if a.hold:
            print(json.dumps({"held_s": a.hold}), flush=True)
        if a.expect_event:
            deadline = time.monotonic() + a.timeout
            while True:
                f = reader.frame(deadline)
                if f.get("type") == "event" and f.get("event") == a.expect_event:
                    print(json.dumps(f), flush=True)
                    break
    except TimeoutError:
        print("ws_probe: timed out", file=sys.stderr)
        return 1
    except Closed as e:
        print(f"ws_probe: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
