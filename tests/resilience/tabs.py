"""tabs: many browser tabs of sessionhub on one thread, for the soak and chaos tests.

Standard library only (there is no WebSocket package on the machine), loopback only. A
`Loop` multiplexes every tab's socket with `selectors` (epoll) and runs timers; blocking
HTTP calls (the server API, refresh, validate) run on a few threads and hand their result
back to the loop. A `Tab` speaks PROTOCOL §3 the way web-client/sessionhub.js does:
upgrade to `sessionhub.v1` with an Origin, `auth` or `resume` with its last `version`,
answers pings, keeps every event and the close code it got. `backoff_delay` is the
snippet's reconnect delay (capped exponential backoff with full jitter).

Nothing here decides whether a test passed: the drivers (soak.py, chaos.py) read what the
tabs saw.
"""
import base64
import heapq
import http.client
import ipaddress
import json
import os
import queue
import random
import selectors
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

# web-client/sessionhub.js backoffDelay(attempt, random, base = 500, cap = 30000), in seconds:
# uniform in [0, min(cap, base * 2^attempt)).
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0

IP_BIND_ADDRESS_NO_PORT = 24  # linux/in.h: the source port is picked at connect time


def backoff_delay(attempt, rnd=random.random, base=BACKOFF_BASE_S, cap=BACKOFF_CAP_S):
    return rnd() * min(cap, base * 2 ** min(max(attempt, 0), 30))


def require_loopback(host):
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"tabs: loopback addresses only, not {host}")


def now():
    return time.monotonic()


# --- the loop ----------------------------------------------------------------------------


class Loop:
    """One thread's sockets and timers; blocking calls go to `submit`."""

    def __init__(self, http_threads=4):
        self.sel = selectors.DefaultSelector()
        self.timers = []  # heap of (when, seq, callback)
        self.seq = 0
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.wake_w.setblocking(False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, self._drain_done)
        self.done = queue.SimpleQueue()
        self.pool = ThreadPoolExecutor(max_workers=http_threads)
        self.in_flight = 0  # submitted calls not yet handed back

    def close(self):
        self.pool.shutdown(wait=True)
        self.sel.close()
        self.wake_r.close()
        self.wake_w.close()

    def call_later(self, delay, fn):
        """Runs fn() after `delay` seconds; returns a handle for cancel()."""
        self.seq += 1
        handle = [now() + max(0.0, delay), self.seq, fn]
        heapq.heappush(self.timers, handle)
        return handle

    @staticmethod
    def cancel(handle):
        if handle is not None:
            handle[2] = None

    def submit(self, fn, then=None):
        """Runs fn() on a pool thread; then(result) on the loop (an exception is the result)."""
        self.in_flight += 1

        def job():
            try:
                r = fn()
            except Exception as e:  # noqa: BLE001 - handed to the caller as the result
                r = e
            self.done.put((then, r))
            try:
                self.wake_w.send(b"x")
            except BlockingIOError:
                pass  # a wake-up is already pending

        self.pool.submit(job)

    def _drain_done(self, _mask):
        try:
            while self.wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                then, r = self.done.get_nowait()
            except queue.Empty:
                return
            self.in_flight -= 1
            if then is not None:
                then(r)

    def step(self, max_wait):
        t = now()
        if self.timers:
            max_wait = min(max_wait, max(0.0, self.timers[0][0] - t))
        for key, mask in self.sel.select(max(0.0, max_wait)):
            key.data(mask)
        t = now()
        while self.timers and self.timers[0][0] <= t:
            _, _, fn = heapq.heappop(self.timers)
            if fn is not None:
                fn()

    def run_for(self, seconds):
        end = now() + seconds
        while now() < end:
            self.step(end - now())

    def run_until(self, pred, timeout, poll=0.05):
        """Runs until pred() holds (True) or `timeout` seconds pass (False)."""
        end = now() + timeout
        while True:
            if pred():
                return True
            left = end - now()
            if left <= 0:
                return False
            self.step(min(poll, left))

    def wait_call(self, fn, timeout=30):
        """Runs a blocking fn on the pool while the loop keeps serving the tabs."""
        box = []
        self.submit(fn, box.append)
        if not self.run_until(lambda: box, timeout):
            raise TimeoutError("a blocking call did not finish in time")
        if isinstance(box[0], Exception):
            raise box[0]
        return box[0]


# --- WebSocket frames (RFC 6455) ---------------------------------------------------------


def _masked(payload):
    key = os.urandom(4)
    n = len(payload)
    if n == 0:
        return key
    k = (key * (n // 4 + 1))[:n]
    return key + (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def client_frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    return head + _masked(payload)


class Tab:
    """One browser tab: a WebSocket to the hub, authenticated (`auth`) or resumed (`resume`).

    What it saw: `ready` (the frame), `events` (every event frame, in order, with the time it
    came), `errors` (error frames), `close_code` (the hub's close code; -1 when the connection
    ended without a close frame; None while open), `http_status` (an upgrade the hub or the
    balancer refused), `failure` (why it ended, for reports).
    """

    CONNECTING, UPGRADING, OPEN, CLOSING, CLOSED = range(5)

    def __init__(self, loop, host, port, origin, token=None, source=None, label=""):
        require_loopback(host)
        self.loop, self.host, self.port, self.origin = loop, host, port, origin
        self.token, self.source, self.label = token, source, label
        self.version = 0
        self.sock = None
        self.state = Tab.CLOSED
        self.on_ready = self.on_event = self.on_close = None
        self._reset()

    def _reset(self):
        self.ready = None
        self.ready_at = None
        self.events = []
        self.errors = []
        self.close_code = None
        self.close_reason = ""
        self.http_status = None
        self.retry_after = None
        self.failure = ""
        self.opened_at = None
        self.closed_at = None
        self._in = bytearray()
        self._out = bytearray()
        self._message = bytearray()
        self._registered = 0
        self._mode = "auth"
        self._guard = None

    # -- what the tab is --

    @property
    def authenticated(self):
        """A `ready` for an active session and the connection still open."""
        return (
            self.state == Tab.OPEN
            and self.ready is not None
            and self.ready.get("sid") is not None
            and self.ready.get("state", "active") == "active"
        )

    @property
    def is_closed(self):
        return self.state == Tab.CLOSED

    def event(self, name, sid=None):
        """The first event of that name (and data.sid) seen, or None."""
        for at, f in self.events:
            if f.get("event") == name and (sid is None or (f.get("data") or {}).get("sid") == sid):
                return at, f
        return None

    # -- opening --

    def open(self, mode="auth", timeout=30):
        """Connects and, once upgraded, sends `auth`, `resume` (with self.version) or nothing.

        A connection that is not answered (`ready`, a refusal or a close) within `timeout`
        seconds is ended as failed."""
        assert self.state == Tab.CLOSED
        self._reset()
        self._mode = mode
        self.opened_at = now()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if self.source:
                s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                s.bind((self.source, 0))
            rc = s.connect_ex((self.host, self.port))
        except OSError as e:
            s.close()
            self.state = Tab.CLOSED
            return self._ended(-1, f"connect: {e}")
        self.sock = s
        self.state = Tab.CONNECTING
        if rc not in (0, 115):  # 115 EINPROGRESS
            return self._teardown(-1, f"connect: {os.strerror(rc)}")
        self._register(selectors.EVENT_WRITE)
        if timeout:
            self._guard = self.loop.call_later(timeout, self._timed_out)

    def _timed_out(self):
        self._guard = None
        if self.state != Tab.CLOSED and self.ready is None:
            self._teardown(-1, "no answer in time")

    def _register(self, events):
        if self.sock is None:
            return
        if self._registered == 0:
            self.loop.sel.register(self.sock, events, self._on_io)
        elif self._registered != events:
            self.loop.sel.modify(self.sock, events, self._on_io)
        self._registered = events

    def _on_io(self, mask):
        if self.state == Tab.CONNECTING:
            if mask & selectors.EVENT_WRITE:
                err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    return self._teardown(-1, f"connect: {os.strerror(err)}")
                self.state = Tab.UPGRADING
                key = base64.b64encode(os.urandom(16)).decode()
                self._send_raw(
                    (
                        "GET /v1/ws HTTP/1.1\r\n"
                        f"Host: {self.host}:{self.port}\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Protocol: sessionhub.v1\r\n"
                        f"Origin: {self.origin}\r\n\r\n"
                    ).encode()
                )
            return
        if mask & selectors.EVENT_WRITE:
            self._flush()
        if mask & selectors.EVENT_READ and self.state != Tab.CLOSED:
            self._on_readable()

    def _send_raw(self, data):
        if self.sock is None:
            return
        self._out += data
        self._flush()

    def _flush(self):
        while self._out and self.sock is not None:
            try:
                n = self.sock.send(self._out)
            except BlockingIOError:
                break
            except OSError as e:
                return self._teardown(-1, f"send: {e}")
            del self._out[:n]
        if self.sock is not None:
            self._register(selectors.EVENT_READ | (selectors.EVENT_WRITE if self._out else 0))

    def send_json(self, obj):
        if self.state in (Tab.OPEN, Tab.UPGRADING):
            self._send_raw(client_frame(0x1, json.dumps(obj).encode()))

    # -- reading --

    def _on_readable(self):
        while self.sock is not None:
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                break
            except OSError as e:
                return self._teardown(-1, f"recv: {e}")
            if not chunk:
                code = -1 if self.close_code is None else self.close_code
                return self._teardown(code, self.failure or "connection closed without a close frame")
            self._in += chunk
            if len(chunk) < 65536:
                break
        if self.state == Tab.UPGRADING:
            end = self._in.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._in[:end]).decode(errors="replace")
            del self._in[: end + 4]
            lines = head.split("\r\n")
            parts = lines[0].split(" ", 2)
            status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            if status != 101:
                self.http_status = status
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "retry-after" and value.strip().isdigit():
                        self.retry_after = int(value.strip())
                return self._teardown(-1, f"upgrade refused: HTTP {status}")
            self.state = Tab.OPEN
            if self._mode == "auth":
                self.send_json({"type": "auth", "token": self.token})
            elif self._mode == "resume":
                self.send_json({"type": "resume", "token": self.token, "version": self.version})
        self._parse_frames()

    def _parse_frames(self):
        buf = self._in
        while self.sock is not None:
            if len(buf) < 2:
                return
            b0, b1 = buf[0], buf[1]
            n = b1 & 0x7F
            at = 2
            if n == 126:
                if len(buf) < 4:
                    return
                n = struct.unpack_from("!H", buf, 2)[0]
                at = 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n = struct.unpack_from("!Q", buf, 2)[0]
                at = 10
            if len(buf) < at + n:
                return
            payload = bytes(buf[at : at + n])
            del buf[: at + n]
            opcode, fin = b0 & 0x0F, b0 & 0x80
            if opcode == 0x9:
                self._send_raw(client_frame(0xA, payload))
            elif opcode == 0x8:
                self._on_close_frame(payload)
                return
            elif opcode in (0x1, 0x0):
                self._message += payload
                if fin:
                    text = bytes(self._message)
                    self._message.clear()
                    self._on_text(text)

    def _on_text(self, text):
        try:
            f = json.loads(text)
        except ValueError:
            self.errors.append({"code": "bad_json", "message": text[:200].decode(errors="replace")})
            return
        kind = f.get("type")
        if kind == "ready":
            self.ready = f
            self.ready_at = now()
            if isinstance(f.get("version"), int):
                self.version = f["version"]
            self.loop.cancel(self._guard)
            self._guard = None
            if self.on_ready:
                self.on_ready(self)
        elif kind == "event":
            self.events.append((now(), f))
            if isinstance(f.get("version"), int):
                self.version = max(self.version, f["version"])
            if self.on_event:
                self.on_event(self, f)
        elif kind == "error":
            self.errors.append(f)

    def _on_close_frame(self, payload):
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        reason = payload[2:].decode(errors="replace")
        if self.state == Tab.CLOSING:  # the answer to our own close
            return self._teardown(self.close_code if self.close_code is not None else code, "closed by the tab")
        self.close_code, self.close_reason = code, reason
        # Echo it, then let go of the socket: the hub ends the TCP connection.
        self._send_raw(client_frame(0x8, payload[:2]))
        self._teardown(code, f"closed by the hub: {code} {reason}")

    # -- ending --

    def close(self, how="clean"):
        """The tab goes away: "clean" (close frame 1001, as a page being left does), "drop"
        (the TCP connection just ends) or "reset" (RST, as a crashed browser's)."""
        if self.state == Tab.CLOSED:
            return
        if how == "clean" and self.state == Tab.OPEN:
            self._send_raw(client_frame(0x8, struct.pack("!H", 1001)))
            self.state = Tab.CLOSING
            self.close_code = None
            self.loop.cancel(self._guard)
            self._guard = self.loop.call_later(5, lambda: self._teardown(1001, "closed by the tab"))
            return
        if how == "reset" and self.sock is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._teardown(None, "closed by the tab")

    def _teardown(self, code, why):
        if self.state == Tab.CLOSED:
            return
        self.state = Tab.CLOSED
        self.loop.cancel(self._guard)
        self._guard = None
        if self.sock is not None:
            if self._registered:
                self.loop.sel.unregister(self.sock)
                self._registered = 0
            self.sock.close()
            self.sock = None
        self._ended(code, why)

    def _ended(self, code, why):
        self.state = Tab.CLOSED
        if self.close_code is None:
            self.close_code = code
        self.failure = why
        self.closed_at = now()
        if self.on_close:
            self.on_close(self)


# --- HTTP (blocking; call through Loop.submit / wait_call while tabs are open) ---------------


class Response:
    def __init__(self, status, headers, body, error=""):
        self.status, self.headers, self.body, self.error = status, headers, body, error

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    @property
    def code(self):
        """The problem+json `code`, if any."""
        j = self.json()
        return j.get("code") if isinstance(j, dict) else None

    def __repr__(self):
        return f"HTTP {self.status} {self.error}{(self.body or b'')[:300]!r}"


def request(host, port, method, path, body=None, headers=None, timeout=5.0):
    """One request on a fresh connection; status 0 (and `error`) when nothing answered."""
    require_loopback(host)
    h = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    except (OSError, http.client.HTTPException) as e:
        return Response(0, {}, b"", f"{type(e).__name__}: {e}")
    finally:
        conn.close()


class Api:
    """PROTOCOL §2 calls against one address (a replica or the balancer)."""

    def __init__(self, host, port, api_key):
        self.host, self.port, self.key = host, port, api_key

    def _api(self):
        return {"Authorization": f"Bearer {self.key}"}

    def create_session(self, sub, **extra):
        return request(self.host, self.port, "POST", "/v1/sessions", {"sub": sub, **extra}, self._api())

    def logout_user(self, sub, timeout=5.0):
        return request(self.host, self.port, "POST", f"/v1/users/{sub}/logout", None, self._api(), timeout)

    def delete_session(self, sid):
        return request(self.host, self.port, "DELETE", f"/v1/sessions/{sid}", None, self._api())

    def logout(self, access_token, scope="session"):
        return request(
            self.host,
            self.port,
            "POST",
            "/v1/logout",
            {"scope": scope},
            {"Authorization": f"Bearer {access_token}"},
        )

    def validate(self, access_token):
        return request(
            self.host, self.port, "GET", "/v1/validate", None, {"Authorization": f"Bearer {access_token}"}
        )

    def extend(self, access_token):
        return request(self.host, self.port, "POST", "/v1/extend", None, {"Authorization": f"Bearer {access_token}"})

    def refresh(self, refresh_token):
        return request(
            self.host,
            self.port,
            "POST",
            "/v1/refresh",
            {"refresh_token": refresh_token, "token_delivery": "body"},
        )

    def publish(self, channel, event, data=None):
        body = {"channel": channel, "event": event}
        if data is not None:
            body["data"] = data
        return request(self.host, self.port, "POST", "/v1/publish", body, self._api())

    def stats(self, timeout=5.0):
        r = request(self.host, self.port, "GET", "/v1/stats", None, self._api(), timeout)
        return r.json() if r.status == 200 else None

    def readyz(self, timeout=2.0):
        return request(self.host, self.port, "GET", "/readyz", None, None, timeout).status


# --- the hub's process, from /proc --------------------------------------------------------


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def tcp_sockets(pid):
    """The process's TCP sockets as (local_port, remote_port), from /proc/PID/fd and the
    network namespace's /proc/PID/net/tcp{,6}."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = []
    for table in ("tcp", "tcp6"):
        try:
            lines = open(f"/proc/{pid}/net/{table}").read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if len(f) > 9 and f[9] in inodes:
                out.append((int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16)))
    return out


def fd_kinds(pid):
    """What the process's descriptors are: counts of socket, pipe, anon_inode:[eventfd], files."""
    kinds = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        kind = target.split(":", 1)[0] if ":" in target and not target.startswith("/") else target
        if kind.startswith("anon_inode"):
            kind = target
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def is_sanitizer_build(binary):
    """Whether the binary carries AddressSanitizer's runtime (a -DSESSIONHUB_SANITIZE=ON build)."""
    with open(binary, "rb") as f:
        data = f.read()
    return b"AddressSanitizer" in data or b"__asan_init" in data


def sanitizer_lines(text):
    return [
        line
        for line in text.splitlines()
        if "Sanitizer" in line or "runtime error:" in line or "LEAK SUMMARY" in line
    ]


class Verdicts:
    """PASS/FAIL lines, each with its reason, and the count at the end."""

    def __init__(self, name):
        self.name = name
        self.failed = []
        self.passed = []

    def check(self, ok, what, detail=""):
        line = f"{self.name}: {'PASS' if ok else 'FAIL'}: {what}" + (f" ({detail})" if detail else "")
        print(line, flush=True)
        (self.passed if ok else self.failed).append(what)
        return ok

    def note(self, text):
        print(f"{self.name}: {text}", flush=True)

    def summary(self):
        total = len(self.passed) + len(self.failed)
        if self.failed:
            print(f"{self.name}: FAIL: {len(self.failed)} of {total} checks failed: " + "; ".join(self.failed), flush=True)
            return 1
        print(f"{self.name}: PASS: all {total} checks held", flush=True)
        return 0
